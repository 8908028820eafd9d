//! The demo backends' non-web protocols, each as small as a client needs to
//! see who answered: SMTP (banner, EHLO with STARTTLS, a whole message),
//! POP3 and IMAP banners and QUIT/LOGOUT, SIP OPTIONS, an XMPP stream
//! header, a media banner, and a UDP responder naming the member.

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};

/// Runs `session` over TLS accepted on `stream`.
pub async fn over_tls<F, Fut>(stream: TcpStream, tls: Arc<rustls::ServerConfig>, session: F)
where
    F: FnOnce(tokio_rustls::server::TlsStream<TcpStream>) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Ok(s) = tokio_rustls::TlsAcceptor::from(tls).accept(stream).await {
        session(s).await;
    }
}

/// What one SMTP session ended with.
enum SmtpEnd<S> {
    Closed,
    StartTls(S),
}

/// SMTP as Exchange's front end answers it: banner, EHLO advertising
/// STARTTLS (until TLS is on), MAIL/RCPT/DATA, QUIT.
pub async fn smtp(stream: TcpStream, name: &str, tls: Arc<rustls::ServerConfig>) {
    if let SmtpEnd::StartTls(stream) = smtp_session(stream, name, false, true).await {
        if let Ok(s) = tokio_rustls::TlsAcceptor::from(tls).accept(stream).await {
            smtp_session(s, name, true, false).await;
        }
    }
}

async fn smtp_session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    name: &str,
    secure: bool,
    banner: bool,
) -> SmtpEnd<S> {
    let mut s = BufReader::new(stream);
    if banner
        && s.get_mut()
            .write_all(
                format!("220 {name}.contoso.com Microsoft ESMTP MAIL Service ready (lab member {name})\r\n").as_bytes(),
            )
            .await
            .is_err()
    {
        return SmtpEnd::Closed;
    }
    let mut line = String::new();
    let mut in_data = false;
    let mut queued = 0u32;
    loop {
        line.clear();
        match s.read_line(&mut line).await {
            Ok(0) | Err(_) => return SmtpEnd::Closed,
            Ok(_) => {}
        }
        if in_data {
            if line == ".\r\n" || line == ".\n" {
                in_data = false;
                queued += 1;
                let reply = format!("250 2.6.0 queued as {name}-{queued}\r\n");
                if s.get_mut().write_all(reply.as_bytes()).await.is_err() {
                    return SmtpEnd::Closed;
                }
            }
            continue;
        }
        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" | "HELO" if secure => {
                format!("250-{name}.contoso.com Hello\r\n250-SIZE 36700160\r\n250 8BITMIME\r\n")
            }
            "EHLO" | "HELO" => {
                format!("250-{name}.contoso.com Hello\r\n250-SIZE 36700160\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
            }
            "STARTTLS" if !secure => {
                if s.get_mut().write_all(b"220 2.0.0 SMTP server ready\r\n").await.is_err() {
                    return SmtpEnd::Closed;
                }
                return SmtpEnd::StartTls(s.into_inner());
            }
            "MAIL" | "RCPT" | "RSET" | "NOOP" => "250 2.1.0 OK\r\n".to_string(),
            "DATA" => {
                in_data = true;
                "354 Start mail input; end with <CRLF>.<CRLF>\r\n".to_string()
            }
            "QUIT" => {
                let _ = s
                    .get_mut()
                    .write_all(format!("221 2.0.0 {name} closing connection\r\n").as_bytes())
                    .await;
                return SmtpEnd::Closed;
            }
            _ => "500 5.3.3 Unrecognized command\r\n".to_string(),
        };
        if s.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return SmtpEnd::Closed;
        }
    }
}

/// A line protocol: a banner, then one reply per line until `quit` says stop.
async fn lines<S, F>(stream: S, banner: String, mut reply: F)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(&str) -> (String, bool),
{
    let mut s = BufReader::new(stream);
    if s.get_mut().write_all(banner.as_bytes()).await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match s.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (text, last) = reply(line.trim_end());
        if s.get_mut().write_all(text.as_bytes()).await.is_err() || last {
            return;
        }
    }
}

pub async fn pop3<S: AsyncRead + AsyncWrite + Unpin>(stream: S, name: &str) {
    lines(
        stream,
        format!("+OK The Microsoft Exchange POP3 service is ready (lab member {name})\r\n"),
        |l| match l.split_whitespace().next().unwrap_or("").to_ascii_uppercase().as_str() {
            "QUIT" => (format!("+OK {name} signing off\r\n"), true),
            "CAPA" => ("+OK\r\nUSER\r\nUIDL\r\n.\r\n".to_string(), false),
            _ => ("-ERR the lab's POP3 service only greets\r\n".to_string(), false),
        },
    )
    .await
}

pub async fn imap<S: AsyncRead + AsyncWrite + Unpin>(stream: S, name: &str) {
    lines(
        stream,
        format!("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] The Microsoft Exchange IMAP4 service is ready (lab member {name})\r\n"),
        |l| {
            let mut words = l.split_whitespace();
            let tag = words.next().unwrap_or("*").to_string();
            match words.next().unwrap_or("").to_ascii_uppercase().as_str() {
                "LOGOUT" => (format!("* BYE {name} signing off\r\n{tag} OK LOGOUT completed\r\n"), true),
                "CAPABILITY" => (format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK CAPABILITY completed\r\n"), false),
                _ => (format!("{tag} BAD the lab's IMAP4 service only greets\r\n"), false),
            }
        },
    )
    .await
}

/// SIP over TLS: answers OPTIONS (and anything else) with 200 naming the member.
pub async fn sip<S: AsyncRead + AsyncWrite + Unpin>(stream: S, name: &str) {
    let mut s = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match s.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let header = |n: &str| {
            head.iter()
                .find(|h| {
                    h.to_ascii_lowercase()
                        .starts_with(&format!("{}:", n.to_ascii_lowercase()))
                })
                .cloned()
                .unwrap_or_default()
        };
        let reply = format!(
            "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{}\r\n{}\r\nServer: gatehouse-lab/{name}\r\nx-lab-member: {name}\r\nAllow: OPTIONS, INVITE, ACK, CANCEL, BYE, MESSAGE, SUBSCRIBE, NOTIFY\r\nContent-Length: 0\r\n\r\n",
            header("Via"),
            header("From"),
            header("To"),
            header("Call-ID"),
        );
        if s.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// XMPP server-to-server: answers the stream header with its own, and
/// offers STARTTLS.
pub async fn xmpp(stream: TcpStream, name: &str) {
    let mut s = BufReader::new(stream);
    let mut buf = Vec::new();
    // Up to the end of the client's opening tag.
    if s.read_until(b'>', &mut buf).await.is_err() {
        return;
    }
    if buf.starts_with(b"<?xml") {
        buf.clear();
        if s.read_until(b'>', &mut buf).await.is_err() {
            return;
        }
    }
    let reply = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' \
         from='{name}.contoso.com' id='{name}-lab' version='1.0'><stream:features>\
         <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features><!-- lab-member {name} -->"
    );
    let _ = s.get_mut().write_all(reply.as_bytes()).await;
    let _ = s.read_until(b'>', &mut buf).await;
}

/// A media port: names the member and echoes.
pub async fn media(mut stream: TcpStream, name: &str) {
    if stream
        .write_all(format!("lab-member {name} media\r\n").as_bytes())
        .await
        .is_ok()
    {
        let (mut r, mut w) = stream.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    }
}

/// UDP 3478: every datagram is answered with the member's name and the
/// datagram's length, so that stickiness shows.
pub async fn udp_responder(s: UdpSocket, name: &str) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, peer)) = s.recv_from(&mut buf).await else {
            continue;
        };
        let reply = format!("lab-member {name} got {n} bytes");
        let _ = s.send_to(reply.as_bytes(), peer).await;
    }
}
