//! The DNS request handler: one lock-free snapshot load, `answer()`, encode. Nothing on this
//! path takes a lock or looks at Kubernetes objects.
//!
//! Owns the protocol rules around the pure answer: NOTIMP for opcodes other than QUERY,
//! FORMERR unless there is exactly one question (and for undecodable messages), BADVERS for
//! EDNS versions above 0, EDNS(0) echoed with payload `min(client, 1232)` (at least 512),
//! SERVFAIL for zone names before the first snapshot (CoreDNS's HasSynced rule) and REFUSED
//! for everything else then. Encoding is hickory-server's `MessageResponse`: a UDP answer that
//! does not fit the echoed payload (512 without EDNS) is cut and gets TC; TCP gets up to 64 KiB.
//!
//! [`Handler::respond`] first tries the fast path (`handler/fast.rs`): the common query
//! answered from the received bytes straight into the reply buffer (`handler/wire.rs`), with
//! no allocation. Whatever it does not take goes through the hickory decode/encode below,
//! which stays the reference the fast path is tested against (`tests/fast_path.rs`).
//!
//! Two entry points share that core: [`Handler::respond`], synchronous, for our UDP workers
//! (`udp.rs`) and TCP connections (`tcp.rs`), and a hickory `RequestHandler` impl, so the
//! handler also runs inside `hickory_server::Server` (tests compare both).
//! It must not build records (that is `kubedns-records`) or touch sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_net::runtime::Time;
use hickory_net::xfer::Protocol;
use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{LowerName, Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageRequest, MessageResponse, MessageResponseBuilder};
use kubedns_records::{Answer, ZoneConfig};

mod fast;
mod wire;

use crate::autopath::Autopath;
use crate::metrics::{Cause, DnsMetrics, System, Tally, cause_of};
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
    autopath: Option<Autopath>,
}

/// What to send, before encoding.
struct Reply {
    rcode: ResponseCode,
    authoritative: bool,
    answer: Option<Answer>,
    system: System,
    qtype: Option<RecordType>,
    edns: Option<Edns>,
}

type Records<'a> = std::slice::Iter<'a, Record>;
type Response<'q, 'a> = MessageResponse<'q, 'a, Records<'a>, Records<'a>, Records<'a>, Records<'a>>;

const EMPTY: &[Record] = &[];

impl Handler {
    /// A handler reading `zone`, for the cluster domain of `cfg`.
    pub fn new(zone: Arc<ZoneView>, cfg: &ZoneConfig, metrics: DnsMetrics) -> Self {
        Self::with_autopath(zone, cfg, metrics, None)
    }

    /// A handler that also walks Pods' search paths (`--autopath`) when `autopath` is set.
    pub fn with_autopath(
        zone: Arc<ZoneView>,
        cfg: &ZoneConfig,
        metrics: DnsMetrics,
        autopath: Option<Autopath>,
    ) -> Self {
        let lower = |s: &str| LowerName::from(Name::from_ascii(s).unwrap_or_else(|_| Name::root()));
        Handler {
            inner: Arc::new(Inner {
                zone,
                origin: LowerName::from(&cfg.zone),
                in_addr: lower("in-addr.arpa."),
                ip6: lower("ip6.arpa."),
                metrics,
                autopath,
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
    fn reply(&self, request: &MessageRequest, src: SocketAddr) -> Reply {
        let queries = request.queries.queries();
        let (system, qtype) = match queries.first() {
            Some(q) => (self.system(q.name()), Some(q.query_type())),
            None => (System::Auth, None),
        };
        let edns = response_edns(request);
        let mut reply = Reply {
            rcode: ResponseCode::NoError,
            authoritative: false,
            answer: None,
            system,
            qtype,
            edns,
        };
        if request.metadata.op_code != OpCode::Query {
            reply.rcode = ResponseCode::NotImp;
        } else if queries.len() != 1 {
            reply.rcode = ResponseCode::FormErr;
        } else if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            reply.rcode = ResponseCode::BADVERS;
        } else {
            let q = &queries[0];
            let guard = self.inner.zone.load();
            match guard.as_ref() {
                Some(snap) => {
                    let o = q.original();
                    let mut ans = snap.answer(o.name(), o.query_type(), o.query_class());
                    if let Some(autopath) = &self.inner.autopath {
                        ans = autopath.apply(snap, request, src.ip(), ans, &mut reply.edns);
                    }
                    reply.rcode = ans.rcode;
                    reply.authoritative = ans.authoritative;
                    reply.answer = Some(ans);
                }
                None if self.inner.origin.zone_of(q.name()) || system == System::Reverse => {
                    reply.rcode = ResponseCode::ServFail;
                }
                None => reply.rcode = ResponseCode::Refused,
            }
        }
        reply
    }

    /// The encodable response for `reply`.
    fn response<'q, 'a>(request: &'q MessageRequest, reply: &'a Reply) -> Response<'q, 'a>
    where
        'a: 'q,
    {
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = reply.edns.as_ref() {
            builder.edns(e);
        }
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = reply.authoritative;
        meta.response_code = reply.rcode;
        let (answers, authority, additionals) = match &reply.answer {
            Some(a) => (&a.answers[..], &a.authority[..], &a.additionals[..]),
            None => (EMPTY, EMPTY, EMPTY),
        };
        builder.build(meta, answers, authority, EMPTY, additionals)
    }

    fn count(
        &self,
        system: System,
        rcode: ResponseCode,
        qtype: Option<RecordType>,
        truncated: bool,
        started: Instant,
    ) {
        let m = &self.inner.metrics;
        m.request(system, started.elapsed().as_secs_f64());
        m.answer(rcode, qtype);
        if let Some(cause) = cause_of(rcode) {
            m.error(system, cause);
        }
        if truncated {
            m.error(system, Cause::Truncated);
        }
    }

    fn count_reply(&self, reply: &Reply, truncated: bool, started: Instant) {
        self.count(reply.system, reply.rcode, reply.qtype, truncated, started);
    }

    /// Answers one message received over `protocol` into `out`. Returns false when nothing
    /// is to be sent (shorter than a header, or a response).
    pub fn respond(
        &self,
        packet: &[u8],
        src: SocketAddr,
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        let started = Instant::now();
        if let Some(a) = fast::respond(self, packet, protocol, out) {
            self.count(a.system, a.rcode, Some(a.qtype), false, started);
            return true;
        }
        self.respond_reference(packet, src, protocol, out, started)
    }

    /// [`Handler::respond`] for a datagram of a UDP worker's batch: what the fast path
    /// answers is counted in the worker's `tally` (added to the metrics once per batch by
    /// [`DnsMetrics::flush`]); the rest is counted as it is answered.
    pub fn respond_udp(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) -> bool {
        out.clear();
        tally.start();
        if let Some(a) = fast::respond(self, packet, Protocol::Udp, out) {
            tally.answered(a.system, a.rcode, Some(a.qtype));
            return true;
        }
        self.respond_reference(packet, src, Protocol::Udp, out, Instant::now())
    }

    /// A tally for one UDP worker ([`Handler::respond_udp`]).
    pub fn tally(&self) -> Tally {
        self.inner.metrics.tally()
    }

    /// Adds a worker's tally to the metrics, after its batch's replies have been sent.
    pub fn flush(&self, tally: &mut Tally) {
        self.inner.metrics.flush(tally);
    }

    /// The fast path alone (see `handler/fast.rs`): true when it answered `packet` into
    /// `out`, false when the query or its reply is not of its shape. For tests and benches.
    pub fn respond_fast(&self, packet: &[u8], protocol: Protocol, out: &mut Vec<u8>) -> bool {
        out.clear();
        fast::respond(self, packet, protocol, out).is_some()
    }

    /// [`Handler::respond`] through hickory's decoder and encoder only (no fast path): the
    /// reference the fast path is tested against.
    pub fn respond_reference(
        &self,
        packet: &[u8],
        src: SocketAddr,
        protocol: Protocol,
        out: &mut Vec<u8>,
        started: Instant,
    ) -> bool {
        out.clear();
        let request = match Request::from_bytes(packet.to_vec(), src, protocol) {
            Ok(r) => r,
            Err(_) => return self.formerr(packet, out),
        };
        if request.metadata.message_type == MessageType::Response {
            return false;
        }
        let reply = self.reply(&request, src);
        let max = match protocol {
            Protocol::Udp => reply.edns.as_ref().map_or(512, Edns::max_payload),
            _ => u16::MAX,
        };
        let response = Self::response(&request, &reply);
        let mut encoder = BinEncoder::new(out);
        encoder.set_max_size(max);
        let truncated = match response.destructive_emit(&mut encoder) {
            Ok(header) => header.truncation,
            Err(e) => {
                tracing::debug!(error = %e, "encoding failed; SERVFAIL");
                out.clear();
                let mut meta = Metadata::response_from_request(&request.metadata);
                meta.response_code = ResponseCode::ServFail;
                emit_header(meta, out);
                false
            }
        };
        self.count_reply(&reply, truncated, started);
        debug_query(&request, &reply);
        true
    }

    /// FORMERR for a datagram whose header decodes but whose body does not.
    fn formerr(&self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(header) = Header::read(&mut BinDecoder::new(packet)) else {
            return false;
        };
        if header.metadata.message_type == MessageType::Response {
            return false;
        }
        let mut meta = Metadata::response_from_request(&header.metadata);
        meta.response_code = ResponseCode::FormErr;
        emit_header(meta, out);
        self.inner.metrics.error(System::Auth, Cause::Formerr);
        self.inner.metrics.answer(ResponseCode::FormErr, None);
        true
    }
}

fn emit_header(metadata: Metadata, out: &mut Vec<u8>) {
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    let _ = header.emit(&mut BinEncoder::new(out));
}

fn debug_query(request: &MessageRequest, reply: &Reply) {
    tracing::debug!(
        qname = %request.queries.queries().first().map(|q| q.original().name().to_string()).unwrap_or_default(),
        qtype = ?reply.qtype,
        rcode = %reply.rcode,
        "query"
    );
}

/// The UDP payload we echo and fill for a client that advertised `client`: at least 512
/// (RFC 6891 §6.2.5), at most [`MAX_UDP_PAYLOAD`]. Both answer paths use it.
pub(crate) fn echoed_payload(client: u16) -> u16 {
    client.clamp(512, MAX_UDP_PAYLOAD)
}

/// The EDNS to echo: payload [`echoed_payload`], version 0, DO clear.
pub fn response_edns(request: &MessageRequest) -> Option<Edns> {
    request.edns.as_ref().map(|req| {
        let mut e = Edns::new();
        e.set_max_payload(echoed_payload(req.max_payload()));
        e.set_version(0);
        e
    })
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let started = Instant::now();
        let reply = self.reply(request, request.src());
        let response = Self::response(request, &reply);
        let info = match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "sending the response failed");
                let mut meta = Metadata::response_from_request(&request.metadata);
                meta.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: meta,
                    counts: HeaderCounts::default(),
                })
            }
        };
        self.count_reply(&reply, info.truncation, started);
        debug_query(request, &reply);
        info
    }
}
