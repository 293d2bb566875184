//! The memory tensors are decoded into.
//!
//! - One tensor (`get_tensor`, `get_slice`): a `bytearray`, allocated
//!   without the interpreter's zeroing pass (which runs on one thread with
//!   the GIL held), then zeroed in parallel with the GIL released just
//!   before the decoder overwrites it, so the first touch of fresh pages is
//!   spread over the decoding threads and no Python thread waits.
//! - All tensors of a file (`load_file`): one [`TensorMemory`], an
//!   anonymous mapping the kernel hands out zero-filled.

use pyo3::exceptions::PyMemoryError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyByteArrayMethods, PyDict};
use rayon::prelude::*;

/// Bytes zeroed per parallel task.
const ZERO_PIECE: usize = 1 << 20;

/// Start and length of one `bytearray`'s storage.
#[derive(Clone, Copy)]
struct RawBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a `RawBuf` is only the address of a `bytearray`'s storage that
// the caller of `Storage::zeroed_slices` keeps alive; the threads given it
// write disjoint pieces of it while no Python code runs.
unsafe impl Send for RawBuf {}
// SAFETY: as for `Send`: shared `RawBuf`s are only read (their address and
// length); writes through them go to disjoint pieces.
unsafe impl Sync for RawBuf {}

/// The storage of the buffers [`fresh_buffers`] made, handed to the
/// threads that fill them.
pub(crate) struct Storage {
    raw: Vec<RawBuf>,
}

/// New `bytearray`s of the given lengths, their contents not yet
/// initialised, and their storage: call [`Storage::zeroed_slices`] before
/// any Python code can see the arrays.
pub(crate) fn fresh_buffers<'py>(
    py: Python<'py>,
    lens: &[u64],
) -> PyResult<(Vec<Bound<'py, PyByteArray>>, Storage)> {
    let mut arrays = Vec::with_capacity(lens.len());
    let mut raw = Vec::with_capacity(lens.len());
    for &len in lens {
        let n = ffi::Py_ssize_t::try_from(len)
            .map_err(|_| PyMemoryError::new_err("tensor too large"))?;
        // SAFETY: a null source asks CPython for `n` bytes of storage
        // without copying anything into it; the result is a new reference,
        // or null with a Python error set, which `from_owned_ptr_or_err`
        // turns into `Err`.
        let any = unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                ffi::PyByteArray_FromStringAndSize(std::ptr::null(), n),
            )
        }?;
        let array = any.cast_into::<PyByteArray>()?;
        raw.push(RawBuf {
            ptr: array.data(),
            len: array.len(),
        });
        arrays.push(array);
    }
    Ok((arrays, Storage { raw }))
}

impl Storage {
    /// Zeroes every buffer, in parallel on rayon's pool (call it with the
    /// GIL released), and returns them as slices for the decoder.
    ///
    /// # Safety
    /// The arrays [`fresh_buffers`] returned with `self` must stay alive,
    /// unresized and untouched by Python code while the slices are used.
    pub(crate) unsafe fn zeroed_slices(&mut self) -> Vec<&mut [u8]> {
        let pieces: Vec<RawBuf> = self
            .raw
            .iter()
            .flat_map(|b| {
                (0..b.len).step_by(ZERO_PIECE).map(move |at| RawBuf {
                    // SAFETY: `at < b.len`, so the offset stays inside the
                    // buffer's storage.
                    ptr: unsafe { b.ptr.add(at) },
                    len: (b.len - at).min(ZERO_PIECE),
                })
            })
            .collect();
        pieces.par_iter().for_each(|p| {
            // SAFETY: each piece is a distinct range inside a live
            // `bytearray` (the caller's promise) that nothing else reads
            // or writes now.
            unsafe { std::ptr::write_bytes(p.ptr, 0, p.len) }
        });
        self.raw
            .iter()
            .map(|b| {
                if b.len == 0 {
                    return &mut [][..];
                }
                // SAFETY: the storage is `b.len` bytes, now initialised;
                // the buffers are distinct objects that the caller keeps
                // alive and unshared while the slices exist.
                unsafe { std::slice::from_raw_parts_mut(b.ptr, b.len) }
            })
            .collect()
    }
}

/// Tensors decoded into one anonymous memory mapping (zero-filled by the
/// kernel, so no zeroing pass; on Linux marked for transparent huge pages,
/// which makes its first touch many times cheaper than 4 KiB page faults).
/// numpy wraps it through `__array_interface__` (the stable ABI of
/// Python 3.9 has no buffer protocol for extension types); the arrays and
/// tensors cut from it keep it alive, and dropping the last unmaps it.
#[pyclass(name = "TensorMemory", module = "weightzip._native", frozen)]
pub struct TensorMemory {
    map: memmap2::MmapMut,
    /// Bytes in use (the mapping has at least one).
    len: usize,
    /// Where the mapping starts, as numpy gets it.
    addr: usize,
}

/// Alignment of each tensor inside a [`TensorMemory`] (any element type).
const TENSOR_ALIGN: u64 = 64;

impl TensorMemory {
    /// A zero-filled mapping for tensors of `lens` bytes, and each one's
    /// offset in it (aligned to [`TENSOR_ALIGN`]).
    pub(crate) fn new(lens: &[u64]) -> PyResult<(Self, Vec<u64>)> {
        let mut offsets = Vec::with_capacity(lens.len());
        let mut end = 0u64;
        for &len in lens {
            let at = end
                .checked_next_multiple_of(TENSOR_ALIGN)
                .ok_or_else(|| PyMemoryError::new_err("tensors too large"))?;
            offsets.push(at);
            end = at
                .checked_add(len)
                .ok_or_else(|| PyMemoryError::new_err("tensors too large"))?;
        }
        let len = usize::try_from(end).map_err(|_| PyMemoryError::new_err("tensors too large"))?;
        // A mapping cannot be empty; one unused byte stands in.
        let mut map = memmap2::MmapMut::map_anon(len.max(1))
            .map_err(|e| PyMemoryError::new_err(format!("cannot map {len} bytes: {e}")))?;
        #[cfg(target_os = "linux")]
        {
            // Only a hint: without transparent huge pages it does nothing.
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        let addr = map.as_mut_ptr() as usize;
        Ok((Self { map, len, addr }, offsets))
    }

    /// The tensors' places in the mapping, for the decoder.
    pub(crate) fn slices(&mut self, offsets: &[u64], lens: &[u64]) -> Vec<&mut [u8]> {
        let mut rest: &mut [u8] = &mut self.map[..];
        let mut pos = 0u64;
        let mut out = Vec::with_capacity(lens.len());
        for (&at, &len) in offsets.iter().zip(lens) {
            // `new` laid the offsets out in order inside the mapping.
            let (_, tail) = std::mem::take(&mut rest).split_at_mut((at - pos) as usize);
            let (mine, tail) = tail.split_at_mut(len as usize);
            out.push(mine);
            rest = tail;
            pos = at + len;
        }
        out
    }
}

#[pymethods]
impl TensorMemory {
    /// numpy's array interface: the mapping as a writable `uint8` array.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("version", 3)?;
        d.set_item("shape", (self.len,))?;
        d.set_item("typestr", "|u1")?;
        d.set_item("data", (self.addr, false))?;
        Ok(d)
    }

    fn __len__(&self) -> usize {
        self.len
    }
}
