//! The general-purpose compressors every family builds on, with bounded
//! decoders: output is limited to the expected length (plus one byte, to
//! detect a longer payload) and must match it exactly.

use std::io::{Read, Write};

use crate::error::{backend, MethodError, Result};

/// Memory limit for the xz decoder (preset 9 needs 65 MiB).
const XZ_MEMLIMIT: u64 = 256 << 20;

/// A general-purpose compressor at fixed settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// gzip (RFC 1952, CRC-32 trailer) via flate2 at this level.
    Gzip(u32),
    /// brotli at this quality and window (lgwin).
    Brotli {
        /// Quality 0..=11.
        quality: u32,
        /// log2 of the window size.
        lgwin: u32,
    },
    /// xz (liblzma, CRC-64 check) at this preset.
    Xz(u32),
    /// One zstd frame (content size recorded, no checksum) at this level.
    Zstd(i32),
}

impl Backend {
    /// Compresses `data` into one self-contained payload.
    pub fn compress(self, method: &'static str, data: &[u8]) -> Result<Vec<u8>> {
        let err = |e: std::io::Error| backend(method, e);
        match self {
            Backend::Gzip(level) => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 2 + 64),
                    flate2::Compression::new(level),
                );
                enc.write_all(data).map_err(err)?;
                enc.finish().map_err(err)
            }
            Backend::Brotli { quality, lgwin } => {
                let mut enc = brotli::CompressorWriter::new(
                    Vec::with_capacity(data.len() / 2 + 64),
                    1 << 16,
                    quality,
                    lgwin,
                );
                enc.write_all(data).map_err(err)?;
                enc.flush().map_err(err)?;
                Ok(enc.into_inner())
            }
            Backend::Xz(preset) => {
                let mut enc =
                    xz2::write::XzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), preset);
                enc.write_all(data).map_err(err)?;
                enc.finish().map_err(err)
            }
            Backend::Zstd(level) => zstd::bulk::compress(data, level).map_err(err),
        }
    }

    /// Decompresses one payload that must hold exactly `expected` bytes.
    pub fn decompress(self, method: &'static str, data: &[u8], expected: usize) -> Result<Vec<u8>> {
        let limit = expected as u64 + 1;
        let mut out = Vec::with_capacity(expected);
        let read = match self {
            Backend::Gzip(_) => flate2::read::GzDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out),
            Backend::Brotli { .. } => brotli::Decompressor::new(data, 1 << 16)
                .take(limit)
                .read_to_end(&mut out),
            Backend::Xz(_) => {
                let stream = xz2::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
                    .map_err(|e| backend(method, e))?;
                xz2::read::XzDecoder::new_stream(data, stream)
                    .take(limit)
                    .read_to_end(&mut out)
            }
            Backend::Zstd(_) => {
                return match zstd::bulk::decompress(data, expected) {
                    Ok(v) if v.len() == expected => Ok(v),
                    Ok(v) => Err(MethodError::LengthMismatch {
                        method,
                        expected,
                        found: v.len(),
                    }),
                    Err(e) => Err(crate::error::corrupt(method, 0, format!("zstd: {e}"))),
                };
            }
        };
        read.map_err(|e| crate::error::corrupt(method, 0, e.to_string()))?;
        if out.len() != expected {
            return Err(MethodError::LengthMismatch {
                method,
                expected,
                found: out.len(),
            });
        }
        Ok(out)
    }

    /// Whether the payload carries a checksum of the decoded bytes.
    pub fn has_checksum(self) -> bool {
        matches!(self, Backend::Gzip(_) | Backend::Xz(_))
    }
}
