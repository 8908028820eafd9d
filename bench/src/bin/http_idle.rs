//! Opens N idle TLS connections to a proxy (each completes the handshake
//! and one HTTP/1.1 keep-alive request), holds them for a given time, and
//! exits. The HTTP benchmark reads each proxy's resident memory meanwhile.
//!
//! Usage: `http_idle ADDR SNI N SECONDS`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, sni, n, secs] = &args[..] else {
        panic!("usage: http_idle ADDR SNI N SECONDS");
    };
    let n: usize = n.parse().unwrap();
    let secs: u64 = secs.parse().unwrap();
    let connector = tokio_rustls::TlsConnector::from(gatehouse_bench::lab_client_config());
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let request = format!("GET / HTTP/1.1\r\nHost: {sni}\r\n\r\n");
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let (connector, addr, sni, request) = (connector.clone(), addr.clone(), sni.clone(), request.clone());
        let (ready, failed) = (ready.clone(), failed.clone());
        held.push(tokio::spawn(async move {
            let result = async {
                let tcp = tokio::net::TcpStream::connect(&addr).await?;
                let name = ServerName::try_from(sni).map_err(std::io::Error::other)?;
                let mut tls = connector.connect(name, tcp).await?;
                tls.write_all(request.as_bytes()).await?;
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await?;
                Ok::<_, std::io::Error>(tls)
            }
            .await;
            match result {
                Ok(tls) => {
                    ready.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    drop(tls);
                }
                Err(_) => {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
        // Pace the handshakes so that no proxy's accept backlog overflows.
        if held.len() % 200 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    loop {
        let (r, f) = (ready.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
        if r + f >= n {
            println!("ready {r} failed {f}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for h in held {
        let _ = h.await;
    }
}
