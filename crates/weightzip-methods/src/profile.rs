//! Trained side data and its file.
//!
//! A [`Profile`] is the output of [`crate::Method::train`]: the name of the
//! method that made it and the bytes its decoder needs. **The bench charges
//! `bytes.len()` — and only that — to every item the method compresses**: it
//! is everything the decoder reads besides the compressed item (a zstd
//! dictionary, or serialized frequency tables). The method name and the
//! file header below are bookkeeping the decoder could do without.
//!
//! File layout (`Profile::save`): magic `WZPROFL1` (8 bytes), name length
//! (u16 LE), the method name (UTF-8), payload length (u64 LE), CRC-32 of the
//! payload (u32 LE), the payload.

use std::path::Path;

use crate::error::{MethodError, Result};

const MAGIC: &[u8; 8] = b"WZPROFL1";
/// Largest payload a profile file may hold (a zstd dictionary is ~110 KB).
pub const MAX_PROFILE_BYTES: u64 = 64 << 20;

/// A trained method's side data: `bytes.len()` is what the bench charges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Name of the method that trained it (and that can use it).
    pub method: String,
    /// The bytes the decoder needs; charged to every item.
    pub bytes: Vec<u8>,
}

impl Profile {
    /// A profile of `method` holding `bytes`.
    pub fn new(method: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            method: method.into(),
            bytes,
        }
    }

    /// Bytes charged to every compressed item: `bytes.len()`.
    pub fn charged_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The file image written by [`Profile::save`].
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let name = self.method.as_bytes();
        let name_len = name.len().min(u16::MAX as usize);
        let mut out = Vec::with_capacity(8 + 2 + name_len + 12 + self.bytes.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(name_len as u16).to_le_bytes());
        out.extend_from_slice(&name[..name_len]);
        out.extend_from_slice(&(self.bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32(&self.bytes).to_le_bytes());
        out.extend_from_slice(&self.bytes);
        out
    }

    /// Parses a file image written by [`Profile::to_file_bytes`]; `path`
    /// only names the source in errors.
    pub fn from_file_bytes(data: &[u8], path: &str) -> Result<Self> {
        let bad = |reason: &str| MethodError::ProfileFile {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        if data.len() < 10 || &data[..8] != MAGIC {
            return Err(bad("not a weightzip profile (bad magic)"));
        }
        let name_len = usize::from(u16::from_le_bytes([data[8], data[9]]));
        let rest = &data[10..];
        if rest.len() < name_len + 12 {
            return Err(bad("truncated header"));
        }
        let method = std::str::from_utf8(&rest[..name_len])
            .map_err(|_| bad("method name is not UTF-8"))?
            .to_string();
        let rest = &rest[name_len..];
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&rest[..8]);
        let len = u64::from_le_bytes(len8);
        let crc = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]);
        let payload = &rest[12..];
        if len > MAX_PROFILE_BYTES || len != payload.len() as u64 {
            return Err(bad(&format!(
                "payload length {len} does not match the {} bytes present",
                payload.len()
            )));
        }
        if crc32(payload) != crc {
            return Err(bad("payload checksum mismatch"));
        }
        Ok(Self {
            method,
            bytes: payload.to_vec(),
        })
    }

    /// Writes the profile to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_file_bytes()).map_err(|source| MethodError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a profile written by [`Profile::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let io = |source| MethodError::Io {
            path: path.display().to_string(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_PROFILE_BYTES + (1 << 17) {
            return Err(MethodError::ProfileFile {
                path: path.display().to_string(),
                reason: format!("{size} bytes is too large for a profile"),
            });
        }
        let data = std::fs::read(path).map_err(io)?;
        Self::from_file_bytes(&data, &path.display().to_string())
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// The profile a trained method needs: present, and made by one of `accepted`.
pub(crate) fn require<'a>(
    method: &'static str,
    accepted: &[&str],
    profile: Option<&'a Profile>,
) -> Result<&'a Profile> {
    let p = profile.ok_or(MethodError::MissingProfile { method })?;
    if !accepted.contains(&p.method.as_str()) {
        return Err(MethodError::BadProfile {
            method,
            reason: format!("profile was trained by {}", p.method),
        });
    }
    Ok(p)
}
