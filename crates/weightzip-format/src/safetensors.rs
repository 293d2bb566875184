//! Reader for the safetensors format.
//!
//! Layout: a little-endian `u64` header length `n`, then `n` bytes of JSON
//! (an object mapping tensor names to `{dtype, shape, data_offsets}` plus an
//! optional `__metadata__` string map), then the data section. Tensor offsets
//! are relative to the data section, which starts at `8 + n`.
//!
//! Compared with the reference implementation this reader is lenient in one
//! way (gaps and padding between tensors and trailing bytes after the last
//! tensor are allowed, since some writers align tensors) and strict in the
//! others (byte sizes must match shapes exactly, no overlaps, everything
//! inside the file). Duplicate JSON keys resolve to the last occurrence, as in
//! the reference implementation.

use crate::dtype::Dtype;
use crate::error::{FormatError, Result};
use crate::{check_overlaps, index_by_name};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
#[cfg(feature = "mmap")]
use std::fs::File;
#[cfg(feature = "mmap")]
use std::path::Path;

/// Largest accepted JSON header (the reference implementation refuses headers
/// above 100 MB; a real header is at most a few MB).
pub const MAX_HEADER_LEN: u64 = 100 << 20;

/// Name of the optional free-form metadata entry in the JSON header.
pub const METADATA_KEY: &str = "__metadata__";

/// One tensor as described by the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetensorInfo {
    /// Tensor name (JSON key).
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Shape, outermost dimension first (row-major).
    pub shape: Vec<u64>,
    /// Absolute file offset of the first byte.
    pub data_start: u64,
    /// Absolute file offset one past the last byte.
    pub data_end: u64,
}

impl SafetensorInfo {
    /// Byte length of the tensor data.
    pub fn len(&self) -> u64 {
        self.data_end.saturating_sub(self.data_start)
    }

    /// Whether the tensor holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of elements (product of the shape; validated not to overflow).
    pub fn n_elements(&self) -> u64 {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .unwrap_or(u64::MAX)
    }
}

/// A parsed and validated safetensors header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetensorsHeader {
    /// Bytes before the data section: `8 + n`.
    pub header_len: u64,
    /// The `__metadata__` map (empty if absent).
    pub metadata: BTreeMap<String, String>,
    /// Tensors sorted by data offset (ties broken by end offset, then name).
    pub tensors: Vec<SafetensorInfo>,
}

/// Parses and validates a safetensors header.
///
/// `prefix` holds the first bytes of the file (at least `8 + n` of them to
/// succeed) and `file_len` is the full file length, used to validate tensor
/// offsets. If `prefix` is too short but the file is long enough, returns
/// [`FormatError::NeedMore`] with the prefix length needed.
pub fn parse_header(prefix: &[u8], file_len: u64) -> Result<SafetensorsHeader> {
    // Bytes past `file_len` cannot be part of the file; ignore them.
    let usable = usize::try_from(file_len).unwrap_or(usize::MAX);
    let prefix = prefix.get(..usable).unwrap_or(prefix);

    let Some(len_bytes) = prefix.first_chunk::<8>() else {
        return Err(if file_len < 8 {
            FormatError::Truncated {
                what: "safetensors header length".into(),
                offset: 0,
                needed: 8,
                available: file_len,
            }
        } else {
            FormatError::NeedMore { needed_at_least: 8 }
        });
    };
    let n = u64::from_le_bytes(*len_bytes);
    if n > MAX_HEADER_LEN {
        return Err(FormatError::HostileSize {
            what: "safetensors header length".into(),
            value: n,
            limit: MAX_HEADER_LEN,
        });
    }
    // n <= MAX_HEADER_LEN, so this cannot overflow.
    let header_len = 8 + n;
    if header_len > file_len {
        return Err(FormatError::Truncated {
            what: "safetensors JSON header".into(),
            offset: 8,
            needed: n,
            available: file_len.saturating_sub(8),
        });
    }
    let json = usize::try_from(header_len)
        .ok()
        .and_then(|end| prefix.get(8..end))
        .ok_or(FormatError::NeedMore {
            needed_at_least: header_len,
        })?;

    let root: Value = serde_json::from_slice(json)?;
    let Value::Object(entries) = root else {
        return Err(FormatError::InvalidHeader {
            offset: 8,
            reason: "safetensors header JSON is not an object".into(),
        });
    };

    let data_len = file_len - header_len;
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if name == METADATA_KEY {
            metadata = parse_metadata(value)?;
        } else {
            tensors.push(parse_tensor(name, &value, header_len, data_len, file_len)?);
        }
    }

    tensors.sort_by(|a, b| {
        (a.data_start, a.data_end, &a.name).cmp(&(b.data_start, b.data_end, &b.name))
    });
    check_overlaps(
        tensors
            .iter()
            .map(|t| (t.name.as_str(), t.data_start, t.data_end)),
    )?;

    Ok(SafetensorsHeader {
        header_len,
        metadata,
        tensors,
    })
}

fn parse_metadata(value: Value) -> Result<BTreeMap<String, String>> {
    let Value::Object(map) = value else {
        return Err(FormatError::InvalidHeader {
            offset: 8,
            reason: format!("safetensors '{METADATA_KEY}' is not a JSON object"),
        });
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(FormatError::InvalidHeader {
                offset: 8,
                reason: format!(
                    "safetensors '{METADATA_KEY}' entry '{k}' must be a string, found {}",
                    json_kind(&other)
                ),
            }),
        })
        .collect()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_tensor(
    name: String,
    value: &Value,
    header_len: u64,
    data_len: u64,
    file_len: u64,
) -> Result<SafetensorInfo> {
    let invalid = |name: &str, reason: String| FormatError::InvalidTensor {
        name: name.to_owned(),
        reason,
    };
    let Value::Object(fields) = value else {
        return Err(invalid(
            &name,
            format!("entry is {}, not an object", json_kind(value)),
        ));
    };

    let dtype_str = fields
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&name, "missing or non-string 'dtype'".into()))?;
    let dtype = Dtype::from_str(dtype_str).ok_or_else(|| FormatError::UnknownDtype {
        name: name.clone(),
        dtype: dtype_str.to_owned(),
    })?;

    let shape = fields
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(&name, "missing or non-array 'shape'".into()))?
        .iter()
        .map(Value::as_u64)
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| invalid(&name, "'shape' must hold non-negative integers".into()))?;

    let offsets = fields
        .get("data_offsets")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(&name, "missing or non-array 'data_offsets'".into()))?;
    let (begin, end) = match offsets.as_slice() {
        [b, e] => match (b.as_u64(), e.as_u64()) {
            (Some(b), Some(e)) => (b, e),
            _ => {
                return Err(invalid(
                    &name,
                    "'data_offsets' must hold non-negative integers".into(),
                ))
            }
        },
        _ => {
            return Err(invalid(
                &name,
                format!(
                    "'data_offsets' must have 2 entries, found {}",
                    offsets.len()
                ),
            ))
        }
    };

    let n_elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| invalid(&name, format!("element count of shape {shape:?} overflows")))?;
    let nbits = n_elements
        .checked_mul(u64::from(dtype.bits()))
        .ok_or_else(|| invalid(&name, format!("byte size of shape {shape:?} overflows")))?;
    if nbits % 8 != 0 {
        return Err(invalid(
            &name,
            format!("{n_elements} elements of {dtype} do not fill a whole number of bytes"),
        ));
    }
    let nbytes = nbits / 8;
    if begin > end {
        return Err(invalid(
            &name,
            format!("data_offsets [{begin}, {end}] end before they begin"),
        ));
    }
    if end - begin != nbytes {
        return Err(invalid(
            &name,
            format!(
                "shape {shape:?} of {dtype} needs {nbytes} bytes but data_offsets [{begin}, {end}] span {}",
                end - begin
            ),
        ));
    }
    let data_start = header_len.saturating_add(begin);
    let data_end = header_len.saturating_add(end);
    if end > data_len {
        return Err(FormatError::TensorOutOfBounds {
            name: format!("safetensors tensor '{name}'"),
            offset: data_start,
            len: nbytes,
            end: data_end,
            file_len,
        });
    }
    Ok(SafetensorInfo {
        name,
        dtype,
        shape,
        data_start,
        data_end,
    })
}

/// Shared accessors over a validated header and the bytes of the whole file.
fn tensor_slice<'d>(data: &'d [u8], info: &SafetensorInfo) -> Option<&'d [u8]> {
    let start = usize::try_from(info.data_start).ok()?;
    let end = usize::try_from(info.data_end).ok()?;
    data.get(start..end)
}

/// A safetensors file held in memory (or any byte slice holding a whole file).
#[derive(Clone, Debug)]
pub struct SafetensorsView<'a> {
    data: &'a [u8],
    header: SafetensorsHeader,
    by_name: HashMap<String, usize>,
}

impl<'a> SafetensorsView<'a> {
    /// Parses the header of the whole file in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let header = parse_header(bytes, bytes.len() as u64)?;
        let by_name = index_by_name(header.tensors.iter().map(|t| t.name.as_str()));
        Ok(SafetensorsView {
            data: bytes,
            header,
            by_name,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &SafetensorsHeader {
        &self.header
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Header entry of the tensor called `name`.
    pub fn info(&self, name: &str) -> Option<&SafetensorInfo> {
        self.by_name
            .get(name)
            .and_then(|&i| self.header.tensors.get(i))
    }

    /// The bytes of the tensor called `name` (zero-copy).
    pub fn tensor_bytes(&self, name: &str) -> Option<&'a [u8]> {
        tensor_slice(self.data, self.info(name)?)
    }

    /// Every tensor with its bytes, in data-offset order.
    pub fn iter(&self) -> impl Iterator<Item = (&SafetensorInfo, &'a [u8])> + '_ {
        let data = self.data;
        self.header
            .tensors
            .iter()
            .filter_map(move |t| Some((t, tensor_slice(data, t)?)))
    }
}

/// A memory-mapped safetensors file.
#[cfg(feature = "mmap")]
#[derive(Debug)]
pub struct SafetensorsFile {
    mmap: memmap2::Mmap,
    header: SafetensorsHeader,
    by_name: HashMap<String, usize>,
}

#[cfg(feature = "mmap")]
impl SafetensorsFile {
    /// Maps the file at `path` and parses its header.
    ///
    /// The mapping is read-only; as with any mmap, the file must not be
    /// truncated or modified by another process while this value lives.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let file = File::open(path)?;
        // SAFETY: the map is read-only and only ever read through slices that
        // are bounds-checked against its length. Concurrent modification of the
        // file by another process is outside what this crate can guard against
        // and is documented on this function.
        let mmap = unsafe { memmap2::Mmap::map(&file)? };
        let header = parse_header(&mmap, mmap.len() as u64)?;
        let by_name = index_by_name(header.tensors.iter().map(|t| t.name.as_str()));
        Ok(SafetensorsFile {
            mmap,
            header,
            by_name,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &SafetensorsHeader {
        &self.header
    }

    /// The whole mapped file.
    pub fn bytes(&self) -> &[u8] {
        &self.mmap
    }

    /// Header entry of the tensor called `name`.
    pub fn info(&self, name: &str) -> Option<&SafetensorInfo> {
        self.by_name
            .get(name)
            .and_then(|&i| self.header.tensors.get(i))
    }

    /// The bytes of the tensor called `name` (zero-copy from the map).
    pub fn tensor_bytes(&self, name: &str) -> Option<&[u8]> {
        tensor_slice(&self.mmap, self.info(name)?)
    }

    /// Every tensor with its bytes, in data-offset order.
    pub fn iter(&self) -> impl Iterator<Item = (&SafetensorInfo, &[u8])> + '_ {
        let data: &[u8] = &self.mmap;
        self.header
            .tensors
            .iter()
            .filter_map(move |t| Some((t, tensor_slice(data, t)?)))
    }
}
