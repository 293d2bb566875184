//! weightzip-lab
