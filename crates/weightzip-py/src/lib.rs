//! The native half of the `weightzip` Python package: a thin layer over the
//! `weightzip` crate's public API. Errors become `weightzip.WeightzipError`
//! subclasses; a panic anywhere below is caught at this boundary and raised
//! as `WeightzipError` too (never as pyo3's `PanicException`).

mod archive;
mod buffers;
mod convert;
mod functions;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use weightzip::{DecodeStats, WzError};

create_exception!(
    _native,
    WeightzipError,
    PyException,
    "Every error raised by weightzip."
);
create_exception!(
    _native,
    CorruptArchiveError,
    WeightzipError,
    "The archive is damaged, truncated, not a .wz file, or from a newer weightzip."
);
create_exception!(
    _native,
    TensorNotFoundError,
    WeightzipError,
    "The archive (or the chosen file in it) holds no tensor of that name."
);
create_exception!(
    _native,
    WrongBaseError,
    WeightzipError,
    "The archive stores its tensors as differences from a base checkpoint, and the base given is missing or not that one."
);
create_exception!(
    _native,
    OutputExistsError,
    WeightzipError,
    "The output exists and overwriting was not asked for."
);

/// Maps a container error to the Python exception of its kind. The match
/// is exhaustive on purpose: a new `WzError` variant must be given its
/// exception here.
pub(crate) fn to_py(e: WzError) -> PyErr {
    let msg = e.to_string();
    match e {
        WzError::BadMagic
        | WzError::UnsupportedVersion { .. }
        | WzError::Truncated(_)
        | WzError::Corrupt(_)
        | WzError::Codec { .. }
        | WzError::Checksum { .. }
        | WzError::UnknownFlags(_) => CorruptArchiveError::new_err(msg),
        WzError::NoSuchTensor(_) => TensorNotFoundError::new_err(msg),
        WzError::OutputExists(_) => OutputExistsError::new_err(msg),
        WzError::NeedsBase { .. } | WzError::WrongBase { .. } => WrongBaseError::new_err(msg),
        WzError::Io { .. }
        | WzError::Format { .. }
        | WzError::InvalidInput(_)
        | WzError::Refused { .. }
        | WzError::InputChanged { .. }
        | WzError::Thread(_) => WeightzipError::new_err(msg),
    }
}

/// Runs `f`, turning a panic into `WeightzipError` so that no panic crosses
/// into Python as `PanicException`.
pub(crate) fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(WeightzipError::new_err(format!(
                "internal error in weightzip (please report): {what}"
            )))
        }
    }
}

/// Chunks decoded and stored bytes read by every tensor read of this process.
static CHUNKS_DECODED: AtomicU64 = AtomicU64::new(0);
static STORED_BYTES_READ: AtomicU64 = AtomicU64::new(0);

pub(crate) fn count(s: DecodeStats) {
    CHUNKS_DECODED.fetch_add(s.chunks, Ordering::Relaxed);
    STORED_BYTES_READ.fetch_add(s.stored_bytes, Ordering::Relaxed);
}

/// `{"chunks_decoded": n, "stored_bytes_read": n}` since the last reset,
/// counted by the decoder for every tensor and header read.
#[pyfunction]
fn decode_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("chunks_decoded", CHUNKS_DECODED.load(Ordering::Relaxed))?;
    d.set_item(
        "stored_bytes_read",
        STORED_BYTES_READ.load(Ordering::Relaxed),
    )?;
    Ok(d)
}

/// Sets the counters of [`decode_stats`] to zero.
#[pyfunction]
fn reset_decode_stats() {
    CHUNKS_DECODED.store(0, Ordering::Relaxed);
    STORED_BYTES_READ.store(0, Ordering::Relaxed);
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("WeightzipError", py.get_type::<WeightzipError>())?;
    m.add("CorruptArchiveError", py.get_type::<CorruptArchiveError>())?;
    m.add("TensorNotFoundError", py.get_type::<TensorNotFoundError>())?;
    m.add("OutputExistsError", py.get_type::<OutputExistsError>())?;
    m.add("WrongBaseError", py.get_type::<WrongBaseError>())?;
    m.add_class::<archive::PyArchive>()?;
    m.add_class::<buffers::TensorMemory>()?;
    m.add_function(wrap_pyfunction!(decode_stats, m)?)?;
    m.add_function(wrap_pyfunction!(reset_decode_stats, m)?)?;
    functions::register(m)?;
    Ok(())
}
