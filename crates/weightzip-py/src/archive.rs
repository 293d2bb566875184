//! `weightzip._native.Archive`: an open `.wz` file, read lazily. Tensor
//! bytes are decoded with the GIL released straight into new `bytearray`s
//! (see `buffers`) that the Python side wraps as numpy arrays or torch
//! tensors without a copy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict};
use weightzip::base::Base;
use weightzip::{Archive, ExtractOptions, RootKind, SegmentKind, TensorTarget};

use crate::buffers::{fresh_buffers, TensorMemory};
use crate::convert::{gguf_metadata, safetensors_metadata};
use crate::{count, guard, to_py, WeightzipError};

/// What `tensors()` lists for one tensor: name, type name (`"BF16"`,
/// `"Q4_K"`, `""` if unknown), whether the type is a ggml type, shape as the
/// file stores it, byte length, number of chunks.
type TensorRow = (String, String, bool, Vec<u64>, u64, usize);

/// An open archive.
#[pyclass(name = "Archive", module = "weightzip._native", frozen)]
pub struct PyArchive {
    inner: Archive<'static>,
}

impl PyArchive {
    fn entry(&self, entry: usize) -> PyResult<&weightzip::Entry> {
        self.inner.index().entries.get(entry).ok_or_else(|| {
            to_py(weightzip::WzError::InvalidInput(format!(
                "no entry {entry}"
            )))
        })
    }
}

/// Opens an archive and gives it its base checkpoint when one is named
/// (an archive that needs a base and has none raises when a delta chunk
/// is decoded).
pub(crate) fn open_with_base(
    path: &Path,
    base: Option<&Path>,
) -> weightzip::Result<Archive<'static>> {
    let mut archive = Archive::open(path)?;
    if let Some(b) = base {
        archive.set_base(&Arc::new(Base::open(b)?))?;
    }
    Ok(archive)
}

#[pymethods]
impl PyArchive {
    /// Opens `path` and reads its index (no tensor is decoded); `base`:
    /// the checkpoint its deltas were coded against, when it has any.
    #[new]
    #[pyo3(signature = (path, base=None))]
    fn new(py: Python<'_>, path: PathBuf, base: Option<PathBuf>) -> PyResult<Self> {
        guard(|| {
            let inner = py
                .detach(|| open_with_base(&path, base.as_deref()))
                .map_err(to_py)?;
            Ok(Self { inner })
        })
    }

    /// Whether the archive holds a folder (else one file).
    #[getter]
    fn is_folder(&self) -> bool {
        self.inner.index().root == RootKind::Dir
    }

    /// `[(path, size, kind)]` of the files in the archive; kind is
    /// `"safetensors"`, `"gguf"`, `"pytorch"` (a zip checkpoint) or
    /// `"other"`.
    fn entries(&self) -> Vec<(String, u64, &'static str)> {
        self.inner
            .index()
            .entries
            .iter()
            .map(|e| {
                let kind = match e.file_kind {
                    1 => "safetensors",
                    2 => "gguf",
                    3 => "pytorch",
                    _ => "other",
                };
                (e.path.clone(), e.size, kind)
            })
            .collect()
    }

    /// The tensors of file `entry` in file order (see `TensorRow`).
    fn tensors(&self, entry: usize) -> PyResult<Vec<TensorRow>> {
        let e = self.entry(entry)?;
        Ok(e.segments
            .iter()
            .filter_map(|s| match &s.kind {
                SegmentKind::Tensor { name, ty, shape } => {
                    let (ty_name, ggml) = match ty {
                        Some(t @ weightzip_format::TensorType::Ggml(_)) => (t.name(), true),
                        Some(t) => (t.name(), false),
                        None => ("", false),
                    };
                    Some((
                        name.clone(),
                        ty_name.to_string(),
                        ggml,
                        shape.clone(),
                        s.len,
                        s.chunks.len(),
                    ))
                }
                SegmentKind::Passthrough => None,
            })
            .collect())
    }

    /// The bytes of file `entry` before its first tensor (its header).
    fn header<'py>(&self, py: Python<'py>, entry: usize) -> PyResult<Bound<'py, PyBytes>> {
        guard(|| {
            let (bytes, stats) = py
                .detach(|| self.inner.read_leading_bytes(entry))
                .map_err(to_py)?;
            count(stats);
            Ok(PyBytes::new(py, &bytes))
        })
    }

    /// The metadata of file `entry`: safetensors' `__metadata__` as a
    /// `dict[str, str]` (None if absent), or a GGUF file's key/value pairs
    /// as Python values.
    fn metadata<'py>(&self, py: Python<'py>, entry: usize) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let e = self.entry(entry)?;
            let (head, stats) = py
                .detach(|| self.inner.read_leading_bytes(entry))
                .map_err(to_py)?;
            count(stats);
            match e.file_kind {
                1 => safetensors_metadata(py, &e.path, &head, e.size),
                2 => gguf_metadata(py, &e.path, &head, e.size),
                _ => Ok(py.None().into_bound(py)),
            }
        })
    }

    /// Bytes `start..start + length` (default: all) of tensor `name` in
    /// file `entry`, decoding only the chunks that hold them.
    #[pyo3(signature = (entry, name, start=0, length=None, threads=0))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        entry: usize,
        name: &str,
        start: u64,
        length: Option<u64>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyByteArray>> {
        guard(|| {
            let seg = self.inner.tensor_segment(entry, name).map_err(to_py)?;
            let len = length.unwrap_or_else(|| seg.len.saturating_sub(start));
            let (mut bufs, mut storage) = fresh_buffers(py, &[len])?;
            let stats = py
                .detach(|| {
                    // SAFETY: `bufs` outlives this call and is reachable
                    // from no Python code yet.
                    let mut outs = unsafe { storage.zeroed_slices() };
                    let out = outs.pop().unwrap_or_default();
                    self.inner
                        .read_tensor_range_into(entry, name, start, out, threads)
                })
                .map_err(to_py)?;
            count(stats);
            bufs.pop()
                .ok_or_else(|| WeightzipError::new_err("no buffer was made"))
        })
    }

    /// The tensors `names` of file `entry`, all chunks decoded in parallel
    /// into one new `TensorMemory`; returns it and each tensor's offset.
    #[pyo3(signature = (entry, names, threads=0))]
    fn read_many_mapped(
        &self,
        py: Python<'_>,
        entry: usize,
        names: Vec<String>,
        threads: usize,
    ) -> PyResult<(TensorMemory, Vec<u64>)> {
        guard(|| {
            let lens = names
                .iter()
                .map(|n| Ok(self.inner.tensor_segment(entry, n).map_err(to_py)?.len))
                .collect::<PyResult<Vec<u64>>>()?;
            let (mut memory, offsets) = TensorMemory::new(&lens)?;
            let stats = py
                .detach(|| {
                    let targets: Vec<TensorTarget<'_>> = names
                        .iter()
                        .zip(memory.slices(&offsets, &lens))
                        .map(|(n, out)| TensorTarget {
                            entry,
                            name: n,
                            start: 0,
                            out,
                        })
                        .collect();
                    self.inner.read_tensors_into(targets, threads)
                })
                .map_err(to_py)?;
            count(stats);
            Ok((memory, offsets))
        })
    }

    /// The whole original file `entry`, checked against every checksum.
    #[pyo3(signature = (entry, threads=0))]
    fn read_file<'py>(
        &self,
        py: Python<'py>,
        entry: usize,
        threads: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        guard(|| {
            let size = self.entry(entry)?.size;
            let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            let opts = ExtractOptions {
                threads,
                ..ExtractOptions::default()
            };
            py.detach(|| self.inner.extract_entry_to(entry, &mut out, &opts))
                .map_err(to_py)?;
            Ok(PyBytes::new(py, &out))
        })
    }

    /// Restores the archive at `output` (a file, or a folder).
    #[pyo3(signature = (output, threads=0, overwrite=false))]
    fn extract(
        &self,
        py: Python<'_>,
        output: PathBuf,
        threads: usize,
        overwrite: bool,
    ) -> PyResult<()> {
        guard(|| {
            let opts = ExtractOptions {
                threads,
                overwrite,
                progress: None,
            };
            py.detach(|| self.inner.extract(&output, &opts))
                .map(|_| ())
                .map_err(to_py)
        })
    }

    /// Decodes everything and checks every checksum; returns
    /// `{"files", "chunks", "bytes"}`.
    #[pyo3(signature = (threads=0))]
    fn verify<'py>(&self, py: Python<'py>, threads: usize) -> PyResult<Bound<'py, PyDict>> {
        guard(|| {
            let opts = ExtractOptions {
                threads,
                ..ExtractOptions::default()
            };
            let s = py.detach(|| self.inner.verify(&opts)).map_err(to_py)?;
            let d = PyDict::new(py);
            d.set_item("files", s.files)?;
            d.set_item("chunks", s.chunks)?;
            d.set_item("bytes", s.bytes)?;
            Ok(d)
        })
    }
}
