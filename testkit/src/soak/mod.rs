//! The soak and chaos harness: the whole pod on loopback for a long run under client traffic,
//! API churn and failures, every answer checked against what the cluster held at that moment.
//!
//! - [`schedule`]: the plan (faults and their times) from the duration and the seed;
//! - [`model`]: per question, the history of expected answers and their deadlines;
//! - [`cluster`]: the objects the run creates, changes and deletes at the fake API server;
//! - [`kubelet`]: the pod's three containers, restarted when they exit, and `/proc` readings;
//! - [`traffic`], [`mix`]: the fixed-rate query load, what it asks, the judging of each reply;
//! - [`faults`]: kill -9, API outage ending in 410, silent upstream, ConfigMap edits;
//! - [`record`], [`report`], [`svg`]: what happened, the bounds, the text and the picture.
//!
//! `deploy/local/soak.sh` runs the `soak` binary on release builds; `tests/soak.rs` runs a
//! 60 s version in the test suite.

pub mod cluster;
pub mod faults;
pub mod kubelet;
pub mod mix;
pub mod model;
pub mod record;
pub mod report;
pub mod schedule;
pub mod svg;
pub mod traffic;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::apiserver::FakeApiServer;
use crate::upstream::{MockUpstream, Reply, reply_a, reply_nxdomain};
use cluster::{Cluster, Deadlines, outside_ip};
use faults::{STUB_DOMAIN, Targets};
use kubelet::{Kubelet, PodSpec};
use model::Model;
use record::Recorder;
use report::{Bounds, Summary};
use schedule::Plan;
use traffic::Load;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Traffic time (the pod's start-up comes before it).
    pub duration: Duration,
    /// Seed of the plan, the churn and the mix.
    pub seed: u64,
    /// Client queries per second.
    pub qps: u32,
    /// API writes per second (Service and EndpointSlice churn).
    pub churn: u32,
    /// Out of 1000 queries, how many over TCP.
    pub tcp_per_mille: u32,
    /// Services in the churned pool.
    pub pool: usize,
    /// The four binaries; `None`: the workspace's debug build.
    pub bin_dir: Option<PathBuf>,
    /// A change at the API server must show within this.
    pub change_bound: Duration,
    /// After an API outage, changes must show this long after the server answers again.
    pub recovery_bound: Duration,
    /// A ConfigMap change must show within this.
    pub config_bound: Duration,
    /// The bounds of the verdict.
    pub bounds: Bounds,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            duration: Duration::from_secs(30 * 60),
            seed: 1,
            qps: 2000,
            churn: 50,
            tcp_per_mille: 20,
            pool: 300,
            bin_dir: None,
            change_bound: Duration::from_secs(1),
            recovery_bound: Duration::from_secs(5),
            config_bound: Duration::from_secs(15),
            bounds: Bounds::default(),
        }
    }
}

/// The result of a run.
pub struct Soak {
    /// The counts and broken bounds.
    pub summary: Summary,
    /// The text report.
    pub text: String,
    /// The SVG timeline.
    pub svg: String,
    /// The resource samples (`seconds,process,rss_kib,anon_kib,file_kib,fds`).
    pub samples_csv: String,
}

/// Why a run could not be carried out (as opposed to a run that broke a bound).
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    /// The pod did not come up.
    #[error("the pod did not start: {0}")]
    Start(String),
    /// Local I/O (temporary directory, sockets).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn outside_handler(silent: Arc<AtomicBool>) -> impl Fn(&hickory_proto::op::Message) -> Reply {
    move |req| {
        if silent.load(Ordering::SeqCst) {
            return Reply::Drop;
        }
        let name = req
            .queries
            .first()
            .map(|q| q.name().to_ascii())
            .unwrap_or_default();
        if name.to_ascii_lowercase().ends_with(".example.") {
            Reply::Msg(reply_a(req, outside_ip(&name), 60))
        } else {
            Reply::Msg(reply_nxdomain(req, 5))
        }
    }
}

/// Polls `f` every 100 ms for at most `max`.
async fn until(max: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let end = Instant::now() + max;
    while Instant::now() < end {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Runs the soak: starts everything, waits for the pod, then traffic, churn and faults for
/// `cfg.duration`; judges and reports. Needs a multi-threaded tokio runtime.
pub async fn run(cfg: Config) -> Result<Soak, SoakError> {
    let plan = Plan::new(cfg.duration, cfg.seed);
    let api = Arc::new(FakeApiServer::start().await);
    let silent = Arc::new(AtomicBool::new(false));
    let up0 = MockUpstream::start(outside_handler(silent.clone())).await;
    let up_a = MockUpstream::start(outside_handler(silent.clone())).await;
    let up_b = MockUpstream::start(outside_handler(silent.clone())).await;
    let stub0 =
        MockUpstream::start(|r| Reply::Msg(reply_a(r, Ipv4Addr::new(198, 51, 100, 1), 5))).await;
    let stub1 =
        MockUpstream::start(|r| Reply::Msg(reply_a(r, Ipv4Addr::new(198, 51, 100, 2), 5))).await;
    let work = tempfile::tempdir()?;
    let config_dir = work.path().join("configmap");
    let resolv_file = work.path().join("resolv.conf");
    std::fs::create_dir_all(&config_dir)?;
    std::fs::write(&resolv_file, "# soak: upstreams come from --server only\n")?;
    let model = Arc::new(Mutex::new(Model::default()));
    let mut deadlines = Deadlines {
        change: cfg.change_bound,
        recovery: cfg.recovery_bound,
        outage: None,
    };
    let mut cluster = Cluster::new(api.clone(), model.clone(), deadlines, cfg.seed, cfg.pool);
    let now = Instant::now();
    cluster.setup(now);
    let (questions, stub_keys) = mix::questions(
        &mut model.lock().unwrap_or_else(|e| e.into_inner()),
        &cfg,
        now,
    );
    let spec = PodSpec {
        bin_dir: cfg.bin_dir.clone(),
        api_url: api.url(),
        config_dir: config_dir.clone(),
        upstream: up0.addr(),
        resolv_file,
    };
    let kubelet = tokio::task::spawn_blocking(move || Kubelet::start(&spec))
        .await
        .map_err(|e| SoakError::Start(e.to_string()))?
        .map_err(|e| SoakError::Start(e.to_string()))?;
    let ports = kubelet.ports;
    let kubelet = Arc::new(Mutex::new(kubelet));
    let targets = Arc::new(Targets {
        api: api.clone(),
        kubelet: kubelet.clone(),
        silent,
        model: model.clone(),
        rec: Arc::new(Mutex::new(Recorder::new(Instant::now()))),
        config_dir,
        stubs: [stub0.addr(), stub1.addr()],
        upstreams: [up_a.addr(), up_b.addr()],
        stub_keys,
        config_bound: cfg.config_bound,
        cache: ports.cache,
    });
    faults::write_valid(&targets, 0);
    let ready = until(Duration::from_secs(60), async || {
        let stub =
            crate::dns::query(ports.cache, &format!("s0.{STUB_DOMAIN}."), RecordType::A).await;
        let dual = crate::dns::query(ports.cache, &cluster::fqdn("dual"), RecordType::A).await;
        stub.is_ok_and(|m| !m.answers.is_empty()) && dual.is_ok_and(|m| !m.answers.is_empty())
    })
    .await;
    if !ready {
        let k = kubelet.lock().unwrap_or_else(|e| e.into_inner());
        let logs: Vec<String> = ["kubedns", "nanny"]
            .iter()
            .flat_map(|c| k.last_lines(c, 15))
            .collect();
        return Err(SoakError::Start(format!(
            "no cluster or stub answer through the cache within 60 s; logs: {logs:#?}"
        )));
    }
    let start = Instant::now();
    let rec = targets.rec.clone();
    *rec.lock().unwrap_or_else(|e| e.into_inner()) = Recorder::new(start);
    deadlines.outage = plan.outage().map(|(s, e)| (start + s, start + e));
    cluster.set_deadlines(deadlines);

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (k, rec, stop) = (kubelet.clone(), rec.clone(), stop.clone());
        std::thread::spawn(move || kubelet::watch_pod(&k, &rec, &stop))
    };
    let churn = {
        let (rec, stop, rate) = (rec.clone(), stop.clone(), cfg.churn);
        tokio::spawn(async move {
            let mut writes = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64;
                while writes < due {
                    writes += u64::from(cluster.step(Instant::now()));
                }
                rec.lock().unwrap_or_else(|e| e.into_inner()).writes = writes;
            }
            cluster.write_errors
        })
    };
    let faults = tokio::spawn({
        let (plan, t) = (plan.clone(), targets.clone());
        async move { faults::run(&plan, t, start).await }
    });
    let load = Load {
        target: ports.cache,
        qps: cfg.qps,
        tcp_per_mille: cfg.tcp_per_mille,
        duration: cfg.duration,
        seed: cfg.seed,
    };
    traffic::run(load, Arc::new(questions), model.clone(), rec.clone()).await?;
    rec.lock().unwrap_or_else(|e| e.into_inner()).server_drops =
        traffic::udp_drops(&[ports.cache.port()]);
    stop.store(true, Ordering::SeqCst);
    let write_errors = churn.await.unwrap_or(0);
    let _ = tokio::time::timeout(Duration::from_secs(30), faults).await;
    let _ = tokio::task::spawn_blocking(move || watcher.join()).await;

    let mut health = Vec::new();
    // The sidecar probes both servers once a second: both must be healthy at the end.
    for label in ["kubedns", "dnsmasq"] {
        let sidecar = ports.sidecar_http;
        let path = format!("/healthcheck/{label}");
        let code = tokio::task::spawn_blocking(move || crate::pod::http_get(sidecar, &path))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|(code, _)| code);
        if code != Some(200) {
            health.push(format!("sidecar /healthcheck/{label} at the end: {code:?}"));
        }
    }
    let rec = rec.lock().unwrap_or_else(|e| e.into_inner());
    let mut summary = report::summarise(&rec, &cfg.bounds, plan.drift_from);
    summary.failures.extend(health);
    if write_errors > 0 {
        summary
            .failures
            .push(format!("{write_errors} API writes refused (harness bug)"));
    }
    let k = kubelet.lock().unwrap_or_else(|e| e.into_inner());
    let restarts: Vec<String> = k
        .restarts
        .iter()
        .map(|r| {
            format!(
                "{}@{:.1}s ({})",
                r.container,
                rec.offset(r.at).as_secs_f64(),
                r.exit
            )
        })
        .collect();
    let header = format!(
        "soak: {:?}, seed {}, {} qps ({}‰ TCP), {} API writes/s, pool {}; bounds: change {:?}, after outage {:?}, ConfigMap {:?}\ncontainer restarts by the kubelet: [{}]",
        cfg.duration,
        cfg.seed,
        cfg.qps,
        cfg.tcp_per_mille,
        cfg.churn,
        cfg.pool,
        cfg.change_bound,
        cfg.recovery_bound,
        cfg.config_bound,
        restarts.join(", ")
    );
    let text = report::text(&rec, &summary, &header);
    let svg = svg::timeline(
        &rec,
        &format!(
            "kube-dns soak: {:?}, seed {}, {} qps, {} writes/s",
            cfg.duration, cfg.seed, cfg.qps, cfg.churn
        ),
    );
    let samples_csv = report::samples_csv(&rec);
    Ok(Soak {
        summary,
        text,
        svg,
        samples_csv,
    })
}
