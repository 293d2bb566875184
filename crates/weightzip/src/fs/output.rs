//! Where an output may go: the checks made before an output is planned and
//! again just before it is renamed into place.

use std::path::Path;

use crate::error::{Result, WzError};

/// Whether an existing file at the target may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// Never (no `--force`): an existing target is an error.
    No,
    /// A regular file may be replaced (`--force`); a symbolic link, a
    /// device, a folder or a protected file never.
    Regular,
}

impl Replace {
    /// `Regular` when `force`, else `No`.
    pub fn when(force: bool) -> Self {
        if force {
            Replace::Regular
        } else {
            Replace::No
        }
    }
}

/// A file's identity (device and inode), to recognise the input under
/// another name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity behind `meta`, where the platform has one.
    pub fn of(meta: &std::fs::Metadata) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(Self {
                dev: meta.dev(),
                ino: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }

    /// The identity of the file at `path` (following symbolic links).
    pub fn of_path(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().as_ref().and_then(Self::of)
    }
}

/// Where a command's output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputPath {
    /// `-`: standard output.
    Stdout,
    /// `/dev/null` (or any path naming it): decoded and checked, then
    /// dropped; nothing is created or replaced.
    Null,
    /// A file (or folder) to create through a temporary file.
    Path(std::path::PathBuf),
}

impl OutputPath {
    /// Classifies the output a user named.
    pub fn of(path: &Path) -> Self {
        if path.as_os_str() == "-" {
            return OutputPath::Stdout;
        }
        if is_dev_null(path) {
            return OutputPath::Null;
        }
        OutputPath::Path(path.to_path_buf())
    }
}

fn is_dev_null(path: &Path) -> bool {
    if path == Path::new("/dev/null") {
        return true;
    }
    match (
        FileId::of_path(path),
        FileId::of_path(Path::new("/dev/null")),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Checks that a file may be written at `target`: absent, or (with
/// [`Replace::Regular`]) a regular file that is none of `protect`. A
/// symbolic link, a device, a FIFO, a socket or a folder is never replaced.
pub fn check_target(target: &Path, replace: Replace, protect: &[FileId]) -> Result<()> {
    let meta = match target.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(WzError::io("cannot inspect", target, e)),
    };
    let refuse = |why: &str| {
        Err(WzError::Refused {
            path: target.to_path_buf(),
            why: why.to_string(),
        })
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return refuse("is a symbolic link (weightzip never writes through or replaces one)");
    }
    if ft.is_dir() {
        return refuse("is a folder");
    }
    if !ft.is_file() {
        return refuse("is a device, FIFO or socket, not a regular file");
    }
    if FileId::of(&meta).is_some_and(|id| protect.contains(&id)) {
        return refuse("is the input itself");
    }
    match replace {
        Replace::No => Err(WzError::OutputExists(target.to_path_buf())),
        Replace::Regular => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_that_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"keep").unwrap();
        let id = FileId::of_path(&file);
        assert!(check_target(&dir.path().join("new"), Replace::No, &[]).is_ok());
        assert!(matches!(
            check_target(&file, Replace::No, &[]),
            Err(WzError::OutputExists(_))
        ));
        assert!(check_target(&file, Replace::Regular, &[]).is_ok());
        let protect: Vec<FileId> = id.into_iter().collect();
        assert!(matches!(
            check_target(&file, Replace::Regular, &protect),
            Err(WzError::Refused { .. })
        ));
        assert!(matches!(
            check_target(dir.path(), Replace::Regular, &[]),
            Err(WzError::Refused { .. })
        ));
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert!(matches!(
                check_target(&link, Replace::Regular, &[]),
                Err(WzError::Refused { .. })
            ));
            assert_eq!(OutputPath::of(Path::new("/dev/null")), OutputPath::Null);
            assert_eq!(OutputPath::of(Path::new("-")), OutputPath::Stdout);
        }
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    }
}
