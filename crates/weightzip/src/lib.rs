//! weightzip
