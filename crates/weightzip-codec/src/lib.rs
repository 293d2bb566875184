//! weightzip-codec
