//! Progress reporting, decoupled from any terminal library: the CLI plugs in
//! a progress bar, tests and libraries use [`NoProgress`].

/// Receives progress of a long computation. Methods take `&self` and the
/// trait is `Sync` so that parallel workers can report.
pub trait Progress: Sync {
    /// A phase starts; `total_bytes` is the work to be done.
    fn start(&self, phase: &str, total_bytes: u64) {
        let _ = (phase, total_bytes);
    }

    /// `bytes` of work finished; `what` names the item.
    fn advance(&self, bytes: u64, what: &str) {
        let _ = (bytes, what);
    }

    /// What is being worked on now (e.g. a progress bar's message).
    fn status(&self, what: &str) {
        let _ = what;
    }

    /// A line worth showing to the user (a warning, a skipped method).
    fn note(&self, message: &str) {
        let _ = message;
    }

    /// The phase ended.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
