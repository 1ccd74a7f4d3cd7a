//! The sidecar's HTTP endpoints on `--prometheus-addr:--prometheus-port`:
//! `<--prometheus-path>` (Prometheus text), `/healthz` (`200 ok (<time>)\n`) and
//! `/healthcheck/<label>` per probe (200 or 503 with kube-dns's JSON). Routing only; the
//! serving loop is `ops::http::serve`, probe state comes from [`Health`].

use std::collections::HashMap;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use ::http::{Method, StatusCode};
use ops::http::Reply;
use prometheus::Registry;
use std::net::TcpListener;

use tokio_util::sync::CancellationToken;

use crate::probe::Health;

/// Binds the HTTP listener (a wildcard serves IPv4 and IPv6) and logs
/// `listening on http <addr>`.
pub async fn bind(addr: &str, port: u16) -> io::Result<TcpListener> {
    let target = crate::probe::exchange::resolve_parts(addr, port).await?;
    ops::net::bind_http(target).map_err(|e| io::Error::new(e.source.kind(), e.to_string()))
}

/// The routing function handed to `ops::http::serve`.
pub fn router(
    metrics_path: String,
    registry: Registry,
    probes: HashMap<String, Health>,
    lame_duck: CancellationToken,
) -> impl Fn(&Method, &str) -> Reply + Send + Sync + 'static {
    move |_method, path| {
        if path == metrics_path {
            return Reply::metrics(&registry);
        }
        if path == "/healthz" {
            return Reply::text(
                StatusCode::OK,
                format!("ok ({})\n", go_time(SystemTime::now())),
            );
        }
        let Some(label) = path.strip_prefix("/healthcheck/") else {
            return Reply::not_found();
        };
        match probes.get(label) {
            // Terminating: unhealthy at once, so that nothing keeps relying on this pod.
            Some(_) if lame_duck.is_cancelled() => {
                let report = crate::probe::Report {
                    is_ok: false,
                    latency_seconds: 0.0,
                    err: "shutting down".into(),
                };
                Reply::json(StatusCode::SERVICE_UNAVAILABLE, report.to_json())
            }
            Some(health) => {
                let report = health.report();
                let status = if report.is_ok {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                Reply::json(status, report.to_json())
            }
            None => Reply::not_found(),
        }
    }
}

/// Go's `time.Time` default format in UTC: `2026-01-07 10:04:05.123456789 +0000 UTC`.
pub fn go_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let frac = match d.subsec_nanos() {
        0 => String::new(),
        n => format!(".{n:09}").trim_end_matches('0').to_string(),
    };
    format!(
        "{y:04}-{m:02}-{day:02} {:02}:{:02}:{:02}{frac} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_time_format() {
        let t = UNIX_EPOCH + Duration::new(1_767_780_245, 123_400_000);
        assert_eq!(go_time(t), "2026-01-07 10:04:05.1234 +0000 UTC");
        assert_eq!(
            go_time(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn routes() {
        let h = Health::new();
        let lame_duck = CancellationToken::new();
        let route = router(
            "/metrics".into(),
            Registry::new(),
            HashMap::from([("ok".to_string(), h.clone())]),
            lame_duck.clone(),
        );
        assert_eq!(
            route(&Method::GET, "/healthcheck/ok").status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        h.set(Ok(Duration::from_millis(2)));
        let r = route(&Method::GET, "/healthcheck/ok");
        assert_eq!(
            (r.status, r.content_type, r.body.as_str()),
            (
                StatusCode::OK,
                "application/json",
                r#"{"IsOk":true,"LatencySeconds":0.002,"Err":""}"#
            )
        );
        assert_eq!(
            route(&Method::GET, "/healthcheck/nope").status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            route(&Method::GET, "/healthcheck/").status,
            StatusCode::NOT_FOUND
        );
        assert!(route(&Method::GET, "/healthz").body.starts_with("ok ("));
        assert_eq!(route(&Method::GET, "/metrics").status, StatusCode::OK);
        assert_eq!(route(&Method::GET, "/").status, StatusCode::NOT_FOUND);
        // Terminating: unhealthy at once, metrics still served.
        lame_duck.cancel();
        let r = route(&Method::GET, "/healthcheck/ok");
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"IsOk":false,"LatencySeconds":0,"Err":"shutting down"}"#
            )
        );
        assert_eq!(route(&Method::GET, "/metrics").status, StatusCode::OK);
    }
}
