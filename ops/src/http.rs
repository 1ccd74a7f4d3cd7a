//! A minimal HTTP/1.1 server for metrics and health endpoints, bounded by [`Limits`].
//!
//! Each binary supplies a synchronous routing function `Fn(&Method, &str) -> Reply`; the
//! server owns accepting, connection tasks, limits and shutdown. Health endpoints must be
//! cheap and must not block, so the handler is deliberately not async.
//!
//! The kubelet's liveness probes of the whole pod come through these ports, so no client may
//! be able to starve them: connections are capped, and a full server makes room for a new
//! connection by closing its longest-idle one (`crate::slots`, shared with the DNS TCP loop); a connection is closed when its
//! request head is slow or it idles too long (`conn`); request heads are size-limited and
//! request bodies refused (413), as every endpoint here is a GET.

mod conn;
mod limits;

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use limits::{Close, Limits, Metrics};

use crate::slots::{Admission, Slots};
use conn::{Activity, ResponseBody, Tracked};

/// hyper refuses a read buffer below 8 KiB (and panics on one).
const MIN_REQUEST_BYTES: usize = 8 * 1024;

/// A response produced by a routing function.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// `Content-Type` header.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl Reply {
    /// A `text/plain` reply.
    pub fn text(status: StatusCode, body: impl Into<String>) -> Self {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
    /// An `application/json` reply.
    pub fn json(status: StatusCode, body: impl Into<String>) -> Self {
        Reply {
            status,
            content_type: "application/json",
            body: body.into(),
        }
    }
    /// 404 with a short text.
    pub fn not_found() -> Self {
        Self::text(StatusCode::NOT_FOUND, "404 page not found\n")
    }
    /// The Prometheus text of `registry`.
    pub fn metrics(registry: &prometheus::Registry) -> Self {
        Reply {
            status: StatusCode::OK,
            content_type: crate::metrics::CONTENT_TYPE,
            body: crate::metrics::encode(registry),
        }
    }
}

/// Serves `route` on `listener` with the default [`Limits`] until `token` is cancelled; the
/// connections it closes are counted in no registry (use [`serve_with`] to expose them).
pub async fn serve<F>(listener: TcpListener, route: F, token: CancellationToken)
where
    F: Fn(&Method, &str) -> Reply + Send + Sync + 'static,
{
    serve_with(
        listener,
        route,
        Limits::default(),
        Metrics::unregistered(),
        token,
    )
    .await;
}

/// Serves `route` on `listener` within `limits` until `token` is cancelled, counting the
/// connections it closes in `metrics`. Open connections are closed when the token fires
/// (health checks are short; nothing to drain).
pub async fn serve_with<F>(
    listener: TcpListener,
    route: F,
    limits: Limits,
    metrics: Metrics,
    token: CancellationToken,
) where
    F: Fn(&Method, &str) -> Reply + Send + Sync + 'static,
{
    let route = Arc::new(route);
    let slots = Slots::new(limits.max_connections);
    loop {
        let (stream, _) = tokio::select! {
            _ = token.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors, most likely: wait for connections to close.
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match slots.admit() {
            (Admission::Free, Some(slot)) => slot,
            (Admission::Evicted, Some(slot)) => {
                metrics.closed(Close::Evicted);
                slot
            }
            _ => {
                metrics.closed(Close::Refused);
                drop(stream);
                continue;
            }
        };
        let activity = Activity::new(slot);
        tokio::spawn(connection(
            Tracked::new(stream, activity.clone()),
            activity,
            route.clone(),
            limits,
            metrics.clone(),
            token.clone(),
        ));
    }
}

/// Serves one connection until it ends, is closed by the server, or outlasts a limit.
async fn connection<F>(
    stream: Tracked,
    activity: Arc<Activity>,
    route: Arc<F>,
    limits: Limits,
    metrics: Metrics,
    token: CancellationToken,
) where
    F: Fn(&Method, &str) -> Reply + Send + Sync + 'static,
{
    let svc = {
        let (activity, metrics) = (activity.clone(), metrics.clone());
        service_fn(move |req: Request<Incoming>| {
            activity.on_request();
            let resp = if req.body().is_end_stream() {
                to_response(route(req.method(), req.uri().path()), &activity)
            } else {
                // Bodies are never read: answer without reading it, and close.
                metrics.closed(Close::RequestBody);
                let reply = Reply::text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request bodies are not accepted\n",
                );
                let mut resp = to_response(reply, &activity);
                resp.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
                resp
            };
            async move { Ok::<_, std::convert::Infallible>(resp) }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(limits.max_request_bytes.max(MIN_REQUEST_BYTES));
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        served = conn => match served {
            Err(e) if e.is_parse_too_large() => metrics.closed(Close::HeaderTooLarge),
            Err(e) => tracing::debug!(error = %e, "http connection failed"),
            Ok(()) => {}
        },
        _ = activity.evicted.cancelled() => {}
        _ = token.cancelled() => {}
        reason = activity.expired(&limits) => metrics.closed(reason),
    }
}

fn to_response(reply: Reply, activity: &Arc<Activity>) -> Response<ResponseBody> {
    let body = ResponseBody::new(Bytes::from(reply.body), activity.clone());
    let mut resp = Response::new(body);
    *resp.status_mut() = reply.status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(reply.content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}
