//! An ordered parallel map with a bounded window: workers compute jobs in
//! any order, the caller's sink consumes results strictly in job order, and
//! at most `window` jobs are in flight or waiting, which bounds memory.
//! [`BufferPool`] recycles the chunk buffers between the sink and the
//! workers.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};

/// Byte buffers handed back by the sink for the workers to reuse: once the
/// pool is warm, a chunk costs no allocation, no page faults (fresh
/// multi-MiB allocations are new mappings, faulted in page by page) and
/// no zeroing. Holds at most `max` buffers (and, if set, `max_bytes` of
/// capacity), so memory stays bounded.
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    max: usize,
    max_bytes: usize,
}

impl BufferPool {
    /// A pool keeping at most `max` buffers.
    pub(crate) fn new(max: usize) -> Self {
        Self::with_bytes(max, usize::MAX)
    }

    /// A pool keeping at most `max` buffers of `max_bytes` in all.
    pub(crate) fn with_bytes(max: usize, max_bytes: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            max,
            max_bytes,
        }
    }

    /// A buffer of exactly `len` bytes with unspecified contents: the
    /// smallest free buffer that can hold them (grown in place, zeroed only
    /// where its length grew), else a new one allocated zeroed by the
    /// system, whose pages become resident only when written (so a damaged
    /// chunk that fails to decode early costs no memory for its claimed
    /// size).
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        match self.best_fit(len) {
            Some(mut v) => {
                v.resize(len, 0);
                v
            }
            None => vec![0; len],
        }
    }

    /// An empty buffer that can take `capacity` bytes without growing.
    pub(crate) fn take_empty(&self, capacity: usize) -> Vec<u8> {
        match self.best_fit(capacity) {
            Some(mut v) => {
                v.clear();
                v
            }
            None => Vec::with_capacity(capacity),
        }
    }

    fn best_fit(&self, len: usize) -> Option<Vec<u8>> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let fit = (0..free.len())
            .filter(|&i| free[i].capacity() >= len)
            .min_by_key(|&i| free[i].capacity())?;
        Some(free.swap_remove(fit))
    }

    /// Returns a buffer for reuse (one that never held memory is dropped).
    pub(crate) fn give(&self, v: Vec<u8>) {
        if v.capacity() == 0 {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let held: usize = free.iter().map(Vec::capacity).sum();
        if free.len() < self.max && held.saturating_add(v.capacity()) <= self.max_bytes {
            free.push(v);
        }
    }
}

use crate::error::{Result, WzError};

struct State<T> {
    next_job: usize,
    next_to_sink: usize,
    /// Cost of the jobs taken and not yet sunk.
    in_flight: u64,
    ready: BTreeMap<usize, Result<T>>,
    stop: bool,
}

/// How many jobs may be in flight (taken by a worker, or done and waiting
/// for the sink) at once: at most `jobs`, and at most `bytes` of their
/// summed cost, except that one job always may run, whatever it costs.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Jobs at most.
    pub jobs: usize,
    /// Summed cost at most.
    pub bytes: u64,
}

impl Window {
    /// A window of `jobs` jobs, whatever they cost.
    pub fn jobs(jobs: usize) -> Self {
        Self {
            jobs,
            bytes: u64::MAX,
        }
    }
}

/// Runs `work(i)` for `i in 0..n` on `threads` threads and feeds each
/// result to `sink(i, result)` in order of `i`, with at most `window` in
/// flight (`cost(i)` is job `i`'s share of the window's bytes). Stops at
/// the first error (from a job or from the sink) and returns it; a thread
/// that cannot be started is an error too, never a panic.
pub fn ordered_map<T, C, W, S>(
    n: usize,
    threads: usize,
    window: Window,
    cost: C,
    work: W,
    mut sink: S,
) -> Result<()>
where
    T: Send,
    C: Fn(usize) -> u64 + Sync,
    W: Fn(usize) -> Result<T> + Sync,
    S: FnMut(usize, T) -> Result<()>,
{
    let threads = threads.max(1);
    if threads == 1 || n <= 1 {
        for i in 0..n {
            sink(i, work(i)?)?;
        }
        return Ok(());
    }
    let max_jobs = window.jobs.max(threads);
    let state = Mutex::new(State {
        next_job: 0,
        next_to_sink: 0,
        in_flight: 0,
        ready: BTreeMap::new(),
        stop: false,
    });
    let changed = Condvar::new();
    // A poisoned lock means a worker panicked; keep going with its state so
    // the panic propagates from the scope instead of deadlocking here.
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    let may_start = |st: &State<T>| {
        st.next_job < st.next_to_sink + max_jobs
            && (st.in_flight == 0 || st.in_flight.saturating_add(cost(st.next_job)) <= window.bytes)
    };

    std::thread::scope(|scope| {
        let worker = || loop {
            let job = {
                let mut st = lock();
                while !st.stop && st.next_job < n && !may_start(&st) {
                    st = changed.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if st.stop || st.next_job >= n {
                    return;
                }
                st.in_flight = st.in_flight.saturating_add(cost(st.next_job));
                st.next_job += 1;
                st.next_job - 1
            };
            let result = work(job);
            let mut st = lock();
            st.ready.insert(job, result);
            changed.notify_all();
        };
        for _ in 0..threads {
            let spawned = std::thread::Builder::new()
                .name("weightzip-worker".into())
                .spawn_scoped(scope, worker);
            if let Err(e) = spawned {
                let mut st = lock();
                st.stop = true;
                changed.notify_all();
                return Err(WzError::Thread(e));
            }
        }
        let outcome = (|| {
            for i in 0..n {
                let result = {
                    let mut st = lock();
                    loop {
                        if let Some(r) = st.ready.remove(&i) {
                            break r;
                        }
                        st = changed.wait(st).unwrap_or_else(|p| p.into_inner());
                    }
                };
                sink(i, result?)?;
                let mut st = lock();
                st.next_to_sink = i + 1;
                st.in_flight = st.in_flight.saturating_sub(cost(i));
                changed.notify_all();
            }
            Ok(())
        })();
        let mut st = lock();
        st.stop = true;
        changed.notify_all();
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WzError;

    #[test]
    fn results_arrive_in_order_with_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let mut seen = Vec::new();
            ordered_map(
                100,
                threads,
                Window::jobs(4),
                |_| 0,
                |i| {
                    // Uneven work so that jobs finish out of order.
                    std::thread::sleep(std::time::Duration::from_micros(
                        ((i * 7919) % 13) as u64 * 50,
                    ));
                    Ok(i * 2)
                },
                |i, v| {
                    assert_eq!(v, i * 2);
                    seen.push(i);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (0..100).collect::<Vec<_>>());
        }
    }

    #[test]
    fn buffer_pool_recycles_and_stays_bounded() {
        let pool = BufferPool::new(2);
        let a = pool.take(1000);
        assert_eq!(a.len(), 1000);
        let ptr = a.as_ptr();
        pool.give(a);
        let b = pool.take(10);
        assert_eq!(
            (b.len(), b.as_ptr()),
            (10, ptr),
            "the same allocation comes back"
        );
        pool.give(b);
        for _ in 0..5 {
            pool.give(vec![1; 8]);
        }
        assert_eq!(pool.free.lock().unwrap().len(), 2);
        // Buffers without memory are not kept; the smallest free one that
        // fits is taken, else a new one.
        let pool = BufferPool::new(4);
        pool.give(Vec::new());
        pool.give(vec![0; 5]);
        pool.give(vec![0; 500]);
        pool.give(vec![0; 50]);
        assert_eq!(pool.free.lock().unwrap().len(), 3);
        assert_eq!(pool.take_empty(40).capacity(), 50);
        assert_eq!(pool.take(400).capacity(), 500);
        assert_eq!(pool.take(4000).len(), 4000);
        assert_eq!(pool.free.lock().unwrap().len(), 1);
        // A byte bound keeps what fits.
        let pool = BufferPool::with_bytes(4, 100);
        pool.give(vec![0; 60]);
        pool.give(vec![0; 60]);
        pool.give(vec![0; 40]);
        let free = pool.free.lock().unwrap();
        assert_eq!(free.iter().map(Vec::len).collect::<Vec<_>>(), [60, 40]);
    }

    #[test]
    fn first_error_stops_the_run() {
        for threads in [1, 2, 4] {
            let mut sunk = 0;
            let r = ordered_map(
                50,
                threads,
                Window::jobs(4),
                |_| 0,
                |i| {
                    if i == 10 {
                        Err(WzError::Corrupt("job 10".into()))
                    } else {
                        Ok(i)
                    }
                },
                |_, _| {
                    sunk += 1;
                    Ok(())
                },
            );
            assert!(matches!(r, Err(WzError::Corrupt(_))));
            assert_eq!(sunk, 10);
            let r = ordered_map(
                50,
                threads,
                Window::jobs(4),
                |_| 0,
                Ok,
                |i, _| {
                    if i == 3 {
                        Err(WzError::Corrupt("sink".into()))
                    } else {
                        Ok(())
                    }
                },
            );
            assert!(r.is_err());
        }
    }

    #[test]
    fn the_byte_window_bounds_what_is_in_flight() {
        use std::sync::atomic::{AtomicU64, Ordering};
        for threads in [2, 4] {
            let live = AtomicU64::new(0);
            let peak = AtomicU64::new(0);
            let cost = |i: usize| 10 + (i as u64 % 3) * 10;
            ordered_map(
                60,
                threads,
                Window {
                    jobs: 16,
                    bytes: 45,
                },
                cost,
                |i| {
                    let now = live.fetch_add(cost(i), Ordering::SeqCst) + cost(i);
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    Ok(i)
                },
                |i, _| {
                    live.fetch_sub(cost(i), Ordering::SeqCst);
                    Ok(())
                },
            )
            .unwrap();
            assert!(peak.load(Ordering::SeqCst) <= 45, "{threads} threads");
        }
        // A job dearer than the whole window still runs, alone.
        let mut seen = 0;
        ordered_map(
            5,
            2,
            Window { jobs: 4, bytes: 1 },
            |_| 100,
            Ok,
            |_, _| {
                seen += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, 5);
    }
}
