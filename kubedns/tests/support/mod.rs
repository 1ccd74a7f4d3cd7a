//! Private helpers of kubedns's tests: run kubedns in-process on 127.0.0.1 port 0 with a
//! `--manifests` directory, a tiny async HTTP GET, and the example objects as YAML.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Generous bound for anything eventually true.
pub const BOUND: Duration = Duration::from_secs(10);

/// kubedns running inside the test's runtime.
pub struct Kubedns {
    pub dns: SocketAddr,
    pub healthz: SocketAddr,
    pub metrics: SocketAddr,
    pub dir: tempfile::TempDir,
    token: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), kubedns::Error>>,
}

impl Kubedns {
    /// Starts kubedns on a temp directory holding `files` (name, YAML), plus `extra` flags.
    pub async fn start(files: &[(&str, &str)], extra: &[&str]) -> Kubedns {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write manifest");
        }
        Self::start_on(dir, None, extra).await
    }

    /// Starts kubedns with `--manifests` = `manifests` (default: the temp dir itself).
    pub async fn start_on(
        dir: tempfile::TempDir,
        manifests: Option<PathBuf>,
        extra: &[&str],
    ) -> Kubedns {
        let manifests = manifests.unwrap_or_else(|| dir.path().to_path_buf());
        let mut args = vec![
            "kubedns".to_string(),
            format!("--manifests={}", manifests.display()),
            "--dns-bind-address=127.0.0.1".into(),
            "--dns-port=0".into(),
            "--healthz-port=0".into(),
            "--metrics-port=0".into(),
            "--udp-sockets=2".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let cfg = kubedns::cli::Cli::try_parse_from(args)
            .expect("flags parse")
            .config()
            .expect("flags valid");
        let bound = kubedns::bind(&cfg).expect("bind");
        let dns = bound.dns_addr().expect("dns addr");
        let healthz = bound.healthz.local_addr().expect("healthz addr");
        let metrics = bound
            .metrics
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .expect("metrics addr");
        let token = CancellationToken::new();
        let task = tokio::spawn(kubedns::run(
            cfg,
            bound,
            prometheus::Registry::new(),
            token.clone(),
        ));
        Kubedns {
            dns,
            healthz,
            metrics,
            dir,
            token,
            task,
        }
    }

    /// Waits until `/readiness` answers 200.
    pub async fn ready(&self) {
        let ok = testkit::dns::eventually(BOUND, || async {
            let (status, _) = http_get(self.healthz, "/readiness").await.ok()?;
            (status == 200).then_some(())
        })
        .await;
        assert!(ok.is_some(), "kubedns did not become ready");
    }

    /// The manifests directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Stops kubedns and returns what `run` returned.
    pub async fn stop(self) -> Result<(), kubedns::Error> {
        self.token.cancel();
        tokio::time::timeout(BOUND, self.task)
            .await
            .expect("kubedns stops in time")
            .expect("run task")
    }
}

/// `GET path` over HTTP/1.1; returns status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .map_err(|_| std::io::Error::other("http timeout"))??;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// UDP query that must succeed.
pub async fn q(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    testkit::dns::query(addr, name, qtype)
        .await
        .unwrap_or_else(|e| panic!("{name} {qtype}: {e}"))
}

/// TCP query that must succeed.
pub async fn q_tcp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    testkit::dns::query_tcp(addr, name, qtype)
        .await
        .unwrap_or_else(|e| panic!("{name} {qtype} over tcp: {e}"))
}

/// Answer section rendered as `name ttl IN TYPE rdata` lines, sorted.
pub fn answers(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m.answers.iter().map(|r| r.to_string()).collect();
    v.sort();
    v
}

/// Polls `name`/`qtype` until its rcode is `rcode`.
pub async fn eventually_rcode(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    rcode: ResponseCode,
) {
    let got = testkit::dns::eventually(BOUND, || async {
        let m = testkit::dns::query(addr, name, qtype).await.ok()?;
        (m.metadata.response_code == rcode).then_some(())
    })
    .await;
    assert!(got.is_some(), "{name} {qtype} never answered {rcode}");
}

/// The objects behind the acceptance queries (one of each Service kind the zone answers for).
pub const CLUSTER: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default}
spec:
  clusterIP: 10.96.0.1
  clusterIPs: [10.96.0.1]
  ports: [{name: https, port: 443, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: my-nginx, namespace: default}
spec:
  clusterIP: 10.96.0.50
  clusterIPs: [10.96.0.50]
  ports: [{port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: my-nginx-x1
  namespace: default
  labels: {kubernetes.io/service-name: my-nginx}
addressType: IPv4
endpoints:
- addresses: [10.244.1.10]
  conditions: {ready: true}
- addresses: [10.244.2.11]
  conditions: {ready: true}
ports: [{port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: coocla}
spec:
  clusterIP: 10.96.0.78
  clusterIPs: [10.96.0.78]
  ports: [{name: web80, port: 7878, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: nginx-svc, namespace: nginx-ns}
spec:
  clusterIP: 10.96.0.60
  clusterIPs: [10.96.0.60]
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: client-svc, namespace: default}
spec:
  type: ExternalName
  externalName: nginx-svc.nginx-ns.svc.cluster.local
"#;

/// A headless Service `big.default` with `n` ready endpoints 10.1.x.y.
pub fn headless(n: usize) -> String {
    let mut s = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: default}\n\
         spec: {clusterIP: None, clusterIPs: [None], ports: [{name: http, port: 80, protocol: TCP}]}\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {name: big-1, namespace: default, labels: {kubernetes.io/service-name: big}}\n\
         addressType: IPv4\nports: [{name: http, port: 80, protocol: TCP}]\nendpoints:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "- addresses: [10.1.{}.{}]\n  conditions: {{ready: true}}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    s
}
