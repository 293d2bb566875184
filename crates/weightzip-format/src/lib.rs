//! Zero-copy, hostile-input-safe readers for the two weight file formats
//! weightzip understands — safetensors and GGUF — plus the ggml block
//! layouts needed to split quantized tensors into fields.
//!
//! Every length read from a file is bounded before anything is allocated,
//! all arithmetic on file-supplied numbers is checked, and no input can make
//! these readers panic. The entry points most callers need are:
//!
//! * [`sniff`] — which format the first bytes look like;
//! * [`layout_of`] / [`read_layout`] — where every tensor's bytes are, from a
//!   whole file in memory or by reading only the header from a stream;
//! * [`SafetensorsFile`] / [`GgufFile`] (mmap, with the `mmap` feature, on by
//!   default) and [`SafetensorsView`] /
//!   [`GgufView`] (borrowed bytes) for zero-copy access to tensor data;

pub mod dtype;
pub mod error;
pub mod ggml;
pub mod gguf;
pub mod safetensors;

pub use dtype::Dtype;
pub use error::{FormatError, Result};
pub use ggml::{BlockField, FieldKind, GgmlType};
#[cfg(feature = "mmap")]
pub use gguf::GgufFile;
pub use gguf::{GgufHeader, GgufTensorInfo, GgufValue, GgufView};
#[cfg(feature = "mmap")]
pub use safetensors::SafetensorsFile;
pub use safetensors::{SafetensorInfo, SafetensorsHeader, SafetensorsView};

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};

/// What kind of file the first bytes look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A safetensors file.
    Safetensors,
    /// A GGUF file.
    Gguf,
    /// Anything else.
    Unknown,
}

impl FileKind {
    /// Lower-case name: `"safetensors"`, `"gguf"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Safetensors => "safetensors",
            FileKind::Gguf => "gguf",
            FileKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Guesses the format from the first bytes of a file.
///
/// GGUF: the magic `"GGUF"`. Safetensors: a little-endian `u64` header length
/// `n` with `2 <= n <= 100 MiB` (a JSON object takes at least `{}`) followed
/// by `{` (checked when `prefix` has a ninth byte). Anything else, including
/// prefixes too short to decide, is [`FileKind::Unknown`].
pub fn sniff(prefix: &[u8]) -> FileKind {
    if prefix.starts_with(gguf::MAGIC) {
        return FileKind::Gguf;
    }
    if let Some(len) = prefix.first_chunk::<8>() {
        let n = u64::from_le_bytes(*len);
        if (2..=safetensors::MAX_HEADER_LEN).contains(&n)
            && prefix.get(8).is_none_or(|&b| b == b'{')
        {
            return FileKind::Safetensors;
        }
    }
    FileKind::Unknown
}

/// Element type of one tensor, whichever format it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TensorType {
    /// A safetensors dtype.
    St(Dtype),
    /// A ggml type from a GGUF file.
    Ggml(GgmlType),
}

impl TensorType {
    /// The type's name as written by its format (`"BF16"`, `"Q4_K"` ...).
    pub fn name(self) -> &'static str {
        match self {
            TensorType::St(d) => d.name(),
            TensorType::Ggml(t) => t.name(),
        }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor's bytes inside the original file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorRegion {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub ty: TensorType,
    /// Shape as the format stores it: outermost first for safetensors,
    /// row length (`ne[0]`) first for GGUF.
    pub shape: Vec<u64>,
    /// Absolute byte offset in the file.
    pub offset: u64,
    /// Byte length.
    pub len: u64,
}

impl TensorRegion {
    /// Absolute offset one past the last byte.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

/// Where the tensors of a file are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Detected format.
    pub kind: FileKind,
    /// Bytes before the data section.
    pub header_len: u64,
    /// Tensors sorted by offset; non-overlapping and inside the file.
    pub tensors: Vec<TensorRegion>,
}

impl Layout {
    /// The layout reported for files of unknown format: no header, no tensors.
    pub fn unknown() -> Layout {
        Layout {
            kind: FileKind::Unknown,
            header_len: 0,
            tensors: Vec::new(),
        }
    }
}

impl From<&SafetensorsHeader> for Layout {
    fn from(h: &SafetensorsHeader) -> Layout {
        Layout {
            kind: FileKind::Safetensors,
            header_len: h.header_len,
            // Already sorted by offset.
            tensors: h
                .tensors
                .iter()
                .map(|t| TensorRegion {
                    name: t.name.clone(),
                    ty: TensorType::St(t.dtype),
                    shape: t.shape.clone(),
                    offset: t.data_start,
                    len: t.len(),
                })
                .collect(),
        }
    }
}

impl From<&GgufHeader> for Layout {
    fn from(h: &GgufHeader) -> Layout {
        let mut tensors: Vec<TensorRegion> = h
            .tensors
            .iter()
            .map(|t| TensorRegion {
                name: t.name.clone(),
                ty: TensorType::Ggml(t.ty),
                shape: t.dims.clone(),
                offset: t.offset,
                len: t.len,
            })
            .collect();
        tensors.sort_by(|a, b| (a.offset, a.len, &a.name).cmp(&(b.offset, b.len, &b.name)));
        Layout {
            kind: FileKind::Gguf,
            header_len: h.header_len,
            tensors,
        }
    }
}

/// Bytes read up front by [`read_layout`] before the format is known.
pub const INITIAL_READ: u64 = 64 * 1024;

/// Parses the layout of a whole file held in memory (or memory-mapped).
///
/// Unknown formats yield [`Layout::unknown`].
pub fn layout_of(bytes: &[u8]) -> Result<Layout> {
    let file_len = bytes.len() as u64;
    match sniff(bytes) {
        FileKind::Safetensors => Ok(Layout::from(&safetensors::parse_header(bytes, file_len)?)),
        FileKind::Gguf => Ok(Layout::from(&gguf::parse_header(bytes, file_len)?)),
        FileKind::Unknown => Ok(Layout::unknown()),
    }
}

/// Parses the layout of a file of `file_len` bytes, reading only its header
/// (never the tensor data, beyond the first [`INITIAL_READ`] bytes read to
/// detect the format and, for GGUF, the part of the last doubled read that
/// runs past the header).
///
/// Reads incrementally from the start of `reader`: first a small prefix, then
/// for safetensors exactly the JSON header, and for GGUF a prefix that doubles
/// until the metadata and tensor infos fit. Memory stays bounded by the header
/// size, itself capped ([`safetensors::MAX_HEADER_LEN`],
/// [`gguf::MAX_HEADER_LEN`]). Unknown formats yield [`Layout::unknown`].
/// The reader's position afterwards is unspecified; seek before reading data.
pub fn read_layout<R: Read + Seek>(reader: &mut R, file_len: u64) -> Result<Layout> {
    reader.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    fill_to(reader, &mut buf, file_len.min(INITIAL_READ))?;
    match sniff(&buf) {
        FileKind::Unknown => Ok(Layout::unknown()),
        FileKind::Safetensors => {
            // The length field says exactly how much to read: no doubling.
            let header = parse_growing(reader, &mut buf, None, |prefix| {
                safetensors::parse_header(prefix, file_len)
            })?;
            Ok(Layout::from(&header))
        }
        FileKind::Gguf => {
            let grow_limit = file_len.min(gguf::MAX_HEADER_LEN);
            let header = parse_growing(reader, &mut buf, Some(grow_limit), |prefix| {
                gguf::parse_header(prefix, file_len)
            })?;
            Ok(Layout::from(&header))
        }
    }
}

/// Runs `parse` on a growing prefix until it stops asking for more bytes.
///
/// With `double_up_to = Some(limit)` the prefix at least doubles on each
/// retry (never beyond `limit`), which keeps the number of re-parses
/// logarithmic when the parser can only give a lower bound; with `None` it
/// grows to exactly the requested length.
fn parse_growing<R: Read, T>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    double_up_to: Option<u64>,
    parse: impl Fn(&[u8]) -> Result<T>,
) -> Result<T> {
    loop {
        match parse(buf) {
            Err(FormatError::NeedMore { needed_at_least }) => {
                let have = buf.len() as u64;
                if needed_at_least <= have {
                    // A parser asking for bytes it already has would loop forever.
                    return Err(FormatError::InvalidHeader {
                        offset: have,
                        reason: format!(
                            "header parser asked for {needed_at_least} bytes with {have} available"
                        ),
                    });
                }
                // The parsers only ask for bytes that are inside the file and
                // under their header cap, so `needed_at_least` is safe to read.
                let target = match double_up_to {
                    Some(limit) => have.saturating_mul(2).min(limit).max(needed_at_least),
                    None => needed_at_least,
                };
                fill_to(reader, buf, target)?;
            }
            other => return other,
        }
    }
}

/// Appends bytes from `reader` until `buf` holds `target` bytes.
fn fill_to<R: Read>(reader: &mut R, buf: &mut Vec<u8>, target: u64) -> Result<()> {
    let have = buf.len() as u64;
    if target <= have {
        return Ok(());
    }
    let want = target - have;
    let want_usize = usize::try_from(want).map_err(|_| FormatError::HostileSize {
        what: "header read size".into(),
        value: want,
        limit: usize::MAX as u64,
    })?;
    buf.try_reserve_exact(want_usize)
        .map_err(|e| FormatError::Io(std::io::Error::new(std::io::ErrorKind::OutOfMemory, e)))?;
    reader.by_ref().take(want).read_to_end(buf)?;
    let got = buf.len() as u64;
    if got < target {
        return Err(FormatError::Truncated {
            what: "file (shorter than its stated length) while reading the header".into(),
            offset: got,
            needed: target - got,
            available: 0,
        });
    }
    Ok(())
}

/// Checks that `(name, start, end)` ranges, sorted by start, do not overlap.
/// Empty ranges occupy no bytes and are skipped.
pub(crate) fn check_overlaps<'n>(sorted: impl Iterator<Item = (&'n str, u64, u64)>) -> Result<()> {
    let mut furthest: Option<(&str, u64, u64)> = None;
    for (name, start, end) in sorted {
        if end <= start {
            continue;
        }
        if let Some((a, a_start, a_end)) = furthest {
            if start < a_end {
                return Err(FormatError::OverlappingTensors {
                    a: a.to_owned(),
                    a_start,
                    a_end,
                    b: name.to_owned(),
                    b_start: start,
                    b_end: end,
                });
            }
        }
        if furthest.is_none_or(|(_, _, e)| end > e) {
            furthest = Some((name, start, end));
        }
    }
    Ok(())
}

/// Maps each name to its position (names are known to be unique).
pub(crate) fn index_by_name<'n>(names: impl Iterator<Item = &'n str>) -> HashMap<String, usize> {
    names.enumerate().map(|(i, n)| (n.to_owned(), i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_kinds() {
        assert_eq!(sniff(b"GGUF\x03\0\0\0"), FileKind::Gguf);
        assert_eq!(sniff(b"GGU"), FileKind::Unknown);
        let mut st = 2u64.to_le_bytes().to_vec();
        assert_eq!(sniff(&st), FileKind::Safetensors);
        st.extend_from_slice(b"{}");
        assert_eq!(sniff(&st), FileKind::Safetensors);
        st[8] = b'[';
        assert_eq!(sniff(&st), FileKind::Unknown);
        assert_eq!(sniff(&1u64.to_le_bytes()), FileKind::Unknown);
        assert_eq!(sniff(&u64::MAX.to_le_bytes()), FileKind::Unknown);
        assert_eq!(sniff(&[]), FileKind::Unknown);
    }

    #[test]
    fn overlap_checker() {
        let ok = [("a", 0, 10), ("e", 10, 10), ("b", 10, 20), ("c", 25, 30)];
        assert!(check_overlaps(ok.into_iter()).is_ok());
        // "c" starts inside "a" even though "b" (nested in "a") ended earlier.
        let bad = [("a", 0, 100), ("b", 10, 20), ("c", 50, 60)];
        match check_overlaps(bad.into_iter()) {
            Err(FormatError::OverlappingTensors { a, b, .. }) => {
                assert_eq!((a.as_str(), b.as_str()), ("a", "b"))
            }
            other => panic!("{other:?}"),
        }
    }
}
