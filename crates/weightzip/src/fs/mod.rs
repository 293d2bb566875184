//! The filesystem side of the container: every output is written through
//! an exclusive temporary file and renamed into place when complete
//! ([`TempFile`]), never over a symbolic link, a device or the input
//! ([`output`]); inputs are read once, streams included ([`input`]);
//! folders are walked like tar walks them ([`walk`]) and restored the same
//! way; interrupted runs leave no temporary files ([`cleanup`]).

pub mod cleanup;
pub mod input;
pub mod output;
mod temp;
pub mod walk;

pub use cleanup::remove_temps_on_signals;
pub use input::{open_input, Fifo, OpenInput, Snapshot};
pub use output::{check_target, FileId, OutputPath, Replace};
pub use temp::{TempFile, TEMP_SUFFIX};
