//! The `bytearray`s tensors are decoded into. They are allocated without
//! the interpreter's zeroing pass (which runs on one thread with the GIL
//! held), then zeroed in parallel with the GIL released just before the
//! decoder overwrites them, so the first touch of fresh pages (page
//! faults) is spread over all decoding threads and no Python thread waits.

use pyo3::exceptions::PyMemoryError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyByteArrayMethods};
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
