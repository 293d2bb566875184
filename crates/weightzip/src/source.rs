//! Positional reads from a file or a byte slice, shared by worker threads.

use std::fs::File;
use std::io;

/// Something that can be read at any offset from several threads at once.
pub trait ReadAt: Send + Sync {
    /// Total length in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`, or fails (also when the data ends first,
    /// as when a file shrinks while it is read).
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// All the bytes, when they are in memory: readers then borrow ranges
    /// instead of copying them.
    fn bytes(&self) -> Option<&[u8]> {
        None
    }
}

/// A file and its length at open time, read with positional reads (never
/// mapped: a file that shrinks while it is read gives an error, not a
/// SIGBUS).
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Wraps an open file.
    pub fn new(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }

    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl ReadAt for FileSource {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < buf.len() {
                let n = std::os::windows::fs::FileExt::seek_read(
                    &self.file,
                    &mut buf[done..],
                    offset + done as u64,
                )?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
            Ok(())
        }
    }
}

impl ReadAt for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn bytes(&self) -> Option<&[u8]> {
        Some(self)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start =
            usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Reads a whole range into a new buffer.
pub(crate) fn read_range(src: &dyn ReadAt, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    src.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// The bytes at `offset..offset + len`: borrowed from an in-memory source,
/// else read into `buf` (resized to `len`).
pub(crate) fn range_in<'s>(
    src: &'s dyn ReadAt,
    offset: u64,
    len: usize,
    buf: &'s mut Vec<u8>,
) -> io::Result<&'s [u8]> {
    if let Some(all) = src.bytes() {
        return usize::try_from(offset)
            .ok()
            .and_then(|start| all.get(start..start.checked_add(len)?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    buf.resize(len, 0);
    src.read_exact_at(buf, offset)?;
    Ok(buf)
}

/// Adapts a [`ReadAt`] to `std::io::Read + Seek` for the format readers,
/// which parse headers incrementally.
pub(crate) struct Cursor<'a> {
    src: &'a dyn ReadAt,
    pos: u64,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a dyn ReadAt) -> Self {
        Self { src, pos: 0 }
    }
}

impl io::Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.src.size().saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        self.src.read_exact_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Seek for Cursor<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => self.src.size().checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}
