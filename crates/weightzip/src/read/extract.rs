//! Restoring an archive: a single file through a temporary file renamed
//! into place, or a folder the way tar restores one. Each member is written
//! atomically into the target folder and nothing the archive does not hold
//! is touched; every target is checked before anything is written; links
//! inside the target folder are never written through.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::Xxh3;

use super::{check_whole, Archive, ExtractOptions};
use crate::error::{Result, WzError};
use crate::fs::{self, FileId, OutputPath, Replace, TempFile};
use crate::index::{Attrs, Entry, ExtraKind, Mtime, RootKind};

/// What an extraction wrote.
#[derive(Clone, Debug, Default)]
pub struct ExtractSummary {
    /// Files written.
    pub files: usize,
    /// Folders made (or found in place).
    pub dirs: usize,
    /// Symbolic and hard links made.
    pub links: usize,
    /// Bytes of the files written.
    pub bytes: u64,
}

impl Archive<'_> {
    /// Restores the archive at `output` (`-`: standard output, for a
    /// single-file archive; `/dev/null`: decoded and checked, nothing
    /// written): a file for a single-file archive, written under a
    /// temporary name and renamed when every checksum has matched; else
    /// the members of the folder, into the folder `output`.
    pub fn extract(&self, output: &Path, opts: &ExtractOptions) -> Result<ExtractSummary> {
        let summary = ExtractSummary {
            files: self.index.entries.len(),
            bytes: self.index.total_size(),
            ..Default::default()
        };
        match (OutputPath::of(output), self.index.root) {
            (OutputPath::Null, _) => {
                for i in 0..self.index.entries.len() {
                    self.extract_entry_to(i, &mut std::io::sink(), opts)?;
                }
                Ok(summary)
            }
            (OutputPath::Stdout, RootKind::File) => {
                let stdout = std::io::stdout();
                let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
                self.extract_entry_to(0, &mut w, opts)?;
                w.flush()
                    .map_err(|e| WzError::io("cannot write", "standard output", e))?;
                Ok(summary)
            }
            (OutputPath::Stdout, RootKind::Dir) => Err(WzError::InvalidInput(
                "a folder archive cannot be written to standard output; give a folder with -o"
                    .into(),
            )),
            (OutputPath::Path(p), RootKind::File) => {
                let replace = Replace::when(opts.overwrite);
                fs::check_target(&p, replace, &self.protect())?;
                self.extract_file_at(0, &p, replace, opts)?;
                Ok(summary)
            }
            (OutputPath::Path(p), RootKind::Dir) => self.extract_tree(&p, opts),
        }
    }

    /// Files an output may never replace: the archive itself and the
    /// files of its base.
    fn protect(&self) -> Vec<FileId> {
        let base = self
            .base
            .iter()
            .flat_map(|b| b.base.file_ids().iter().copied());
        self.id.into_iter().chain(base).collect()
    }

    /// Entry `i` into a new file at `target`, with its mode and time.
    fn extract_file_at(
        &self,
        i: usize,
        target: &Path,
        replace: Replace,
        opts: &ExtractOptions,
    ) -> Result<()> {
        let entry = self.entry(i)?;
        let tmp = TempFile::new_for(target)?;
        self.extract_entry_to_file(i, tmp.file(), opts)
            .map_err(|e| name_output(e, target))?;
        set_attrs(tmp.file(), &entry.attrs, false)
            .map_err(|e| WzError::io("cannot set the mode or time of", target, e))?;
        tmp.persist(replace, &self.protect())
    }

    /// [`Self::extract_entry_to`] into a file by positional writes: the
    /// workers write each tensor chunk at its place as soon as it is
    /// decoded (the page-cache copies run on every thread), and the ordered
    /// pass only hashes the file and writes the non-tensor bytes. On error
    /// the file holds part of the output: callers use temporary files.
    fn extract_entry_to_file(&self, i: usize, file: &File, opts: &ExtractOptions) -> Result<()> {
        let entry = self.entry(i)?;
        let mut hasher = Xxh3::new();
        let mut at = 0u64;
        let mut emit = |bytes: &[u8], written: bool| -> Result<()> {
            hasher.update(bytes);
            if !written {
                write_all_at(file, bytes, at)?;
            }
            at += bytes.len() as u64;
            Ok(())
        };
        self.replay(entry, opts, Some(file), None, &mut emit)?;
        file.set_len(entry.size)
            .map_err(|e| WzError::io("cannot write", "output", e))?;
        check_whole(entry, hasher.digest())
    }

    fn extract_tree(&self, root: &Path, opts: &ExtractOptions) -> Result<ExtractSummary> {
        let replace = Replace::when(opts.overwrite);
        let protect = self.protect();
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(WzError::Refused {
                    path: root.to_path_buf(),
                    why: "is not a folder, and this archive holds a folder".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(WzError::io("cannot inspect", root, e)),
        }
        let at =
            |rel: &str| -> PathBuf { rel.split('/').fold(root.to_path_buf(), |p, c| p.join(c)) };
        // Every target is checked before anything is written.
        let mut dirs_made: HashSet<PathBuf> = HashSet::new();
        for e in &self.index.entries {
            check_parents(root, &e.path)?;
            fs::check_target(&at(&e.path), replace, &protect)?;
        }
        for x in &self.index.extras {
            check_parents(root, &x.path)?;
            let target = at(&x.path);
            match &x.kind {
                ExtraKind::Dir => check_dir_target(&target)?,
                ExtraKind::Symlink { target: to } => check_link_target(&target, to, replace)?,
                ExtraKind::Hardlink { .. } => fs::check_target(&target, replace, &protect)?,
            }
        }
        std::fs::create_dir_all(root).map_err(|e| WzError::io("cannot create", root, e))?;
        let mut summary = ExtractSummary::default();
        for x in self
            .index
            .extras
            .iter()
            .filter(|x| x.kind == ExtraKind::Dir)
        {
            make_dir(&at(&x.path), &mut dirs_made)?;
            summary.dirs += 1;
        }
        for (i, e) in self.index.entries.iter().enumerate() {
            let target = at(&e.path);
            make_parents(root, &target, &mut dirs_made)?;
            self.extract_file_at(i, &target, replace, opts)?;
            summary.files += 1;
            summary.bytes += e.size;
        }
        for x in &self.index.extras {
            let target = at(&x.path);
            match &x.kind {
                ExtraKind::Dir => continue,
                ExtraKind::Symlink { target: to } => {
                    make_parents(root, &target, &mut dirs_made)?;
                    make_symlink(to, &target)?;
                }
                ExtraKind::Hardlink { entry } => {
                    make_parents(root, &target, &mut dirs_made)?;
                    let first = self.entry(*entry)?;
                    self.make_hardlink(*entry, first, &at(&first.path), &target, replace, opts)?;
                }
            }
            summary.links += 1;
        }
        // Folder modes and times last (writing into a folder changes its
        // time), deepest first.
        let mut dirs: Vec<_> = self
            .index
            .extras
            .iter()
            .filter(|x| x.kind == ExtraKind::Dir)
            .collect();
        dirs.sort_by(|a, b| b.path.cmp(&a.path));
        for x in dirs {
            let target = at(&x.path);
            set_dir_attrs(&target, &x.attrs)
                .map_err(|e| WzError::io("cannot set the mode or time of", &target, e))?;
        }
        Ok(summary)
    }

    fn make_hardlink(
        &self,
        i: usize,
        _first: &Entry,
        first_path: &Path,
        target: &Path,
        replace: Replace,
        opts: &ExtractOptions,
    ) -> Result<()> {
        if target.symlink_metadata().is_err() && std::fs::hard_link(first_path, target).is_ok() {
            return Ok(());
        }
        // Replacing a file, or a file system without hard links: a copy.
        self.extract_file_at(i, target, replace, opts)
    }
}

/// Each folder between `root` and the member `rel` is absent or a real
/// folder (never a symbolic link, which would send the write elsewhere).
fn check_parents(root: &Path, rel: &str) -> Result<()> {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut p = root.to_path_buf();
    for part in &parts[..parts.len().saturating_sub(1)] {
        p.push(part);
        match p.symlink_metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(WzError::Refused {
                    path: p,
                    why: "is a symbolic link inside the output folder (weightzip never writes through one)".into(),
                })
            }
            Ok(_) => {
                return Err(WzError::Refused {
                    path: p,
                    why: "is not a folder, and the archive holds files inside it".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(WzError::io("cannot inspect", &p, e)),
        }
    }
    Ok(())
}

fn check_dir_target(target: &Path) -> Result<()> {
    match target.symlink_metadata() {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(WzError::Refused {
            path: target.to_path_buf(),
            why: "exists and is not a folder, which the archive holds here".into(),
        }),
        Err(_) => Ok(()),
    }
}

fn check_link_target(target: &Path, to: &str, replace: Replace) -> Result<()> {
    let Ok(meta) = target.symlink_metadata() else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        if std::fs::read_link(target).is_ok_and(|t| t == Path::new(to)) {
            return Ok(());
        }
        return Err(WzError::Refused {
            path: target.to_path_buf(),
            why: "is a symbolic link to somewhere else".into(),
        });
    }
    fs::check_target(target, replace, &[])
}

fn make_dir(p: &Path, made: &mut HashSet<PathBuf>) -> Result<()> {
    if made.contains(p) {
        return Ok(());
    }
    match std::fs::create_dir(p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && p.is_dir() => {}
        Err(e) => return Err(WzError::io("cannot create", p, e)),
    }
    made.insert(p.to_path_buf());
    Ok(())
}

/// Creates the folders between `root` and `target`, one by one (none of
/// them is a link: checked before the extraction began).
fn make_parents(root: &Path, target: &Path, made: &mut HashSet<PathBuf>) -> Result<()> {
    let Some(parent) = target.parent() else {
        return Ok(());
    };
    let Ok(rel) = parent.strip_prefix(root) else {
        return Ok(());
    };
    let mut p = root.to_path_buf();
    for c in rel.components() {
        p.push(c);
        make_dir(&p, made)?;
    }
    Ok(())
}

/// Creates the link `target -> to`; an existing regular file (allowed by
/// the checks) is replaced atomically, an identical link left alone.
fn make_symlink(to: &str, target: &Path) -> Result<()> {
    if std::fs::read_link(target).is_ok_and(|t| t == Path::new(to)) {
        return Ok(());
    }
    #[cfg(unix)]
    {
        if target.symlink_metadata().is_err() {
            return std::os::unix::fs::symlink(to, target)
                .map_err(|e| WzError::io("cannot create the link", target, e));
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp =
            target.with_file_name(format!(".{name}.{:016x}{}", rand_suffix(), fs::TEMP_SUFFIX));
        std::os::unix::fs::symlink(to, &tmp)
            .map_err(|e| WzError::io("cannot create the link", target, e))?;
        std::fs::rename(&tmp, target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            WzError::io("cannot create the link", target, e)
        })
    }
    #[cfg(not(unix))]
    {
        let _ = to;
        Err(WzError::InvalidInput(format!(
            "{}: symbolic links are not supported here",
            target.display()
        )))
    }
}

#[cfg(unix)]
fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

fn system_time(t: Mtime) -> SystemTime {
    if t.secs >= 0 {
        UNIX_EPOCH + Duration::new(t.secs as u64, t.nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(t.secs.unsigned_abs())
            + Duration::from_nanos(u64::from(t.nanos))
    }
}

/// Applies permission bits (never setuid or setgid) and time to a file.
fn set_attrs(file: &File, a: &Attrs, dir: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(mode) = a.mode {
        use std::os::unix::fs::PermissionsExt;
        let keep = if dir { 0o1777 } else { 0o777 };
        file.set_permissions(std::fs::Permissions::from_mode(mode & keep))?;
    }
    if let Some(t) = a.mtime {
        file.set_modified(system_time(t))?;
    }
    Ok(())
}

fn set_dir_attrs(dir: &Path, a: &Attrs) -> std::io::Result<()> {
    if a.mode.is_none() && a.mtime.is_none() {
        return Ok(());
    }
    let f = File::open(dir)?;
    set_attrs(&f, a, true)
}

/// An output write error names the output the user gave.
fn name_output(e: WzError, target: &Path) -> WzError {
    match e {
        WzError::Io { op, path, source } if path == Path::new("output") => WzError::Io {
            op,
            path: target.to_path_buf(),
            source,
        },
        other => other,
    }
}

/// Writes all of `bytes` at offset `at` of `file`, leaving the file
/// position alone (so threads may write different places at once).
pub(super) fn write_all_at(file: &File, bytes: &[u8], at: u64) -> Result<()> {
    #[cfg(unix)]
    let written = std::os::unix::fs::FileExt::write_all_at(file, bytes, at);
    #[cfg(windows)]
    let written = {
        let mut done = 0usize;
        loop {
            if done == bytes.len() {
                break Ok(());
            }
            match std::os::windows::fs::FileExt::seek_write(file, &bytes[done..], at + done as u64)
            {
                Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        }
    };
    #[cfg(not(any(unix, windows)))]
    let written: std::io::Result<()> = {
        let _ = (file, bytes, at);
        Err(std::io::ErrorKind::Unsupported.into())
    };
    written.map_err(|e| WzError::io("cannot write", "output", e))
}
