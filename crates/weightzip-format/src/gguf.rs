//! Reader for GGUF (versions 2 and 3, little-endian).
//!
//! Layout, per `ggml/src/gguf.cpp` and the GGUF spec: magic `"GGUF"`, `u32`
//! version, `u64` tensor count, `u64` key/value count; the key/value pairs
//! (GGUF string key, `u32` value type, value); the tensor infos (GGUF string
//! name, `u32` n_dims, n_dims × `u64` dims, `u32` ggml type, `u64` offset
//! relative to the data section); padding up to `general.alignment`
//! (default 32); the data section.
//!
//! A GGUF string is a `u64` byte length followed by the bytes (no NUL). Array
//! values are a `u32` element type, a `u64` count and the elements; arrays of
//! arrays are accepted (the spec allows them, llama.cpp does not write them).
//!
//! Checks mirror llama.cpp's loader: version 2 or 3, non-empty unique keys,
//! `general.alignment` of type `u32` and a power of two, unique tensor names,
//! non-negative dims whose product fits in `i64`, row length divisible by the
//! block size, offsets that are multiples of the alignment. Unlike llama.cpp,
//! tensors need not be stored contiguously in info order (gaps are fine), but
//! they must not overlap and must lie inside the file.

use crate::error::{FormatError, Result};
use crate::ggml::GgmlType;
use crate::{check_overlaps, index_by_name};
use std::collections::{HashMap, HashSet};
#[cfg(feature = "mmap")]
use std::fs::File;
#[cfg(feature = "mmap")]
use std::path::Path;

/// File magic.
pub const MAGIC: &[u8; 4] = b"GGUF";
/// Alignment of the data section and tensor offsets when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Key holding the alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Largest header (metadata + tensor infos) this reader accepts. A large
/// vocabulary takes a few MB; 512 MiB leaves ample room while bounding memory.
pub const MAX_HEADER_LEN: u64 = 512 << 20;
/// Most dimensions a tensor may have (ggml itself supports 4).
pub const MAX_DIMS: u32 = 8;
/// Deepest nesting of array values.
pub const MAX_ARRAY_DEPTH: u32 = 8;
/// Most array elements across all metadata values. Each parsed element costs
/// about 32 bytes of memory; real files hold well under a million elements.
pub const MAX_TOTAL_ARRAY_ELEMENTS: u64 = 1 << 24;

/// Value type ids of GGUF metadata.
mod vt {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum GgufValue {
    /// `UINT8`.
    U8(u8),
    /// `INT8`.
    I8(i8),
    /// `UINT16`.
    U16(u16),
    /// `INT16`.
    I16(i16),
    /// `UINT32`.
    U32(u32),
    /// `INT32`.
    I32(i32),
    /// `FLOAT32`.
    F32(f32),
    /// `UINT64`.
    U64(u64),
    /// `INT64`.
    I64(i64),
    /// `FLOAT64`.
    F64(f64),
    /// `BOOL` (any non-zero byte is `true`, as in llama.cpp).
    Bool(bool),
    /// `STRING`, decoded as UTF-8; invalid sequences are replaced by U+FFFD
    /// (the original bytes remain in the file header).
    String(String),
    /// `ARRAY`; the element type of an empty array is not kept.
    Array(Vec<GgufValue>),
}

impl GgufValue {
    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v.into()),
            GgufValue::U16(v) => Some(v.into()),
            GgufValue::U32(v) => Some(v.into()),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a signed integer, if it is an integer that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            GgufValue::I8(v) => Some(v.into()),
            GgufValue::I16(v) => Some(v.into()),
            GgufValue::I32(v) => Some(v.into()),
            GgufValue::I64(v) => Some(v),
            GgufValue::U8(v) => Some(v.into()),
            GgufValue::U16(v) => Some(v.into()),
            GgufValue::U32(v) => Some(v.into()),
            GgufValue::U64(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is a float.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F32(v) => Some(v.into()),
            GgufValue::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a string, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean, if it is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            GgufValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            GgufValue::Array(v) => Some(v),
            _ => None,
        }
    }

    /// GGUF spelling of the value's type (`"u32"`, `"str"`, `"arr"` ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            GgufValue::U8(_) => "u8",
            GgufValue::I8(_) => "i8",
            GgufValue::U16(_) => "u16",
            GgufValue::I16(_) => "i16",
            GgufValue::U32(_) => "u32",
            GgufValue::I32(_) => "i32",
            GgufValue::F32(_) => "f32",
            GgufValue::U64(_) => "u64",
            GgufValue::I64(_) => "i64",
            GgufValue::F64(_) => "f64",
            GgufValue::Bool(_) => "bool",
            GgufValue::String(_) => "str",
            GgufValue::Array(_) => "arr",
        }
    }
}

/// One tensor info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufTensorInfo {
    /// Tensor name (lossily decoded if not UTF-8).
    pub name: String,
    /// Dimensions in ggml order: `dims[0]` is the row length (fastest varying).
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Absolute file offset of the tensor data.
    pub offset: u64,
    /// Byte length of the tensor data.
    pub len: u64,
}

impl GgufTensorInfo {
    /// Number of elements (product of the dims; validated to fit in `i64`).
    pub fn n_elements(&self) -> u64 {
        self.dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .unwrap_or(u64::MAX)
    }

    /// Absolute offset one past the last byte.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

/// A parsed and validated GGUF header.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufHeader {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub kv: Vec<(String, GgufValue)>,
    /// Alignment of the data section and of tensor offsets.
    pub alignment: u64,
    /// Tensor infos in file order.
    pub tensors: Vec<GgufTensorInfo>,
    /// Absolute offset of the data section (end of the header rounded up to
    /// `alignment` when there are tensors).
    pub data_start: u64,
    /// Bytes before the data section; equal to `data_start`.
    pub header_len: u64,
    /// Offset one past the last tensor info, i.e. where the alignment padding
    /// before the data section starts (`<= data_start`).
    pub infos_end: u64,
}

impl GgufHeader {
    /// The metadata value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.kv.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Bounds-checked little-endian reader over a file prefix.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    file_len: u64,
    array_elements: u64,
}

type Ctx<'c> = &'c dyn Fn() -> String;

impl<'a> Reader<'a> {
    fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// Checks that `n` more bytes are available in the prefix and returns the
    /// end position; otherwise reports why not: past the end of the file
    /// (`Truncated`), past the header cap (`HostileSize`), or merely past the
    /// prefix (`NeedMore`).
    fn ensure(&self, n: u64, what: Ctx<'_>) -> Result<usize> {
        let pos = self.pos();
        let end = match pos.checked_add(n) {
            Some(end) if end <= self.file_len => end,
            _ => {
                return Err(FormatError::Truncated {
                    what: what(),
                    offset: pos,
                    needed: n,
                    available: self.file_len.saturating_sub(pos),
                })
            }
        };
        if end > MAX_HEADER_LEN {
            return Err(FormatError::HostileSize {
                what: format!("{}: GGUF header end offset", what()),
                value: end,
                limit: MAX_HEADER_LEN,
            });
        }
        match usize::try_from(end) {
            Ok(end) if end <= self.buf.len() => Ok(end),
            _ => Err(FormatError::NeedMore {
                needed_at_least: end,
            }),
        }
    }

    fn bytes(&mut self, n: u64, what: Ctx<'_>) -> Result<&'a [u8]> {
        let end = self.ensure(n, what)?;
        // ensure() proved pos <= end <= buf.len(); the error arm is unreachable.
        let out = self.buf.get(self.pos..end).ok_or(FormatError::NeedMore {
            needed_at_least: end as u64,
        })?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: Ctx<'_>) -> Result<[u8; N]> {
        let at = self.pos();
        let b = self.bytes(N as u64, what)?;
        // bytes() returned exactly N bytes; the error arm is unreachable.
        <[u8; N]>::try_from(b).map_err(|_| FormatError::InvalidHeader {
            offset: at,
            reason: format!("{}: short read", what()),
        })
    }

    fn u8(&mut self, what: Ctx<'_>) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }
    fn u16(&mut self, what: Ctx<'_>) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: Ctx<'_>) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: Ctx<'_>) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: Ctx<'_>) -> Result<String> {
        let len = self.u64(&|| format!("{} length", what()))?;
        let bytes = self.bytes(len, what)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    fn value(&mut self, ty: u32, depth: u32, what: Ctx<'_>) -> Result<GgufValue> {
        Ok(match ty {
            vt::U8 => GgufValue::U8(self.u8(what)?),
            vt::I8 => GgufValue::I8(i8::from_le_bytes(self.array(what)?)),
            vt::U16 => GgufValue::U16(self.u16(what)?),
            vt::I16 => GgufValue::I16(i16::from_le_bytes(self.array(what)?)),
            vt::U32 => GgufValue::U32(self.u32(what)?),
            vt::I32 => GgufValue::I32(i32::from_le_bytes(self.array(what)?)),
            vt::F32 => GgufValue::F32(f32::from_le_bytes(self.array(what)?)),
            vt::BOOL => GgufValue::Bool(self.u8(what)? != 0),
            vt::STRING => GgufValue::String(self.string(what)?),
            vt::U64 => GgufValue::U64(self.u64(what)?),
            vt::I64 => GgufValue::I64(i64::from_le_bytes(self.array(what)?)),
            vt::F64 => GgufValue::F64(f64::from_le_bytes(self.array(what)?)),
            vt::ARRAY => self.array_value(depth, what)?,
            other => {
                return Err(FormatError::InvalidHeader {
                    offset: self.pos().saturating_sub(4),
                    reason: format!("{}: unknown GGUF value type {other}", what()),
                })
            }
        })
    }

    fn array_value(&mut self, depth: u32, what: Ctx<'_>) -> Result<GgufValue> {
        let type_at = self.pos();
        let elem_ty = self.u32(&|| format!("{} array element type", what()))?;
        let count = self.u64(&|| format!("{} array length", what()))?;
        if depth >= MAX_ARRAY_DEPTH {
            return Err(FormatError::InvalidHeader {
                offset: type_at,
                reason: format!(
                    "{}: arrays nested deeper than {MAX_ARRAY_DEPTH} levels",
                    what()
                ),
            });
        }
        // Smallest encoding of one element; strings are at least their u64
        // length, nested arrays at least their type and count.
        let min_size: u64 = match elem_ty {
            vt::U8 | vt::I8 | vt::BOOL => 1,
            vt::U16 | vt::I16 => 2,
            vt::U32 | vt::I32 | vt::F32 => 4,
            vt::U64 | vt::I64 | vt::F64 | vt::STRING => 8,
            vt::ARRAY => 12,
            other => {
                return Err(FormatError::InvalidHeader {
                    offset: type_at,
                    reason: format!("{}: unknown GGUF array element type {other}", what()),
                })
            }
        };
        // Bound the count by the bytes that remain before allocating anything.
        match count.checked_mul(min_size) {
            Some(bytes) => {
                self.ensure(bytes, &|| format!("{} array of {count} elements", what()))?;
            }
            None => {
                return Err(FormatError::Truncated {
                    what: format!("{} array of {count} elements", what()),
                    offset: self.pos(),
                    needed: u64::MAX,
                    available: self.file_len.saturating_sub(self.pos()),
                })
            }
        }
        self.array_elements = self.array_elements.saturating_add(count);
        if self.array_elements > MAX_TOTAL_ARRAY_ELEMENTS {
            return Err(FormatError::HostileSize {
                what: format!("{}: total GGUF array elements", what()),
                value: self.array_elements,
                limit: MAX_TOTAL_ARRAY_ELEMENTS,
            });
        }
        // count <= MAX_TOTAL_ARRAY_ELEMENTS here, so it fits in usize.
        let mut items = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        for i in 0..count {
            items.push(self.value(elem_ty, depth + 1, &|| format!("{} element #{i}", what()))?);
        }
        Ok(GgufValue::Array(items))
    }
}

/// Rounds `x` up to a multiple of `align` (a power of two); `None` on overflow.
fn align_up(x: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    x.checked_add(mask).map(|v| v & !mask)
}

/// Parses and validates a GGUF header.
///
/// `prefix` holds the first bytes of the file and `file_len` its full length.
/// If the header continues past `prefix` (but not past the file), returns
/// [`FormatError::NeedMore`] with a lower bound on the prefix length needed;
/// read more and call again. The alignment padding after the tensor infos
/// need not be in `prefix`.
pub fn parse_header(prefix: &[u8], file_len: u64) -> Result<GgufHeader> {
    // Bytes past `file_len` cannot be part of the file; ignore them.
    let usable = usize::try_from(file_len).unwrap_or(usize::MAX);
    let buf = prefix.get(..usable).unwrap_or(prefix);
    let mut r = Reader {
        buf,
        pos: 0,
        file_len,
        array_elements: 0,
    };

    let magic: [u8; 4] = r.array(&|| "GGUF magic".into())?;
    if &magic != MAGIC {
        return Err(FormatError::BadMagic {
            expected: "GGUF",
            found: magic.to_vec(),
        });
    }
    let version = r.u32(&|| "GGUF version".into())?;
    let version_problem = if version & 0xFFFF == 0 {
        Some(format!(
            "GGUF version {version:#x} looks byte-swapped (big-endian files are not supported)"
        ))
    } else if version == 1 {
        Some("GGUF version 1 is not supported (only versions 2 and 3)".to_owned())
    } else if version > 3 {
        Some(format!(
            "GGUF version {version} is not supported (only versions 2 and 3)"
        ))
    } else {
        None
    };
    if let Some(reason) = version_problem {
        return Err(FormatError::InvalidHeader { offset: 4, reason });
    }

    let tensor_count = r.u64(&|| "GGUF tensor count".into())?;
    let kv_count = r.u64(&|| "GGUF metadata key/value count".into())?;
    // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes, and
    // each tensor info at least 8 (name length) + 4 + 4 + 8 bytes; together
    // they must fit in the rest of the file.
    let remaining = file_len.saturating_sub(r.pos());
    let min_bytes = kv_count
        .checked_mul(13)
        .and_then(|kv| tensor_count.checked_mul(24).and_then(|t| t.checked_add(kv)));
    if min_bytes.is_none_or(|b| b > remaining) {
        return Err(FormatError::HostileSize {
            what: format!(
                "GGUF counts ({tensor_count} tensors, {kv_count} key/values): minimum encoded size"
            ),
            value: min_bytes.unwrap_or(u64::MAX),
            limit: remaining,
        });
    }

    // Counts are bounded by the file size above, but the prefix may be far
    // shorter than the file: cap the up-front reservation.
    let reserve = |n: u64| usize::try_from(n.min(4096)).unwrap_or(0);
    let mut kv: Vec<(String, GgufValue)> = Vec::with_capacity(reserve(kv_count));
    let mut kv_offsets: Vec<u64> = Vec::with_capacity(reserve(kv_count));
    for i in 0..kv_count {
        let at = r.pos();
        let key = r.string(&|| format!("GGUF key/value #{i} key"))?;
        if key.is_empty() {
            return Err(FormatError::InvalidHeader {
                offset: at,
                reason: format!("GGUF key/value #{i} has an empty key"),
            });
        }
        let ty = r.u32(&|| format!("GGUF key '{key}' value type"))?;
        let value = r.value(ty, 0, &|| format!("GGUF key '{key}' value"))?;
        kv.push((key, value));
        kv_offsets.push(at);
    }
    {
        let mut seen = HashSet::with_capacity(kv.len());
        for ((key, _), &at) in kv.iter().zip(&kv_offsets) {
            if !seen.insert(key.as_str()) {
                return Err(FormatError::InvalidHeader {
                    offset: at,
                    reason: format!("duplicate GGUF key '{key}'"),
                });
            }
        }
    }
    let alignment = match kv
        .iter()
        .zip(&kv_offsets)
        .find(|((k, _), _)| k == ALIGNMENT_KEY)
    {
        None => DEFAULT_ALIGNMENT,
        Some(((_, GgufValue::U32(a)), &at)) => {
            let a = u64::from(*a);
            if !a.is_power_of_two() {
                return Err(FormatError::InvalidHeader {
                    offset: at,
                    reason: format!("{ALIGNMENT_KEY} = {a} is not a non-zero power of two"),
                });
            }
            a
        }
        Some(((_, other), &at)) => {
            return Err(FormatError::InvalidHeader {
                offset: at,
                reason: format!(
                    "{ALIGNMENT_KEY} must be of type u32, found {}",
                    other.type_name()
                ),
            })
        }
    };

    let mut tensors: Vec<GgufTensorInfo> = Vec::with_capacity(reserve(tensor_count));
    let mut rel_offsets: Vec<u64> = Vec::with_capacity(reserve(tensor_count));
    for i in 0..tensor_count {
        let name = r.string(&|| format!("GGUF tensor info #{i} name"))?;
        let n_dims = r.u32(&|| format!("GGUF tensor info '{name}' n_dims"))?;
        if n_dims > MAX_DIMS {
            return Err(FormatError::HostileSize {
                what: format!("GGUF tensor info '{name}' n_dims"),
                value: n_dims.into(),
                limit: MAX_DIMS.into(),
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for j in 0..n_dims {
            let d = r.u64(&|| format!("GGUF tensor info '{name}' dim #{j}"))?;
            if d > i64::MAX as u64 {
                return Err(FormatError::InvalidTensor {
                    name,
                    reason: format!("dimension #{j} is {d}, which is negative as an int64"),
                });
            }
            dims.push(d);
        }
        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64);
        let Some(n_elements) = n_elements else {
            return Err(FormatError::InvalidTensor {
                name,
                reason: format!("element count of dims {dims:?} overflows int64"),
            });
        };
        let type_id = r.u32(&|| format!("GGUF tensor info '{name}' type"))?;
        let Some(ty) = GgmlType::from_u32(type_id) else {
            return Err(FormatError::UnknownGgmlType { name, id: type_id });
        };
        let block = ty.block_size() as u64;
        let row = dims.first().copied().unwrap_or(1);
        if row % block != 0 {
            return Err(FormatError::InvalidTensor {
                name,
                reason: format!(
                    "row length {row} is not a multiple of the {ty} block size {block}"
                ),
            });
        }
        let Some(len) = (n_elements / block).checked_mul(ty.type_size() as u64) else {
            return Err(FormatError::InvalidTensor {
                name,
                reason: format!("byte size of dims {dims:?} as {ty} overflows"),
            });
        };
        let rel = r.u64(&|| format!("GGUF tensor info '{name}' data offset"))?;
        tensors.push(GgufTensorInfo {
            name,
            dims,
            ty,
            offset: 0,
            len,
        });
        rel_offsets.push(rel);
    }
    {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if let Some(first) = seen.insert(t.name.as_str(), i) {
                return Err(FormatError::InvalidTensor {
                    name: t.name.clone(),
                    reason: format!("duplicate tensor name (tensor infos #{first} and #{i})"),
                });
            }
        }
    }

    let infos_end = r.pos();
    // Like llama.cpp, only pad when there is a data section at all.
    let data_start = if tensor_count > 0 {
        align_up(infos_end, alignment).unwrap_or(u64::MAX)
    } else {
        infos_end
    };
    if data_start > file_len {
        return Err(FormatError::Truncated {
            what: format!("GGUF padding to the {alignment}-byte aligned data section"),
            offset: infos_end,
            needed: data_start - infos_end,
            available: file_len.saturating_sub(infos_end),
        });
    }

    for (t, &rel) in tensors.iter_mut().zip(&rel_offsets) {
        if rel % alignment != 0 {
            return Err(FormatError::InvalidTensor {
                name: t.name.clone(),
                reason: format!("data offset {rel} is not a multiple of the alignment {alignment}"),
            });
        }
        let start = data_start.checked_add(rel);
        let end = start.and_then(|s| s.checked_add(t.len));
        match (start, end) {
            (Some(start), Some(end)) if end <= file_len => t.offset = start,
            _ => {
                return Err(FormatError::TensorOutOfBounds {
                    name: format!("GGUF tensor info '{}'", t.name),
                    offset: data_start.saturating_add(rel),
                    len: t.len,
                    end: end.unwrap_or(u64::MAX),
                    file_len,
                })
            }
        }
    }

    let mut order: Vec<&GgufTensorInfo> = tensors.iter().collect();
    order.sort_by(|a, b| (a.offset, a.len, &a.name).cmp(&(b.offset, b.len, &b.name)));
    check_overlaps(order.iter().map(|t| (t.name.as_str(), t.offset, t.end())))?;

    Ok(GgufHeader {
        version,
        kv,
        alignment,
        tensors,
        data_start,
        header_len: data_start,
        infos_end,
    })
}

fn tensor_slice<'d>(data: &'d [u8], info: &GgufTensorInfo) -> Option<&'d [u8]> {
    let start = usize::try_from(info.offset).ok()?;
    let end = usize::try_from(info.end()).ok()?;
    data.get(start..end)
}

/// A GGUF file held in memory (or any byte slice holding a whole file).
#[derive(Clone, Debug)]
pub struct GgufView<'a> {
    data: &'a [u8],
    header: GgufHeader,
    by_name: HashMap<String, usize>,
}

impl<'a> GgufView<'a> {
    /// Parses the header of the whole file in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let header = parse_header(bytes, bytes.len() as u64)?;
        let by_name = index_by_name(header.tensors.iter().map(|t| t.name.as_str()));
        Ok(GgufView {
            data: bytes,
            header,
            by_name,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The metadata value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.header.get(key)
    }

    /// Tensor info of the tensor called `name`.
    pub fn info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.by_name
            .get(name)
            .and_then(|&i| self.header.tensors.get(i))
    }

    /// The bytes of the tensor called `name` (zero-copy).
    pub fn tensor_bytes(&self, name: &str) -> Option<&'a [u8]> {
        tensor_slice(self.data, self.info(name)?)
    }

    /// Every tensor with its bytes, in tensor-info (file header) order.
    pub fn iter(&self) -> impl Iterator<Item = (&GgufTensorInfo, &'a [u8])> + '_ {
        let data = self.data;
        self.header
            .tensors
            .iter()
            .filter_map(move |t| Some((t, tensor_slice(data, t)?)))
    }
}

/// A memory-mapped GGUF file.
#[cfg(feature = "mmap")]
#[derive(Debug)]
pub struct GgufFile {
    mmap: memmap2::Mmap,
    header: GgufHeader,
    by_name: HashMap<String, usize>,
}

#[cfg(feature = "mmap")]
impl GgufFile {
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
        Ok(GgufFile {
            mmap,
            header,
            by_name,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    /// The whole mapped file.
    pub fn bytes(&self) -> &[u8] {
        &self.mmap
    }

    /// The metadata value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.header.get(key)
    }

    /// Tensor info of the tensor called `name`.
    pub fn info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.by_name
            .get(name)
            .and_then(|&i| self.header.tensors.get(i))
    }

    /// The bytes of the tensor called `name` (zero-copy from the map).
    pub fn tensor_bytes(&self, name: &str) -> Option<&[u8]> {
        tensor_slice(&self.mmap, self.info(name)?)
    }

    /// Every tensor with its bytes, in tensor-info (file header) order.
    pub fn iter(&self) -> impl Iterator<Item = (&GgufTensorInfo, &[u8])> + '_ {
        let data: &[u8] = &self.mmap;
        self.header
            .tensors
            .iter()
            .filter_map(move |t| Some((t, tensor_slice(data, t)?)))
    }
}
