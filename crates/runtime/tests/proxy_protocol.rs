//! PROXY protocol headers towards members: the exact bytes a member reads
//! first, and HAProxy (a real PROXY protocol parser) reading them.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A member that reports the first `n` bytes it receives, or up to CRLF.
async fn first_bytes(listener: tokio::net::TcpListener, n: Option<usize>) -> Vec<u8> {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        s.read_exact(&mut byte).await.unwrap();
        got.push(byte[0]);
        if n.is_some_and(|n| got.len() == n) || (n.is_none() && got.ends_with(b"\r\n")) {
            return got;
        }
    }
}

fn vip_with(version: &str) -> (SocketAddr, tokio::net::TcpListener, String) {
    let member = bind_reusable(SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1"))));
    let vip = SocketAddr::new(ip("127.0.0.3"), free_port(ip("127.0.0.3")));
    let text = topology(
        vip,
        &format!("\"{}\"", member.local_addr().unwrap()),
        "",
        &format!("proxy_protocol = \"{version}\""),
    );
    (vip, member, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_header_names_the_client_and_the_vip() {
    let (vip, member, text) = vip_with("v1");
    let rt = start(&text);
    let got = tokio::spawn(first_bytes(member, None));
    let client = connect_from(ip("127.0.0.5"), vip).await.unwrap();
    let port = client.local_addr().unwrap().port();
    let line = String::from_utf8(got.await.unwrap()).unwrap();
    assert_eq!(
        line,
        format!("PROXY TCP4 127.0.0.5 127.0.0.3 {port} {}\r\n", vip.port())
    );
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_header_has_the_spec_layout() {
    let (vip, member, text) = vip_with("v2");
    let rt = start(&text);
    let got = tokio::spawn(first_bytes(member, Some(28)));
    let mut client = connect_from(ip("127.0.0.5"), vip).await.unwrap();
    let port = client.local_addr().unwrap().port();
    client.write_all(b"payload").await.unwrap();
    let mut want = vec![
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
    ];
    want.extend_from_slice(&[127, 0, 0, 5, 127, 0, 0, 3]);
    want.extend_from_slice(&port.to_be_bytes());
    want.extend_from_slice(&vip.port().to_be_bytes());
    assert_eq!(got.await.unwrap(), want);
    rt.shutdown(Duration::from_secs(1)).await;
}

/// Runs HAProxy in HTTP mode behind `accept-proxy`, answering every request
/// with the client and destination addresses it parsed from our header.
struct HaProxy {
    child: tokio::process::Child,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl HaProxy {
    async fn start(addr: SocketAddr) -> HaProxy {
        let dir = std::env::temp_dir().join(format!("gatehouse-pp-{}-{}", std::process::id(), addr.port()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n  maxconn 100\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n\
                 frontend parsed\n  bind {addr} accept-proxy\n  \
                 http-request return status 200 content-type text/plain lf-string \"%[src]:%[src_port] %[dst]:%[dst_port]\"\n"
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run haproxy ({e}); install it with `apt-get install haproxy` (scripts/packages/l4.txt)")
            });
        eventually(Duration::from_secs(10), "haproxy listens", || {
            std::net::TcpStream::connect(addr).is_ok()
        })
        .await;
        HaProxy {
            child,
            _dir: TempDir(dir),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_reads_the_client_address_from_our_v1_and_v2_headers() {
    let backend = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
    let mut haproxy = HaProxy::start(backend).await;
    for version in ["v1", "v2"] {
        let vip = SocketAddr::new(ip("127.0.0.3"), free_port(ip("127.0.0.3")));
        let rt = start(&topology(
            vip,
            &format!("\"{backend}\""),
            "",
            &format!("proxy_protocol = \"{version}\""),
        ));
        let mut client = connect_from(ip("127.0.0.7"), vip).await.unwrap();
        let port = client.local_addr().unwrap().port();
        client.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(5), client.read_to_string(&mut response))
            .await
            .unwrap()
            .unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert_eq!(
            body,
            format!("127.0.0.7:{port} 127.0.0.3:{}", vip.port()),
            "{version}: {response}"
        );
        rt.shutdown(Duration::from_secs(1)).await;
    }
    let _ = haproxy.child.kill().await;
}
