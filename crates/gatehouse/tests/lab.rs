//! `gatehouse lab`, run as a user runs it: the built binary, the real
//! clients (curl, dig, swaks), loopback only. The lab binds fixed loopback
//! addresses, so these tests take turns.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_LAB_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lab() -> Command {
    let mut c = common::gatehouse();
    // Fixed ports whether or not the tests run as root.
    c.args(["lab", "--port-offset", "8000", "--ping-hold", "1s"]);
    c
}

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_LAB_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn wait_for_file(path: &Path, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(v) = serde_json::from_str(&text) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no manifest at {} after {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every socket the manifest says the lab bound: listeners (each port of a
/// range), members, DNS.
fn sockets(m: &serde_json::Value) -> Vec<(SocketAddr, bool)> {
    let mut out = Vec::new();
    for l in m["listeners"].as_array().unwrap() {
        let addr: std::net::IpAddr = l["address"].as_str().unwrap().parse().unwrap();
        let (first, last) = (
            l["port"].as_u64().unwrap() as u16,
            l["port_last"].as_u64().unwrap() as u16,
        );
        for p in first..=last {
            out.push((SocketAddr::new(addr, p), l["protocol"] == "udp"));
        }
    }
    for mem in m["members"].as_array().unwrap() {
        let addr: std::net::IpAddr = mem["address"].as_str().unwrap().parse().unwrap();
        for p in mem["tcp"].as_array().unwrap() {
            out.push((SocketAddr::new(addr, p.as_u64().unwrap() as u16), false));
        }
        for p in mem["udp"].as_array().unwrap() {
            out.push((SocketAddr::new(addr, p.as_u64().unwrap() as u16), true));
        }
    }
    for d in m["dns"]["listen"].as_array().unwrap() {
        let addr = SocketAddr::new(
            d["address"].as_str().unwrap().parse().unwrap(),
            d["port"].as_u64().unwrap() as u16,
        );
        out.push((addr, true));
        out.push((addr, false));
    }
    out
}

fn bindable((addr, udp): (SocketAddr, bool)) -> bool {
    if udp {
        UdpSocket::bind(addr).is_ok()
    } else {
        TcpListener::bind(addr).is_ok()
    }
}

#[test]
fn lab_drive_matches_verify_flows_for_every_user_type() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("lab.json");
    let out = lab().arg("--drive").arg("--manifest").arg(&manifest).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "drive failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 did not"), "{stdout}");
    let row = |needle: &[&str]| {
        stdout
            .lines()
            .find(|l| needle.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no row with {needle:?} in\n{stdout}"))
            .to_string()
    };
    // SMTP: accepted from EOP (queued by a CAS), refused from the internet.
    assert!(row(&["eop", "smtp.contoso.com:8025", "reach exchange-smtp"]).starts_with("ok"));
    assert!(row(&["(smtp)", "internet", "smtp.contoso.com:8025", "closed"]).starts_with("ok"));
    // NTLM through the pin, and the AUTHENTICATE on a second connection refused.
    let ews = row(&["internal-employees", "intranet", "/EWS", "reach exchange-ews"]);
    assert!(ews.starts_with("ok") && ews.contains("ntlm:alice"), "{ews}");
    assert!(row(&["NTLM AUTHENTICATE on a second connection", "refused by cas"]).starts_with("ok"));
    // The ActiveSync long poll was held (1 s) and answered by a CAS.
    let ping = row(&["intranet", "/Microsoft-Server-ActiveSync", "reach exchange-activesync"]);
    let ms: u64 = ping.split_whitespace().last().unwrap().parse().unwrap();
    assert!(ping.starts_with("ok") && ms >= 900, "{ping}");
    // UDP 3478: one Edge for every datagram of both sockets.
    assert!(row(&["internet", "av.contoso.com:3478/udp", "reach lync-edge", "edge"]).starts_with("ok"));
    // Admin only from the intranet.
    assert!(row(&["internal-employees", "admin.contoso.com:8443", "reach"]).starts_with("ok"));
    for zone in ["internet", "partners", "vpn", "directaccess"] {
        let r = row(&["(admin)", zone, "admin.contoso.com"]);
        assert!(r.starts_with("ok") && !r.contains("reach"), "{r}");
    }
    let m = wait_for_file(&manifest, Duration::from_secs(1));
    assert_eq!(m["zones"].as_array().unwrap().len(), 7);
    assert_eq!(m["users"].as_array().unwrap().len(), 4);
    assert!(m["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["name"] == "https-public" && l["port"] == 8443 && l["original_port"] == 443));
}

#[test]
fn a_mismatch_between_prediction_and_the_network_fails_on_that_row() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    // The copy that runs lost the ACL rule letting EOP deliver SMTP; the
    // prediction comes from the original.
    let original = std::fs::read_to_string(common::contoso_path()).unwrap();
    let rule =
        "[[acl]]\nname = \"smtp-from-eop\"\naction = \"allow\"\nfrom = [\"eop\"]\nprotocol = \"tcp\"\nports = [25]\n";
    assert!(original.contains(rule));
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, original.replace(rule, "")).unwrap();
    let out = lab()
        .arg("--drive")
        .arg("--config")
        .arg(&broken)
        .arg("--predict-from")
        .arg(common::contoso_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert!(
        failed[0].contains("eop") && failed[0].contains("smtp.contoso.com:8025"),
        "{}",
        failed[0]
    );
    assert!(stdout.contains("expected a member of exchange-smtp"), "{stdout}");
}

#[test]
fn sigint_stops_everything_and_leaves_no_bound_port() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("lab.json");
    let mut child = lab()
        .arg("--manifest")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let m = wait_for_file(&manifest, Duration::from_secs(20));
    assert_eq!(m["pid"].as_u64(), Some(u64::from(child.id())));
    let all = sockets(&m);
    assert!(all.len() > 10000, "the media range and every member: {}", all.len());
    // Up: the public web VIP accepts, and none of the lab's sockets is free.
    TcpStream::connect("127.203.113.10:8443").expect("the web VIP is up");
    assert!(all.iter().take(50).all(|s| !bindable(*s)));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the lab did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    assert!(stdout.contains("lab stopped"), "{stdout}");
    let left: Vec<_> = all.into_iter().filter(|s| !bindable(*s)).collect();
    assert!(left.is_empty(), "still bound after SIGINT: {left:?}");
}

#[test]
fn a_taken_port_is_named_and_nothing_is_left_started() {
    let _turn = turn();
    let squatter = TcpListener::bind("127.203.113.10:8443").unwrap();
    let started = Instant::now();
    let out = lab().output().unwrap();
    drop(squatter);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        stderr.contains("port 127.203.113.10:8443 (listener https-public) is already in use")
            && stderr.contains("nothing was started"),
        "{stderr}"
    );
    // Nothing half started: the backends' and DNS sockets are free.
    for s in ["127.10.2.11:8443", "127.10.10.10:8443", "127.203.113.53:8053"] {
        assert!(TcpListener::bind(s).is_ok(), "{s} left bound");
    }
}
