//! Keeps the pool's other workers awake while a headless command loads data and fits, so they
//! take part in the fit from its first parallel split instead of milliseconds later.
//!
//! Why: a rayon worker that found no work goes to sleep, and the fit must wake it. On a
//! virtual machine whose scheduler packs woken threads onto busy vCPUs (measured on the
//! benchmark machine, a 2-vCPU Firecracker guest), the woken worker is placed behind the
//! main thread and waits out its time slice: 1.5–2.9 ms before it runs, so a 3 ms fit runs
//! on one core. Here each other worker instead runs a job that polls the pool for work
//! (`rayon::yield_now`) until the fit is done, as OpenMP and BLAS runtimes spin between
//! parallel regions. Measured with `detect` (median of 8–12 runs): lof on letter 3.87 → 3.60 ms,
//! cardio 3.55 → 3.35 ms, knn on ionosphere 0.48 → 0.38 ms, iforest on cardio 2.57 → 2.18 ms.
//! A lowest-priority spinner thread on the idle core was tried first: the scheduler still
//! queued the woken worker behind the main thread, and fits got slower.
//!
//! While the data loads the workers poll for at most [`LOAD_POLLING`]: a large file's parse
//! threads need the cores, and its fit is long enough that a wake-up of a few ms does not
//! matter. From the fit on they poll until the guard is dropped, for at most [`FIT_POLLING`].
//! A polling worker that finds nothing yields to the OS, so other threads on its core go first.
//! Only the headless commands use it; the workbench's fits run behind the UI.
//!
//! Before polling during the load, each worker also allocates, touches and frees
//! [`WARM_HEAP`] in its own allocator heap. A thread's first allocations otherwise take fresh
//! pages from the OS in the middle of the fit, and faulting in a fresh page (a 2 MiB huge
//! page: 85–300 µs here) is a large part of a millisecond fit. With the heap warmed, `detect`
//! (min of 20): hbos on vowels 0.19 → 0.10 ms, knn on cardio 1.70 → 1.54 ms, lof on letter
//! 2.94 → 2.74 ms, iforest on cardio 2.30 → 2.06 ms.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest the workers poll while the data loads: more than the shared datasets' loads
/// take (1–30 ms). Polling through a 72 MB file's whole load made it 12–25 % slower.
const LOAD_POLLING: Duration = Duration::from_millis(50);
/// The longest the workers poll from the fit on.
const FIT_POLLING: Duration = Duration::from_secs(1);
/// What each worker allocates and frees before polling during the load, in blocks of
/// [`WARM_BLOCK`] (8 MiB measured a little better than 2 MiB, and 512 KiB did little).
const WARM_HEAP: usize = 8 << 20;
const WARM_BLOCK: usize = 64 << 10;

/// While alive, every worker of the current pool except the calling one polls for work
/// instead of sleeping. Dropping it lets them sleep again.
pub struct KeepCoresAwake {
    stop: Arc<AtomicBool>,
}

impl KeepCoresAwake {
    /// Starts the polling before the data loads, so that the workers are up (a wake-up takes
    /// milliseconds, see above) by the time the fit starts.
    pub fn while_loading() -> Self {
        Self::start(LOAD_POLLING, true)
    }

    /// Polling from the fit until the returned guard is dropped. Workers still polling from
    /// the load go straight on to the new job; after a long load they are woken again.
    pub fn until_scored(self) -> Self {
        drop(self);
        Self::start(FIT_POLLING, false)
    }

    fn start(longest: Duration, warm: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let caller = rayon::current_thread_index();
        let flag = Arc::clone(&stop);
        let deadline = Instant::now() + longest;
        rayon::spawn_broadcast(move |worker| {
            // The calling thread runs its copy when it next waits inside the pool: it has
            // work of its own then.
            if Some(worker.index()) != caller {
                if warm {
                    warm_heap();
                }
                poll_for_work(&flag, deadline);
            }
        });
        Self { stop }
    }
}

impl Drop for KeepCoresAwake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Faults in [`WARM_HEAP`] of this thread's allocator heap and gives it back to the heap.
fn warm_heap() {
    let blocks: Vec<Vec<u8>> = (0..WARM_HEAP / WARM_BLOCK)
        .map(|_| vec![1u8; WARM_BLOCK])
        .collect();
    std::hint::black_box(&blocks);
}

fn poll_for_work(stop: &AtomicBool, deadline: Instant) {
    let mut polls: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            // Still runnable, so never woken (and queued behind the main thread), but other
            // threads on this core go first.
            std::thread::yield_now();
        }
        // The clock is read now and then: it costs more than a poll.
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(64) && Instant::now() >= deadline {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_workers_take_work_and_stop_when_dropped() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let (caller, thief, stop) = pool.install(|| {
            let caller = rayon::current_thread_index();
            let awake = KeepCoresAwake::start(Duration::from_secs(600), true);
            let stop = Arc::clone(&awake.stop);
            // The caller holds on until another worker has taken the second half: only the
            // polling jobs can, as every other worker sits in one.
            let taken = AtomicBool::new(false);
            let give_up = Instant::now() + Duration::from_secs(60);
            let (_, thief) = rayon::join(
                || {
                    while !taken.load(Ordering::Acquire) && Instant::now() < give_up {
                        std::hint::spin_loop();
                    }
                },
                || {
                    taken.store(true, Ordering::Release);
                    rayon::current_thread_index()
                },
            );
            drop(awake);
            (caller, thief, stop)
        });
        assert_ne!(thief, caller, "no other worker took the work");
        assert!(stop.load(Ordering::Relaxed));
        // Once every polling job has seen the flag and returned, only this test holds it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while Arc::strong_count(&stop) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(Arc::strong_count(&stop), 1, "a worker kept polling");
    }
}
