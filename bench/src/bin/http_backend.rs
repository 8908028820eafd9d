//! The HTTP benchmark's backend: answers every request with the same small
//! static page over plain HTTP/1.1 keep-alive, as fast as hyper can, so that
//! the proxies in front of it are what the benchmark measures.
//!
//! Usage: `http_backend [ADDR]` (default 127.0.0.1:9000). Threads: the
//! `BACKEND_THREADS` environment variable (default 1).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// 128 bytes, about the size of a small JSON answer or an OWA keep-alive.
static BODY: &[u8] = b"<!DOCTYPE html><html><head><title>ok</title></head><body><p>gatehouse bench backend</p></body></html>\n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9000".into());
    let threads = std::env::var("BACKEND_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .expect("bind backend address");
        eprintln!("http_backend listening on {addr}");
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY))))
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
            });
        }
    });
}
