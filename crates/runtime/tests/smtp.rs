//! An SMTP session end to end with the real `swaks` client through an SMTP
//! VIP reachable only from the mail-hygiene zone, to a member without a
//! port (reached on the port the client connected to).

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Default, Debug, Clone)]
struct Received {
    helo: String,
    from: String,
    to: Vec<String>,
    data: String,
}

/// Just enough SMTP (RFC 5321) to take one message per session.
async fn smtp_backend(listener: TcpListener) -> Arc<Mutex<Vec<Received>>> {
    let inbox: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { continue };
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut s = BufReader::new(s);
                let mut msg = Received::default();
                let _ = s.get_mut().write_all(b"220 backend.test ESMTP ready\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    let upper = cmd.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        msg.helo = cmd[5..].to_string();
                        b"250-backend.test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        msg.from = cmd[10..].trim().to_string();
                        b"250 2.1.0 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        msg.to.push(cmd[8..].trim().to_string());
                        b"250 2.1.5 ok\r\n"
                    } else if upper == "DATA" {
                        let _ = s.get_mut().write_all(b"354 go ahead\r\n").await;
                        loop {
                            line.clear();
                            if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            msg.data.push_str(&line);
                        }
                        sink.lock().unwrap().push(msg.clone());
                        b"250 2.0.0 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = s.get_mut().write_all(b"221 2.0.0 bye\r\n").await;
                        return;
                    } else {
                        b"502 5.5.2 not implemented\r\n"
                    };
                    let _ = s.get_mut().write_all(reply).await;
                }
            });
        }
    });
    inbox
}

async fn swaks(server: SocketAddr, from_ip: &str, body: &str) -> std::process::Output {
    let out = tokio::process::Command::new("swaks")
        .args([
            "--server",
            &server.ip().to_string(),
            "--port",
            &server.port().to_string(),
        ])
        .args(["--local-interface", from_ip])
        .args(["--from", "postmaster@fabrikam.example", "--to", "ceo@contoso.com"])
        .args(["--helo", "mail.protection.outlook.example"])
        .args(["--header", "Subject: through the gatehouse"])
        .args(["--body", body, "--timeout", "10"])
        .stdin(Stdio::null())
        .output();
    match tokio::time::timeout(Duration::from_secs(30), out).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => panic!(
            "cannot run swaks ({e}); install it with `apt-get install swaks` (listed in scripts/packages/l4.txt)"
        ),
        Err(_) => panic!("swaks did not finish within 30 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_delivers_a_message_through_the_smtp_vip_from_the_hygiene_zone_only() {
    // The VIP on 127.0.0.3:P; the member 127.0.0.6, port-less, listens on P too.
    let port = free_port(ip("127.0.0.6"));
    let vip = SocketAddr::new(ip("127.0.0.3"), port);
    let inbox = smtp_backend(bind_reusable(SocketAddr::new(ip("127.0.0.6"), port))).await;
    let text = format!(
        r#"
[gatehouse]
name = "smtp test"
[zones.internet]
[zones.eop]
description = "the mail-hygiene service"
prefixes = ["127.0.0.5/32"]
[services.exchange-mail]
product = "exchange"
class = "exchange-mail"
[pools.exchange-smtp]
service = "exchange-mail"
members = ["127.0.0.6"]
health = {{ type = "tcp", port = {port}, interval = "500ms", timeout = "200ms" }}
[listeners.smtp-public]
address = "127.0.0.3"
port = {port}
protocol = "tcp"
zones = ["eop"]
pool = "exchange-smtp"
idle_timeout = "10m"
[[acl]]
name = "smtp-from-eop"
action = "allow"
from = ["eop"]
protocol = "tcp"
ports = [{port}]
"#
    );
    let rt = start(&text);

    let out = swaks(vip, "127.0.0.5", "hello through the VIP").await;
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "swaks failed:\n{transcript}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(transcript.contains("250 2.0.0 queued"), "{transcript}");
    assert!(
        transcript.contains("221 2.0.0 bye"),
        "the session ends cleanly:\n{transcript}"
    );
    let got = inbox.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "<postmaster@fabrikam.example>");
    assert_eq!(got[0].to, vec!["<ceo@contoso.com>".to_string()]);
    assert_eq!(got[0].helo, "mail.protection.outlook.example");
    assert!(got[0].data.contains("Subject: through the gatehouse"));
    assert!(got[0].data.contains("hello through the VIP"));

    // From the internet zone, the gateway refuses the session.
    let out = swaks(vip, "127.0.0.1", "should not arrive").await;
    assert!(!out.status.success(), "a client outside the hygiene zone got through");
    assert_eq!(inbox.lock().unwrap().len(), 1);
    let m = rt.metrics();
    assert_eq!((m.vips[0].connections, m.vips[0].denied), (1, 1));
    rt.shutdown(Duration::from_secs(1)).await;
}
