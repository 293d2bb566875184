//! Walking a folder the way tar does: regular files, folders, symbolic
//! links (stored as links, never followed, so no loop can trap the walk)
//! and hard links (stored once), with permission bits and times. A member
//! that cannot be stored (a name that is not UTF-8, a folder that cannot
//! be listed) is reported and skipped; the rest is still stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::FileId;
use crate::error::{Result, WzError};
use crate::index::{check_relative_path, Attrs, Extra, ExtraKind, Mtime};

/// What a folder holds.
#[derive(Debug, Default)]
pub struct Tree {
    /// Regular files (a hard-linked file once), sorted by path.
    pub files: Vec<TreeFile>,
    /// Folders, symbolic links and further names of hard-linked files,
    /// sorted by path; a hard link's `entry` indexes `files`.
    pub extras: Vec<Extra>,
    /// Members that could not be stored, one message each.
    pub problems: Vec<String>,
    /// Members deliberately left out (sockets, devices, FIFOs).
    pub skipped: Vec<String>,
}

/// A regular file of the tree.
#[derive(Debug)]
pub struct TreeFile {
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its `/`-separated path inside the folder.
    pub rel: String,
    /// Its mode and time.
    pub attrs: Attrs,
    /// Its identity, so that no output replaces it.
    pub id: Option<FileId>,
}

/// Permission bits and modification time of `meta`.
pub fn attrs_of(meta: &std::fs::Metadata) -> Attrs {
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = None;
    let mtime = meta
        .modified()
        .ok()
        .map(|t| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Mtime {
                secs: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            },
            Err(before) => {
                let d = before.duration();
                let (secs, nanos) = (d.as_secs() as i64, d.subsec_nanos());
                if nanos == 0 {
                    Mtime {
                        secs: -secs,
                        nanos: 0,
                    }
                } else {
                    Mtime {
                        secs: -secs - 1,
                        nanos: 1_000_000_000 - nanos,
                    }
                }
            }
        });
    Attrs { mode, mtime }
}

/// Walks `root` (which may itself be a symbolic link to a folder).
pub fn walk(root: &Path) -> Result<Tree> {
    let mut tree = Tree::default();
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let listing = match std::fs::read_dir(&dir) {
            Ok(l) => l,
            Err(e) if rel.is_empty() => return Err(WzError::io("cannot list", &dir, e)),
            Err(e) => {
                tree.problems
                    .push(format!("{}: cannot list: {}", dir.display(), e));
                continue;
            }
        };
        for item in listing {
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    tree.problems
                        .push(format!("{}: cannot list: {}", dir.display(), e));
                    break;
                }
            };
            let path = item.path();
            let Some(name) = item.file_name().to_str().map(str::to_string) else {
                tree.problems.push(format!(
                    "{}: the name is not UTF-8, which a .wz archive cannot hold; not stored",
                    path.display()
                ));
                continue;
            };
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if check_relative_path(&child).is_err() {
                tree.problems
                    .push(format!("{}: unusable name; not stored", path.display()));
                continue;
            }
            // Not followed: a link is stored as a link.
            let meta = match path.symlink_metadata() {
                Ok(m) => m,
                Err(e) => {
                    tree.problems
                        .push(format!("{}: cannot inspect: {}", path.display(), e));
                    continue;
                }
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                tree.extras.push(Extra {
                    path: child.clone(),
                    kind: ExtraKind::Dir,
                    attrs: attrs_of(&meta),
                });
                stack.push((path, child));
            } else if ft.is_symlink() {
                match std::fs::read_link(&path) {
                    Ok(target) => match target.to_str() {
                        Some(t) if !t.is_empty() => tree.extras.push(Extra {
                            path: child,
                            kind: ExtraKind::Symlink {
                                target: t.to_string(),
                            },
                            attrs: Attrs {
                                mode: None,
                                mtime: attrs_of(&meta).mtime,
                            },
                        }),
                        _ => tree.problems.push(format!(
                            "{}: the link's target is not UTF-8; not stored",
                            path.display()
                        )),
                    },
                    Err(e) => tree.problems.push(format!(
                        "{}: cannot read the link: {}",
                        path.display(),
                        e
                    )),
                }
            } else if ft.is_file() {
                let id = FileId::of(&meta);
                let linked = id.filter(|_| nlink(&meta) > 1);
                files.push((
                    TreeFile {
                        path,
                        rel: child,
                        attrs: attrs_of(&meta),
                        id,
                    },
                    linked,
                ));
            } else {
                tree.skipped.push(format!(
                    "{}: not a regular file, folder or link (socket, device or FIFO); skipped",
                    path.display()
                ));
            }
        }
    }
    files.sort_by(|a, b| a.0.rel.cmp(&b.0.rel));
    // The first name of a hard-linked file holds the data; the others
    // point at it.
    let mut first: HashMap<FileId, usize> = HashMap::new();
    for (file, id) in files {
        if let Some(id) = id {
            if let Some(&entry) = first.get(&id) {
                tree.extras.push(Extra {
                    path: file.rel,
                    kind: ExtraKind::Hardlink { entry },
                    attrs: file.attrs,
                });
                continue;
            }
            first.insert(id, tree.files.len());
        }
        tree.files.push(file);
    }
    tree.extras.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(tree)
}

fn nlink(meta: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.nlink()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        1
    }
}
