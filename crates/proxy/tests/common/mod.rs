//! Shared test fixtures: lab topologies on loopback, backends written for
//! the tests, TLS clients, and wrappers around real tools (curl, openssl).
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::pin::Pin;
use std::process::Output;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use gatehouse_model::Plan;
use gatehouse_proxy::{AccessLog, AccessRecord, HttpProxy, ProxyError, ProxyOptions};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::client::TlsStream;

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Zones, services and an ACL that let loopback clients in; tests append
/// pools, listeners and routes.
pub const LAB: &str = r#"
[gatehouse]
name = "lab"
default_zone = "outside"

[zones.outside]
description = "everything not on loopback"

[zones.lab]
prefixes = ["127.0.0.0/8"]

[services.web]
product = "generic"
class = "sharepoint"

[services.exchange]
product = "exchange"
class = "exchange-client"

[[acl]]
name = "lab-web"
action = "allow"
from = ["lab"]
protocol = "tcp"
"#;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Compiles a lab topology (LAB + `rest`), failing with the diagnostics.
/// One https listener on 127.0.0.1:`port` with a generated certificate for
/// www.lab.test, routing everything to pool "web" over `members` (ports on
/// 127.0.0.1). Text appended to it continues the route's table.
pub fn www_site(port: u16, members: &[u16]) -> String {
    let members: Vec<String> = members.iter().map(|m| format!("\"127.0.0.1:{m}\"")).collect();
    format!(
        "[certificates.lab]\nnames = [\"www.lab.test\"]\n[pools.web]\nservice = \"web\"\nmembers = [{}]\n\
         [listeners.https]\naddress = \"127.0.0.1\"\nport = {port}\nprotocol = \"https\"\nzones = [\"lab\"]\n\
         certificates = [\"lab\"]\n[routes.www]\nlisteners = [\"https\"]\nhosts = [\"www.lab.test\"]\npool = \"web\"\n",
        members.join(", ")
    )
}

pub fn plan(rest: &str) -> Arc<Plan> {
    let text = format!("{LAB}\n{rest}");
    let checked = gatehouse_model::check(&text);
    match checked.plan {
        Some(p) => Arc::new(p),
        None => panic!("test topology is invalid:\n{:#?}\n{text}", checked.diagnostics),
    }
}

/// Access records, kept for assertions.
#[derive(Default)]
pub struct Capture(pub Mutex<Vec<AccessRecord>>);

impl AccessLog for Capture {
    fn log(&self, r: &AccessRecord) {
        self.0.lock().unwrap().push(r.clone());
    }
}

impl Capture {
    pub fn records(&self) -> Vec<AccessRecord> {
        self.0.lock().unwrap().clone()
    }
}

/// Options with a capturing access log, as `configure` adjusts them.
fn options(configure: impl FnOnce(&mut ProxyOptions)) -> (ProxyOptions, Arc<Capture>) {
    let log = Arc::new(Capture::default());
    let mut options = ProxyOptions::new(std::env::temp_dir());
    options.access_log = log.clone();
    configure(&mut options);
    (options, log)
}

/// Starts the proxy with a capturing access log.
pub async fn start(plan: Arc<Plan>, configure: impl FnOnce(&mut ProxyOptions)) -> (HttpProxy, Arc<Capture>) {
    let (options, log) = options(configure);
    let proxy = HttpProxy::start_with(plan, options).await.expect("proxy starts");
    (proxy, log)
}

/// Starts the proxy again on the port a proxy of this test just released.
/// Under load that start failed now and then with "address in use" (6 of
/// 20 runs beside a busy loop on each core): until it binds, the kernel
/// may give the port to a connection of a test running beside this one.
/// A port in use is tried again for up to five seconds.
pub async fn restart(plan: Arc<Plan>, configure: impl Fn(&mut ProxyOptions)) -> (HttpProxy, Arc<Capture>) {
    for _ in 0..100 {
        let (options, log) = options(&configure);
        match HttpProxy::start_with(plan.clone(), options).await {
            Ok(proxy) => return (proxy, log),
            Err(ProxyError::Bind { source, .. }) if source.kind() == std::io::ErrorKind::AddrInUse => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(e) => panic!("proxy starts: {e:?}"),
        }
    }
    panic!("the port stayed in use for five seconds");
}

// ---------------------------------------------------------------------------
// Backends

/// Per-connection facts a backend handler sees.
pub struct BackendConn {
    pub id: u64,
    /// Free-form per-connection state (the NTLM backend keeps its handshake here).
    pub state: Mutex<Vec<String>>,
}

/// A test backend on 127.0.0.1; dropping or killing it closes every connection.
pub struct Backend {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    pub connections: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Backend {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops accepting and closes every open connection (a member dying).
    pub fn kill(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn full(s: impl Into<Bytes>) -> TestBody {
    Full::new(s.into()).map_err(|e: Infallible| match e {}).boxed()
}

pub fn text(status: u16, s: impl Into<Bytes>) -> Response<TestBody> {
    let mut r = Response::new(full(s));
    *r.status_mut() = status.try_into().unwrap();
    r
}

/// A body fed from a channel, for streaming responses.
pub struct ChannelBody(pub mpsc::Receiver<Frame<Bytes>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|f| f.map(Ok))
    }
}

/// Starts a plain-HTTP/1.1 backend on 127.0.0.1 (with upgrades).
pub async fn backend<F, Fut>(handler: F) -> Backend
where
    F: Fn(Request<Incoming>, Arc<BackendConn>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    backend_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), None, handler).await
}

/// Starts a backend on a given socket, optionally with TLS.
pub async fn backend_on<F, Fut>(socket: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, handler: F) -> Backend
where
    F: Fn(Request<Incoming>, Arc<BackendConn>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    let addr = socket.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicU64::new(0));
    let (req_count, conn_count) = (requests.clone(), connections.clone());
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let Ok((tcp, _)) = socket.accept().await else { continue };
            let id = conn_count.fetch_add(1, Ordering::SeqCst) + 1;
            let conn = Arc::new(BackendConn {
                id,
                state: Mutex::new(Vec::new()),
            });
            let handler = handler.clone();
            let req_count = req_count.clone();
            let tls = tls.clone();
            conns.spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    req_count.fetch_add(1, Ordering::SeqCst);
                    let fut = handler(req, conn.clone());
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let builder = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(tcp).await {
                            let _ = builder.serve_connection(TokioIo::new(s), svc).with_upgrades().await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), svc).with_upgrades().await;
                    }
                }
            });
        }
    });
    Backend {
        addr,
        requests,
        connections,
        task: Some(task),
    }
}

/// A backend answering every request with a description of what it got:
/// `name`, method, path, then `header: value` lines, then `body-bytes: N`.
pub async fn echo(name: &'static str) -> Backend {
    backend(move |req: Request<Incoming>, conn: Arc<BackendConn>| async move {
        let mut out = format!("member={name}\nconn={}\n{} {}\n", conn.id, req.method(), req.uri());
        for (k, v) in req.headers() {
            out.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("?")));
        }
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        out.push_str(&format!("body-bytes: {}\n", body.len()));
        text(200, out)
    })
    .await
}

// ---------------------------------------------------------------------------
// Clients

/// Accepts any server certificate (the tests check certificates themselves).
#[derive(Debug)]
pub struct AnyCert;

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection to gatehouse. `sni: None` sends no SNI.
pub async fn tls_connect(addr: SocketAddr, sni: Option<&str>, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect to gatehouse");
    tls_over(tcp, sni, alpn).await.expect("TLS handshake with gatehouse")
}

/// A TLS handshake with gatehouse on a connected socket, trusting any
/// certificate. `sni: None` sends no SNI.
pub async fn tls_over(tcp: TcpStream, sni: Option<&str>, alpn: &[&[u8]]) -> std::io::Result<TlsStream<TcpStream>> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    config.enable_sni = sni.is_some();
    let name = ServerName::try_from(sni.unwrap_or("gatehouse.invalid").to_string()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// Writes `bytes` on a fresh HTTP/1.1 TLS connection (SNI www.lab.test)
/// and reads until gatehouse closes it, for at most 5 s.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tls_connect(addr, Some("www.lab.test"), &[b"http/1.1"]).await;
    // gatehouse may answer and close before it has read everything.
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

pub type H1 = hyper::client::conn::http1::SendRequest<TestBody>;

/// An HTTP/1.1 client connection over TLS.
pub async fn h1(addr: SocketAddr, sni: &str) -> H1 {
    let tls = tls_connect(addr, Some(sni), &[b"http/1.1"]).await;
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn.with_upgrades());
    send
}

/// An HTTP/1.1 client connection over plain TCP.
pub async fn h1_plain(addr: SocketAddr) -> H1 {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    send
}

/// An HTTP/2 client connection over TLS.
pub async fn h2(addr: SocketAddr, sni: &str) -> hyper::client::conn::http2::SendRequest<TestBody> {
    let tls = tls_connect(addr, Some(sni), &[b"h2"]).await;
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(&b"h2"[..]),
        "gatehouse negotiates h2"
    );
    let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

pub fn get(host: &str, path: &str) -> Request<TestBody> {
    Request::builder()
        .uri(path)
        .header("host", host)
        .body(full(""))
        .unwrap()
}

pub async fn send(c: &mut H1, req: Request<TestBody>) -> (u16, http::HeaderMap, String) {
    c.ready().await.unwrap();
    let resp = c.send_request(req).await.expect("response from gatehouse");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

// ---------------------------------------------------------------------------
// Real tools

/// Runs a tool that the tests require; fails clearly when it is missing.
pub async fn tool(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(name);
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("this test needs `{name}` ({e}); install it with `apt-get install {name}` (listed in scripts/packages/http.txt)")
    });
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).await.unwrap();
    }
    drop(input);
    tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("tool finished within 60 s")
        .unwrap()
}

/// curl against gatehouse: `host` resolves to `addr`, certificates are not
/// verified (the lab's are self-signed; certificate tests use openssl).
pub async fn curl(addr: SocketAddr, host: &str, extra: &[&str]) -> Output {
    let resolve = format!("{host}:{}:{}", addr.port(), addr.ip());
    let mut args = vec!["-sS", "-k", "--max-time", "30", "--resolve", &resolve];
    args.extend_from_slice(extra);
    tool("curl", &args, None).await
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
