//! A minimal HTTP/1.1 server for metrics and health endpoints.
//!
//! Each binary supplies a synchronous routing function `Fn(&Method, &str) -> Reply`; the
//! server owns accepting, connection tasks and shutdown. Health endpoints must be cheap and
//! must not block, so the handler is deliberately not async.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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

/// Serves `route` on `listener` until `token` is cancelled. Open connections are closed
/// when the token fires (health checks are short; nothing to drain).
pub async fn serve<F>(listener: TcpListener, route: F, token: CancellationToken)
where
    F: Fn(&Method, &str) -> Reply + Send + Sync + 'static,
{
    let route = Arc::new(route);
    loop {
        let (stream, _) = tokio::select! {
            _ = token.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let route = route.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let reply = route(req.method(), req.uri().path());
                async move { Ok::<_, Infallible>(to_response(reply)) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = token.cancelled() => {}
            }
        });
    }
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = reply.status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(reply.content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}
