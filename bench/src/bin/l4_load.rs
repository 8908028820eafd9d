//! The load generator of bench/l4.
//!
//! Usage: l4_load ADDR throughput|connrate CONCURRENCY SECONDS
//! - `throughput`: CONCURRENCY connections each download from a `source`
//!   backend for SECONDS after a 0.5 s warm-up; prints `mib_per_s=...`
//!   and the MiB moved in all (`total_mib`, warm-up included).
//! - `connrate`: CONCURRENCY workers each connect, read a `hello` banner to
//!   EOF and close, in a loop for SECONDS; prints `conn_per_s=...` with
//!   the number of exchanges, the p50/p99 time of one whole exchange and
//!   the error count.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        eprintln!("usage: l4_load ADDR throughput|connrate CONCURRENCY SECONDS");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[0].parse().expect("ADDR is ip:port");
    let concurrency: usize = args[2].parse().expect("CONCURRENCY");
    let seconds: f64 = args[3].parse().expect("SECONDS");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let duration = Duration::from_secs_f64(seconds);
    match args[1].as_str() {
        "throughput" => rt.block_on(throughput(addr, concurrency, duration)),
        "connrate" => rt.block_on(connrate(addr, concurrency, duration)),
        other => panic!("unknown mode {other}"),
    }
}

async fn throughput(addr: SocketAddr, concurrency: usize, duration: Duration) {
    let bytes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (bytes, stop) = (bytes.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_u64(u64::MAX).await.expect("request");
            let mut buf = vec![0u8; 256 * 1024];
            while !stop.load(Ordering::Relaxed) {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => bytes.fetch_add(n as u64, Ordering::Relaxed),
                };
            }
        }));
    }
    // Warm-up, then measure over a window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_bytes = bytes.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    let moved = bytes.load(Ordering::Relaxed) - start_bytes;
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    let total = bytes.load(Ordering::Relaxed);
    println!(
        "mib_per_s={:.0} total_mib={}",
        moved as f64 / secs / (1024.0 * 1024.0),
        total >> 20
    );
}

async fn connrate(addr: SocketAddr, concurrency: usize, duration: Duration) {
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut buf = [0u8; 64];
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = async {
                    let mut s = TcpStream::connect(addr).await?;
                    let mut got = 0;
                    loop {
                        let n = s.read(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        got += n;
                    }
                    Ok::<_, std::io::Error>(got > 0)
                }
                .await;
                match ok {
                    Ok(true) => times.push(t.elapsed()),
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            times
        }));
    }
    let started = Instant::now();
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    times.sort();
    let pct = |p: f64| times.get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)));
    let us = |d: Option<&Duration>| d.map_or(0, |d| d.as_micros());
    println!(
        "conn_per_s={:.0} total_conns={} p50_us={} p99_us={} errors={}",
        times.len() as f64 / secs,
        times.len(),
        us(pct(0.50)),
        us(pct(0.99)),
        errors.load(Ordering::Relaxed)
    );
}
