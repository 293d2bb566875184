//! File headers to Python values: safetensors' `__metadata__` map and a
//! GGUF file's key/value pairs.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use weightzip_format::GgufValue;

use crate::WeightzipError;

fn format_error(path: &str, e: impl std::fmt::Display) -> PyErr {
    WeightzipError::new_err(format!("{path}: {e}"))
}

/// `__metadata__` of a safetensors header as `dict[str, str]`, or None
/// when the header has none.
pub(crate) fn safetensors_metadata<'py>(
    py: Python<'py>,
    path: &str,
    head: &[u8],
    size: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let h = weightzip_format::safetensors::parse_header(head, size)
        .map_err(|e| format_error(path, e))?;
    if h.metadata.is_empty() {
        return Ok(py.None().into_bound(py));
    }
    let d = PyDict::new(py);
    for (k, v) in &h.metadata {
        d.set_item(k, v)?;
    }
    Ok(d.into_any())
}

/// The key/value pairs of a GGUF header, in file order.
pub(crate) fn gguf_metadata<'py>(
    py: Python<'py>,
    path: &str,
    head: &[u8],
    size: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let h = weightzip_format::gguf::parse_header(head, size).map_err(|e| format_error(path, e))?;
    let d = PyDict::new(py);
    for (k, v) in &h.kv {
        d.set_item(k, gguf_value(py, v)?)?;
    }
    Ok(d.into_any())
}

fn gguf_value<'py>(py: Python<'py>, v: &GgufValue) -> PyResult<Bound<'py, PyAny>> {
    match v {
        GgufValue::U8(x) => x.into_bound_py_any(py),
        GgufValue::I8(x) => x.into_bound_py_any(py),
        GgufValue::U16(x) => x.into_bound_py_any(py),
        GgufValue::I16(x) => x.into_bound_py_any(py),
        GgufValue::U32(x) => x.into_bound_py_any(py),
        GgufValue::I32(x) => x.into_bound_py_any(py),
        GgufValue::F32(x) => x.into_bound_py_any(py),
        GgufValue::U64(x) => x.into_bound_py_any(py),
        GgufValue::I64(x) => x.into_bound_py_any(py),
        GgufValue::F64(x) => x.into_bound_py_any(py),
        GgufValue::Bool(x) => x.into_bound_py_any(py),
        GgufValue::String(s) => s.into_bound_py_any(py),
        GgufValue::Array(a) => {
            let items = a
                .iter()
                .map(|x| gguf_value(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
    }
}
