//! Positional reads from a file or a byte slice, shared by worker threads.

use std::fs::File;
use std::io;

/// Something that can be read at any offset from several threads at once.
pub trait ReadAt: Sync {
    /// Total length in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`, or fails (also when the data ends first).
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// All the bytes, when they are in memory: readers then borrow ranges
    /// instead of copying them.
    fn bytes(&self) -> Option<&[u8]> {
        None
    }
    /// Tells the source that `offset..offset + len` of [`ReadAt::bytes`] is
    /// not needed any more (a mapped file drops those pages from the
    /// process, which keeps its resident memory bounded).
    fn release(&self, offset: u64, len: u64) {
        let _ = (offset, len);
    }
}

/// A file and its length at open time, mapped into memory where the
/// platform allows it (workers then read chunks in place instead of
/// copying them), else read with positional reads.
pub struct FileSource {
    file: File,
    len: u64,
    map: Option<memmap2::Mmap>,
}

impl FileSource {
    /// Wraps an open file, mapping it read-only when possible.
    pub fn new(file: File) -> io::Result<Self> {
        let mut source = Self::unmapped(file)?;
        if source.len > 0 && usize::try_from(source.len).is_ok() {
            // SAFETY: a read-only shared mapping of a file we opened for
            // reading. As with every mmap reader, another process that
            // truncates the file meanwhile can make reads fault, and one that
            // rewrites it can change bytes under us; chunk and file
            // checksums then report the damage (decoders accept any bytes).
            source.map = unsafe { memmap2::Mmap::map(&source.file) }.ok();
            if let Some(m) = &source.map {
                let _ = m.advise(memmap2::Advice::Sequential);
            }
        }
        Ok(source)
    }

    /// Wraps an open file, always read with positional reads.
    pub fn unmapped(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self {
            file,
            len,
            map: None,
        })
    }
}

impl ReadAt for FileSource {
    fn size(&self) -> u64 {
        self.len
    }

    fn bytes(&self) -> Option<&[u8]> {
        self.map.as_deref()
    }

    fn release(&self, offset: u64, len: u64) {
        if let Some(m) = &self.map {
            let (Ok(start), Ok(len)) = (usize::try_from(offset), usize::try_from(len)) else {
                return;
            };
            // Whole pages inside the range only: a page shared with a
            // neighbouring chunk stays mapped.
            let page = 4096;
            let first = start.div_ceil(page) * page;
            let end = start.saturating_add(len).min(m.len()) / page * page;
            if first < end {
                // SAFETY: MADV_DONTNEED on a read-only shared file mapping
                // only drops our page-table entries; a later access faults
                // the same bytes back in from the page cache, so slices
                // borrowed from the map stay valid and unchanged.
                let _ = unsafe {
                    m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, end - first)
                };
            }
        }
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
