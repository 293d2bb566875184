//! The live temporary files of this process, and a signal handler that
//! removes them when the process is interrupted (SIGINT, SIGTERM, SIGHUP)
//! before letting the signal end the process as it would have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static LIVE: Mutex<BTreeMap<u64, PathBuf>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A path on the list of files to remove on a signal; dropping it takes
/// the path off the list (the file itself is its owner's to remove).
pub struct Registration(u64);

/// Puts `path` on the list.
pub fn register(path: &Path) -> Registration {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    live().insert(id, path.to_path_buf());
    Registration(id)
}

impl Drop for Registration {
    fn drop(&mut self) {
        live().remove(&self.0);
    }
}

fn live() -> std::sync::MutexGuard<'static, BTreeMap<u64, PathBuf>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes every live temporary file now (the signal handler's work).
pub fn remove_live_temps() {
    for path in live().values() {
        let _ = std::fs::remove_file(path);
    }
}

/// Starts a thread that, on SIGINT, SIGTERM or SIGHUP, removes every live
/// temporary file and then ends the process the way the signal would have
/// (so the parent sees "killed by SIGTERM"). For programs, not libraries:
/// call it once from `main`. The handler runs on that thread, not inside
/// the signal, so it may lock and call the filesystem.
#[cfg(unix)]
pub fn remove_temps_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("weightzip-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                remove_live_temps();
                // Ends the process as the signal's default action would.
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

/// Without Unix signals there is nothing to hook.
#[cfg(not(unix))]
pub fn remove_temps_on_signals() -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_paths_are_listed_until_dropped() {
        // (Removing them is left to the binary's tests: other tests of
        // this process have live temporary files of their own.)
        let a = Path::new("/nonexistent/a.wz-tmp");
        let listed = || live().values().any(|p| p == a);
        let r = register(a);
        assert!(listed());
        drop(r);
        assert!(!listed());
    }
}
