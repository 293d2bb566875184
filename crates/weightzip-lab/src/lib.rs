//! The weightzip lab: reproduces the measurements of "Practical Limits of
//! Lossless Compression for bf16 Transformer LLM Weights" (Rotem, 2026) on
//! any corpus, under the study's fairness contract, and writes the records
//! the figures read.
//!
//! Pipeline (each step a module, the CLI glue is `weightzip-cli/src/lab.rs`):
//! 1. [`manifest`]: `corpus.toml` — models, their train/test split, casts, filters;
//! 2. [`corpus`]: the per-item corpora (bf16 / fp16 / fp32 tensors, Q4_K
//!    streams, whole GGUF files) over memory-mapped files;
//! 3. [`atlas`]: entropies and ceilings per tensor, the adjacent-layer experiment;
//! 4. [`methods`]: the method set and the profiles trained on the train split;
//! 5. [`bench`]: byte-exact round trips, sizes, single-thread speeds → [`records`]
//!    (the `weightzip-records` crate, shared with the figures);
//! 6. [`report`]: byte-weighted ratios, geomeans, medians, cluster-bootstrap
//!    CIs ([`stats`]) in Markdown or JSON.

pub mod archives;
pub mod atlas;
pub mod bench;
pub mod corpus;
pub mod error;
mod evaluate;
pub mod manifest;
pub mod methods;
pub mod naming;
pub mod progress;
pub mod report;

pub use error::{LabError, Result};
/// The method registry, re-exported for the CLI.
pub use weightzip_methods;
/// The record types, the results file and the shared statistics.
pub use weightzip_records as records;
/// The statistics shared with the figures (one seeded bootstrap).
pub use weightzip_records::stats;
