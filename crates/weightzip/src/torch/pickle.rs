//! A pickle reader that executes nothing: it walks the opcodes of a
//! `torch.save` `data.pkl` with a value stack of inert values and only
//! recognises three things — the persistent id of a storage
//! (`('storage', torch.<T>Storage, key, location, numel)`), a call of
//! `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`,
//! and a string key set to such a tensor in a dict. Every other call is an
//! opaque value; any opcode it does not know makes the whole file opaque.
//! Stack, memo and values are bounded by the pickle's own length.

use std::collections::HashMap;
use std::rc::Rc;

use weightzip_format::Dtype;

/// The longest `data.pkl` read (a checkpoint's is tens of kilobytes).
pub const MAX_PICKLE: u64 = 16 << 20;

/// A storage as its persistent id names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageRef {
    /// The key: the member `data/<key>` holds its bytes.
    pub key: String,
    /// Its element type.
    pub dtype: Dtype,
    /// Elements.
    pub numel: u64,
}

/// A tensor: a view of a storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorRef {
    /// Its key in the state dict (the innermost dict's key).
    pub name: String,
    /// The storage.
    pub storage: StorageRef,
    /// First element in the storage.
    pub offset: u64,
    /// Dimensions.
    pub size: Vec<u64>,
    /// Strides, in elements.
    pub stride: Vec<u64>,
}

#[derive(Clone, Debug)]
enum Value {
    Mark,
    Str(Rc<str>),
    Int(i64),
    Global(Rc<str>, Rc<str>),
    Tuple(Rc<[Value]>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    /// Anything else (dicts, lists, floats, results of other calls).
    Other,
}

/// The element type a storage class stands for.
fn storage_dtype(module: &str, name: &str) -> Option<Dtype> {
    if module != "torch" {
        return None;
    }
    Some(match name {
        "BFloat16Storage" => Dtype::BF16,
        "HalfStorage" => Dtype::F16,
        "FloatStorage" => Dtype::F32,
        "DoubleStorage" => Dtype::F64,
        "LongStorage" => Dtype::I64,
        "IntStorage" => Dtype::I32,
        "ShortStorage" => Dtype::I16,
        "CharStorage" => Dtype::I8,
        "ByteStorage" => Dtype::U8,
        "BoolStorage" => Dtype::Bool,
        _ => return None,
    })
}

struct Walker<'a> {
    b: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u64, Value>,
    tensors: Vec<TensorRef>,
    /// Bytes the tensors found may still take (memo references could
    /// otherwise copy one long name or shape without bound).
    left: u64,
}

impl<'a> Walker<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn uint(&mut self, n: usize) -> Option<u64> {
        let s = self.take(n)?;
        Some(s.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
    }

    fn line(&mut self) -> Option<&'a str> {
        let rest = self.b.get(self.pos..)?;
        let n = rest.iter().position(|&c| c == b'\n')?;
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n]).ok()
    }

    fn text(&mut self, n: u64) -> Option<Value> {
        let s = self.take(usize::try_from(n).ok()?)?;
        Some(match std::str::from_utf8(s) {
            Ok(s) => Value::Str(s.into()),
            Err(_) => Value::Other,
        })
    }

    fn pop(&mut self) -> Option<Value> {
        match self.stack.pop()? {
            Value::Mark => None,
            v => Some(v),
        }
    }

    /// The values since the last mark, the mark removed.
    fn pop_mark(&mut self) -> Option<Vec<Value>> {
        let at = self.stack.iter().rposition(|v| matches!(v, Value::Mark))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Some(items)
    }

    fn tuple(&mut self, n: usize) -> Option<()> {
        let at = self.stack.len().checked_sub(n)?;
        let items = self.stack.split_off(at);
        if items.iter().any(|v| matches!(v, Value::Mark)) {
            return None;
        }
        self.stack.push(Value::Tuple(items.into()));
        Some(())
    }

    fn set_items(&mut self, items: &[Value]) -> Option<()> {
        if !items.len().is_multiple_of(2) {
            return None;
        }
        for pair in items.chunks(2) {
            if let (Value::Str(k), Value::Tensor(t)) = (&pair[0], &pair[1]) {
                let cost = 64 + k.len() + t.storage.key.len() + 16 * t.size.len();
                self.left = self.left.checked_sub(cost as u64)?;
                let mut t = TensorRef::clone(t);
                t.name = k.to_string();
                self.tensors.push(t);
            }
        }
        // The dict itself stays below, an opaque value.
        matches!(self.stack.last(), Some(v) if !matches!(v, Value::Mark)).then_some(())
    }

    fn step(&mut self) -> Option<bool> {
        let op = *self.take(1)?.first()?;
        match op {
            0x80 => drop(self.take(1)?), // PROTO
            0x95 => drop(self.take(8)?), // FRAME
            b'(' => self.stack.push(Value::Mark),
            b'}' | b']' => self.stack.push(Value::Other),
            b')' => self.stack.push(Value::Tuple(Rc::from(Vec::new()))),
            b'N' | 0x88 | 0x89 => self.stack.push(Value::Other), // None, True, False
            b'K' => {
                let v = self.uint(1)?;
                self.stack.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = self.uint(2)?;
                self.stack.push(Value::Int(v as i64));
            }
            b'J' => {
                let v = self.uint(4)? as u32 as i32;
                self.stack.push(Value::Int(i64::from(v)));
            }
            0x8a => {
                // LONG1: little-endian two's complement of n bytes.
                let n = self.uint(1)? as usize;
                let s = self.take(n)?;
                let v = if n <= 8 && !s.is_empty() {
                    let fill = if s[n - 1] & 0x80 != 0 { 0xff } else { 0 };
                    let mut a = [fill; 8];
                    a[..n].copy_from_slice(s);
                    Value::Int(i64::from_le_bytes(a))
                } else if n == 0 {
                    Value::Int(0)
                } else {
                    Value::Other
                };
                self.stack.push(v);
            }
            b'G' => {
                self.take(8)?;
                self.stack.push(Value::Other);
            }
            b'X' => {
                let n = self.uint(4)?;
                let v = self.text(n)?;
                self.stack.push(v);
            }
            0x8c => {
                let n = self.uint(1)?;
                let v = self.text(n)?;
                self.stack.push(v);
            }
            0x8d => {
                let n = self.uint(8)?;
                let v = self.text(n)?;
                self.stack.push(v);
            }
            b'T' | b'B' => {
                let n = self.uint(4)? as usize;
                self.take(n)?;
                self.stack.push(Value::Other);
            }
            b'U' | b'C' => {
                let n = self.uint(1)? as usize;
                self.take(n)?;
                self.stack.push(Value::Other);
            }
            b'c' => {
                let module: Rc<str> = self.line()?.into();
                let name: Rc<str> = self.line()?.into();
                self.stack.push(Value::Global(module, name));
            }
            0x93 => {
                let (Value::Str(name), Value::Str(module)) = (self.pop()?, self.pop()?) else {
                    return None;
                };
                self.stack.push(Value::Global(module, name));
            }
            b'q' => {
                let k = self.uint(1)?;
                let v = self.stack.last()?.clone();
                self.memo.insert(k, v);
            }
            b'r' => {
                let k = self.uint(4)?;
                let v = self.stack.last()?.clone();
                self.memo.insert(k, v);
            }
            0x94 => {
                let k = self.memo.len() as u64;
                let v = self.stack.last()?.clone();
                self.memo.insert(k, v);
            }
            b'h' => {
                let k = self.uint(1)?;
                let v = self.memo.get(&k)?.clone();
                self.stack.push(v);
            }
            b'j' => {
                let k = self.uint(4)?;
                let v = self.memo.get(&k)?.clone();
                self.stack.push(v);
            }
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::Tuple(items.into()));
            }
            0x85 => self.tuple(1)?,
            0x86 => self.tuple(2)?,
            0x87 => self.tuple(3)?,
            b'Q' => {
                let pid = self.pop()?;
                self.stack.push(Value::Storage(Rc::new(storage_of(&pid)?)));
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let v = reduce(&callable, &args);
                if let Value::Tensor(t) = &v {
                    let cost = 64 + t.storage.key.len() + 16 * t.size.len();
                    self.left = self.left.checked_sub(cost as u64)?;
                }
                self.stack.push(v);
            }
            0x81 => {
                // NEWOBJ: cls, args → an opaque object.
                self.pop()?;
                self.pop()?;
                self.stack.push(Value::Other);
            }
            b'b' => {
                // BUILD: the state is dropped, the object stays opaque.
                self.pop()?;
                *self.stack.last_mut()? = Value::Other;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(&[k, v])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                self.set_items(&items)?;
            }
            b'a' => drop(self.pop()?),
            b'e' => drop(self.pop_mark()?),
            b'.' => return Some(true),
            _ => return None,
        }
        Some(false)
    }
}

/// `('storage', torch.<T>Storage, key, location, numel)`.
fn storage_of(pid: &Value) -> Option<StorageRef> {
    let Value::Tuple(items) = pid else {
        return None;
    };
    match &items[..] {
        [Value::Str(tag), Value::Global(m, n), Value::Str(key), Value::Str(_), Value::Int(numel)]
            if &**tag == "storage" && key.len() <= 64 =>
        {
            Some(StorageRef {
                key: key.to_string(),
                dtype: storage_dtype(m, n)?,
                numel: u64::try_from(*numel).ok()?,
            })
        }
        _ => None,
    }
}

/// A tuple of at most 16 non-negative integers (a shape or strides).
fn ints(v: &Value) -> Option<Vec<u64>> {
    let Value::Tuple(items) = v else {
        return None;
    };
    if items.len() > 16 {
        return None;
    }
    items
        .iter()
        .map(|x| match x {
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        })
        .collect()
}

/// A call: `_rebuild_tensor_v2` becomes a tensor, anything else an opaque
/// value (nothing is ever called).
fn reduce(callable: &Value, args: &Value) -> Value {
    let is_rebuild = matches!(callable, Value::Global(m, n)
        if &**m == "torch._utils" && &**n == "_rebuild_tensor_v2");
    let (true, Value::Tuple(a)) = (is_rebuild, args) else {
        return Value::Other;
    };
    let tensor = match &a[..] {
        [Value::Storage(s), Value::Int(offset), size, stride, ..] => (|| {
            Some(TensorRef {
                name: String::new(),
                storage: StorageRef::clone(s),
                offset: u64::try_from(*offset).ok()?,
                size: ints(size)?,
                stride: ints(stride)?,
            })
        })(),
        _ => None,
    };
    tensor.map_or(Value::Other, |t| Value::Tensor(Rc::new(t)))
}

/// The named tensors of a `data.pkl`, in the order the pickle sets them,
/// or `None` if it holds anything this reader does not understand.
pub fn named_tensors(pickle: &[u8]) -> Option<Vec<TensorRef>> {
    if pickle.len() as u64 > MAX_PICKLE {
        return None;
    }
    let mut w = Walker {
        b: pickle,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        tensors: Vec::new(),
        left: 8 * pickle.len() as u64 + (64 << 10),
    };
    while !w.step()? {}
    Some(w.tensors)
}

#[cfg(test)]
mod tests;
