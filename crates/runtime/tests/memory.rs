//! Large transfers stream: 1 GiB through a TCP VIP keeps gatehouse's
//! resident memory under 64 MiB.
//!
//! To measure the proxy and nothing else, the runtime runs in a child
//! process: this test binary re-executed with `GATEHOUSE_MEMORY_CHILD` set
//! to the topology. The parent plays client and member and reads the
//! child's peak resident set (VmHWM) from /proc. This file has its own
//! `main` (harness = false) because it plays both roles.

mod common;

use std::io::{BufRead, BufReader as StdBufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHILD: &str = "GATEHOUSE_MEMORY_CHILD";
const NAME: &str = "large_transfer_through_a_tcp_vip_keeps_resident_memory_under_64_mib";
const TOTAL: u64 = 1 << 30;
const LIMIT_KIB: u64 = 64 * 1024;

fn main() {
    if let Ok(text) = std::env::var(CHILD) {
        return child(&text);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out\n");
        return;
    }
    println!("\nrunning 1 test");
    let started = Instant::now();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(large_transfer());
    println!("test {NAME} ... ok");
    println!(
        "\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
}

/// The child: run the VIP until the parent closes our stdin.
fn child(text: &str) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let rt = gatehouse_runtime::Runtime::start(plan(text)).expect("child runtime starts");
            println!("ready");
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while stdin.read(&mut buf).await.unwrap_or(0) > 0 {}
            rt.shutdown(Duration::from_secs(1)).await;
        });
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("child status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

async fn large_transfer() {
    // The member: counts what it receives, answers with the count.
    let sink = bind_reusable(SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1"))));
    let member = sink.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = sink.accept().await.unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        s.write_all(&total.to_be_bytes()).await.unwrap();
    });
    let vip = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
    let text = topology(vip, &format!("\"{member}\""), "", "");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &text)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child VIP");
    let pid = child.id();
    let mut ready = String::new();
    StdBufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n", "the child VIP did not start");
    let before = status_kib(pid, "VmRSS:");

    let started = Instant::now();
    let mut client = tokio::net::TcpStream::connect(vip).await.unwrap();
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let mut sent = 0u64;
    while sent < TOTAL {
        client.write_all(&chunk).await.unwrap();
        sent += chunk.len() as u64;
    }
    client.shutdown().await.unwrap();
    let mut count = [0u8; 8];
    tokio::time::timeout(Duration::from_secs(120), client.read_exact(&mut count))
        .await
        .expect("the member's count arrives")
        .unwrap();
    let took = started.elapsed();
    assert_eq!(u64::from_be_bytes(count), TOTAL, "every byte reached the member");

    let peak = status_kib(pid, "VmHWM:");
    drop(child.stdin.take());
    let _ = child.wait();
    println!(
        "1 GiB in {:.2}s ({:.0} MiB/s); child resident memory: {} KiB before, {} KiB peak",
        took.as_secs_f64(),
        1024.0 / took.as_secs_f64(),
        before,
        peak
    );
    assert!(
        peak < LIMIT_KIB,
        "the VIP's peak resident memory was {peak} KiB, over {LIMIT_KIB} KiB"
    );
}
