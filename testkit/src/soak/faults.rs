//! Carries out the plan's faults at their times, each in its own task, and records when each
//! really started and when its effect ended (the allowed windows are cut from these):
//! kill -9 of dnscache (ends when dnscache answers again) and of kubedns (ends when its
//! `/readiness` is 200 again), the API server outage (down, then compacted so resumed
//! watches get 410 Gone, then up), the silent upstream, and the ConfigMap edits.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RecordType};

use super::kubelet::{Kubelet, kubedns_ready, write_config};
use super::model::{Expect, Key, Model};
use super::record::{Mark, Recorder};
use super::schedule::{Fault, Plan};
use crate::apiserver::FakeApiServer;
use crate::procfs::{child_of, kill9};

/// How long a restarted process may take before the run gives up waiting for it.
const RECOVERY_MAX: Duration = Duration::from_secs(90);

/// What the faults act on.
pub struct Targets {
    /// The fake API server.
    pub api: Arc<FakeApiServer>,
    /// The pod.
    pub kubelet: Arc<Mutex<Kubelet>>,
    /// Makes every outside upstream drop queries.
    pub silent: Arc<AtomicBool>,
    /// The model (ConfigMap changes move the stub-domain answers).
    pub model: Arc<Mutex<Model>>,
    /// The record.
    pub rec: Arc<Mutex<Recorder>>,
    /// The nanny's ConfigMap directory.
    pub config_dir: PathBuf,
    /// The two stub-domain servers the ConfigMap alternates between.
    pub stubs: [SocketAddr; 2],
    /// The two upstreams the ConfigMap alternates between.
    pub upstreams: [SocketAddr; 2],
    /// The stub-domain questions.
    pub stub_keys: Vec<Key>,
    /// By when a ConfigMap change must show.
    pub config_bound: Duration,
    /// dnscache's address.
    pub cache: SocketAddr,
}

/// The stub-domain zone the ConfigMap routes.
pub const STUB_DOMAIN: &str = "acme.local";

/// The answer of stub server `i`.
pub fn stub_answer(i: usize) -> Expect {
    Expect::records([format!("A 198.51.100.{}", 1 + i % 2)])
}

/// Writes valid ConfigMap number `v` (0 is the one the pod starts with).
pub fn write_valid(t: &Targets, v: usize) {
    let stub = t.stubs[v % 2];
    let up = t.upstreams[v % 2];
    write_config(
        &t.config_dir,
        &format!(r#"{{"{STUB_DOMAIN}": ["{stub}"]}}"#),
        &format!(r#"["{up}"]"#),
    );
}

/// Runs every fault of `plan` from `start`; returns when all are over.
pub async fn run(plan: &Plan, t: Arc<Targets>, start: Instant) {
    let mut tasks = tokio::task::JoinSet::new();
    for (at, fault) in plan.faults.clone() {
        let t = t.clone();
        tasks.spawn(async move {
            tokio::time::sleep_until((start + at).into()).await;
            let began = Instant::now();
            let (end, note) = match &fault {
                Fault::KillDnscache | Fault::KillKubedns => {
                    let (t2, f) = (t.clone(), fault.clone());
                    tokio::task::spawn_blocking(move || kill(&t2, &f))
                        .await
                        .unwrap_or_else(|e| (Instant::now(), format!("fault task failed: {e}")))
                }
                Fault::ApiOutage(len) => {
                    t.api.set_down(true);
                    tokio::time::sleep(*len).await;
                    t.api.compact();
                    t.api.set_down(false);
                    (
                        Instant::now(),
                        "then compacted: resumed watches get 410".into(),
                    )
                }
                Fault::UpstreamSilent(len) => {
                    t.silent.store(true, Ordering::SeqCst);
                    tokio::time::sleep(*len).await;
                    t.silent.store(false, Ordering::SeqCst);
                    (Instant::now(), String::new())
                }
                Fault::ConfigMap { valid } => {
                    let (t2, v) = (t.clone(), *valid);
                    tokio::task::spawn_blocking(move || configmap(&t2, v))
                        .await
                        .unwrap_or_else(|e| (Instant::now(), format!("fault task failed: {e}")))
                }
            };
            let mut rec = t.rec.lock().unwrap_or_else(|e| e.into_inner());
            let mark = Mark {
                label: fault.label(),
                start: rec.offset(began),
                end: rec.offset(end),
                note,
            };
            rec.marks.push(mark);
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Blocking: writes the ConfigMap; a valid one ends when the stub domain answers from the
/// new server through dnscache.
fn configmap(t: &Targets, valid: Option<usize>) -> (Instant, String) {
    let now = Instant::now();
    let Some(v) = valid else {
        let stub = t.stubs[0];
        write_config(
            &t.config_dir,
            &format!(r#"{{"{STUB_DOMAIN}": ["{stub}""#),
            "[]",
        );
        return (
            now,
            "truncated stubDomains JSON: the last good config must stay".into(),
        );
    };
    {
        let mut m = t.model.lock().unwrap_or_else(|e| e.into_inner());
        for k in &t.stub_keys {
            m.set(k, stub_answer(v), now, now + t.config_bound);
        }
    }
    write_valid(t, v);
    let probe = format!("s0.{STUB_DOMAIN}.");
    loop {
        let at = Instant::now();
        let reply = ask(t.cache, &probe, RecordType::A, DNSClass::IN);
        if reply.is_some_and(|m| Expect::of(&m).0 == stub_answer(v)) {
            let ms = (at - now).as_millis();
            return (
                at,
                format!(
                    "stub server {v2}, upstream {v2}; answering after {ms} ms",
                    v2 = v % 2
                ),
            );
        }
        if at - now > RECOVERY_MAX {
            return (at, format!("stub server {} never answered", v % 2));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Blocking: SIGKILL the process and wait until it serves again.
fn kill(t: &Targets, fault: &Fault) -> (Instant, String) {
    let began = Instant::now();
    let pid = {
        let k = t.kubelet.lock().unwrap_or_else(|e| e.into_inner());
        match fault {
            Fault::KillDnscache => k.pid("nanny").and_then(child_of),
            _ => k.pid("kubedns"),
        }
    };
    let Some(pid) = pid else {
        return (began, "process not found; nothing killed".into());
    };
    kill9(pid);
    let killed = Instant::now();
    loop {
        let now = Instant::now();
        if now - killed > RECOVERY_MAX {
            return (
                now,
                format!("pid {pid} killed; not back after {RECOVERY_MAX:?}"),
            );
        }
        let back = match fault {
            Fault::KillDnscache => cache_answers(t.cache),
            _ => {
                let k = t.kubelet.lock().unwrap_or_else(|e| e.into_inner());
                let ports = k.ports;
                drop(k);
                kubedns_ready(&ports)
            }
        };
        if back {
            let took = now - killed;
            return (
                now,
                format!(
                    "pid {pid} killed; serving again after {} ms",
                    took.as_millis()
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Blocking: whether dnscache answers a CHAOS `hits.bind.` within 20 ms.
pub fn cache_answers(cache: SocketAddr) -> bool {
    ask(cache, "hits.bind.", RecordType::TXT, DNSClass::CH).is_some()
}

/// Blocking: one UDP question to `server`, at most 20 ms for the reply.
fn ask(server: SocketAddr, name: &str, qtype: RecordType, class: DNSClass) -> Option<Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .ok()?;
    let q = crate::dns::make_query(name, qtype, class);
    sock.send_to(&q.to_vec().ok()?, server).ok()?;
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    Message::from_vec(&buf[..n])
        .ok()
        .filter(|m| m.metadata.id == q.metadata.id)
}
