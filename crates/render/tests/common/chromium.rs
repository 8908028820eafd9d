//! Headless Debian Chromium for the diagram tests: one isolated profile per
//! run, no network chatter, a hard time limit, and a clear failure when the
//! browser is not installed (it is listed in scripts/packages/render.txt).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

/// Runs headless Chromium with `args` after the standard flags, with a fresh
/// profile named `name` in `work`; returns its standard output.
pub fn run(work: &Path, name: &str, args: &[String]) -> String {
    let profile = work.join(format!("profile-{name}"));
    let _ = std::fs::remove_dir_all(&profile);
    let mut command = Command::new("chromium");
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start chromium ({e}): install the Debian package `chromium` \
             (scripts/test installs everything in scripts/packages/render.txt)"
        )
    });
    // Read output on threads so a chatty browser cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().expect("reader thread").expect("chromium output is UTF-8");
    let stderr = err.join().expect("reader thread");
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    let _ = std::fs::remove_dir_all(&profile);
    stdout
}

/// A file URL for a local path.
pub fn url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().expect("the file exists").display())
}
