//! A minimal HTTP/1.1 server for health-check tests: answers every request
//! with a fixed status and body, optionally over TLS with a self-signed
//! certificate, and records each request's line and Host header.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;

#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub request_line: String,
    pub host: String,
}

pub struct HttpBackend {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpBackend {
    /// `status` like "200 OK" or "302 Found"; `tls` serves a self-signed
    /// certificate for `localhost`.
    pub async fn start(addr: SocketAddr, status: &str, body: &str, tls: bool) -> HttpBackend {
        let listener = super::bind_reusable(addr);
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let acceptor = tls.then(acceptor);
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nLocation: /owa/\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((s, _)) = listener.accept().await else { continue };
                    let (seen, response, acceptor) = (seen.clone(), response.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        match acceptor {
                            Some(a) => {
                                if let Ok(tls) = a.accept(s).await {
                                    serve(tls, &seen, &response).await;
                                }
                            }
                            None => serve(s, &seen, &response).await,
                        }
                    });
                }
            })
        };
        HttpBackend { addr, seen, task }
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(s: S, seen: &Mutex<Vec<Seen>>, response: &str) {
    let mut r = BufReader::new(s);
    let mut entry = Seen::default();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if entry.request_line.is_empty() {
            entry.request_line = l.to_string();
        } else if let Some(h) = l.strip_prefix("host: ").or_else(|| l.strip_prefix("Host: ")) {
            entry.host = h.to_string();
        }
    }
    seen.lock().unwrap().push(entry);
    let _ = r.get_mut().write_all(response.as_bytes()).await;
    let _ = r.get_mut().shutdown().await;
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
