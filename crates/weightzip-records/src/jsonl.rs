//! JSON Lines files, plain or zstd-compressed (detected by the magic bytes;
//! a zstd file may hold several frames, read one after the other).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{RecordError, Result};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Serialises `value` as one JSON line (with the trailing newline).
pub fn to_json_line<T: Serialize>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string(value).map_err(|e| RecordError::Serialise(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

fn open_lines(path: &Path) -> Result<Box<dyn BufRead>> {
    let io = |e| RecordError::io(path, e);
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let is_zstd = file.fill_buf().map_err(io)?.starts_with(&ZSTD_MAGIC);
    if is_zstd {
        let dec = zstd::stream::read::Decoder::with_buffer(file).map_err(io)?;
        Ok(Box::new(BufReader::new(dec)))
    } else {
        Ok(Box::new(file))
    }
}

/// Rows read from a file, and whether the file ended early.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines<T> {
    /// Every complete row.
    pub rows: Vec<T>,
    /// True when a truncated zstd frame or a partial last line was dropped.
    pub truncated: bool,
}

/// Reads every row of a JSON Lines file (zstd or plain). An unreadable or
/// invalid line is an error naming the file and line.
pub fn read_jsonl<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    Ok(read_lines(path.as_ref(), false)?.rows)
}

/// Reads the complete rows of a file that may have been cut short (a killed
/// writer): a truncated zstd frame or a partial last line ends the read
/// instead of failing; an invalid complete line is still an error.
pub fn read_jsonl_tolerant<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Lines<T>> {
    read_lines(path.as_ref(), true)
}

fn read_lines<T: DeserializeOwned>(path: &Path, tolerant: bool) -> Result<Lines<T>> {
    let mut reader = open_lines(path)?;
    let mut rows = Vec::new();
    let mut line = String::new();
    let mut lineno = 0usize;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Ok(Lines {
                    rows,
                    truncated: false,
                })
            }
            Ok(_) => {}
            Err(_) if tolerant => {
                return Ok(Lines {
                    rows,
                    truncated: true,
                })
            }
            Err(e) => {
                return Err(RecordError::Record {
                    path: path.to_path_buf(),
                    line: lineno + 1,
                    message: format!("unreadable: {e}"),
                })
            }
        }
        lineno += 1;
        let complete = line.ends_with('\n');
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(text) {
            Ok(r) => rows.push(r),
            Err(_) if tolerant && !complete => {
                return Ok(Lines {
                    rows,
                    truncated: true,
                })
            }
            Err(e) => {
                return Err(RecordError::Record {
                    path: path.to_path_buf(),
                    line: lineno,
                    message: e.to_string(),
                })
            }
        }
    }
}

/// Writes rows as plain JSON Lines (the atlas files), creating the folder.
pub fn write_jsonl<T: Serialize>(path: impl AsRef<Path>, rows: &[T]) -> Result<()> {
    let path = path.as_ref();
    create_parent(path)?;
    let file = File::create(path).map_err(|e| RecordError::io(path, e))?;
    let mut w = BufWriter::new(file);
    for r in rows {
        w.write_all(to_json_line(r)?.as_bytes())
            .map_err(|e| RecordError::io(path, e))?;
    }
    w.flush().map_err(|e| RecordError::io(path, e))
}

/// Creates the folder `path` will live in.
pub(crate) fn create_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| RecordError::io(dir, e))?;
    }
    Ok(())
}
