//! Test-only builders for tiny safetensors and GGUF files, plus helpers to
//! write raw header fields when crafting hostile inputs.
#![allow(dead_code)]

use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// safetensors
// ---------------------------------------------------------------------------

/// One tensor to put in a safetensors file.
pub struct StTensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
}

/// Builds a safetensors file. Tensors are laid out in the given order,
/// separated by `gap` zero bytes; the JSON lists them in reverse order (to
/// check that readers sort by offset).
#[derive(Default)]
pub struct StBuilder {
    pub tensors: Vec<StTensor>,
    pub metadata: Option<Vec<(String, String)>>,
    pub gap: usize,
    pub trailing: usize,
    pub header_pad: usize,
}

impl StBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn tensor(mut self, name: &str, dtype: &str, shape: &[u64], data: Vec<u8>) -> Self {
        self.tensors.push(StTensor {
            name: name.into(),
            dtype: dtype.into(),
            shape: shape.to_vec(),
            data,
        });
        self
    }

    pub fn meta(mut self, k: &str, v: &str) -> Self {
        self.metadata
            .get_or_insert_with(Vec::new)
            .push((k.into(), v.into()));
        self
    }

    /// The JSON object describing the layout (before any tampering).
    pub fn json(&self) -> Map<String, Value> {
        let mut obj = Map::new();
        if let Some(m) = &self.metadata {
            let mm: Map<String, Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            obj.insert("__metadata__".into(), Value::Object(mm));
        }
        let mut off = 0usize;
        let mut entries = Vec::new();
        for t in &self.tensors {
            entries.push((
                t.name.clone(),
                json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [off, off + t.data.len()]}),
            ));
            off += t.data.len() + self.gap;
        }
        for (k, v) in entries.into_iter().rev() {
            obj.insert(k, v);
        }
        obj
    }

    pub fn build(&self) -> Vec<u8> {
        self.build_with_json(&Value::Object(self.json()))
    }

    /// Builds the file with an arbitrary JSON header (the data section is
    /// still laid out from `tensors`).
    pub fn build_with_json(&self, header: &Value) -> Vec<u8> {
        let mut h = serde_json::to_vec(header).unwrap();
        h.extend(std::iter::repeat_n(b' ', self.header_pad));
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&h);
        for (i, t) in self.tensors.iter().enumerate() {
            out.extend_from_slice(&t.data);
            if i + 1 < self.tensors.len() {
                out.extend(std::iter::repeat_n(0u8, self.gap));
            }
        }
        out.extend(std::iter::repeat_n(0xEEu8, self.trailing));
        out
    }
}

/// Safetensors file from a raw JSON header string and data bytes.
pub fn st_raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

// ---------------------------------------------------------------------------
// GGUF
// ---------------------------------------------------------------------------

/// GGUF metadata value for the builder.
#[derive(Clone, Debug)]
pub enum Val {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(u8),
    Str(Vec<u8>),
    Arr(u32, Vec<Val>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Val {
    pub fn type_id(&self) -> u32 {
        match self {
            Val::U8(_) => 0,
            Val::I8(_) => 1,
            Val::U16(_) => 2,
            Val::I16(_) => 3,
            Val::U32(_) => 4,
            Val::I32(_) => 5,
            Val::F32(_) => 6,
            Val::Bool(_) => 7,
            Val::Str(_) => 8,
            Val::Arr(..) => 9,
            Val::U64(_) => 10,
            Val::I64(_) => 11,
            Val::F64(_) => 12,
        }
    }

    pub fn str(s: &str) -> Val {
        Val::Str(s.as_bytes().to_vec())
    }

    /// Encodes the value payload (without its type id).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Val::U8(v) => out.push(*v),
            Val::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::Bool(v) => out.push(*v),
            Val::Str(s) => gguf_str(out, s),
            Val::Arr(t, items) => {
                out.extend_from_slice(&t.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for it in items {
                    it.encode(out);
                }
            }
            Val::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

pub fn gguf_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

/// One tensor to put in a GGUF file.
#[derive(Clone, Debug)]
pub struct GgTensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub ty: u32,
    pub data: Vec<u8>,
    /// Explicit relative offset (otherwise packed with alignment).
    pub offset: Option<u64>,
}

/// Builds a GGUF file.
#[derive(Clone, Debug)]
pub struct GgBuilder {
    pub version: u32,
    pub kv: Vec<(Vec<u8>, Val)>,
    pub tensors: Vec<GgTensor>,
    /// Alignment used to place data (independent of any general.alignment KV).
    pub align: u64,
}

impl Default for GgBuilder {
    fn default() -> Self {
        GgBuilder {
            version: 3,
            kv: Vec::new(),
            tensors: Vec::new(),
            align: 32,
        }
    }
}

/// Byte positions of interesting fields in a built GGUF file.
#[derive(Clone, Debug, Default)]
pub struct GgOffsets {
    pub infos_start: usize,
    pub infos_end: usize,
    pub data_start: usize,
    /// Per tensor: offset of the n_dims field and of the relative-offset field.
    pub n_dims_at: Vec<usize>,
    pub type_at: Vec<usize>,
    pub rel_offset_at: Vec<usize>,
}

impl GgBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn kv(mut self, k: &str, v: Val) -> Self {
        self.kv.push((k.as_bytes().to_vec(), v));
        self
    }

    pub fn tensor(mut self, name: &str, dims: &[u64], ty: u32, data: Vec<u8>) -> Self {
        self.tensors.push(GgTensor {
            name: name.into(),
            dims: dims.to_vec(),
            ty,
            data,
            offset: None,
        });
        self
    }

    pub fn build(&self) -> Vec<u8> {
        self.build_with_offsets().0
    }

    pub fn build_with_offsets(&self) -> (Vec<u8>, GgOffsets) {
        let mut o = GgOffsets::default();
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kv.len() as u64).to_le_bytes());
        for (k, v) in &self.kv {
            gguf_str(&mut out, k);
            out.extend_from_slice(&v.type_id().to_le_bytes());
            v.encode(&mut out);
        }
        o.infos_start = out.len();
        // Relative offsets: packed with alignment unless given.
        let mut rel = Vec::new();
        let mut cur = 0u64;
        for t in &self.tensors {
            let off = t
                .offset
                .unwrap_or_else(|| cur.div_ceil(self.align) * self.align);
            rel.push(off);
            cur = off + t.data.len() as u64;
        }
        for (t, &r) in self.tensors.iter().zip(&rel) {
            gguf_str(&mut out, t.name.as_bytes());
            o.n_dims_at.push(out.len());
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            o.type_at.push(out.len());
            out.extend_from_slice(&t.ty.to_le_bytes());
            o.rel_offset_at.push(out.len());
            out.extend_from_slice(&r.to_le_bytes());
        }
        o.infos_end = out.len();
        if !self.tensors.is_empty() {
            let ds = (out.len() as u64).div_ceil(self.align) * self.align;
            out.resize(ds as usize, 0);
        }
        o.data_start = out.len();
        for (t, &r) in self.tensors.iter().zip(&rel) {
            let at = o.data_start + r as usize;
            if out.len() < at + t.data.len() {
                out.resize(at + t.data.len(), 0);
            }
            out[at..at + t.data.len()].copy_from_slice(&t.data);
        }
        (out, o)
    }
}

/// Deterministic pseudo-random bytes.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A small valid GGUF with a few metadata types and three tensors.
pub fn small_gguf() -> GgBuilder {
    GgBuilder::new()
        .kv("general.architecture", Val::str("llama"))
        .kv("llama.block_count", Val::U32(2))
        .kv(
            "tokenizer.ggml.tokens",
            Val::Arr(8, vec![Val::str("<s>"), Val::str("a"), Val::str("b")]),
        )
        .kv("some.flag", Val::Bool(1))
        .tensor("token_embd.weight", &[32, 2], 8, bytes(2 * 34, 1))
        .tensor("blk.0.attn_norm.weight", &[3], 0, bytes(12, 2))
        .tensor("blk.0.ffn_down.weight", &[256, 1], 12, bytes(144, 3))
}

/// A small valid safetensors file with metadata and three tensors.
pub fn small_st() -> StBuilder {
    StBuilder::new()
        .meta("format", "pt")
        .tensor("model.embed_tokens.weight", "BF16", &[4, 3], bytes(24, 4))
        .tensor("model.norm.weight", "F32", &[3], bytes(12, 5))
        .tensor("lm_head.weight", "F16", &[2, 3], bytes(12, 6))
}
