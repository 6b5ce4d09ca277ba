//! Helpers for tests that run the built `savedwallet` sandbox: a guard that stops it, its
//! start-up (reading the URLs it prints) and one-shot HTTP/1.1 requests.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the child (ours, by its handle) even when an assertion fails.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The built binary with no `AMAZON_PAY_*` variables from the developer's shell.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_savedwallet"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AMAZON_PAY_") {
            c.env_remove(k);
        }
    }
    c
}

/// A running `savedwallet sandbox` and the URLs it printed.
pub struct Sandbox {
    pub guard: Guard,
    /// `API base URL: …`
    pub base: String,
    /// `Control API: …`
    pub control: String,
}

/// Starts `savedwallet sandbox --listen 127.0.0.1:0 --public-key KEY_ID=PEM --state STATE`
/// plus `extra`, and waits (up to 30 s) for it to print its URLs.
pub fn start_sandbox(key_id: &str, public_pem: &Path, state: &Path, extra: &[&str]) -> Sandbox {
    let key: OsString = format!("{key_id}={}", public_pem.display()).into();
    let child = bin()
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--public-key")
        .arg(key)
        .arg("--state")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the sandbox");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut base, mut control) = (None, None);
    while base.is_none() || control.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the sandbox prints its URLs within 30 s");
        if let Some(u) = line.strip_prefix("API base URL: ") {
            base = Some(u.to_string());
        }
        if let Some(u) = line.strip_prefix("Control API: ") {
            control = Some(u.to_string());
        }
    }
    Sandbox {
        guard,
        base: base.expect("base"),
        control: control.expect("control"),
    }
}

/// A one-shot HTTP/1.1 request (a JSON body when given): status and body.
pub fn http(base: &str, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    http_with(base, method, path, &[], json)
}

/// [`http`] with extra request headers.
pub fn http_with(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    json: Option<&str>,
) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = json.unwrap_or("");
    let content = match json {
        Some(_) => format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
        None => String::new(),
    };
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let content = format!("{extra}{content}");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{content}Connection: close\r\n\r\n{body}"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
