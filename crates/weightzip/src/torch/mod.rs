//! PyTorch checkpoints (`torch.save`: `.bin`, `.pt`, `.pth`): a zip of
//! `<name>/data.pkl` and one stored member `<name>/data/<key>` per
//! storage. The zip's directory and the pickle are read without running
//! anything ([`zip`], [`pickle`]) to find each storage's bytes and element
//! type, so storages are coded as tensors by the float codecs — and, bytes
//! being bytes, deduplicated against the same tensor in a safetensors
//! file. Anything not understood leaves the file plain bytes.

use std::collections::HashMap;

use weightzip_format::{TensorRegion, TensorType};

use crate::source::ReadAt;

pub mod pickle;
pub mod zip;

/// Whether strides `stride` are the contiguous row-major ones of `size`.
fn contiguous(size: &[u64], stride: &[u64]) -> bool {
    let mut want = 1u64;
    for (&n, &s) in size.iter().zip(stride).rev() {
        if n != 1 && s != want {
            return false;
        }
        want = want.saturating_mul(n);
    }
    size.len() == stride.len()
}

/// The storages of a PyTorch zip checkpoint as tensor regions, sorted by
/// offset; `None` if `src` is not one this reader understands. A storage
/// that is exactly one contiguous tensor takes its name and shape; any
/// other (shared by views, or sliced) is named `data/<key>`, shaped
/// `[elements]`.
pub fn read_layout(src: &dyn ReadAt) -> Option<Vec<TensorRegion>> {
    let mut magic = [0u8; 4];
    src.read_exact_at(&mut magic, 0).ok()?;
    if magic != zip::LOCAL_MAGIC {
        return None;
    }
    let members = zip::stored_members(src)?;
    let pkl = members
        .iter()
        .find(|m| m.name == "data.pkl" || m.name.ends_with("/data.pkl"))?;
    let prefix = &pkl.name[..pkl.name.len() - "data.pkl".len()];
    if pkl.len > pickle::MAX_PICKLE {
        return None;
    }
    let mut bytes = vec![0u8; usize::try_from(pkl.len).ok()?];
    src.read_exact_at(&mut bytes, pkl.data_offset).ok()?;
    let tensors = pickle::named_tensors(&bytes)?;
    let by_name: HashMap<&str, &zip::Member> =
        members.iter().map(|m| (m.name.as_str(), m)).collect();
    // Per storage key: how many tensors view it, and the first.
    let mut views: HashMap<&str, (usize, &pickle::TensorRef)> = HashMap::new();
    for t in &tensors {
        views
            .entry(t.storage.key.as_str())
            .and_modify(|v| v.0 += 1)
            .or_insert((1, t));
    }
    let mut regions = Vec::with_capacity(views.len());
    for (key, (n_views, t)) in views {
        let Some(member) = by_name.get(format!("{prefix}data/{key}").as_str()) else {
            continue;
        };
        let s = &t.storage;
        if s.dtype.bytes_for(s.numel) != Some(member.len) || member.len == 0 {
            continue;
        }
        let whole = n_views == 1
            && t.offset == 0
            && t.size.iter().try_fold(1u64, |p, &d| p.checked_mul(d)) == Some(s.numel)
            && contiguous(&t.size, &t.stride);
        let (name, shape) = if whole {
            (t.name.clone(), t.size.clone())
        } else {
            (format!("data/{key}"), vec![s.numel])
        };
        regions.push(TensorRegion {
            name,
            ty: TensorType::St(s.dtype),
            shape,
            offset: member.data_offset,
            len: member.len,
        });
    }
    regions.sort_by_key(|r| r.offset);
    Some(regions)
}

#[cfg(test)]
mod tests;
