//! The base of a checkpoint delta: a file, a folder or a `.wz` archive
//! whose tensors the delta chunks of another archive are coded against
//! (`compress --base`, `decompress --base`). Tensors are found by their
//! file's path inside the base and their name; a base is accepted for an
//! archive only when every tensor it needs has the length and the BLAKE3
//! digest the archive's base table stores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use weightzip_format::{read_layout, TensorType};

use crate::error::{Result, WzError};
use crate::fs::{walk, FileId};
use crate::index::{BaseTable, RootKind, MAGIC};
use crate::read::Archive;
use crate::source::{Cursor, FileSource, ReadAt};
use crate::torch;

/// Where a base file's bytes are.
enum Source {
    /// A plain file: tensors are read where they lie.
    Raw(FileSource),
    /// Entry `entry` of an archive: tensors are decoded.
    Wz { archive: Arc<Archive<'static>> },
}

/// A tensor of a base file.
struct Tensor {
    ty: Option<TensorType>,
    offset: u64,
    len: u64,
}

struct File {
    path: String,
    source: Source,
    /// Entry index in the archive (a `.wz` base).
    entry: usize,
    tensors: Vec<(String, Tensor)>,
    by_name: HashMap<String, usize>,
}

impl File {
    fn new(path: String, source: Source, entry: usize, tensors: Vec<(String, Tensor)>) -> Self {
        let by_name = tensors
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        File {
            path,
            source,
            entry,
            tensors,
            by_name,
        }
    }
}

/// A tensor of a [`Base`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BaseTensorRef {
    file: usize,
    tensor: usize,
}

/// An opened base checkpoint.
pub struct Base {
    /// The path it was opened from.
    pub path: PathBuf,
    root: RootKind,
    files: Vec<File>,
    /// The identities of the files read: no output may replace them.
    ids: Vec<FileId>,
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base").field("path", &self.path).finish()
    }
}

fn wrong(path: &Path, label: &str, why: String) -> WzError {
    WzError::WrongBase {
        path: path.to_path_buf(),
        label: label.to_string(),
        why,
    }
}

impl Base {
    /// Opens a base: a folder (every model file in it), a `.wz` archive,
    /// or a single model file.
    pub fn open(path: &Path) -> Result<Base> {
        let meta = std::fs::metadata(path).map_err(|e| WzError::io("cannot open base", path, e))?;
        let mut files = Vec::new();
        let root = if meta.is_dir() {
            let tree = walk::walk(path)?;
            // Archives inside a base folder are files like any other.
            for f in tree.files {
                if let Opened::One(file) = open_file(&f.path, f.rel, false)? {
                    files.push(file);
                }
            }
            RootKind::Dir
        } else {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("base")
                .to_string();
            match open_file(path, name, true)? {
                Opened::One(f) => {
                    files.push(f);
                    RootKind::File
                }
                Opened::Archive(fs, root) => {
                    files.extend(fs);
                    root
                }
            }
        };
        let ids = if meta.is_dir() {
            files
                .iter()
                .filter_map(|f| FileId::of_path(&path.join(&f.path)))
                .collect()
        } else {
            FileId::of(&meta).into_iter().collect()
        };
        Ok(Base {
            path: path.to_path_buf(),
            root,
            files,
            ids,
        })
    }

    /// The files of the base, which no output of a run that reads it may
    /// replace, with or without `--force`.
    pub fn file_ids(&self) -> &[FileId] {
        &self.ids
    }

    /// Whether the base is one file.
    pub fn root(&self) -> RootKind {
        self.root
    }

    /// The tensor `name` of the base file that goes with the archive entry
    /// `entry_path`: the only file of a single-file base, else the file at
    /// that path.
    pub fn find(&self, entry_path: &str, name: &str) -> Option<BaseTensorRef> {
        let file = match self.root {
            RootKind::File => 0,
            RootKind::Dir => self.files.iter().position(|f| f.path == entry_path)?,
        };
        let tensor = *self.files.get(file)?.by_name.get(name)?;
        Some(BaseTensorRef { file, tensor })
    }

    fn tensor(&self, r: BaseTensorRef) -> (&File, &str, &Tensor) {
        let f = &self.files[r.file];
        let (name, t) = &f.tensors[r.tensor];
        (f, name, t)
    }

    /// The file path (inside the base) and name of a tensor.
    pub fn describe(&self, r: BaseTensorRef) -> (&str, &str) {
        let (f, name, _) = self.tensor(r);
        (&f.path, name)
    }

    /// Length and type of a tensor.
    pub fn shape_of(&self, r: BaseTensorRef) -> (u64, Option<TensorType>) {
        let (_, _, t) = self.tensor(r);
        (t.len, t.ty)
    }

    /// Bytes `offset..offset + out.len()` of a tensor's data.
    pub fn read(&self, r: BaseTensorRef, offset: u64, out: &mut [u8]) -> Result<()> {
        let (f, name, t) = self.tensor(r);
        let end = offset.checked_add(out.len() as u64);
        if end.is_none_or(|e| e > t.len) {
            return Err(WzError::InvalidInput(format!(
                "{}: bytes {offset}+{} of base tensor {name:?} (of {})",
                self.path.display(),
                out.len(),
                t.len
            )));
        }
        match &f.source {
            Source::Raw(src) => src
                .read_exact_at(out, t.offset + offset)
                .map_err(|e| WzError::io("cannot read base", self.path.join(&f.path), e)),
            Source::Wz { archive } => archive
                .read_tensor_range_into(f.entry, name, offset, out, 1)
                .map(|_| ()),
        }
    }

    /// The BLAKE3 digest of a tensor's data, read in pieces of 4 MiB.
    pub fn digest(&self, r: BaseTensorRef) -> Result<[u8; 32]> {
        let (len, _) = self.shape_of(r);
        let mut h = blake3::Hasher::new();
        let mut buf = vec![0u8; (4usize << 20).min(len as usize)];
        let mut at = 0u64;
        while at < len {
            let n = (len - at).min(buf.len() as u64) as usize;
            self.read(r, at, &mut buf[..n])?;
            h.update(&buf[..n]);
            at += n as u64;
        }
        Ok(*h.finalize().as_bytes())
    }

    /// Matches the tensors of `table` in this base, checking each one's
    /// length now and its digest when it is first read.
    pub fn resolve(self: &Arc<Self>, table: &BaseTable) -> Result<ResolvedBase> {
        let mut refs = Vec::with_capacity(table.tensors.len());
        for t in &table.tensors {
            let found = self.find(&t.file, &t.name).ok_or_else(|| {
                wrong(
                    &self.path,
                    &table.label,
                    format!("it has no tensor {:?} in {:?}", t.name, t.file),
                )
            })?;
            let (len, _) = self.shape_of(found);
            if len != t.len {
                return Err(wrong(
                    &self.path,
                    &table.label,
                    format!(
                        "its tensor {:?} of {:?} is {len} bytes, the archive's base had {}",
                        t.name, t.file, t.len
                    ),
                ));
            }
            refs.push((found, t.hash, OnceLock::new()));
        }
        Ok(ResolvedBase {
            base: Arc::clone(self),
            label: table.label.clone(),
            refs,
        })
    }
}

/// Whether a base tensor was found to have its digest (once known).
type Checked = OnceLock<std::result::Result<(), String>>;

/// A base matched to an archive's base table.
pub struct ResolvedBase {
    pub(crate) base: Arc<Base>,
    label: String,
    refs: Vec<(BaseTensorRef, [u8; 32], Checked)>,
}

impl ResolvedBase {
    /// Bytes of table tensor `tensor`. They are not checked here: every
    /// chunk decoded from them is checked against its own checksum, and
    /// [`ResolvedBase::check`] names the tensor when that fails.
    pub fn read(&self, tensor: u32, offset: u64, out: &mut [u8]) -> Result<()> {
        let (r, _, _) = self.entry(tensor)?;
        self.base.read(*r, offset, out)
    }

    /// Checks (once) that table tensor `tensor` has the BLAKE3 digest the
    /// archive stores: [`WzError::WrongBase`] naming it if not.
    pub fn check(&self, tensor: u32) -> Result<()> {
        let (r, want, checked) = self.entry(tensor)?;
        let verdict = checked.get_or_init(|| match self.base.digest(*r) {
            Ok(d) if d == *want => Ok(()),
            Ok(_) => {
                let (file, name) = self.base.describe(*r);
                Err(format!(
                    "its tensor {name:?} of {file:?} holds other data (BLAKE3 differs)"
                ))
            }
            Err(e) => Err(e.to_string()),
        });
        match verdict {
            Ok(()) => Ok(()),
            Err(why) => Err(wrong(&self.base.path, &self.label, why.clone())),
        }
    }

    fn entry(&self, tensor: u32) -> Result<&(BaseTensorRef, [u8; 32], Checked)> {
        self.refs
            .get(tensor as usize)
            .ok_or_else(|| WzError::Corrupt(format!("no base tensor {tensor}")))
    }
}

enum Opened {
    One(File),
    Archive(Vec<File>, RootKind),
}

/// A base file: a `.wz` (by its magic bytes, when `archives`) gives its
/// entries; a model file its tensors; any other file no tensors.
fn open_file(path: &Path, rel: String, archives: bool) -> Result<Opened> {
    let file = std::fs::File::open(path).map_err(|e| WzError::io("cannot open base", path, e))?;
    let src = FileSource::new(file).map_err(|e| WzError::io("cannot open base", path, e))?;
    let mut head = [0u8; 8];
    if archives && src.size() >= 8 && src.read_exact_at(&mut head, 0).is_ok() && head == MAGIC {
        let archive = Archive::open(path)?;
        if archive.index().base.is_some() {
            return Err(WzError::InvalidInput(format!(
                "{}: this base archive needs a base of its own; decompress it and give the result as the base",
                path.display()
            )));
        }
        let root = archive.index().root;
        let archive = Arc::new(archive);
        let files = archive
            .index()
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let tensors = e
                    .segments
                    .iter()
                    .filter_map(|s| match &s.kind {
                        crate::index::SegmentKind::Tensor { name, ty, .. } => Some((
                            name.clone(),
                            Tensor {
                                ty: *ty,
                                offset: 0,
                                len: s.len,
                            },
                        )),
                        crate::index::SegmentKind::Passthrough => None,
                    })
                    .collect();
                let source = Source::Wz {
                    archive: Arc::clone(&archive),
                };
                File::new(e.path.clone(), source, i, tensors)
            })
            .collect();
        return Ok(Opened::Archive(files, root));
    }
    let size = src.size();
    let regions = match read_layout(&mut Cursor::new(&src), size) {
        Ok(l) => l.tensors,
        Err(_) => torch::read_layout(&src).unwrap_or_default(),
    };
    let tensors = regions
        .into_iter()
        .map(|t| {
            (
                t.name,
                Tensor {
                    ty: Some(t.ty),
                    offset: t.offset,
                    len: t.len,
                },
            )
        })
        .collect();
    Ok(Opened::One(File::new(rel, Source::Raw(src), 0, tensors)))
}
