//! The `dnscache` binary as a process: the kube-dns manifest arguments, usage errors, the
//! nanny handover contract (inherited sockets, ready fd) and the SIGTERM drain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::{DNSClass, RecordType};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use support::{addrs, server};
use testkit::dns::{query, query_class, query_tcp};
use testkit::proc::Proc;
use testkit::upstream::{MockUpstream, Reply, reply_a};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(10);
const MANIFEST: &[&str] = &[
    "-k",
    "--cache-size=1000",
    "--no-negcache",
    "--dns-loop-detect",
    "--log-facility=-",
    "--server=/cluster.local/127.0.0.1#10053",
    "--server=/in-addr.arpa/127.0.0.1#10053",
    "--server=/ip6.arpa/127.0.0.1#10053",
];

fn dnscache(args: &[String]) -> Command {
    let mut cmd = Command::new(testkit::bin::path("dnscache"));
    cmd.args(args);
    cmd
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_arguments_start_a_server_with_metrics() {
    let up =
        MockUpstream::start(|req| Reply::Msg(reply_a(req, Ipv4Addr::new(10, 9, 8, 7), 30))).await;
    let mut args = strings(MANIFEST);
    args.extend(strings(&[
        "-p",
        "0",
        "--listen-address=127.0.0.1",
        "--no-resolv",
        "--metrics-port=0",
        "--udp-workers=2",
    ]));
    args.push(server(up.addr()));
    let p = Proc::spawn(dnscache(&args)).unwrap();
    let udp = p.listening("udp", T).expect("udp line");
    let tcp = p.listening("tcp", T).expect("tcp line");
    let http = p.listening("http", T).expect("http line");
    assert!(
        p.wait_for_line("ignoring dnsmasq option --keep-in-foreground", T)
            .is_some()
    );
    let r = query(udp, "www.example.com.", RecordType::A).await.unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 9, 8, 7)]);
    let r = query_tcp(tcp, "www.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 9, 8, 7)]);
    let size = query_class(udp, "cachesize.bind.", RecordType::TXT, DNSClass::CH)
        .await
        .unwrap();
    assert_eq!(size.answers.len(), 1);
    let metrics = http_get(http, "/metrics").await;
    assert!(metrics.contains("dnscache_cache_hits_total 1"), "{metrics}");
    assert!(metrics.contains("dnscache_cache_size 1000"), "{metrics}");
}

#[test]
fn behaviour_changing_unknown_option_exits_2() {
    let mut p = Proc::spawn(dnscache(&strings(&["--address=/x/1.2.3.4", "-p", "0"]))).unwrap();
    assert_eq!(p.wait_timeout(T).and_then(|s| s.code()), Some(2));
    let mut p = Proc::spawn(dnscache(&strings(&["--server=/x/nope", "-p", "0"]))).unwrap();
    assert_eq!(p.wait_timeout(T).and_then(|s| s.code()), Some(2));
}

fn inheritable(fd: &impl std::os::fd::AsFd) {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_inherited_sockets_and_signals_ready() {
    let up =
        MockUpstream::start(|req| Reply::Msg(reply_a(req, Ipv4Addr::new(10, 1, 1, 1), 30))).await;
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (ready_r, ready_w): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
    inheritable(&udp);
    inheritable(&tcp);
    inheritable(&ready_w);
    let args = vec![
        format!("--inherit-udp-fd={}", udp.as_raw_fd()),
        format!("--inherit-tcp-fd={}", tcp.as_raw_fd()),
        format!("--ready-fd={}", ready_w.as_raw_fd()),
        "--port=1".into(),
        "--no-resolv".into(),
        server(up.addr()),
    ];
    let p = Proc::spawn(dnscache(&args)).unwrap();
    drop(ready_w);
    // Read one line, not to EOF: children spawned by concurrent tests may hold the write end.
    let mut ready = std::io::BufReader::new(std::fs::File::from(ready_r));
    let line = tokio::task::spawn_blocking(move || {
        let mut s = String::new();
        ready.read_line(&mut s).map(|_| s)
    });
    let line = tokio::time::timeout(T, line)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(line, "ready\n");
    assert_eq!(p.listening("udp", T), Some(udp.local_addr().unwrap()));
    assert_eq!(p.listening("tcp", T), Some(tcp.local_addr().unwrap()));
    let r = query(udp.local_addr().unwrap(), "a.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 1, 1, 1)]);
    let r = query_tcp(tcp.local_addr().unwrap(), "a.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 1, 1, 1)]);
}

#[test]
fn inherited_descriptor_of_the_wrong_kind_is_an_error() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    inheritable(&tcp);
    inheritable(&tcp2);
    let args = vec![
        format!("--inherit-udp-fd={}", tcp.as_raw_fd()),
        format!("--inherit-tcp-fd={}", tcp2.as_raw_fd()),
        "--no-resolv".into(),
    ];
    let mut p = Proc::spawn(dnscache(&args)).unwrap();
    assert_eq!(p.wait_timeout(T).and_then(|s| s.code()), Some(1));
    assert!(p.wait_for_line("not a UDP socket", T).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_in_flight_queries_then_exits_0() {
    let up = MockUpstream::start(|req| {
        Reply::Delayed(
            Duration::from_millis(700),
            reply_a(req, Ipv4Addr::new(10, 2, 2, 2), 30),
        )
    })
    .await;
    let args = vec![
        "-p".into(),
        "0".into(),
        "--listen-address=127.0.0.1".into(),
        "--no-resolv".into(),
        server(up.addr()),
    ];
    let mut p = Proc::spawn(dnscache(&args)).unwrap();
    let udp = p.listening("udp", T).unwrap();
    let tcp = p.listening("tcp", T).unwrap();
    let in_udp = tokio::spawn(query(udp, "slow.example.", RecordType::A));
    let in_tcp = tokio::spawn(query_tcp(tcp, "slow2.example.", RecordType::A));
    testkit::dns::eventually(T, || async { (up.count() == 2).then_some(()) })
        .await
        .unwrap();
    p.signal(15);
    assert!(p.wait_for_line("stopped reading", T).is_some());
    let r = in_udp.await.unwrap().unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 2, 2, 2)]);
    let r = in_tcp.await.unwrap().unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 2, 2, 2)]);
    let status = tokio::task::spawn_blocking(move || p.wait_timeout(T))
        .await
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}
