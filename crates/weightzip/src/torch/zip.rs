//! The zip container of a PyTorch checkpoint (`torch.save`): the central
//! directory's members, where each stored member's bytes start, and
//! nothing else. Every offset and length is checked against the file;
//! compressed, encrypted or inconsistent members are simply not offered.

use crate::source::ReadAt;

/// Local file header signature `PK\x03\x04`.
pub const LOCAL_MAGIC: [u8; 4] = *b"PK\x03\x04";
const CENTRAL_MAGIC: [u8; 4] = *b"PK\x01\x02";
const END_MAGIC: [u8; 4] = *b"PK\x05\x06";
const END64_LOCATOR_MAGIC: [u8; 4] = *b"PK\x06\x07";
const END64_MAGIC: [u8; 4] = *b"PK\x06\x06";
/// The end record is at most this far from the end (22 bytes + a comment).
const END_SEARCH: u64 = 22 + 0xffff;
/// A central directory larger than this is not a checkpoint's.
const MAX_CENTRAL: u64 = 64 << 20;
/// Members a checkpoint may list.
const MAX_MEMBERS: u64 = 1 << 20;

/// One stored (uncompressed) member of the zip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its name in the zip.
    pub name: String,
    /// Where its bytes start in the file.
    pub data_offset: u64,
    /// How many bytes.
    pub len: u64,
}

fn le16(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le32(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_le_bytes(
        b.get(at..at + 4)?.try_into().ok()?,
    )))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn read(src: &dyn ReadAt, offset: u64, len: u64) -> Option<Vec<u8>> {
    let end = offset.checked_add(len)?;
    if end > src.size() {
        return None;
    }
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    src.read_exact_at(&mut buf, offset).ok()?;
    Some(buf)
}

/// Where the central directory is and how many members it lists.
fn central_directory(src: &dyn ReadAt) -> Option<(u64, u64, u64)> {
    let size = src.size();
    let tail_len = size.min(END_SEARCH);
    let tail_at = size - tail_len;
    let tail = read(src, tail_at, tail_len)?;
    let end = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == END_MAGIC)?;
    let mut count = le16(&tail, end + 10)?;
    let mut cd_len = le32(&tail, end + 12)?;
    let mut cd_at = le32(&tail, end + 16)?;
    if count == 0xffff || cd_len == 0xffff_ffff || cd_at == 0xffff_ffff {
        // ZIP64: the locator sits just before the end record.
        let loc_at = (tail_at + end as u64).checked_sub(20)?;
        let loc = read(src, loc_at, 20)?;
        if loc[..4] != END64_LOCATOR_MAGIC {
            return None;
        }
        let end64 = read(src, le64(&loc, 8)?, 56)?;
        if end64[..4] != END64_MAGIC {
            return None;
        }
        count = le64(&end64, 32)?;
        cd_len = le64(&end64, 40)?;
        cd_at = le64(&end64, 48)?;
    }
    Some((cd_at, cd_len, count))
}

/// The stored members of the zip in `src`, in file order, or `None` if it
/// is not a zip this reader understands. Compressed or encrypted members
/// are left out (their bytes stay plain bytes of the file).
pub fn stored_members(src: &dyn ReadAt) -> Option<Vec<Member>> {
    let (cd_at, cd_len, count) = central_directory(src)?;
    if cd_len > MAX_CENTRAL || count > MAX_MEMBERS || count.saturating_mul(46) > cd_len {
        return None;
    }
    let cd = read(src, cd_at, cd_len)?;
    let mut members = Vec::new();
    let mut at = 0usize;
    for _ in 0..count {
        if cd.get(at..at + 4)? != CENTRAL_MAGIC {
            return None;
        }
        let flags = le16(&cd, at + 8)?;
        let method = le16(&cd, at + 10)?;
        let mut comp_len = le32(&cd, at + 20)?;
        let mut len = le32(&cd, at + 24)?;
        let name_len = le16(&cd, at + 28)? as usize;
        let extra_len = le16(&cd, at + 30)? as usize;
        let comment_len = le16(&cd, at + 32)? as usize;
        let mut local_at = le32(&cd, at + 42)?;
        let name_bytes = cd.get(at + 46..at + 46 + name_len)?;
        let extra = cd.get(at + 46 + name_len..at + 46 + name_len + extra_len)?;
        zip64_sizes(extra, &mut len, &mut comp_len, &mut local_at)?;
        at += 46 + name_len + extra_len + comment_len;
        let name = String::from_utf8(name_bytes.to_vec()).ok()?;
        if method != 0 || flags & 1 != 0 || comp_len != len {
            continue;
        }
        let local = read(src, local_at, 30)?;
        if local[..4] != LOCAL_MAGIC {
            return None;
        }
        let data_offset = local_at
            .checked_add(30)?
            .checked_add(le16(&local, 26)?)?
            .checked_add(le16(&local, 28)?)?;
        if data_offset.checked_add(len)? > cd_at {
            return None;
        }
        members.push(Member {
            name,
            data_offset,
            len,
        });
    }
    members.sort_by_key(|m| m.data_offset);
    if members
        .windows(2)
        .any(|w| w[0].data_offset + w[0].len > w[1].data_offset)
    {
        return None;
    }
    Some(members)
}

/// Applies a ZIP64 extended-information field (id 1): each 32-bit field
/// that reads all ones is replaced, in order, by a 64-bit value.
fn zip64_sizes(extra: &[u8], len: &mut u64, comp: &mut u64, local: &mut u64) -> Option<()> {
    let mut at = 0usize;
    while at + 4 <= extra.len() {
        let id = le16(extra, at)?;
        let n = le16(extra, at + 2)? as usize;
        let field = extra.get(at + 4..at + 4 + n)?;
        if id == 1 {
            let mut k = 0usize;
            for v in [len, comp, local] {
                if *v == 0xffff_ffff {
                    *v = le64(field, k)?;
                    k += 8;
                }
            }
            return Some(());
        }
        at += 4 + n;
    }
    Some(())
}
