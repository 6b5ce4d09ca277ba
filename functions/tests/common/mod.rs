//! Test fixtures: store factories for every adapter, and a moto server (DynamoDB API)
//! started once per test binary behind `tools/moto_locked.py`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use savedwallet_functions::store::item::{Backend, BackendError, Item, Key, Write};
use savedwallet_functions::store::{
    dynamo, DynamoBackend, DynamoStore, EmbeddedBackend, EmbeddedStore, TableStore,
};

/// Raw item access for assertions on stored attributes (TTL fields, index keys).
#[async_trait]
pub trait Raw {
    /// Reads an item as stored.
    async fn raw_get(&self, key: Key) -> Option<Item>;
    /// Writes an item unconditionally (to plant bad data).
    async fn raw_put(&self, key: Key, item: Item) -> Result<(), BackendError>;
}

#[async_trait]
impl<B: Backend> Raw for TableStore<B> {
    async fn raw_get(&self, key: Key) -> Option<Item> {
        self.backend().get(&key, true).await.expect("raw get")
    }
    async fn raw_put(&self, key: Key, item: Item) -> Result<(), BackendError> {
        self.backend()
            .write(Write {
                key,
                op: savedwallet_functions::store::item::WriteOp::Put(item),
                cond: None,
            })
            .await
            .map(|_| ())
    }
}

/// A store over a fault-injecting wrapper of a backend.
pub type Faulty<B> = TableStore<savedwallet_functions::store::faulty::FaultBackend<B>>;

/// An in-memory embedded store behind the fault injector.
pub fn faulty_memory_store(seed: u64) -> Faulty<EmbeddedBackend> {
    let b = EmbeddedBackend::in_memory().expect("in-memory redb");
    TableStore::new(savedwallet_functions::store::faulty::FaultBackend::new(
        b, seed,
    ))
}

/// A file embedded store behind the fault injector.
pub fn faulty_file_store(seed: u64) -> (Faulty<EmbeddedBackend>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = EmbeddedBackend::open(dir.path().join("store.redb")).expect("redb file");
    let s = TableStore::new(savedwallet_functions::store::faulty::FaultBackend::new(
        b, seed,
    ));
    (s, dir)
}

/// A DynamoDB store on a fresh table behind the fault injector.
pub async fn faulty_dynamo_store(seed: u64) -> Faulty<DynamoBackend> {
    let client = dynamo_client().await;
    let table = format!("savedwallet-test-{}", uuid::Uuid::new_v4());
    if let Err(e) = dynamo::create_table(&client, &table).await {
        panic!("cannot create table on moto: {e}");
    }
    let b = DynamoBackend::new(client, table);
    TableStore::new(savedwallet_functions::store::faulty::FaultBackend::new(
        b, seed,
    ))
}

/// An in-memory embedded store.
pub fn memory_store() -> EmbeddedStore {
    EmbeddedStore::in_memory().expect("in-memory redb")
}

/// An embedded store in a fresh database file; keep the guard alive for the test.
pub fn file_store() -> (EmbeddedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path().join("store.redb")).expect("redb file");
    (store, dir)
}

/// A running `tools/moto_locked.py`. It exits when `stdin` closes: when this is dropped,
/// or when the test process ends in any way (even SIGKILL), so it never outlives the tests.
pub struct Moto {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    stdin: Option<ChildStdin>,
    child: Child,
}

impl Moto {
    /// Closes the server's stdin and waits (bounded) until the process has exited.
    pub fn shutdown(mut self, timeout: Duration) -> Result<ExitStatus, String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                kill(&mut self.child);
                return Err("moto did not exit after its stdin closed".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// What to do when moto is unavailable (CI runs `./scripts/test`, which installs it).
pub const HOW_TO_FIX: &str = "the DynamoDB tests need moto: run ./scripts/test once \
(it creates .venv-tools with moto[server]==5.2.5), or set SAVEDWALLET_TOOLS_PYTHON to a \
python that has moto[server] installed";

/// How long moto may take to import and answer its first request (cold CI machine).
const STARTUP: Duration = Duration::from_secs(60);

/// The tools python: `SAVEDWALLET_TOOLS_PYTHON`, else `.venv-tools/bin/python`.
pub fn tools_python() -> PathBuf {
    std::env::var_os("SAVEDWALLET_TOOLS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-tools/bin/python"))
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    // Reap it so no zombie is left either.
    let _ = child.wait();
}

/// Starts `tools/moto_locked.py` with `python` on a free port and waits until it answers
/// HTTP (bounded by [`STARTUP`]).
pub fn start_moto(python: &Path) -> Result<Moto, String> {
    if !python.exists() {
        return Err(format!("{} not found: {HOW_TO_FIX}", python.display()));
    }
    let log_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("moto-{}.log", uuid::Uuid::new_v4().simple()));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(python)
        .arg(workspace_root().join("tools/moto_locked.py"))
        .arg("0")
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}; {HOW_TO_FIX}", python.display()))?;
    let fail = |child: &mut Child, what: String| {
        kill(child);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        format!("moto did not start ({what}); log:\n{log}\n{HOW_TO_FIX}")
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(fail(&mut child, "no stdio pipes".into()));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let deadline = Instant::now() + STARTUP;
    let port = match rx.recv_timeout(STARTUP) {
        Ok(Some(Ok(line))) => match line.strip_prefix("PORT ").map(|p| p.trim().parse()) {
            Some(Ok(port)) => port,
            _ => return Err(fail(&mut child, format!("unexpected output {line:?}"))),
        },
        Ok(other) => return Err(fail(&mut child, format!("exited early: {other:?}"))),
        Err(e) => return Err(fail(&mut child, format!("no port after {STARTUP:?}: {e}"))),
    };
    if let Err(e) = answers_http(port, deadline) {
        return Err(fail(&mut child, e));
    }
    Ok(Moto {
        port,
        stdin: Some(stdin),
        child,
    })
}

/// One HTTP request to moto's own API: the socket listens before the server loop runs,
/// so the answer (not the connect) proves it serves requests.
fn answers_http(port: u16, deadline: Instant) -> Result<(), String> {
    let left = deadline.saturating_duration_since(Instant::now());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut conn = TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1)))
        .map_err(|e| format!("connect: {e}"))?;
    conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))
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
}

/// The shared moto endpoint, starting the server on first use.
pub fn moto_endpoint() -> String {
    match MOTO.get_or_init(|| start_moto(&tools_python())) {
        Ok(m) => format!("http://127.0.0.1:{}", m.port),
        Err(e) => panic!("{e}"),
    }
}

/// A DynamoDB client pointed at moto (TOOLCHAIN §2.3).
pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(moto_endpoint())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&cfg)
}

/// A DynamoDB store on a fresh, uniquely named table.
pub async fn dynamo_store() -> DynamoStore {
    let client = dynamo_client().await;
    let table = format!("savedwallet-test-{}", uuid::Uuid::new_v4());
    // moto answered HTTP before this point, so any failure here is a real one.
    match dynamo::create_table(&client, &table).await {
        Ok(()) => DynamoStore::from_client(client, table),
        Err(e) => panic!("cannot create table on moto: {e}"),
    }
}
