//! The DNS request handler: one lock-free snapshot load, `answer()`, encode (ISSUE 2 item 3).
//!
//! Owns the protocol rules around the pure answer: NOTIMP for opcodes other than QUERY,
//! FORMERR unless there is exactly one question, BADVERS for EDNS versions above 0, EDNS(0)
//! echoed with payload `min(client, 1232)` (at least 512), SERVFAIL for zone names before the
//! first snapshot (CoreDNS's HasSynced rule) and REFUSED for everything else then. Truncation
//! of UDP answers (TC) is done by hickory's encoder against the echoed payload size; TCP gets
//! up to 64 KiB. It must not build records (that is `kubedns-records`) or touch sockets.

use std::sync::Arc;
use std::time::Instant;

use hickory_net::runtime::Time;
use hickory_proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{LowerName, Name, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use kubedns_records::{Answer, ZoneConfig};

use crate::metrics::{Cause, DnsMetrics, System};
use crate::zone::ZoneView;

/// Largest UDP payload we advertise and use (DNS flag day 2020).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Answers queries from the current [`ZoneView`] snapshot.
#[derive(Debug, Clone)]
pub struct Handler {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    zone: Arc<ZoneView>,
    origin: LowerName,
    in_addr: LowerName,
    ip6: LowerName,
    metrics: DnsMetrics,
}

/// What to send, before encoding.
struct Reply {
    rcode: ResponseCode,
    authoritative: bool,
    answer: Option<Answer>,
}

impl Reply {
    fn rcode(rcode: ResponseCode) -> Self {
        Reply {
            rcode,
            authoritative: false,
            answer: None,
        }
    }
}

impl Handler {
    /// A handler reading `zone`, for the cluster domain of `cfg`.
    pub fn new(zone: Arc<ZoneView>, cfg: &ZoneConfig, metrics: DnsMetrics) -> Self {
        let lower = |s: &str| LowerName::from(Name::from_ascii(s).unwrap_or_else(|_| Name::root()));
        Handler {
            inner: Arc::new(Inner {
                zone,
                origin: LowerName::from(&cfg.zone),
                in_addr: lower("in-addr.arpa."),
                ip6: lower("ip6.arpa."),
                metrics,
            }),
        }
    }

    fn system(&self, name: &LowerName) -> System {
        if self.inner.in_addr.zone_of(name) || self.inner.ip6.zone_of(name) {
            System::Reverse
        } else {
            System::Auth
        }
    }

    /// Decides the reply to `request` (no I/O).
    fn reply(&self, request: &Request) -> (Reply, System, Option<RecordType>) {
        let queries = request.queries.queries();
        let (system, qtype) = match queries.first() {
            Some(q) => (self.system(q.name()), Some(q.query_type())),
            None => (System::Auth, None),
        };
        if request.metadata.op_code != OpCode::Query {
            return (Reply::rcode(ResponseCode::NotImp), system, qtype);
        }
        if queries.len() != 1 {
            return (Reply::rcode(ResponseCode::FormErr), system, qtype);
        }
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return (Reply::rcode(ResponseCode::BADVERS), system, qtype);
        }
        let q = &queries[0];
        let guard = self.inner.zone.load();
        let reply = match guard.as_ref() {
            Some(snap) => {
                let original = q.original();
                let ans = snap.answer(
                    original.name(),
                    original.query_type(),
                    original.query_class(),
                );
                Reply {
                    rcode: ans.rcode,
                    authoritative: ans.authoritative,
                    answer: Some(ans),
                }
            }
            None if self.inner.origin.zone_of(q.name()) || system == System::Reverse => {
                Reply::rcode(ResponseCode::ServFail)
            }
            None => Reply::rcode(ResponseCode::Refused),
        };
        (reply, system, qtype)
    }
}

/// The EDNS to echo: payload `min(max(client, 512), 1232)`, version 0, DO clear.
pub fn response_edns(request: &Request) -> Option<Edns> {
    request.edns.as_ref().map(|req| {
        let mut e = Edns::new();
        e.set_max_payload(req.max_payload().clamp(512, MAX_UDP_PAYLOAD));
        e.set_version(0);
        e
    })
}

fn cause_of(rcode: ResponseCode) -> Option<Cause> {
    match rcode {
        ResponseCode::NXDomain => Some(Cause::Nxdomain),
        ResponseCode::Refused => Some(Cause::Refused),
        ResponseCode::ServFail => Some(Cause::Servfail),
        ResponseCode::FormErr => Some(Cause::Formerr),
        ResponseCode::NotImp => Some(Cause::Notimp),
        _ => None,
    }
}

const EMPTY: &[Record] = &[];

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let started = Instant::now();
        let (reply, system, qtype) = self.reply(request);
        let edns = response_edns(request);
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = edns.as_ref() {
            builder.edns(e);
        }
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = reply.authoritative;
        meta.response_code = reply.rcode;
        let (answers, authority, additionals) = match &reply.answer {
            Some(a) => (&a.answers[..], &a.authority[..], &a.additionals[..]),
            None => (EMPTY, EMPTY, EMPTY),
        };
        let response = builder.build(meta, answers, authority, EMPTY, additionals);
        let info = match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "sending the response failed");
                let mut meta = Metadata::response_from_request(&request.metadata);
                meta.response_code = ResponseCode::ServFail;
                ResponseInfo::from(hickory_proto::op::Header {
                    metadata: meta,
                    counts: Default::default(),
                })
            }
        };
        let m = &self.inner.metrics;
        m.request(system, started.elapsed().as_secs_f64());
        m.answer(reply.rcode, qtype);
        if let Some(cause) = cause_of(reply.rcode) {
            m.error(system, cause);
        }
        if info.truncation {
            m.error(system, Cause::Truncated);
        }
        tracing::debug!(
            qname = %request.queries.queries().first().map(|q| q.original().name().to_string()).unwrap_or_default(),
            qtype = ?qtype,
            rcode = %reply.rcode,
            "query"
        );
        info
    }
}
