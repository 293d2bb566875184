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
/// no zeroing. Holds at most `max` buffers, so memory stays bounded.
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    max: usize,
}

impl BufferPool {
    /// A pool keeping at most `max` buffers.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            max,
        }
    }

    /// A buffer of exactly `len` bytes with unspecified contents (zeroed
    /// only where it grew). The longest free buffer is taken: growing a
    /// buffer's length zeroes the new part, so a short one (a small chunk,
    /// or one that only served as scratch) would cost a memset of almost
    /// a whole chunk.
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let longest = (0..free.len()).max_by_key(|&i| free[i].len());
        let mut v = longest.map(|i| free.swap_remove(i)).unwrap_or_default();
        drop(free);
        v.resize(len, 0);
        v
    }

    /// Returns a buffer for reuse (one that never held memory is dropped).
    pub(crate) fn give(&self, v: Vec<u8>) {
        if v.capacity() == 0 {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.max {
            free.push(v);
        }
    }
}

use crate::error::Result;

struct State<T> {
    next_job: usize,
    next_to_sink: usize,
    ready: BTreeMap<usize, Result<T>>,
    stop: bool,
}

/// Runs `work(i)` for `i in 0..n` on `threads` threads and feeds each
/// result to `sink(i, result)` in order of `i`. Stops at the first error
/// (from a job or from the sink) and returns it.
pub fn ordered_map<T, W, S>(
    n: usize,
    threads: usize,
    window: usize,
    work: W,
    mut sink: S,
) -> Result<()>
where
    T: Send,
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
    let window = window.max(threads);
    let state = Mutex::new(State {
        next_job: 0,
        next_to_sink: 0,
        ready: BTreeMap::new(),
        stop: false,
    });
    let changed = Condvar::new();
    // A poisoned lock means a worker panicked; keep going with its state so
    // the panic propagates from the scope instead of deadlocking here.
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());

    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let job = {
                    let mut st = lock();
                    while !st.stop && st.next_job < n && st.next_job >= st.next_to_sink + window {
                        st = changed.wait(st).unwrap_or_else(|p| p.into_inner());
                    }
                    if st.stop || st.next_job >= n {
                        return;
                    }
                    st.next_job += 1;
                    st.next_job - 1
                };
                let result = work(job);
                let mut st = lock();
                st.ready.insert(job, result);
                changed.notify_all();
            });
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
                4,
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
        // Buffers without memory are not kept; the longest free one is
        // taken first.
        let pool = BufferPool::new(4);
        pool.give(Vec::new());
        pool.give(vec![0; 5]);
        pool.give(vec![0; 500]);
        pool.give(vec![0; 50]);
        assert_eq!(pool.free.lock().unwrap().len(), 3);
        assert_eq!(pool.take(0).capacity(), 500);
    }

    #[test]
    fn first_error_stops_the_run() {
        for threads in [1, 2, 4] {
            let mut sunk = 0;
            let r = ordered_map(
                50,
                threads,
                4,
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
            let r = ordered_map(50, threads, 4, Ok, |i, _| {
                if i == 3 {
                    Err(WzError::Corrupt("sink".into()))
                } else {
                    Ok(())
                }
            });
            assert!(r.is_err());
        }
    }
}
