//! Connection workers: one thread per core, each running a single-threaded
//! Tokio runtime, as HAProxy, nginx and Envoy run one event loop per thread.
//!
//! Every worker runs an accept loop of its own on each listening socket (a
//! duplicate of the same socket): the kernel wakes them all on a new
//! connection and the first free one takes it, so a busy worker takes fewer.
//! From then on everything that connection causes (its HTTP/2 streams, its
//! backend connections, their timers) runs on that one thread: no work
//! stealing, no wake-ups across cores, and each worker reuses its own idle
//! backend connections (see [`crate::upstream::Upstreams`]).
//!
//! Each worker accepts on its own thread, so that a burst of new clients is
//! paced by the loop that serves them rather than handshaken all at once
//! (measured in bench/http/NOTES.md, "Why the code is shaped this way").

use std::cell::Cell;
use std::future::Future;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

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

pub(crate) struct Workers {
    jobs: Vec<mpsc::UnboundedSender<Job>>,
}

impl Workers {
    /// Starts `n` worker threads; with `n == 0`, connections are served on
    /// the caller's runtime instead.
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let mut jobs = Vec::with_capacity(n);
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
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
            jobs.push(tx);
        }
        Ok(Workers { jobs })
    }

    /// How many worker threads there are.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether connections are served on the caller's runtime.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// How many per-worker slots there are (see [`slot`]).
    pub fn slots(&self) -> usize {
        self.jobs.len() + 1
    }

    /// Spawns the task `make` builds on worker `i`'s runtime; `make` runs on
    /// that worker's thread, so that sockets register with its reactor.
    /// `None` when the worker is gone (the proxy is shutting down).
    pub async fn spawn_on<F, Fut>(&self, i: usize, make: F) -> Option<JoinHandle<()>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(tokio::spawn(make()));
        });
        self.jobs.get(i)?.send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_the_worker_they_are_spawned_on() {
        let workers = Workers::start(2).unwrap();
        assert_eq!((workers.len(), workers.slots()), (2, 3));
        for i in 0..2 {
            let (tx, rx) = oneshot::channel();
            let task = workers
                .spawn_on(i, move || async move {
                    let _ = tx.send((slot(), std::thread::current().name().map(String::from)));
                })
                .await
                .expect("the worker is running");
            let (slot, name) = rx.await.unwrap();
            assert_eq!(slot, i + 1);
            assert_eq!(name, Some(format!("gatehouse-http-{i}")));
            task.await.unwrap();
        }
        assert!(workers.spawn_on(2, || async {}).await.is_none(), "no third worker");
        assert_eq!(slot(), 0, "the test's own thread is no worker");
    }

    #[tokio::test]
    async fn a_task_on_a_worker_can_be_aborted_from_elsewhere() {
        let workers = Workers::start(1).unwrap();
        let task = workers
            .spawn_on(0, std::future::pending::<()>)
            .await
            .expect("the worker is running");
        task.abort();
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("an aborted task ends");
        assert!(ended.unwrap_err().is_cancelled());
    }
}
