//! The progress line of `compress`, `decompress` and `verify`: a bar with
//! bytes done, speed and time left on standard error, redrawn at most ten
//! times a second from whichever worker reports progress, and only when
//! standard error is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weightzip::Progress;

const WIDTH: usize = 40;
const REDRAW: Duration = Duration::from_millis(100);

/// A progress line over `total` bytes.
pub(crate) struct Bar {
    verb: String,
    total: u64,
    done: AtomicU64,
    start: Instant,
    last_draw: Mutex<Option<Instant>>,
}

impl Bar {
    /// A bar and the callback that advances it; both `None` when `quiet` or
    /// when standard error is not a terminal.
    pub(crate) fn start(
        total: u64,
        quiet: bool,
        verb: &str,
    ) -> (Option<Arc<Bar>>, Option<Progress>) {
        if quiet || !std::io::stderr().is_terminal() {
            return (None, None);
        }
        let bar = Arc::new(Bar {
            verb: verb.to_string(),
            total,
            done: AtomicU64::new(0),
            start: Instant::now(),
            last_draw: Mutex::new(None),
        });
        let b = bar.clone();
        (Some(bar), Some(Arc::new(move |n| b.advance(n))))
    }

    fn advance(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        // Another thread drawing: skip this one.
        let Ok(mut last) = self.last_draw.try_lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < REDRAW) {
            return;
        }
        *last = Some(now);
        let line = render(&self.verb, done, self.total, now.duration_since(self.start));
        let _ = write!(std::io::stderr().lock(), "\r{line}");
    }

    /// Clears the line.
    pub(crate) fn finish_and_clear(&self) {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
}

/// `verb [=====>    ] 1.2 GiB/4.0 GiB 850.0 MiB/s eta 3s`
fn render(verb: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let done = done.min(total.max(done));
    let filled = if total == 0 {
        WIDTH
    } else {
        ((done as u128 * WIDTH as u128) / total as u128).min(WIDTH as u128) as usize
    };
    let mut bar = "=".repeat(filled);
    if filled < WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let eta = if rate > 0.0 && total > done {
        format!("{}s", ((total - done) as f64 / rate).ceil() as u64)
    } else {
        "0s".to_string()
    };
    format!(
        "{verb} [{bar}] {}/{} {}/s eta {eta}",
        bytes(done as f64),
        bytes(total as f64),
        bytes(rate)
    )
}

/// Binary units, one decimal.
fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_bytes_speed_and_time_left() {
        let l = render("compress", 512 << 20, 1 << 30, Duration::from_secs(1));
        assert!(l.starts_with("compress [===================="), "{l}");
        assert!(l.contains("512.0 MiB/1.0 GiB 512.0 MiB/s eta 1s"), "{l}");
        let full = render("verify", 10, 10, Duration::from_secs(1));
        assert!(full.contains(&format!("[{}]", "=".repeat(WIDTH))), "{full}");
        // More bytes than announced (a growing input) never overflows the bar.
        let over = render("compress", 20, 10, Duration::from_millis(1));
        assert!(over.contains(&format!("[{}]", "=".repeat(WIDTH))), "{over}");
        assert_eq!(
            render("x", 0, 0, Duration::ZERO).matches('=').count(),
            WIDTH
        );
    }
}
