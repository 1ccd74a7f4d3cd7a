use super::*;
use crate::soak::model::Key;
use crate::soak::record::{Mark, Outcome, Sample};

fn servfail_at(rec: &mut Recorder, sent_ms: u64, until_ms: u64) {
    let at = |ms| rec.start + Duration::from_millis(ms);
    let (sent, until) = (at(sent_ms), at(until_ms));
    let key = Key::new("x.soak.svc.cluster.local", hickory_proto::rr::RecordType::A);
    rec.bad(
        sent,
        until,
        key,
        Class::Cluster,
        Outcome::ServFail,
        String::new(),
    );
}

/// A query in flight when kubedns is killed may fail with it even though it was sent
/// before the kill; one that failed before the kill is a real failure.
#[test]
fn a_window_covers_queries_in_flight_at_its_start() {
    let mut rec = Recorder::new(std::time::Instant::now());
    rec.marks.push(Mark {
        label: "kill -9 kubedns",
        start: Duration::from_millis(7_500),
        end: Duration::from_millis(7_600),
        note: String::new(),
    });
    servfail_at(&mut rec, 7_460, 9_500);
    assert_eq!(
        summarise(&rec, &Bounds::default(), Duration::ZERO).servfail,
        (1, 0)
    );
    servfail_at(&mut rec, 7_000, 7_400);
    assert_eq!(
        summarise(&rec, &Bounds::default(), Duration::ZERO).servfail,
        (1, 1)
    );
    servfail_at(&mut rec, 12_000, 12_010);
    assert_eq!(
        summarise(&rec, &Bounds::default(), Duration::ZERO).servfail,
        (2, 1),
        "5 s slack"
    );
    servfail_at(&mut rec, 12_700, 12_710);
    assert_eq!(
        summarise(&rec, &Bounds::default(), Duration::ZERO).servfail,
        (2, 2)
    );
}

fn sample(rec: &mut Recorder, secs: u64, process: &'static str, anon: u64, fds: u64) {
    rec.samples.push(Sample {
        at: Duration::from_secs(secs),
        process,
        usage: crate::procfs::Usage {
            rss_kib: anon + 8_000,
            anon_kib: anon,
            file_kib: 8_000,
            fds,
        },
    });
}

/// Growth from the drift start to the end fails the run; a process killed and started
/// again is measured from as long after its restart as every process is after the start;
/// the API outage, when kubedns has no connection to the API server, is left out.
#[test]
fn drift_is_measured_after_warm_up_and_a_creep_fails() {
    let mut rec = Recorder::new(std::time::Instant::now());
    rec.marks.push(Mark {
        label: "kill -9 kubedns",
        start: Duration::from_secs(200),
        end: Duration::from_secs(201),
        note: String::new(),
    });
    rec.marks.push(Mark {
        label: "API outage + 410",
        start: Duration::from_secs(560),
        end: Duration::from_secs(620),
        note: String::new(),
    });
    for t in 0..1800 {
        // kubedns: a new process at 201 s that takes 4 minutes to reach its working set.
        let warm = if t < 201 {
            2_000
        } else {
            2_000 + (t - 201).min(240) * 4
        };
        // Its API connections are gone while the API server is away.
        let fds = if (560..=625).contains(&t) { 16 } else { 18 };
        sample(&mut rec, t, "kubedns", warm, fds);
        // dnscache: a slow creep and one more descriptor for good.
        sample(
            &mut rec,
            t,
            "dnscache",
            2_000 + t * 2,
            12 + u64::from(t > 900),
        );
    }
    let s = summarise(&rec, &Bounds::default(), Duration::from_secs(300));
    let kubedns = s.drift.iter().find(|d| d.process == "kubedns").unwrap();
    assert_eq!(kubedns.from, Duration::from_secs(501));
    assert_eq!(kubedns.anon, (2_960, 2_960));
    assert_eq!(kubedns.file, (8_000, 8_000));
    let cache = s.drift.iter().find(|d| d.process == "dnscache").unwrap();
    assert_eq!(cache.from, Duration::from_secs(300));
    assert_eq!(cache.fds, (12, 13));
    assert_eq!(
        s.failures,
        [
            "dnscache RSS grew 25.3% > 5%",
            "dnscache open fds grew 8.3% > 5%"
        ],
        "{:?}",
        s.drift
    );
    let text = text(&rec, &s, "run");
    assert!(text.contains("kubedns   from   501 s"), "{text}");
}
