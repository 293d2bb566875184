//! The weightzip lab's records, shared by every program that writes or reads
//! them: the lab (`bench`, `merge`, `report`), the figures and the tests.
//!
//! - [`schema`]: the serde types of a results row ([`BenchRecord`], one item
//!   and every method run on it) and the `_kind` / class vocabulary the
//!   study's figure notebook reads;
//! - [`results_file`]: the kill-safe results file (a zstd snapshot replaced
//!   atomically plus a plain JSON Lines journal) and its readers;
//! - [`atlas`]: the atlas rows as their readers (the figures) see them;
//! - [`jsonl`]: plain or zstd JSON Lines;
//! - [`stats`]: aggregates and the **one** seeded (cluster) bootstrap used by
//!   the report and the figures alike.

#![warn(missing_docs)]

pub mod atlas;
pub mod error;
pub mod jsonl;
pub mod results_file;
pub mod schema;
pub mod stats;

pub use error::{RecordError, Result};
pub use results_file::{merge_files, read_results, ResultsRead, ResultsWriter};
pub use schema::{BenchRecord, MethodRecord, RecordKey};
