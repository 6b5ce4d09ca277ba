//! A local AWS Lambda Runtime API (version 2018-06-01) and a wrapper of a real bootstrap
//! process that polls it, so tests (and benchmarks) can run the very binaries the Lambda
//! functions are made of and invoke them with real event JSON.
//!
//! [`RuntimeApi`] serves, on a free loopback port:
//! - `GET /2018-06-01/runtime/invocation/next`: long-polls until an event is queued, then
//!   answers it with `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error`: the function's
//!   answer to that invocation;
//! - `POST /2018-06-01/runtime/init/error`: the function could not start.
//!
//! [`RuntimeApi::invoke`] queues an event and waits (bounded by the invocation timeout) for
//! the answer. The instant of the first `next` poll is kept ([`RuntimeApi::first_poll`]):
//! with [`Bootstrap::spawned_at`] it gives the cold start (process start → ready for events).
//!
//! [`Bootstrap`] spawns a binary with a clean environment (only what the Lambda runtime
//! sets, `AWS_LAMBDA_RUNTIME_API` pointing at its own [`RuntimeApi`], plus the caller's
//! variables), captures its stdout and stderr line by line, reads its peak RSS, and kills
//! it when dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The API version in every path.
pub const API_VERSION: &str = "2018-06-01";

/// Why an invocation did not give an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationError {
    /// The function reported an error for the invocation (`…/invocation/{id}/error`).
    Function {
        /// `errorType` of the body (or the `Lambda-Runtime-Function-Error-Type` header).
        error_type: String,
        /// `errorMessage` of the body.
        error_message: String,
        /// The whole body.
        body: Value,
    },
    /// The function reported that it could not start (`…/init/error`).
    Init {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
    /// No answer within the invocation timeout.
    Timeout(Duration),
    /// The process ended (or the API went away) before it answered.
    Exited(String),
    /// The answer is not JSON.
    NotJson(String),
}

impl std::fmt::Display for InvocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvocationError::Function {
                error_type,
                error_message,
                ..
            } => write!(f, "the function failed: {error_type}: {error_message}"),
            InvocationError::Init {
                error_type,
                error_message,
            } => write!(
                f,
                "the function could not start: {error_type}: {error_message}"
            ),
            InvocationError::Timeout(t) => write!(f, "no answer within {t:?}"),
            InvocationError::Exited(why) => write!(f, "the function exited: {why}"),
            InvocationError::NotJson(body) => write!(f, "the answer is not JSON: {body:?}"),
        }
    }
}

impl std::error::Error for InvocationError {}

type Reply = oneshot::Sender<Result<Value, InvocationError>>;

/// An event waiting for a `next` poll.
struct Queued {
    id: String,
    event: Value,
    reply: Reply,
}

/// Settings of a [`RuntimeApi`].
#[derive(Debug, Clone)]
pub struct RuntimeApiOptions {
    /// How long [`RuntimeApi::invoke`] waits for the answer (then the invocation fails).
    pub invocation_timeout: Duration,
    /// The function's timeout: `Lambda-Runtime-Deadline-Ms` is now plus this.
    pub function_timeout: Duration,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
}

impl Default for RuntimeApiOptions {
    fn default() -> Self {
        RuntimeApiOptions {
            invocation_timeout: Duration::from_secs(60),
            function_timeout: Duration::from_secs(30),
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:savedwallet-test".into(),
        }
    }
}

struct Inner {
    opts: RuntimeApiOptions,
    queue: mpsc::UnboundedSender<Queued>,
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    in_flight: Mutex<HashMap<String, Reply>>,
    first_poll: watch::Sender<Option<Instant>>,
    polls: AtomicU64,
    init_error: watch::Sender<Option<InvocationError>>,
}

/// A Runtime API on `127.0.0.1:<free port>`, for one function instance.
pub struct RuntimeApi {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A request id shaped like Lambda's (a UUID v4).
fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An X-Ray trace header shaped like Lambda's.
fn trace_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        unix_ms() / 1000,
        &u[..24],
        &u[16..32]
    )
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    let now = Instant::now();
    inner.polls.fetch_add(1, Ordering::SeqCst);
    inner.first_poll.send_if_modified(|first| {
        if first.is_none() {
            *first = Some(now);
            true
        } else {
            false
        }
    });
    // `recv` is cancel-safe: a poll whose connection goes away loses no event.
    let queued = {
        let mut rx = inner.next.lock().await;
        rx.recv().await
    };
    let Some(q) = queued else {
        return StatusCode::GONE.into_response();
    };
    let deadline = unix_ms() + inner.opts.function_timeout.as_millis() as u64;
    let body = serde_json::to_vec(&q.event).unwrap_or_default();
    inner.in_flight.lock().insert(q.id.clone(), q.reply);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("lambda-runtime-aws-request-id", header(&q.id));
    headers.insert("lambda-runtime-deadline-ms", header(&deadline.to_string()));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header(&inner.opts.function_arn),
    );
    headers.insert("lambda-runtime-trace-id", header(&trace_id()));
    (StatusCode::OK, headers, body).into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn unknown_id(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/json")],
        json!({ "errorMessage": format!("Invalid request ID: {id}"), "errorType": "InvalidRequestID" })
            .to_string(),
    )
        .into_response()
}

async fn respond(
    State(inner): State<Arc<Inner>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Some(reply) = inner.in_flight.lock().remove(&id) else {
        return unknown_id(&id);
    };
    let answer = serde_json::from_slice(&body)
        .map_err(|_| InvocationError::NotJson(String::from_utf8_lossy(&body).into_owned()));
    let _ = reply.send(answer);
    accepted()
}

/// `errorType` and `errorMessage` of an error body (the header names the type too).
fn error_fields(headers: &HeaderMap, body: &Bytes) -> (String, String, Value) {
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let error_type = value["errorType"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let error_message = value["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (error_type, error_message, value)
}

async fn fail(
    State(inner): State<Arc<Inner>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(reply) = inner.in_flight.lock().remove(&id) else {
        return unknown_id(&id);
    };
    let (error_type, error_message, body) = error_fields(&headers, &body);
    let _ = reply.send(Err(InvocationError::Function {
        error_type,
        error_message,
        body,
    }));
    accepted()
}

async fn init_error(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let (error_type, error_message, _) = error_fields(&headers, &body);
    inner.init_error.send_replace(Some(InvocationError::Init {
        error_type,
        error_message,
    }));
    accepted()
}

impl RuntimeApi {
    /// Starts a Runtime API with the default options.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        RuntimeApi::start_with(RuntimeApiOptions::default()).await
    }

    /// Starts a Runtime API.
    pub async fn start_with(opts: RuntimeApiOptions) -> std::io::Result<RuntimeApi> {
        let (queue, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            opts,
            queue,
            next: tokio::sync::Mutex::new(rx),
            in_flight: Mutex::new(HashMap::new()),
            first_poll: watch::channel(None).0,
            polls: AtomicU64::new(0),
            init_error: watch::channel(None).0,
        });
        let base = format!("/{API_VERSION}/runtime");
        let app = Router::new()
            .route(&format!("{base}/invocation/next"), get(next))
            .route(&format!("{base}/invocation/{{id}}/response"), post(respond))
            .route(&format!("{base}/invocation/{{id}}/error"), post(fail))
            .route(&format!("{base}/init/error"), post(init_error))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi { addr, inner, task })
    }

    /// `127.0.0.1:PORT`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// The options it runs with.
    pub fn options(&self) -> &RuntimeApiOptions {
        &self.inner.opts
    }

    /// When the function first asked for an event (`None`: not yet).
    pub fn first_poll(&self) -> Option<Instant> {
        *self.inner.first_poll.borrow()
    }

    /// How many `next` polls arrived so far.
    pub fn polls(&self) -> u64 {
        self.inner.polls.load(Ordering::SeqCst)
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<InvocationError> {
        self.inner.init_error.borrow().clone()
    }

    /// Waits (at most `timeout`) until the function first polls for an event.
    pub async fn wait_first_poll(&self, timeout: Duration) -> Result<Instant, InvocationError> {
        let mut first = self.inner.first_poll.subscribe();
        let mut init = self.inner.init_error.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            tokio::select! {
                r = first.wait_for(Option::is_some) => match r {
                    Ok(t) => Ok(t.unwrap_or_else(Instant::now)),
                    Err(_) => Err(InvocationError::Exited("the Runtime API stopped".into())),
                },
                r = init.wait_for(Option::is_some) => Err(match r {
                    Ok(e) => e.clone().unwrap_or(InvocationError::Exited("init".into())),
                    Err(_) => InvocationError::Exited("the Runtime API stopped".into()),
                }),
            }
        })
        .await;
        waited.unwrap_or(Err(InvocationError::Timeout(timeout)))
    }

    /// Invokes the function with `event` and waits for its answer (at most the
    /// invocation timeout).
    pub async fn invoke(&self, event: Value) -> Result<Value, InvocationError> {
        self.invoke_traced(event).await.1
    }

    /// [`RuntimeApi::invoke`], also returning the invocation's request id (what the
    /// function sees as `Lambda-Runtime-Aws-Request-Id`).
    pub async fn invoke_traced(&self, event: Value) -> (String, Result<Value, InvocationError>) {
        let id = request_id();
        let timeout = self.inner.opts.invocation_timeout;
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            id: id.clone(),
            event,
            reply,
        };
        if self.inner.queue.send(queued).is_err() {
            return (
                id,
                Err(InvocationError::Exited("the Runtime API stopped".into())),
            );
        }
        let mut init = self.inner.init_error.subscribe();
        let result = tokio::time::timeout(timeout, async {
            tokio::select! {
                r = answer => r.unwrap_or_else(|_| Err(InvocationError::Exited("the invocation was dropped".into()))),
                r = init.wait_for(Option::is_some) => Err(match r {
                    Ok(e) => e.clone().unwrap_or(InvocationError::Exited("init".into())),
                    Err(_) => InvocationError::Exited("the Runtime API stopped".into()),
                }),
            }
        })
        .await
        .unwrap_or(Err(InvocationError::Timeout(timeout)));
        if result.is_err() {
            self.inner.in_flight.lock().remove(&id);
        }
        (id, result)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to start a [`Bootstrap`].
#[derive(Debug, Clone)]
pub struct BootstrapOptions {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB).
    pub memory_mb: u32,
    /// More variables (the function's configuration), set after the runtime's own.
    pub env: Vec<(String, String)>,
    /// The Runtime API's settings.
    pub api: RuntimeApiOptions,
    /// Copy every output line to the test's stderr as it comes (also when
    /// `SAVEDWALLET_LAMBDA_ECHO` is set).
    pub echo: bool,
}

impl BootstrapOptions {
    /// A function named `name` with 128 MB and no configuration yet.
    pub fn new(name: impl Into<String>) -> BootstrapOptions {
        let function_name = name.into();
        let api = RuntimeApiOptions {
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
            ..RuntimeApiOptions::default()
        };
        BootstrapOptions {
            function_name,
            memory_mb: 128,
            env: Vec::new(),
            api,
            echo: std::env::var_os("SAVEDWALLET_LAMBDA_ECHO").is_some(),
        }
    }

    /// Adds (or replaces) a variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(k, _)| *k != name);
        self.env.push((name, value.into()));
        self
    }

    /// Adds every variable of `vars`.
    pub fn vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self = self.var(k, v);
        }
        self
    }
}

type Lines = Arc<Mutex<Vec<String>>>;

/// A running bootstrap binary with its own [`RuntimeApi`]; killed when dropped.
pub struct Bootstrap {
    name: String,
    binary: PathBuf,
    api: RuntimeApi,
    pid: Option<u32>,
    spawned_at: Instant,
    stdout: Lines,
    stderr: Lines,
    exit: watch::Receiver<Option<String>>,
    _kill: oneshot::Sender<()>,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field("name", &self.name)
            .field("binary", &self.binary)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
    lines: Lines,
    echo: Option<String>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Some(prefix) = &echo {
                eprintln!("[{prefix}] {line}");
            }
            lines.lock().push(line);
        }
    })
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => s.to_string(),
        Err(e) => format!("cannot wait for it: {e}"),
    }
}

impl Bootstrap {
    /// Starts a Runtime API and spawns `binary` against it with a clean environment: the
    /// variables the Lambda runtime sets for a function (`AWS_LAMBDA_RUNTIME_API`,
    /// `AWS_LAMBDA_FUNCTION_NAME`, `…_MEMORY_SIZE`, `…_VERSION`, the log group and stream,
    /// `TZ`), then `opts.env`. `RUST_LOG` and `RUST_BACKTRACE` are passed through when set.
    pub async fn spawn(binary: &Path, opts: BootstrapOptions) -> std::io::Result<Bootstrap> {
        let api = RuntimeApi::start_with(opts.api.clone()).await?;
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
            .env("AWS_LAMBDA_FUNCTION_NAME", &opts.function_name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                opts.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", opts.function_name),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("2025/01/01/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
            )
            .env("TZ", ":UTC");
        for name in ["RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot start {}: {e}", binary.display()))
        })?;
        let pid = child.id();
        let (stdout, stderr): (Lines, Lines) = (Arc::default(), Arc::default());
        let echo = opts.echo.then(|| opts.function_name.clone());
        let readers = [
            child
                .stdout
                .take()
                .map(|s| capture(s, stdout.clone(), echo.clone())),
            child
                .stderr
                .take()
                .map(|s| capture(s, stderr.clone(), echo.map(|e| format!("{e} stderr")))),
        ];
        let (exit_tx, exit) = watch::channel(None);
        let (kill, killed) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => Some(s),
                _ = killed => None,
            };
            match status {
                Some(s) => {
                    // Let the readers take the last lines before the exit is announced.
                    for r in readers.into_iter().flatten() {
                        let _ = r.await;
                    }
                    let _ = exit_tx.send(Some(describe(s)));
                }
                None => {
                    let _ = child.kill().await;
                }
            }
        });
        Ok(Bootstrap {
            name: opts.function_name,
            binary: binary.to_path_buf(),
            api,
            pid,
            spawned_at,
            stdout,
            stderr,
            exit,
            _kill: kill,
        })
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its Runtime API.
    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Just before the process was spawned.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Process start → first `next` poll (`None`: it has not polled yet).
    pub fn cold_start(&self) -> Option<Duration> {
        self.api
            .first_poll()
            .map(|t| t.saturating_duration_since(self.spawned_at))
    }

    /// How the process ended (`None`: still running).
    pub fn exit_status(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    async fn or_exit<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, InvocationError>>,
    ) -> Result<T, InvocationError> {
        let mut exit = self.exit.clone();
        tokio::select! {
            r = work => r,
            s = exit.wait_for(Option::is_some) => {
                let status = s.ok().and_then(|s| s.clone()).unwrap_or_default();
                Err(InvocationError::Exited(format!("{} ({status}); stderr:\n{}", self.name, self.stderr_lines().join("\n"))))
            }
        }
    }

    /// Waits (at most `timeout`) until the function polls for its first event; fails at
    /// once if the process ends or reports an init error.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Instant, InvocationError> {
        self.or_exit(self.api.wait_first_poll(timeout)).await
    }

    /// Invokes the function (see [`RuntimeApi::invoke`]); fails at once if the process ends.
    pub async fn invoke(&self, event: Value) -> Result<Value, InvocationError> {
        self.invoke_traced(event).await.1
    }

    /// [`Bootstrap::invoke`] with the invocation's request id.
    pub async fn invoke_traced(&self, event: Value) -> (String, Result<Value, InvocationError>) {
        let mut id = String::new();
        let result = self
            .or_exit(async {
                let (i, r) = self.api.invoke_traced(event).await;
                id = i;
                r
            })
            .await;
        (id, result)
    }

    /// Every stdout line so far (the functions log JSON there, one event per line).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().clone()
    }

    /// Every stderr line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().clone()
    }

    /// The stdout lines that are JSON objects (log events, metric records).
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(Value::is_object)
            .collect()
    }

    /// The last `n` lines of stdout and stderr, for failure messages.
    pub fn output_tail(&self, n: usize) -> String {
        let tail = |v: Vec<String>| v[v.len().saturating_sub(n)..].join("\n");
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            tail(self.stdout_lines()),
            self.name,
            tail(self.stderr_lines())
        )
    }

    /// Peak resident set size so far, in KiB (`VmHWM` of `/proc/PID/status`; `None` once
    /// the process has ended or where `/proc` is not available).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}
