//! The base table of a version-4 index: which checkpoint the delta chunks
//! were coded against, tensor by tensor (see `docs/FORMAT.md`, "Base
//! table").
//!
//! ```text
//! present   u8         0: no base; 1: a table follows
//! label     string     the base's path as given when compressing
//! root      u8         0 a single file, 1 a folder
//! count     varint     tensors
//! per tensor: file string, name string, len varint, BLAKE3 [32]
//! ```

use weightzip_entropy::write_varint;

use super::decode::Reader;
use super::encode::{put_str, root_byte};
use super::{BaseTable, BaseTensor, RootKind};
use crate::error::Result;

/// Appends the table (or its absence).
pub(super) fn put(out: &mut Vec<u8>, table: Option<&BaseTable>) {
    let Some(t) = table else {
        out.push(0);
        return;
    };
    out.push(1);
    put_str(out, &t.label);
    out.push(root_byte(t.root));
    write_varint(out, t.tensors.len() as u64);
    for b in &t.tensors {
        put_str(out, &b.file);
        put_str(out, &b.name);
        write_varint(out, b.len);
        out.extend_from_slice(&b.hash);
    }
}

impl Reader<'_> {
    /// Parses the table, charging its memory to the budget.
    pub(super) fn base_table(&mut self) -> Result<Option<BaseTable>> {
        match self.u8("base table flag")? {
            0 => return Ok(None),
            1 => {}
            f => return Err(self.corrupt(format!("unknown base table flag {f}"))),
        }
        let label = self.string("base label")?;
        let root = match self.u8("base root kind")? {
            0 => RootKind::File,
            1 => RootKind::Dir,
            k => return Err(self.corrupt(format!("unknown base root kind {k}"))),
        };
        // A tensor takes at least two string lengths, a length and a digest.
        let n = self.count("base tensor count", 35)?;
        if u32::try_from(n).is_err() {
            return Err(self.corrupt(format!("{n} base tensors")));
        }
        self.charge(n.saturating_mul(std::mem::size_of::<BaseTensor>()))?;
        let mut tensors = Vec::with_capacity(n);
        for _ in 0..n {
            let file = self.string("base file")?;
            let name = self.string("base tensor name")?;
            let len = self.varint("base tensor length")?;
            let mut hash = [0u8; 32];
            hash.copy_from_slice(self.bytes(32, "base tensor digest")?);
            tensors.push(BaseTensor {
                file,
                name,
                len,
                hash,
            });
        }
        Ok(Some(BaseTable {
            label,
            root,
            tensors,
        }))
    }
}
