//! The demo web servers: Exchange CAS virtual directories (with NTLM on
//! /rpc, /mapi and /ews and ActiveSync's long-poll Ping), SharePoint front
//! ends echoing the forwarding headers, Lync web services and Office Web
//! Apps. Each answers plain HTTP and TLS on the same port, as the topology
//! has the proxy speak HTTP to members whose health checks use HTTPS.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::backends::{Kind, Member, Shared};
use super::directory::USERS;
use super::ntlm::{ConnAuth, Step};

/// Exchange's virtual directories, lower case.
const VDIRS: &[&str] = &[
    "owa",
    "ecp",
    "ews",
    "microsoft-server-activesync",
    "oab",
    "autodiscover",
    "powershell",
    "rpc",
    "mapi",
];

/// Forwarding headers a front end echoes back (`x-lab-echo-<name>`).
const ECHOED: &[&str] = &[
    "host",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "forwarded",
    "via",
    "x-real-ip",
];

pub async fn serve(stream: TcpStream, m: Arc<Member>, shared: Arc<Shared>) {
    let mut first = [0u8; 1];
    let tls = matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16);
    let tls_config = shared.tls.clone();
    let conn = Arc::new(Mutex::new(ConnAuth::default()));
    let service = hyper::service::service_fn(move |req| {
        let (m, shared, conn) = (m.clone(), shared.clone(), conn.clone());
        async move { Ok::<_, Infallible>(handle(req, &m, &shared, &conn).await) }
    });
    let http = hyper::server::conn::http1::Builder::new();
    if tls {
        let Ok(s) = tokio_rustls::TlsAcceptor::from(tls_config).accept(stream).await else {
            return;
        };
        let _ = http.serve_connection(TokioIo::new(s), service).await;
    } else {
        let _ = http.serve_connection(TokioIo::new(stream), service).await;
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(m: &Member, status: StatusCode) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("x-lab-member", m.name.as_str())
        .header("content-type", "text/plain; charset=utf-8")
}

fn done(b: hyper::http::response::Builder, body: String) -> Answer {
    b.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"lab: bad response"))))
}

fn random8() -> [u8; 8] {
    let mut b = [0u8; 8];
    let _ = rustls::crypto::ring::default_provider().secure_random.fill(&mut b);
    b
}

async fn handle(req: Request<Incoming>, m: &Member, shared: &Shared, conn: &Mutex<ConnAuth>) -> Answer {
    let (parts, body) = req.into_parts();
    // Bodies are read whole (bounded): no demo page needs a stream.
    let body_len = Limited::new(body, 1 << 20)
        .collect()
        .await
        .map_or(0, |b| b.to_bytes().len());
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let method = parts.method.as_str().to_string();
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let who = format!("{} ({}, lab member {})", m.name, m.kind.label(), m.name);
    match m.kind {
        Kind::Cas => {
            let lower = path.to_ascii_lowercase();
            let mut segs = lower.trim_start_matches('/').splitn(2, '/');
            let vdir = segs.next().unwrap_or("");
            let rest = segs.next().unwrap_or("");
            if !VDIRS.contains(&vdir) {
                return done(
                    answer(m, StatusCode::NOT_FOUND),
                    format!("{who}: no virtual directory /{vdir}\n"),
                );
            }
            if rest == "healthcheck.htm" {
                return done(
                    answer(m, StatusCode::OK),
                    format!("200 OK<br/>{}.contoso.com\n", m.name),
                );
            }
            let mut user = None;
            if matches!(vdir, "rpc" | "mapi" | "ews") {
                let mut state = conn.lock().unwrap_or_else(|e| e.into_inner());
                match (&state.user, header("authorization")) {
                    (Some(u), None) => user = Some(u.clone()),
                    (_, None) => {
                        return done(
                            answer(m, StatusCode::UNAUTHORIZED).header("www-authenticate", "NTLM"),
                            format!("{who}: /{vdir} needs NTLM\n"),
                        )
                    }
                    (_, Some(h)) => match state.step(&h, USERS, random8) {
                        Step::Challenge(c) => {
                            return done(
                                answer(m, StatusCode::UNAUTHORIZED)
                                    .header("www-authenticate", format!("NTLM {c}"))
                                    .header("x-lab-ntlm", "challenge"),
                                String::new(),
                            )
                        }
                        Step::Authenticated(u) => user = Some(u),
                        Step::Refused(why) => {
                            return done(
                                answer(m, StatusCode::UNAUTHORIZED)
                                    .header("www-authenticate", "NTLM")
                                    .header("x-lab-ntlm", why),
                                format!("{who}: NTLM refused: {why}\n"),
                            )
                        }
                    },
                }
            }
            let mut b = answer(m, StatusCode::OK).header("x-lab-vdir", vdir);
            if let Some(u) = &user {
                b = b.header("x-lab-user", u.as_str()).header("x-lab-ntlm", "authenticated");
            }
            let mut note = String::new();
            if vdir == "microsoft-server-activesync" && query.to_ascii_lowercase().contains("cmd=ping") {
                // A long poll: the answer comes when the heartbeat runs out.
                let started = std::time::Instant::now();
                tokio::time::sleep(shared.ping_hold).await;
                let held = started.elapsed().as_millis();
                b = b.header("x-lab-held-ms", held.to_string());
                note = format!("Ping held {held} ms\n");
            }
            let user = user.map_or(String::new(), |u| format!(" as {u}"));
            done(
                b,
                format!("{who}: Exchange /{vdir}{user}: {method} {path} ({body_len} bytes in)\n{note}"),
            )
        }
        Kind::Wfe => {
            let mut b = answer(m, StatusCode::OK);
            let mut echo = String::new();
            for h in ECHOED {
                if let Some(v) = header(h) {
                    echo.push_str(&format!("{h}: {v}\n"));
                    b = b.header(format!("x-lab-echo-{h}"), v);
                }
            }
            let tiers = shared.tiers.get("sharepoint").cloned().unwrap_or_default();
            b = b.header("x-lab-tiers", tiers.as_str());
            done(
                b,
                format!("{who}: SharePoint {method} {path}\nbehind it: {tiers}\nforwarded to me:\n{echo}"),
            )
        }
        Kind::Fe | Kind::Edge => {
            let what = path.trim_start_matches('/').split('/').next().unwrap_or("").to_string();
            done(
                answer(m, StatusCode::OK),
                format!("{who}: Lync web services /{what}: {method} {path}\n"),
            )
        }
        Kind::Wac => {
            if path == "/hosting/discovery" {
                let xml = format!("<?xml version=\"1.0\"?><wopi-discovery><net-zone name=\"internal-https\"><app name=\"Word\"/></net-zone><!-- {} --></wopi-discovery>\n", m.name);
                return done(answer(m, StatusCode::OK), xml);
            }
            done(
                answer(m, StatusCode::OK),
                format!("{who}: Office Web Apps {method} {path}\n"),
            )
        }
    }
}
