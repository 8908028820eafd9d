//! Connection workers: one thread per core, each running a single-threaded
//! Tokio runtime, as HAProxy, nginx and Envoy run one event loop per thread.
//!
//! The accept loops stay on the caller's runtime and hand every admitted
//! connection to the worker serving the fewest. From then on everything that
//! connection causes (its HTTP/2 streams, its backend connections, their
//! timers) runs on that one thread: no work stealing, no wake-ups across
//! cores, and each worker reuses its own idle backend connections (see
//! [`crate::upstream::Upstreams`]). On one core this alone made HTTP/2
//! proxying about a tenth faster than a multi-threaded runtime with one
//! worker.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// Work for a worker: runs inside its runtime, typically to spawn a task.
type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// 1-based index of the worker this thread is, 0 elsewhere.
    static SLOT: Cell<usize> = const { Cell::new(0) };
}

/// Which per-worker slot the calling thread uses: 1..=n on worker `n`, and 0
/// on any other thread (the caller's runtime, when there are no workers).
pub(crate) fn slot() -> usize {
    SLOT.with(|s| s.get())
}

/// Takes a finished (or dropped) connection off its worker's count.
struct Done(Arc<AtomicUsize>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
    /// Connections this worker is serving.
    load: Arc<AtomicUsize>,
}

pub(crate) struct Workers {
    workers: Vec<Worker>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `n` worker threads; with `n == 0`, connections are served on
    /// the caller's runtime instead.
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
            std::thread::Builder::new()
                .name(format!("gatehouse-http-{i}"))
                .spawn(move || {
                    SLOT.with(|s| s.set(i + 1));
                    // Ends when the proxy drops its senders; the runtime's
                    // remaining tasks are dropped with it.
                    rt.block_on(async move {
                        while let Some(job) = rx.recv().await {
                            job();
                        }
                    });
                })?;
            workers.push(Worker {
                jobs,
                load: Arc::default(),
            });
        }
        Ok(Workers {
            workers,
            next: AtomicUsize::new(0),
        })
    }

    /// Whether connections are served on the caller's runtime.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// How many per-worker slots there are (see [`slot`]).
    pub fn slots(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `task` to completion on the least-loaded worker, or spawns it
    /// on the current runtime when there are no workers. `make` runs on the
    /// worker's thread, so that sockets register with its reactor.
    pub fn run<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if self.workers.is_empty() {
            tokio::spawn(make());
            return;
        }
        // Least connections, starting the scan where the last one left off
        // so that ties rotate.
        let n = self.workers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let chosen = (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| self.workers[i].load.load(Ordering::Relaxed))
            .unwrap_or(start);
        let worker = &self.workers[chosen];
        let load = worker.load.clone();
        load.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move || {
            // Boxed before the wrapper awaits it: an async block that awaits
            // a future it captured keeps room for it twice, and a
            // connection's future is kilobytes; that doubled the memory of
            // every idle connection.
            let task = Box::pin(make());
            let done = Done(load);
            tokio::spawn(async move {
                let _done = done;
                task.await;
            });
        });
        if let Err(refused) = worker.jobs.send(job) {
            // The worker is gone (shutting down): the job, and with it the
            // connection, is dropped, which closes it.
            drop(refused);
            worker.load.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Connections each worker is serving.
    #[cfg(test)]
    pub fn loads(&self) -> Vec<usize> {
        self.workers.iter().map(|w| w.load.load(Ordering::Relaxed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test]
    async fn jobs_run_on_worker_threads_and_spread_by_load() {
        let workers = Workers::start(2).unwrap();
        assert_eq!(workers.slots(), 3);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        for _ in 0..4 {
            let seen = seen.clone();
            let mut release = release_rx.clone();
            workers.run(move || async move {
                seen.lock()
                    .unwrap()
                    .push((slot(), std::thread::current().name().map(String::from)));
                let _ = release.wait_for(|r| *r).await;
            });
        }
        for _ in 0..100 {
            if seen.lock().unwrap().len() == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 4, "every job ran");
        // Four long connections over two workers: two each.
        assert_eq!(workers.loads(), vec![2, 2]);
        for (slot, name) in &seen {
            assert!(*slot == 1 || *slot == 2, "ran in slot {slot}");
            assert_eq!(name.as_deref(), Some(format!("gatehouse-http-{}", slot - 1).as_str()));
        }
        release_tx.send(true).unwrap();
        for _ in 0..100 {
            if workers.loads() == vec![0, 0] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(workers.loads(), vec![0, 0], "finished connections leave the count");
        assert_eq!(slot(), 0, "the test's own thread is no worker");
    }

    #[tokio::test]
    async fn without_workers_jobs_run_on_the_callers_runtime() {
        let workers = Workers::start(0).unwrap();
        assert_eq!(workers.slots(), 1);
        let (tx, rx) = tokio::sync::oneshot::channel();
        workers.run(move || async move {
            let _ = tx.send(slot());
        });
        assert_eq!(rx.await.unwrap(), 0);
    }
}
