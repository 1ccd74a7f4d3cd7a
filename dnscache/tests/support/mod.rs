//! Private helpers of dnscache's tests: an in-process server on 127.0.0.1 and a few
//! answer builders that testkit does not have. Shared helpers belong in testkit; these are
//! specific to dnscache's flags.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use clap::Parser;
use dnscache::cli::Cli;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::{CNAME, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio_util::sync::CancellationToken;

/// A dnscache serving in this process; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub tcp: SocketAddr,
    pub pipeline_args: Vec<String>,
    token: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Starts dnscache on 127.0.0.1 (free port, one UDP worker) with `args` after
/// `--no-resolv --upstream-timeout-ms=300`.
pub async fn start(args: &[String]) -> Server {
    let mut argv: Vec<String> = vec![
        "dnscache".into(),
        "--no-resolv".into(),
        "--upstream-timeout-ms=300".into(),
    ];
    argv.extend(args.iter().cloned());
    let cli = Cli::try_parse_from(&argv).expect("flags parse");
    let cfg = cli.config(None).expect("config");
    let bound = dnscache::server::bind(&["127.0.0.1".parse().unwrap()], 0, 1).expect("bind");
    let addr = bound.dns[0].udp[0].local_addr().unwrap();
    let tcp = bound.dns[0].tcp.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(dnscache::run(
        cfg,
        bound,
        prometheus::Registry::new(),
        token.clone(),
    ));
    Server {
        addr,
        tcp,
        pipeline_args: argv,
        token,
    }
}

/// `--server=IP#PORT` for a mock.
pub fn server(addr: SocketAddr) -> String {
    format!("--server={}#{}", addr.ip(), addr.port())
}

/// `--server=/domain/IP#PORT` for a mock.
pub fn route(domain: &str, addr: SocketAddr) -> String {
    format!("--server=/{domain}/{}#{}", addr.ip(), addr.port())
}

/// The name of the first question.
pub fn qname(req: &Message) -> String {
    req.queries
        .first()
        .map(|q| q.name().to_ascii().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The type of the first question.
pub fn qtype(req: &Message) -> RecordType {
    req.queries
        .first()
        .map(|q| q.query_type())
        .unwrap_or(RecordType::A)
}

/// A reply with a CNAME from the question name to `target`.
pub fn reply_cname(req: &Message, target: &str, ttl: u32) -> Message {
    let mut m = testkit::upstream::response_to(req);
    let owner = req.queries[0].name().clone();
    m.add_answer(Record::from_rdata(
        owner,
        ttl,
        RData::CNAME(CNAME(Name::from_ascii(target).unwrap())),
    ));
    m
}

/// A PTR reply.
pub fn reply_ptr(req: &Message, target: &str) -> Message {
    let mut m = testkit::upstream::response_to(req);
    let owner = req.queries[0].name().clone();
    m.add_answer(Record::from_rdata(
        owner,
        30,
        RData::PTR(PTR(Name::from_ascii(target).unwrap())),
    ));
    m
}

/// The A addresses of an answer.
pub fn addrs(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// TTLs of the answer section.
pub fn ttls(m: &Message) -> Vec<u32> {
    m.answers.iter().map(|r| r.ttl).collect()
}

pub type Shared<T> = Arc<T>;
