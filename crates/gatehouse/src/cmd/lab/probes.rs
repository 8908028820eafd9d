//! The drive's clients: the real ones (curl, `curl --ntlm`, dig, swaks) run
//! as processes bound to a zone's source address; in-process ones where no
//! common client exists (SIP OPTIONS over TLS, XMPP, POP3/IMAP banners,
//! UDP 3478, an NTLM AUTHENTICATE sent on the wrong connection).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::process::Command;

use super::translate::Translation;

/// Fails with the Debian package to install when a client is missing.
pub fn require_tools() -> Result<(), String> {
    for (tool, package) in [("curl", "curl"), ("dig", "dnsutils"), ("swaks", "swaks")] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Err(format!(
                "the drive needs `{tool}`: install the Debian package {package} (apt-get install {package}); scripts/packages/lab.txt lists it"
            ));
        }
    }
    Ok(())
}

/// Every lab listener's socket is free, or the error names the port.
pub fn preflight_ports(t: &Translation) -> Result<(), String> {
    for l in &t.listeners {
        for port in l.ports.0..=l.ports.1 {
            let addr = SocketAddr::from((l.address, port));
            let r = if l.protocol == "udp" {
                std::net::UdpSocket::bind(addr).map(drop)
            } else {
                std::net::TcpListener::bind(addr).map(drop)
            };
            if let Err(e) = r {
                return Err(in_use(addr, &format!("listener {}", l.name), e));
            }
        }
    }
    for &addr in &t.dns_listen {
        let r = std::net::UdpSocket::bind(addr)
            .map(drop)
            .and_then(|_| std::net::TcpListener::bind(addr).map(drop));
        if let Err(e) = r {
            return Err(in_use(addr, "the DNS server", e));
        }
    }
    Ok(())
}

fn in_use(addr: SocketAddr, who: &str, e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "port {addr} ({who}) is already in use by another program; nothing was started. \
             Free it, or start the lab with another --port-offset"
        )
    } else {
        format!("cannot bind {addr} ({who}): {e}; nothing was started")
    }
}

/// What a client saw.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Got an application answer at all (HTTP status, banner, reply).
    pub answered: bool,
    /// HTTP status, or the protocol's reply code.
    pub status: Option<u16>,
    /// The member that answered, from `x-lab-member` or the banner.
    pub member: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// Why nothing came back (curl's exit code, an I/O error).
    pub error: Option<String>,
    pub elapsed: Duration,
}

/// The member named in a banner or body: `lab member NAME` / `lab-member NAME`.
pub fn member_in(text: &str) -> Option<String> {
    for key in ["lab member ", "lab-member ", "x-lab-member: "] {
        if let Some(i) = text.find(key) {
            let rest = &text[i + key.len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    None
}

/// One HTTP(S) request with curl from `src`, resolving `host` to `addr`.
pub async fn curl(
    src: Ipv4Addr,
    ca: &str,
    url_host: &str,
    addr: Ipv4Addr,
    port: u16,
    url: &str,
    extra: &[&str],
) -> Seen {
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "-D", "-", "--max-time", "15", "--interface"])
        .arg(src.to_string())
        .arg("--cacert")
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{url_host}:{port}:{addr}"))
        .args(extra)
        .arg(url)
        .kill_on_drop(true)
        .output()
        .await;
    let elapsed = started.elapsed();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            return Seen {
                error: Some(format!("cannot run curl: {e}")),
                elapsed,
                ..Seen::default()
            }
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut seen = Seen {
        elapsed,
        ..Seen::default()
    };
    // With --ntlm there are two responses; the last head is the answer.
    let mut rest = text.as_str();
    while let Some(i) = rest.find("HTTP/") {
        let block = &rest[i..];
        let Some(end) = block.find("\r\n\r\n") else { break };
        let head = &block[..end];
        let mut lines = head.lines();
        seen.status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok());
        seen.headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        rest = &block[end + 4..];
        seen.body = rest.to_string();
        if !rest.starts_with("HTTP/") {
            break;
        }
    }
    seen.answered = seen.status.is_some();
    seen.member = seen.headers.get("x-lab-member").cloned();
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        seen.error = Some(format!("curl exit {}: {why}", out.status.code().unwrap_or(-1)));
    }
    seen
}

/// A DNS answer as dig printed it.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub status: String,
    /// The A records.
    pub addresses: Vec<Ipv4Addr>,
    pub error: Option<String>,
}

pub async fn dig(server: SocketAddr, src: Ipv4Addr, name: &str) -> Answer {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "-b",
            &src.to_string(),
            "+tries=1",
            "+time=3",
            "+noall",
            "+comments",
            "+answer",
            name,
            "A",
        ])
        .kill_on_drop(true)
        .output()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            return Answer {
                error: Some(format!("cannot run dig: {e}")),
                ..Answer::default()
            }
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or("no answer")
        .to_string();
    let addresses = text
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 5 && f[3] == "A").then(|| f[4].parse().ok()).flatten()
        })
        .collect();
    Answer {
        status,
        addresses,
        error: (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).trim().to_string()),
    }
}

/// An SMTP delivery with swaks; STARTTLS when Net::SSLeay is there.
pub async fn swaks(src: Ipv4Addr, addr: Ipv4Addr, port: u16, tls: bool) -> Seen {
    let started = Instant::now();
    let mut cmd = Command::new("swaks");
    cmd.args([
        "--server",
        &addr.to_string(),
        "--port",
        &port.to_string(),
        "--local-interface",
        &src.to_string(),
    ])
    .args([
        "--from",
        "sender@fabrikam.example",
        "--to",
        "alice@contoso.com",
        "--ehlo",
        "eop.lab.example",
    ])
    .args(["--timeout", "10"])
    .kill_on_drop(true);
    if tls {
        cmd.arg("--tls");
    }
    let out = cmd.output().await;
    let elapsed = started.elapsed();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            return Seen {
                error: Some(format!("cannot run swaks: {e}")),
                elapsed,
                ..Seen::default()
            }
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let banner = text.lines().find(|l| l.contains("<- 220") || l.contains("<-  220"));
    let queued = text.lines().any(|l| l.contains("queued as"));
    Seen {
        answered: banner.is_some(),
        status: queued.then_some(250),
        member: banner.and_then(member_in),
        body: text.clone(),
        error: (!out.status.success()).then(|| {
            let last = text.lines().rev().find(|l| l.contains("***")).unwrap_or("").to_string();
            format!("swaks exit {}: {last}", out.status.code().unwrap_or(-1))
        }),
        elapsed,
        ..Seen::default()
    }
}

async fn connect(src: Ipv4Addr, addr: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::from((src, 0)))?;
    tokio::time::timeout(Duration::from_secs(5), s.connect(SocketAddr::from((addr, port))))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// Reads until `done` says the reply is whole, or 3 s pass, or EOF.
async fn read_reply<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    done: impl Fn(&str) -> bool,
) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut chunk = [0u8; 2048];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) if buf.is_empty() => return Err(e),
            Ok(Err(_)) => break,
        }
        if done(&String::from_utf8_lossy(&buf)) {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&buf).to_string())
}

fn seen_text(text: std::io::Result<String>, started: Instant, status_of: impl Fn(&str) -> Option<u16>) -> Seen {
    match text {
        Ok(t) if !t.is_empty() => Seen {
            answered: true,
            status: status_of(&t),
            member: member_in(&t),
            body: t,
            elapsed: started.elapsed(),
            ..Seen::default()
        },
        Ok(_) => Seen {
            error: Some("closed with no answer".into()),
            elapsed: started.elapsed(),
            ..Seen::default()
        },
        Err(e) => Seen {
            error: Some(e.to_string()),
            elapsed: started.elapsed(),
            ..Seen::default()
        },
    }
}

/// A line-protocol exchange, optionally over TLS (SNI `sni`): sends
/// `send` (may be empty: read the banner) and reads the reply.
pub async fn exchange(
    src: Ipv4Addr,
    addr: Ipv4Addr,
    port: u16,
    tls: Option<(&Arc<rustls::ClientConfig>, &str)>,
    send: &str,
) -> Seen {
    let started = Instant::now();
    let stream = match connect(src, addr, port).await {
        Ok(s) => s,
        Err(e) => {
            return Seen {
                error: Some(e.to_string()),
                elapsed: started.elapsed(),
                ..Seen::default()
            }
        }
    };
    let done = |t: &str| {
        t.contains("\r\n\r\n") || (t.ends_with("\r\n") && !t.starts_with("SIP")) || t.contains("</stream:features>")
    };
    let status_of = |t: &str| {
        t.strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
    };
    let text = match tls {
        Some((config, sni)) => {
            let Ok(name) = rustls_pki_types::ServerName::try_from(sni.to_string()) else {
                return Seen {
                    error: Some(format!("bad server name {sni}")),
                    ..Seen::default()
                };
            };
            match tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, stream)
                .await
            {
                Ok(mut s) => {
                    if !send.is_empty() && s.write_all(send.as_bytes()).await.is_err() {
                        return Seen {
                            error: Some("write failed".into()),
                            ..Seen::default()
                        };
                    }
                    read_reply(&mut s, done).await
                }
                Err(e) => Err(e),
            }
        }
        None => {
            let mut s = stream;
            if !send.is_empty() && s.write_all(send.as_bytes()).await.is_err() {
                return Seen {
                    error: Some("write failed".into()),
                    ..Seen::default()
                };
            }
            read_reply(&mut s, done).await
        }
    };
    seen_text(text, started, status_of)
}

pub fn sip_options(host: &str) -> String {
    format!(
        "OPTIONS sip:{host} SIP/2.0\r\nVia: SIP/2.0/TLS lab-drive;branch=z9hG4bKlab\r\nFrom: <sip:drive@lab.example>;tag=1\r\n\
         To: <sip:{host}>\r\nCall-ID: lab-drive-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

pub fn xmpp_open(host: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream to='{host}' xmlns='jabber:server' \
         xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    )
}

/// UDP: `count` datagrams from each of two sockets on `src`; the members
/// that answered each, in order (`None` for a datagram with no answer).
pub async fn udp(src: Ipv4Addr, addr: Ipv4Addr, port: u16, count: usize) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    for _ in 0..2 {
        let mut answers = Vec::new();
        let Ok(s) = UdpSocket::bind(SocketAddr::from((src, 0))).await else {
            out.push(vec![None]);
            continue;
        };
        for i in 0..count {
            let _ = s
                .send_to(format!("lab datagram {i}").as_bytes(), SocketAddr::from((addr, port)))
                .await;
            let mut buf = [0u8; 512];
            let got = tokio::time::timeout(Duration::from_millis(700), s.recv_from(&mut buf)).await;
            answers.push(match got {
                Ok(Ok((n, _))) => member_in(&String::from_utf8_lossy(&buf[..n])),
                _ => None,
            });
        }
        out.push(answers);
    }
    out
}

/// Sends NTLM NEGOTIATE on one TLS connection and the AUTHENTICATE that
/// answers its CHALLENGE on a second one; returns what the second got.
pub async fn ntlm_on_two_connections(
    config: &Arc<rustls::ClientConfig>,
    src: Ipv4Addr,
    addr: Ipv4Addr,
    port: u16,
    host: &str,
    path: &str,
    user: (&str, &str),
) -> Result<Seen, String> {
    let request = |auth: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: NTLM {auth}\r\nContent-Length: 0\r\n\r\n")
    };
    let open = || async {
        let stream = connect(src, addr, port).await.map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, stream)
            .await
            .map_err(|e| e.to_string())
    };
    let head_done = |t: &str| t.contains("\r\n\r\n");
    let mut first = open().await?;
    first
        .write_all(request(&super::ntlm::negotiate()).as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let reply = read_reply(&mut first, head_done).await.map_err(|e| e.to_string())?;
    let challenge = reply
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("www-authenticate")
                .then(|| v.trim().strip_prefix("NTLM ").map(str::to_string))?
        })
        .ok_or_else(|| {
            format!(
                "no NTLM challenge on the first connection: {}",
                reply.lines().next().unwrap_or("")
            )
        })?;
    let auth = super::ntlm::authenticate(&challenge, user.0, "", user.1).ok_or("unreadable challenge")?;
    let started = Instant::now();
    let mut second = open().await?;
    second
        .write_all(request(&auth).as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let reply = read_reply(&mut second, head_done).await.map_err(|e| e.to_string())?;
    drop(first);
    let mut seen = seen_text(Ok(reply.clone()), started, |t| {
        t.split_whitespace().nth(1).and_then(|s| s.parse().ok())
    });
    seen.headers = reply
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    seen.member = seen.headers.get("x-lab-member").cloned();
    Ok(seen)
}
