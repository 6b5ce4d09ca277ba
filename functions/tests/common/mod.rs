//! Test fixtures: store factories for every adapter, and a moto server (DynamoDB API)
//! started once per test binary behind `tools/moto_locked.py`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use savedwallet_functions::store::item::{Backend, Item, Key, Write, WriteFailure};
use savedwallet_functions::store::{dynamo, DynamoStore, EmbeddedStore, TableStore};

/// Raw item access for assertions on stored attributes (TTL fields, index keys).
#[async_trait]
pub trait Raw {
    /// Reads an item as stored.
    async fn raw_get(&self, key: Key) -> Option<Item>;
    /// Writes an item unconditionally (to plant bad data).
    async fn raw_put(&self, key: Key, item: Item) -> Result<(), WriteFailure>;
}

#[async_trait]
impl<B: Backend> Raw for TableStore<B> {
    async fn raw_get(&self, key: Key) -> Option<Item> {
        self.backend().get(&key, true).await.expect("raw get")
    }
    async fn raw_put(&self, key: Key, item: Item) -> Result<(), WriteFailure> {
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

struct Moto {
    port: u16,
    // Held open for the life of the test binary: the server exits when it closes.
    _stdin: ChildStdin,
    _child: Child,
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

const HOW_TO_FIX: &str = "the DynamoDB tests need moto: run the README test command \
(it creates .venv-tools with moto[server]==5.2.5), or set SAVEDWALLET_TOOLS_PYTHON to a \
python that has moto[server] installed";

fn start_moto() -> Result<Moto, String> {
    let root = workspace_root();
    let python = std::env::var_os("SAVEDWALLET_TOOLS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-tools/bin/python"));
    if !python.exists() {
        return Err(format!("{} not found: {HOW_TO_FIX}", python.display()));
    }
    let log_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(&python)
        .arg(root.join("tools/moto_locked.py"))
        .arg("0")
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}; {HOW_TO_FIX}", python.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(Ok(line))) => line,
        other => {
            let _ = child.kill();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!(
                "moto did not start ({other:?}); log:\n{log}\n{HOW_TO_FIX}"
            ));
        }
    };
    let port: u16 = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("unexpected moto output {line:?}"))?;
    Ok(Moto {
        port,
        _stdin: stdin,
        _child: child,
    })
}

/// The moto endpoint, starting the server on first use.
pub fn moto_endpoint() -> String {
    match MOTO.get_or_init(start_moto) {
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
    // The server answers once it printed its port; retry briefly in case the first
    // request races its accept loop (bounded, no fixed sleep on the happy path).
    let mut last = String::new();
    for attempt in 0..50u64 {
        match dynamo::create_table(&client, &table).await {
            Ok(()) => return DynamoStore::from_client(client, table),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(20 * (attempt + 1).min(5))).await;
    }
    panic!("cannot create table on moto: {last}");
}
