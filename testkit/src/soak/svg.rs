//! The report's picture: one SVG timeline with six panels sharing the time axis (QPS sent and
//! answered; p50 and p99 latency; errors by kind per second; RSS, its anonymous part and open
//! descriptors per process), the faults shaded across all of them and labelled on top. Hand-written SVG 1.1,
//! no dependencies. Pure.

use std::fmt::Write as _;

use super::record::{Outcome, Recorder};
use crate::procfs::Usage;

const W: f64 = 1200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const PANEL: f64 = 140.0;
const GAP: f64 = 40.0;
const TOP: f64 = 70.0;
const COLORS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];

type Series = (String, Vec<(f64, f64)>);
type Kind = (&'static str, fn(&Outcome) -> bool);

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn percentile(v: &[u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut v = v.to_vec();
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    f64::from(v[i]) / 1000.0
}

fn panel(o: &mut String, y0: f64, title: &str, unit: &str, series: &[Series], xmax: f64) {
    let ymax = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;
    let plot_w = W - LEFT - RIGHT;
    let x = |t: f64| LEFT + t / xmax.max(1.0) * plot_w;
    let y = |v: f64| y0 + PANEL - v / ymax * PANEL;
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{y0}" width="{plot_w}" height="{PANEL}" fill="none" stroke="#999"/>"##
    );
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
        y0 - 6.0,
        esc(title)
    );
    for k in 0..=4 {
        let v = ymax * f64::from(k) / 4.0;
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{:.1}" font-size="10" text-anchor="end">{v:.0}{unit}</text>"#,
            LEFT - 4.0,
            y(v) + 3.0
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        if !path.is_empty() {
            let _ = writeln!(
                o,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{}"/>"#,
                path.join(" ")
            );
        }
        let ly = y0 + 12.0 + 14.0 * i as f64;
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{ly}" font-size="11" fill="{color}">{}</text>"#,
            W - RIGHT + 8.0,
            esc(name)
        );
    }
}

/// The timeline of `rec` as an SVG document.
pub fn timeline(rec: &Recorder, title: &str) -> String {
    let secs = rec.buckets.len();
    let xmax = secs as f64;
    let at = |i: usize| i as f64 + 0.5;
    let qps: Vec<Series> = vec![
        (
            "sent/s".into(),
            rec.buckets
                .iter()
                .enumerate()
                .map(|(i, b)| (at(i), b.sent as f64))
                .collect(),
        ),
        (
            "answered/s".into(),
            rec.buckets
                .iter()
                .enumerate()
                .map(|(i, b)| (at(i), b.answered as f64))
                .collect(),
        ),
    ];
    let lat: Vec<Series> = vec![
        (
            "p50 ms".into(),
            rec.buckets
                .iter()
                .enumerate()
                .map(|(i, b)| (at(i), percentile(&b.latency_us, 0.5)))
                .collect(),
        ),
        (
            "p99 ms".into(),
            rec.buckets
                .iter()
                .enumerate()
                .map(|(i, b)| (at(i), percentile(&b.latency_us, 0.99)))
                .collect(),
        ),
    ];
    let kinds: [Kind; 4] = [
        ("lost", |o| matches!(o, Outcome::Lost)),
        ("SERVFAIL/rcode", |o| {
            matches!(o, Outcome::ServFail | Outcome::Rcode(_))
        }),
        ("stale", |o| matches!(o, Outcome::Stale(_))),
        ("wrong", |o| matches!(o, Outcome::Wrong)),
    ];
    let errors: Vec<Series> = kinds
        .iter()
        .map(|(name, is)| {
            let mut per = vec![0.0; secs.max(1)];
            for b in rec.bad.iter().filter(|b| is(&b.outcome)) {
                if let Some(c) = per.get_mut(b.sent.as_secs() as usize) {
                    *c += 1.0;
                }
            }
            (
                name.to_string(),
                per.into_iter()
                    .enumerate()
                    .map(|(i, v)| (at(i), v))
                    .collect(),
            )
        })
        .collect();
    let procs = ["kubedns", "nanny", "dnscache", "sidecar"];
    let per_proc = |f: fn(&Usage) -> f64| -> Vec<Series> {
        procs
            .iter()
            .map(|p| {
                let pts = rec
                    .samples
                    .iter()
                    .filter(|s| s.process == *p && s.at.as_secs_f64() <= xmax)
                    .map(|s| (s.at.as_secs_f64(), f(&s.usage)))
                    .collect();
                (p.to_string(), pts)
            })
            .collect()
    };
    let rss = per_proc(|u| u.rss_kib as f64 / 1024.0);
    let anon = per_proc(|u| u.anon_kib as f64 / 1024.0);
    let fds = per_proc(|u| u.fds as f64);
    let panels = [
        ("queries per second", "", qps),
        ("latency (ms)", "", lat),
        ("errors per second (by send time)", "", errors),
        ("RSS (MiB)", "", rss),
        ("of which anonymous (MiB)", "", anon),
        ("open fds", "", fds),
    ];
    let h = TOP + panels.len() as f64 * (PANEL + GAP) + 20.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif">"#
    );
    let _ = writeln!(o, r#"<rect width="{W}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let plot_w = W - LEFT - RIGHT;
    let x = |t: f64| LEFT + t / xmax.max(1.0) * plot_w;
    let bottom = TOP + panels.len() as f64 * (PANEL + GAP) - GAP;
    let mut marks = rec.marks.clone();
    marks.sort_by_key(|m| m.start);
    // ConfigMap edits are frequent: a thin line each; the other faults are labelled.
    let mut labelled = 0;
    for m in &marks {
        let (x0, x1) = (x(m.start.as_secs_f64()), x(m.end.as_secs_f64()));
        let wdt = (x1 - x0).max(1.5);
        let _ = writeln!(
            o,
            r##"<rect x="{x0:.1}" y="{TOP}" width="{wdt:.1}" height="{:.1}" fill="#f5b041" fill-opacity="0.3"><title>{}</title></rect>"##,
            bottom - TOP,
            esc(m.label)
        );
        if m.label == "ConfigMap change" {
            continue;
        }
        let ly = 38.0 + 12.0 * (labelled % 3) as f64;
        labelled += 1;
        let _ = writeln!(
            o,
            r#"<text x="{x0:.1}" y="{ly}" font-size="10">{}</text>"#,
            esc(m.label)
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{}" y="38" font-size="10">thin lines: ConfigMap edits</text>"#,
        W - RIGHT + 8.0
    );
    for (i, (title, unit, series)) in panels.iter().enumerate() {
        panel(
            &mut o,
            TOP + i as f64 * (PANEL + GAP),
            title,
            unit,
            series,
            xmax,
        );
    }
    for k in 0..=10 {
        let t = xmax * f64::from(k) / 10.0;
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{t:.0}s</text>"#,
            x(t),
            bottom + 14.0
        );
    }
    o.push_str("</svg>\n");
    o
}
