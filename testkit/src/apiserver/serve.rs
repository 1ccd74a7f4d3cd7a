//! HTTP side of the fake API server: GET of one object, LIST with `limit`/`continue`
//! pagination, and WATCH as a chunked body of newline-delimited JSON events, as kube-rs 5
//! sends and expects them (`watch=true&resourceVersion=…&allowWatchBookmarks=true`). Faults (down, 503, stall, dropped
//! connections, watches closed early) are read from [`Faults`] on every request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Shared;
use super::query::{Query, Selector};
use super::resource::{Resource, Target, parse_path};
use super::state::{Key, State};

/// Response body type.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Serves one request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let query = Query::parse(req.uri().query().unwrap_or_default());
    shared.record(req.method(), req.uri().path(), &query);
    let faults = shared.faults();
    if !faults.stall.is_zero() {
        tokio::time::sleep(faults.stall).await;
    }
    if faults.unavailable {
        return Ok(status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "apiserver is unavailable",
        ));
    }
    if req.method() != Method::GET {
        return Ok(status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "only GET is served",
        ));
    }
    let Some(target) = parse_path(req.uri().path()) else {
        return Ok(status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ));
    };
    let (labels, fields) = match (
        selector(&query, "labelSelector"),
        selector(&query, "fieldSelector"),
    ) {
        (Some(l), Some(f)) => (l, f),
        _ => {
            return Ok(status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "unable to parse selector",
            ));
        }
    };
    let filter = Filter {
        target,
        labels,
        fields,
    };
    Ok(if let Some(name) = filter.target.name.clone() {
        get_one(&shared, &filter.target, &name)
    } else if query.flag("watch") {
        watch(shared, filter, &query)
    } else {
        list(&shared, &filter, &query)
    })
}

fn selector(q: &Query, key: &str) -> Option<Selector> {
    Selector::parse(q.get(key).unwrap_or_default())
}

/// Which objects a request is about.
struct Filter {
    target: Target,
    labels: Selector,
    fields: Selector,
}

impl Filter {
    fn matches(&self, resource: Resource, obj: &Value) -> bool {
        resource == self.target.resource
            && self
                .target
                .namespace
                .as_deref()
                .is_none_or(|ns| obj["metadata"]["namespace"].as_str() == Some(ns))
            && self.labels.matches_labels(obj)
            && self.fields.matches_fields(obj)
    }
}

fn json_response(code: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// A `Status` object, as the API server sends for errors (also used in watch ERROR events).
pub fn status_object(code: StatusCode, reason: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code.as_u16()})
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    json_response(code, status_object(code, reason, message).to_string())
}

fn get_one(shared: &Shared, target: &Target, name: &str) -> Response<Body> {
    let key: Key = (
        target.namespace.clone().unwrap_or_default(),
        name.to_string(),
    );
    let state = shared.state();
    match state
        .objects
        .get(&target.resource)
        .and_then(|m| m.get(&key))
    {
        Some(obj) => json_response(StatusCode::OK, obj.to_string()),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{} \"{name}\" not found", target.resource.plural()),
        ),
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// A continue token: the list's resourceVersion and the last key served.
fn encode_continue(rv: u64, key: &Key) -> String {
    hex(&format!("{rv}\0{}\0{}", key.0, key.1))
}

fn decode_continue(token: &str) -> Option<(u64, Key)> {
    let s = unhex(token)?;
    let mut parts = s.split('\0');
    let rv = parts.next()?.parse().ok()?;
    Some((rv, (parts.next()?.to_string(), parts.next()?.to_string())))
}

fn list(shared: &Shared, filter: &Filter, q: &Query) -> Response<Body> {
    let resource = filter.target.resource;
    let state = shared.state();
    let (list_rv, after) = match q.get("continue").filter(|c| !c.is_empty()) {
        None => (state.rv, None),
        Some(token) => match decode_continue(token) {
            None => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "invalid continue token",
                );
            }
            Some((rv, _)) if rv < state.compacted_before => {
                return status(
                    StatusCode::GONE,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result.",
                );
            }
            Some((rv, key)) => (rv, Some(key)),
        },
    };
    let limit = q
        .num("limit")
        .filter(|l| *l > 0)
        .map_or(usize::MAX, |l| l as usize);
    let mut items = String::from("[");
    let mut last: Option<&Key> = None;
    let mut more = false;
    let mut n = 0usize;
    for (key, obj) in state.list(resource) {
        if after.as_ref().is_some_and(|a| key <= a) || !filter.matches(resource, obj) {
            continue;
        }
        if n == limit {
            more = true;
            break;
        }
        if n > 0 {
            items.push(',');
        }
        items.push_str(&obj.to_string());
        last = Some(key);
        n += 1;
    }
    items.push(']');
    let cont = match (more, last) {
        (true, Some(key)) => encode_continue(list_rv, key),
        _ => String::new(),
    };
    let body = format!(
        r#"{{"apiVersion":"{}","kind":"{}List","metadata":{{"resourceVersion":"{list_rv}","continue":"{cont}"}},"items":{items}}}"#,
        resource.api_version(),
        resource.kind()
    );
    json_response(StatusCode::OK, body)
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = format!(r#"{{"type":"{kind}","object":{object}}}"#);
    line.push('\n');
    Bytes::from(line)
}

fn bookmark(resource: Resource, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"apiVersion": resource.api_version(), "kind": resource.kind(), "metadata": meta}),
    )
}

fn expired(from: u64, state: &State) -> Bytes {
    let msg = format!(
        "too old resource version: {from} ({})",
        state.compacted_before
    );
    event_line("ERROR", &status_object(StatusCode::GONE, "Expired", &msg))
}

fn watch(shared: Arc<Shared>, filter: Filter, q: &Query) -> Response<Body> {
    let faults = shared.faults();
    let mut lifetime = Duration::from_secs(q.num("timeoutSeconds").unwrap_or(1800));
    if let Some(every) = faults.close_watches_every {
        lifetime = lifetime.min(every);
    }
    let from = q
        .get("resourceVersion")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let initial_events = q.flag("sendInitialEvents") || from == 0;
    let announce_end = q.flag("sendInitialEvents");
    let bookmarks = q
        .flag("allowWatchBookmarks")
        .then_some(faults.bookmark_every)
        .flatten();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let guard = shared.watch_started();
    tokio::spawn(async move {
        let _guard = guard;
        let resource = filter.target.resource;
        let mut rv_rx = shared.rv_tx.subscribe();
        let (mut lines, mut cursor) = {
            let state = shared.state();
            if initial_events {
                let lines: Vec<Bytes> = state
                    .list(resource)
                    .filter(|(_, o)| filter.matches(resource, o))
                    .map(|(_, o)| event_line("ADDED", o))
                    .collect();
                (lines, state.rv)
            } else if from < state.compacted_before {
                (vec![expired(from, &state)], u64::MAX)
            } else {
                (Vec::new(), from)
            }
        };
        if announce_end && cursor != u64::MAX {
            lines.push(bookmark(resource, cursor, true));
        }
        let deadline = tokio::time::sleep(lifetime);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(bookmarks.unwrap_or(Duration::from_secs(3600)));
        tick.reset();
        loop {
            for line in lines.drain(..) {
                if tx.send(line).await.is_err() {
                    return;
                }
            }
            if cursor == u64::MAX {
                return; // after a 410 the server ends the watch
            }
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = tick.tick(), if bookmarks.is_some() => {
                    cursor = drain(&shared, &filter, cursor, &mut lines);
                    if cursor != u64::MAX {
                        lines.push(bookmark(resource, cursor, false));
                    }
                }
                changed = rv_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    cursor = drain(&shared, &filter, cursor, &mut lines);
                }
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut resp = Response::new(StreamBody::new(body).boxed_unsync());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Appends the events after `cursor` that `filter` matches; returns the new cursor
/// (`u64::MAX` with an ERROR 410 line when the log no longer reaches back to `cursor`).
fn drain(shared: &Shared, filter: &Filter, cursor: u64, lines: &mut Vec<Bytes>) -> u64 {
    let state = shared.state();
    if cursor < state.compacted_before {
        lines.push(expired(cursor, &state));
        return u64::MAX;
    }
    for ev in state.events_after(cursor) {
        if filter.matches(ev.resource, &ev.object) {
            lines.push(event_line(ev.kind.as_str(), &ev.object));
        }
    }
    state.rv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let key = ("ns".to_string(), "web-0".to_string());
        assert_eq!(decode_continue(&encode_continue(42, &key)), Some((42, key)));
        assert_eq!(decode_continue("zz"), None);
    }
}
