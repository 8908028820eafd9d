//! Outlook Anywhere: a 1 GiB `RPC_IN_DATA` upload streams through gatehouse
//! without buffering, and `RPC_OUT_DATA` answers announcing 2 GiB stream.
//!
//! This file holds one test so that its process does nothing else: the peak
//! resident memory of the whole process (client, gatehouse and backend
//! together) bounds gatehouse's own.

mod common;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use common::*;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::Request;

const GIB: u64 = 1 << 30;
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// `len` zero bytes, produced on demand.
struct Zeros {
    left: u64,
}

impl Body for Zeros {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(ZEROS.len() as u64);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&ZEROS[..n as usize])))))
    }
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_in_data_1_gib_streams_through_in_bounded_memory_and_rpc_out_data_announces_2_gib() {
    let received = Arc::new(AtomicU64::new(0));
    let r = received.clone();
    let backend = backend(move |req: Request<Incoming>, _c| {
        let r = r.clone();
        async move {
            let method = req.method().as_str().to_string();
            let length = req
                .headers()
                .get("content-length")
                .map(|v| v.to_str().unwrap().to_string());
            if method == "RPC_OUT_DATA" {
                // Announces 2 GiB; the client reads a little and hangs up.
                let mut r = hyper::Response::new(
                    Zeros { left: 2 * GIB }
                        .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { match e {} })
                        .boxed(),
                );
                r.headers_mut()
                    .insert("content-length", (2 * GIB).to_string().parse().unwrap());
                return r;
            }
            let mut body = req.into_body();
            while let Some(f) = body.frame().await {
                if let Ok(d) = f.unwrap().into_data() {
                    r.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
            }
            text(
                200,
                format!("{method} {} {}", length.unwrap_or_default(), r.load(Ordering::Relaxed)),
            )
        }
    })
    .await;
    let port = free_port();
    let text = format!(
        r#"
[certificates.lab]
names = ["mail.lab.test"]
[pools.rpc]
service = "exchange"
members = ["127.0.0.1:{b}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]
[routes.rpc]
listeners = ["https"]
hosts = ["mail.lab.test"]
paths = ["/rpc"]
pool = "rpc"
timeouts = {{ idle = "2h" }}
"#,
        b = backend.port()
    );
    let (_proxy, _) = start(plan(&text), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mut c = h1(addr, "mail.lab.test").await;
    let req = Request::builder()
        .method("RPC_IN_DATA")
        .uri("/rpc/rpcproxy.dll?cas1.lab.test:6001")
        .header("host", "mail.lab.test")
        .header("content-length", GIB.to_string())
        .body(Zeros { left: GIB }.map_err(|e| match e {}).boxed())
        .unwrap();
    let (status, _, body) = send(&mut c, req).await;
    assert_eq!(status, 200);
    assert_eq!(body, format!("RPC_IN_DATA {GIB} {GIB}"));
    let peak = peak_rss_kib();
    eprintln!("peak resident memory after 1 GiB: {peak} KiB");
    assert!(peak < 64 * 1024, "peak resident memory {peak} KiB is not under 64 MiB");

    let req = Request::builder()
        .method("RPC_OUT_DATA")
        .uri("/rpc/rpcproxy.dll?cas1.lab.test:6001")
        .header("host", "mail.lab.test")
        .header("content-length", "76")
        .body(full(vec![0u8; 76]))
        .unwrap();
    c.ready().await.unwrap();
    let resp = c.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], (2 * GIB).to_string().as_str());
    let mut body = resp.into_body();
    let mut got = 0u64;
    while got < 32 << 20 {
        got += body
            .frame()
            .await
            .unwrap()
            .unwrap()
            .into_data()
            .map_or(0, |d| d.len() as u64);
    }
    drop(body);
    assert!(peak_rss_kib() < 64 * 1024);
}
