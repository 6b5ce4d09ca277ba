//! One moto server per process (`tools/moto_locked.py`: DynamoDB, SQS, Secrets Manager,
//! EventBridge), started on first use, and the AWS configuration of clients that talk to it.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use crate::uuid_like;

use super::{target_dir, workspace_root};

/// A running `tools/moto_locked.py`: exits when its stdin closes (when this test process
/// ends in any way), so it never outlives the tests (or the benchmark).
struct Moto {
    port: u16,
    _stdin: ChildStdin,
    _child: Child,
}

/// What to do when moto is unavailable.
const HOW_TO_GET_MOTO: &str = "these tests need moto: run ./scripts/test once (it creates \
.venv-tools with moto[server]), or set SAVEDWALLET_TOOLS_PYTHON to a python that has \
moto[server] installed";

fn tools_python() -> PathBuf {
    std::env::var_os("SAVEDWALLET_TOOLS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-tools/bin/python"))
}

fn start_moto() -> Result<Moto, String> {
    let python = tools_python();
    if !python.exists() {
        return Err(format!("{} not found: {HOW_TO_GET_MOTO}", python.display()));
    }
    // `<target dir>/tmp`: the integration tests' `CARGO_TARGET_TMPDIR`.
    let tmp = target_dir().join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let log_path = tmp.join(format!("moto-lambda-{}.log", uuid_like()));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(&python)
        .arg(workspace_root().join("tools/moto_locked.py"))
        .arg("0")
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}; {HOW_TO_GET_MOTO}", python.display()))?;
    let fail = |child: &mut Child, what: String| {
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        format!("moto did not start ({what}); log:\n{log}\n{HOW_TO_GET_MOTO}")
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(fail(&mut child, "no stdio pipes".into()));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let startup = Duration::from_secs(60);
    let deadline = Instant::now() + startup;
    let port = match rx.recv_timeout(startup) {
        Ok(Some(Ok(line))) => match line.strip_prefix("PORT ").map(|p| p.trim().parse()) {
            Some(Ok(port)) => port,
            _ => return Err(fail(&mut child, format!("unexpected output {line:?}"))),
        },
        Ok(other) => return Err(fail(&mut child, format!("exited early: {other:?}"))),
        Err(e) => return Err(fail(&mut child, format!("no port after {startup:?}: {e}"))),
    };
    // The socket listens before the server loop runs: an answer proves it serves.
    let answered = (|| -> Result<(), String> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut conn =
            TcpStream::connect_timeout(&addr, left).map_err(|e| format!("connect: {e}"))?;
        conn.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        conn.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .map_err(|e| format!("send: {e}"))?;
        let mut status = [0u8; 12];
        conn.read_exact(&mut status)
            .map_err(|e| format!("no HTTP answer: {e}"))?;
        if status.starts_with(b"HTTP/1.") {
            Ok(())
        } else {
            Err(format!("not HTTP: {:?}", String::from_utf8_lossy(&status)))
        }
    })();
    if let Err(e) = answered {
        return Err(fail(&mut child, e));
    }
    Ok(Moto {
        port,
        _stdin: stdin,
        _child: child,
    })
}

/// `http://127.0.0.1:PORT` of the process's moto, started on first use.
pub fn moto_endpoint() -> String {
    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
    match MOTO.get_or_init(start_moto) {
        Ok(m) => format!("http://127.0.0.1:{}", m.port),
        Err(e) => panic!("{e}"),
    }
}

/// The AWS configuration of the tests' own clients (moto, static test credentials).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(moto_endpoint())
        .load()
        .await
}
