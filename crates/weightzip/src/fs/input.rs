//! Opening inputs: regular files are read in place with positional reads;
//! standard input, pipes, FIFOs and character devices are read once as a
//! stream into an unnamed temporary file (removed by the system however
//! the process ends) and read from there. An input to compress waits for
//! a FIFO's writer, as `cat` does; an archive given as a FIFO that has no
//! writer reads as empty (a truncated archive), never a hang.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::FileId;
use crate::error::{Result, WzError};

/// An open input, ready for positional reads.
pub struct OpenInput {
    /// The file, positioned anywhere (read with positional reads).
    pub file: File,
    /// What the file looked like when opened (regular files only), to
    /// tell afterwards whether it changed while it was read.
    pub snapshot: Option<Snapshot>,
    /// Its identity, so that no output replaces it.
    pub id: Option<FileId>,
}

/// A regular file's size and modification time at open time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Size in bytes.
    pub len: u64,
    /// Modification time, where the system gives one.
    pub mtime: Option<SystemTime>,
}

impl Snapshot {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            mtime: meta.modified().ok(),
        }
    }

    /// Fails with [`WzError::InputChanged`] if `file` (shown as `path`) no
    /// longer has this size and modification time.
    pub fn check(&self, file: &File, path: &Path) -> Result<()> {
        let meta = file
            .metadata()
            .map_err(|e| WzError::io("cannot inspect", path, e))?;
        let now = Snapshot::of(&meta);
        if now.len != self.len {
            return Err(WzError::InputChanged {
                path: path.to_path_buf(),
                what: format!("its size went from {} to {} bytes", self.len, now.len),
            });
        }
        if now.mtime != self.mtime {
            return Err(WzError::InputChanged {
                path: path.to_path_buf(),
                what: "its modification time changed".into(),
            });
        }
        Ok(())
    }
}

/// Whether `path` names standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How to open a FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fifo {
    /// Wait for a writer (an input to compress).
    WaitForWriter,
    /// Read what a writer already sends, else nothing (an archive).
    NoWait,
}

/// Opens `path` (`-`: standard input) for reading.
pub fn open_input(path: &Path, fifo: Fifo) -> Result<OpenInput> {
    if is_stdin(path) {
        return open_stdin();
    }
    let meta = std::fs::metadata(path).map_err(|e| WzError::io("cannot open", path, e))?;
    if meta.is_dir() {
        return Err(WzError::InvalidInput(format!(
            "{} is a folder, not a file",
            path.display()
        )));
    }
    if meta.is_file() {
        let file = File::open(path).map_err(|e| WzError::io("cannot open", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| WzError::io("cannot inspect", path, e))?;
        return Ok(OpenInput {
            snapshot: Some(Snapshot::of(&meta)),
            id: FileId::of(&meta),
            file,
        });
    }
    let stream = match fifo {
        Fifo::NoWait => open_without_waiting(path)?,
        Fifo::WaitForWriter => File::open(path).map_err(|e| WzError::io("cannot open", path, e))?,
    };
    spool(stream, path)
}

fn open_stdin() -> Result<OpenInput> {
    let name = PathBuf::from("standard input");
    if std::io::IsTerminal::is_terminal(&io::stdin()) {
        return Err(WzError::InvalidInput(
            "standard input is a terminal; pipe a file into it or name the file".into(),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let fd = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| WzError::io("cannot read", &name, e))?;
        let file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|e| WzError::io("cannot inspect", &name, e))?;
        if meta.is_file() {
            // `< file`: a regular file, read in place.
            return Ok(OpenInput {
                snapshot: Some(Snapshot::of(&meta)),
                id: FileId::of(&meta),
                file,
            });
        }
        spool(file, &name)
    }
    #[cfg(not(unix))]
    {
        spool(io::stdin(), &name)
    }
}

/// Opens a FIFO or device for a blocking read without waiting for a
/// writer: a FIFO that has none reads as empty.
fn open_without_waiting(path: &Path) -> Result<File> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| WzError::io("cannot open", path, e))?;
        let fd = file.as_raw_fd();
        // SAFETY: `fd` is the open descriptor owned by `file`, alive for
        // both calls; F_GETFL/F_SETFL only read and set its status flags.
        let cleared = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
        };
        if !cleared {
            return Err(WzError::io("cannot open", path, io::Error::last_os_error()));
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        File::open(path).map_err(|e| WzError::io("cannot open", path, e))
    }
}

/// Reads `stream` to its end into an unnamed temporary file.
fn spool(mut stream: impl Read, name: &Path) -> Result<OpenInput> {
    let mut tmp = tempfile::tempfile()
        .map_err(|e| WzError::io("cannot create a temporary file to hold", name, e))?;
    io::copy(&mut stream, &mut tmp).map_err(|e| WzError::io("cannot read", name, e))?;
    Ok(OpenInput {
        file: tmp,
        snapshot: None,
        id: None,
    })
}
