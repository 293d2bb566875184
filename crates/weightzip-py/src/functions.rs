//! Module-level functions: compress, decompress, verify, and compress an
//! in-memory file (what `save_file` writes).

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use weightzip::base::Base;
use weightzip::fs::{check_target, Replace, TempFile};
use weightzip::{
    compress_path, compress_to_writer, Archive, CompressOptions, CompressSummary, ExtractOptions,
    InputFile, Level, Plan, RootKind,
};

use crate::{guard, to_py};

fn level_of(level: &str) -> PyResult<Level> {
    match level {
        "fast" | "default" => Ok(Level::Fast),
        "max" => Ok(Level::Max),
        other => Err(PyValueError::new_err(format!(
            "level must be \"fast\" or \"max\", not {other:?}"
        ))),
    }
}

fn options(
    level: &str,
    threads: usize,
    overwrite: bool,
    verify: bool,
) -> PyResult<CompressOptions> {
    Ok(CompressOptions {
        level: level_of(level)?,
        threads,
        overwrite,
        verify,
        ..CompressOptions::default()
    })
}

/// `chunk_size` 0 keeps the default.
fn with_chunk_size(mut opts: CompressOptions, chunk_size: usize) -> CompressOptions {
    if chunk_size > 0 {
        opts.chunk_size = chunk_size;
    }
    opts
}

fn summary_dict<'py>(py: Python<'py>, s: &CompressSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("files", s.files)?;
    d.set_item("tensors", s.tensors)?;
    d.set_item("input_bytes", s.input_bytes)?;
    d.set_item("output_bytes", s.output_bytes)?;
    Ok(d)
}

/// Compresses the file or folder `src` into the archive `dst`.
#[pyfunction]
#[pyo3(signature = (src, dst, level="fast", threads=0, overwrite=false, verify=true, chunk_size=0, base=None))]
#[allow(clippy::too_many_arguments)]
fn compress<'py>(
    py: Python<'py>,
    src: PathBuf,
    dst: PathBuf,
    level: &str,
    threads: usize,
    overwrite: bool,
    verify: bool,
    chunk_size: usize,
    base: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let mut opts = with_chunk_size(options(level, threads, overwrite, verify)?, chunk_size);
        let s = py
            .detach(|| {
                if let Some(b) = &base {
                    opts.base = Some(Arc::new(Base::open(b)?));
                }
                compress_path(&src, &dst, &opts)
            })
            .map_err(to_py)?;
        summary_dict(py, &s)
    })
}

/// Writes `data` as the one file `name` of a new archive at `dst`, through
/// the container's temporary file, renamed into place when complete.
fn write_bytes_archive(
    data: &[u8],
    name: &str,
    dst: &Path,
    opts: &CompressOptions,
) -> weightzip::Result<CompressSummary> {
    let replace = Replace::when(opts.overwrite);
    check_target(dst, replace, &[])?;
    let tmp = TempFile::new_for(dst)?;
    let mut w = BufWriter::new(tmp.file());
    let plan = Plan {
        root: RootKind::File,
        files: vec![InputFile::from_bytes(name, data)],
        extras: Vec::new(),
    };
    let summary = compress_to_writer(plan, &mut w, opts)?;
    tmp.flush_writer(&mut w)?;
    drop(w);
    tmp.persist(replace, &[])?;
    Ok(summary)
}

/// Compresses the in-memory file `data` into the archive `dst`, whose one
/// entry is named `name` (what `decompress` restores).
#[pyfunction]
#[pyo3(signature = (data, dst, name, level="fast", threads=0, overwrite=true))]
fn compress_bytes_to<'py>(
    py: Python<'py>,
    data: &[u8],
    dst: PathBuf,
    name: &str,
    level: &str,
    threads: usize,
    overwrite: bool,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let opts = options(level, threads, overwrite, true)?;
        let s = py
            .detach(|| write_bytes_archive(data, name, &dst, &opts))
            .map_err(to_py)?;
        summary_dict(py, &s)
    })
}

/// Restores the archive `src` at `dst` (byte-exact file or folder).
#[pyfunction]
#[pyo3(signature = (src, dst, threads=0, overwrite=false, base=None))]
fn decompress(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    threads: usize,
    overwrite: bool,
    base: Option<PathBuf>,
) -> PyResult<()> {
    guard(|| {
        let opts = ExtractOptions {
            threads,
            overwrite,
            progress: None,
        };
        py.detach(|| {
            let archive = crate::archive::open_with_base(&src, base.as_deref())?;
            archive.extract(&dst, &opts)
        })
        .map(|_| ())
        .map_err(to_py)
    })
}

/// Decodes the archive `path` and checks every checksum, writing nothing.
#[pyfunction]
#[pyo3(signature = (path, threads=0))]
fn verify<'py>(py: Python<'py>, path: PathBuf, threads: usize) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let opts = ExtractOptions {
            threads,
            ..ExtractOptions::default()
        };
        let s = py
            .detach(|| Archive::open(&path)?.verify(&opts))
            .map_err(to_py)?;
        let d = PyDict::new(py);
        d.set_item("files", s.files)?;
        d.set_item("chunks", s.chunks)?;
        d.set_item("bytes", s.bytes)?;
        Ok(d)
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(compress_bytes_to, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    Ok(())
}
