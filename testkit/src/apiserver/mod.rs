//! A fake Kubernetes API server over real HTTP/1.1 on 127.0.0.1: a test double of the protocol
//! kube-rs 5 speaks (list, watch, bookmarks, 410 Gone), not a mock of kube-rs. It serves services, endpointslices
//! (discovery.k8s.io/v1), endpoints, pods, namespaces and configmaps with LIST pagination
//! (`limit`/`continue`, `metadata.resourceVersion`), WATCH as newline-delimited JSON events
//! (`ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`/`ERROR` 410) from one global resourceVersion and an
//! event log, and fault knobs: compaction, dropped connections, refusal, 503s, stalls, and
//! watches closed early. Writes come only from the test through [`FakeApiServer`].
//!
//! Not modelled: writes over HTTP, watch-cache "DELETED on selector exit", auth.

mod query;
mod resource;
mod serve;
mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use query::{Query, Selector};
pub use resource::Resource;
use state::State;
pub use state::{EventType, WriteError};

/// Fault settings, read on every request.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Accept and immediately close every connection (the API is unreachable).
    pub down: bool,
    /// Answer every request with 503 and a `Status`.
    pub unavailable: bool,
    /// Delay before any response starts.
    pub stall: Duration,
    /// End every watch after this long (in addition to `timeoutSeconds`).
    pub close_watches_every: Option<Duration>,
    /// BOOKMARK interval for watches with `allowWatchBookmarks=true` (`None`: never).
    pub bookmark_every: Option<Duration>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            down: false,
            unavailable: false,
            stall: Duration::ZERO,
            close_watches_every: None,
            bookmark_every: Some(Duration::from_secs(1)),
        }
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Decoded query parameters.
    pub query: Query,
    /// When it arrived.
    pub at: Instant,
}

impl RequestRecord {
    /// A watch (`watch=true`).
    pub fn is_watch(&self) -> bool {
        self.query.flag("watch")
    }

    /// The resource this request named (by plural path segment), if any.
    pub fn resource(&self) -> Option<Resource> {
        resource::parse_path(&self.path).map(|t| t.resource)
    }
}

/// State shared by the handle, the accept loop and every connection.
pub(crate) struct Shared {
    state: Mutex<State>,
    rv_tx: watch::Sender<u64>,
    faults: Mutex<Faults>,
    conns: Mutex<CancellationToken>,
    requests: Mutex<Vec<RequestRecord>>,
    open_watches: AtomicUsize,
    open_conns: AtomicUsize,
}

/// Decrements the open-watch count when a watch ends.
pub(crate) struct WatchGuard(Arc<Shared>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a connection open until dropped.
struct ConnGuard(Arc<Shared>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.open_conns.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults.lock().unwrap().clone()
    }

    pub(crate) fn record(&self, method: &http::Method, path: &str, query: &Query) {
        self.requests.lock().unwrap().push(RequestRecord {
            method: method.to_string(),
            path: path.to_string(),
            query: query.clone(),
            at: Instant::now(),
        });
    }

    pub(crate) fn watch_started(self: &Arc<Self>) -> WatchGuard {
        self.open_watches.fetch_add(1, Ordering::SeqCst);
        WatchGuard(self.clone())
    }

    fn conn_token(&self) -> CancellationToken {
        self.conns.lock().unwrap().clone()
    }
}

/// The running fake API server; stops (and closes every connection) on drop.
pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl FakeApiServer {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub async fn start() -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake apiserver");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            rv_tx: watch::Sender::new(0),
            faults: Mutex::new(Faults::default()),
            conns: Mutex::new(CancellationToken::new()),
            requests: Mutex::new(Vec::new()),
            open_watches: AtomicUsize::new(0),
            open_conns: AtomicUsize::new(0),
        });
        let shutdown = CancellationToken::new();
        tokio::spawn(accept_loop(listener, shared.clone(), shutdown.clone()));
        FakeApiServer {
            addr,
            shared,
            shutdown,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Writes `obj` (typed k8s-openapi object or JSON with `kind`); returns the new resourceVersion.
    pub fn try_write<T: Serialize>(&self, obj: &T, kind: EventType) -> Result<u64, WriteError> {
        let value = serde_json::to_value(obj).expect("object serialises to JSON");
        let rv = self.shared.state().write(value, kind)?;
        self.shared.rv_tx.send_replace(rv);
        Ok(rv)
    }

    /// Creates `obj`; panics if it exists.
    pub fn create<T: Serialize>(&self, obj: &T) -> u64 {
        self.try_write(obj, EventType::Added).expect("create")
    }

    /// Replaces `obj`; panics if it does not exist.
    pub fn update<T: Serialize>(&self, obj: &T) -> u64 {
        self.try_write(obj, EventType::Modified).expect("update")
    }

    /// Creates or replaces `obj`.
    pub fn apply<T: Serialize>(&self, obj: &T) -> u64 {
        match self.try_write(obj, EventType::Modified) {
            Err(WriteError::NotFound(_)) => self.create(obj),
            other => other.expect("apply"),
        }
    }

    /// Deletes the object named by `obj`'s kind, namespace and name; panics if missing.
    pub fn delete<T: Serialize>(&self, obj: &T) -> u64 {
        self.try_write(obj, EventType::Deleted).expect("delete")
    }

    /// The stored object, if any (namespace "" for cluster-scoped resources).
    pub fn get(&self, resource: Resource, namespace: &str, name: &str) -> Option<Value> {
        let key = (namespace.to_string(), name.to_string());
        let state = self.shared.state();
        state
            .objects
            .get(&resource)?
            .get(&key)
            .map(|v| (**v).clone())
    }

    /// Number of stored objects of `resource`.
    pub fn count(&self, resource: Resource) -> usize {
        self.shared.state().list(resource).count()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.state().rv
    }

    /// Compacts the event log: watches (and continue tokens) from a version below `rv` get 410.
    pub fn expire_before(&self, rv: u64) {
        self.shared.state().expire_before(rv);
        self.shared.rv_tx.send_modify(|_| {}); // wake open watches so they notice
    }

    /// `expire_before(current resourceVersion)`.
    pub fn compact(&self) {
        self.expire_before(self.resource_version());
    }

    /// Closes every open connection (and so every watch) abruptly.
    pub fn drop_connections(&self) {
        let mut conns = self.shared.conns.lock().unwrap();
        conns.cancel();
        *conns = CancellationToken::new();
    }

    /// Down: close open connections and refuse new ones (accept, then close). Up again with `false`.
    pub fn set_down(&self, down: bool) {
        self.shared.faults.lock().unwrap().down = down;
        if down {
            self.drop_connections();
        }
    }

    /// Answer every request with 503 `ServiceUnavailable`.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared.faults.lock().unwrap().unavailable = unavailable;
    }

    /// Delay every response by `delay` (`Duration::ZERO` to stop).
    pub fn stall(&self, delay: Duration) {
        self.shared.faults.lock().unwrap().stall = delay;
    }

    /// End watches after `every` (`None`: only at `timeoutSeconds`); applies to new watches.
    pub fn close_watches_every(&self, every: Option<Duration>) {
        self.shared.faults.lock().unwrap().close_watches_every = every;
    }

    /// BOOKMARK interval for new watches that allow bookmarks (`None`: never). Default 1 s.
    pub fn bookmark_every(&self, every: Option<Duration>) {
        self.shared.faults.lock().unwrap().bookmark_every = every;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests for `resource`: watches when `watch`, else lists (and gets).
    pub fn requests_for(&self, resource: Resource, watch: bool) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.resource() == Some(resource) && r.is_watch() == watch)
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.requests.lock().unwrap().clear();
    }

    /// Watches currently streaming.
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(Ordering::SeqCst)
    }

    /// Client connections currently open (streaming, busy or idle in a client's pool).
    pub fn open_connections(&self) -> usize {
        self.shared.open_conns.load(Ordering::SeqCst)
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.shared.conns.lock().map(|c| c.cancel()).ok();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        if shared.faults().down {
            drop(stream);
            continue;
        }
        let token = shared.conn_token();
        let shared = shared.clone();
        shared.open_conns.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let _open = ConnGuard(shared.clone());
            let service = service_fn(move |req| serve::handle(shared.clone(), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // Biased: once dropped, not one more byte (a pending event must not slip out).
            tokio::select! {
                biased;
                _ = token.cancelled() => {}
                _ = conn => {}
            }
        });
    }
}

#[cfg(test)]
mod tests;
