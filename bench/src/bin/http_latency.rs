//! Latency at a fixed request rate, the same for every proxy: N keep-alive
//! HTTPS/1.1 connections, each sending its share of RATE requests a second
//! on a schedule, whatever the answers do. wrk's p99 is taken at each
//! proxy's own saturation point, where the faster proxy also loads the
//! shared load-generator core harder; this compares tails at equal load.
//!
//! Usage: `http_latency ADDR SNI RATE SECONDS [CONNECTIONS]`; prints
//! `sent=N failed=N rate=R p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..`.
//! Latency runs from the moment a request is handed to the connection to
//! the last byte of its response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

/// One connection's part: (latencies in µs, failures).
async fn connection(
    addr: String,
    sni: String,
    config: Arc<rustls::ClientConfig>,
    first: Instant,
    interval: Duration,
    until: Instant,
) -> (Vec<u32>, u64) {
    let tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(sni.clone()).expect("server name");
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("HTTP handshake");
    tokio::spawn(conn);
    let (mut latencies, mut failed) = (Vec::new(), 0);
    let mut next = first;
    while next < until {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        let req = hyper::Request::builder()
            .uri("/")
            .header("host", &sni)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let started = Instant::now();
        let ok = match send.send_request(req).await {
            Ok(resp) => resp.status().is_success() && resp.into_body().collect().await.is_ok(),
            Err(_) => false,
        };
        if ok {
            latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
        } else {
            failed += 1;
            if send.ready().await.is_err() {
                break;
            }
        }
    }
    (latencies, failed)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, sni, rate, secs, rest @ ..] = args.as_slice() else {
        eprintln!("usage: http_latency ADDR SNI RATE SECONDS [CONNECTIONS]");
        std::process::exit(2);
    };
    let rate: f64 = rate.parse().expect("RATE: requests per second");
    let secs: f64 = secs.parse().expect("SECONDS");
    let connections: usize = rest.first().map_or(50, |c| c.parse().expect("CONNECTIONS"));
    let config = gatehouse_bench::lab_client_config();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut all, failed, elapsed) = rt.block_on(async move {
        // Each connection sends every `connections / rate` seconds, the
        // connections' schedules staggered evenly.
        let interval = Duration::from_secs_f64(connections as f64 / rate);
        let start = Instant::now() + Duration::from_millis(500);
        let until = start + Duration::from_secs_f64(secs);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..connections {
            let first = start + interval.mul_f64(i as f64 / connections as f64);
            tasks.spawn(connection(
                addr.clone(),
                sni.clone(),
                config.clone(),
                first,
                interval,
                until,
            ));
        }
        let (mut all, mut failed) = (Vec::new(), 0);
        while let Some(done) = tasks.join_next().await {
            let (l, f) = done.expect("connection task");
            all.extend(l);
            failed += f;
        }
        (all, failed, start.elapsed())
    });
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
    };
    let show = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
    println!(
        "sent={} failed={} rate={:.0} p50_us={} p90_us={} p99_us={} p999_us={} max_us={}",
        all.len() as u64 + failed,
        failed,
        all.len() as f64 / elapsed.as_secs_f64(),
        show(at(0.50)),
        show(at(0.90)),
        show(at(0.99)),
        show(at(0.999)),
        show(all.last().copied()),
    );
}
