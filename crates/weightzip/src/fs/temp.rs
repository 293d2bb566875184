//! Temporary output files: created exclusively, with an unpredictable name,
//! in the directory of the file they will become; renamed into place only
//! when complete; removed when dropped unfinished, and by the signal
//! handler of [`super::cleanup`] when the process is interrupted.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::cleanup;
use super::output::{check_target, Replace};
use crate::error::{Result, WzError};

/// Suffix of every temporary file weightzip creates next to an output.
pub const TEMP_SUFFIX: &str = ".wz-tmp";

/// An output under construction: `.NAME.XXXXXXXX.wz-tmp` in the target's
/// directory, created with `O_CREAT | O_EXCL` (a planted file or symbolic
/// link of that name makes creation fail instead of being followed).
pub struct TempFile {
    file: tempfile::NamedTempFile,
    target: PathBuf,
    _registered: cleanup::Registration,
}

impl TempFile {
    /// Creates the temporary file that will become `target`. Errors name
    /// `target`, never the hidden temporary name.
    pub fn new_for(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMP_SUFFIX).rand_bytes(8);
        // The temporary name is registered before the file exists, so an
        // interrupt between the two still removes it.
        let made = builder
            .make_in(dir, |path| {
                let registration = cleanup::register(path);
                let mut options = std::fs::OpenOptions::new();
                options.read(true).write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    // As for any new file: 0666 less the umask.
                    options.mode(0o666);
                }
                options.open(path).map(|f| (f, registration))
            })
            .map_err(|e| WzError::io("cannot create a temporary file for", target, e))?;
        let ((file, registration), path) = made.into_parts();
        Ok(Self {
            file: tempfile::NamedTempFile::from_parts(file, path),
            target: target.to_path_buf(),
            _registered: registration,
        })
    }

    /// The open file (read and write).
    pub fn file(&self) -> &File {
        self.file.as_file()
    }

    /// The final path this file becomes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes `writer`'s buffer into the file.
    pub fn flush_writer(&self, writer: &mut impl Write) -> Result<()> {
        writer
            .flush()
            .map_err(|e| WzError::io("cannot write", &self.target, e))
    }

    /// Syncs the data to disk and renames the file to its target. With
    /// [`Replace::No`] an existing target is never replaced (the rename
    /// fails instead, even when the target appeared meanwhile); with
    /// [`Replace::Regular`] only a regular file that is not one of
    /// `protect` is.
    pub fn persist(self, replace: Replace, protect: &[super::FileId]) -> Result<()> {
        self.file
            .as_file()
            .sync_all()
            .map_err(|e| WzError::io("cannot sync", &self.target, e))?;
        // The target may have changed since the output was planned.
        check_target(&self.target, replace, protect)?;
        let persisted = match replace {
            Replace::No => self.file.persist_noclobber(&self.target),
            Replace::Regular => self.file.persist(&self.target),
        };
        match persisted {
            Ok(_) => Ok(()),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(WzError::OutputExists(self.target.clone()))
            }
            Err(e) => Err(WzError::io(
                "cannot rename the finished output to",
                &self.target,
                e.error,
            )),
        }
    }
}
