//! A backend for bench/l4, the same one behind gatehouse and HAProxy.
//!
//! Usage: l4_backend ADDR MODE
//! - `source`: reads an 8-byte big-endian count, then sends that many
//!   bytes (a download; u64::MAX streams until the client leaves).
//! - `hello`: writes a short banner and closes, like an SMTP greeting
//!   followed by a hang-up: one full connection per exchange.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(addr), Some(mode)) = (args.first(), args.get(1)) else {
        eprintln!("usage: l4_backend ADDR source|hello");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR is ip:port");
    let source = match mode.as_str() {
        "source" => true,
        "hello" => false,
        other => panic!("unknown mode {other}"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await.expect("bind");
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                if source {
                    let Ok(mut left) = s.read_u64().await else { return };
                    let chunk = vec![0x5a_u8; 64 * 1024];
                    while left > 0 {
                        let n = left.min(chunk.len() as u64) as usize;
                        if s.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        left -= n as u64;
                    }
                } else {
                    let _ = s.write_all(b"220 bench ready\r\n").await;
                }
                let _ = s.shutdown().await;
            });
        }
    });
}
