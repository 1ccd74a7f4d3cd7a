//! The request pipeline, plain functions called in order (ARCHITECTURE: dnscache flow):
//! parse → CHAOS stats → cache → forward limit → route → upstream → CNAME completion → cache.
//!
//! Owns: the split between the synchronous part ([`Pipeline::fast`], everything a cache hit
//! needs, no allocation and no hickory) and the asynchronous miss part ([`Pipeline::miss`]),
//! coalescing of identical concurrent misses, the `--dns-forward-max` limit, the reverse-name
//! REFUSED fallthrough and serve-stale. Must not touch sockets: servers call it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::cache::{Cache, Entry, Lookup, Served};
use crate::key::Key;
use crate::metrics::Metrics;
use crate::route::{self, RouteId, Routes};
use crate::upstream::Exchange;
use crate::wire::{self, Rcode, WireError};
use crate::{chaos, cname, ecs, scrub, upstream};

/// Settings of the miss path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `--dns-forward-max`: queries waiting on upstreams at once.
    pub forward_max: usize,
    /// Timeout of one upstream exchange.
    pub upstream_timeout: Duration,
    /// Serve expired entries when every upstream fails (RFC 8767).
    pub serve_stale: bool,
    /// `--edns-packet-max`: largest UDP reply we send and the EDNS size we announce.
    pub edns_packet_max: u16,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            forward_max: 1500,
            upstream_timeout: Duration::from_secs(2),
            serve_stale: false,
            edns_packet_max: 1232,
        }
    }
}

/// Every upstream failed (the client gets SERVFAIL, or a stale answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

/// Outcome of a resolution shared by coalesced queries.
pub type Resolved = Result<Entry, Failed>;

/// Where followers of a coalesced miss wait for its leader. A channel, not a shared future:
/// the leader's sockets and timers belong to the runtime of the thread that started it, and
/// a follower on another thread must never poll them (that runtime may be gone first at
/// shutdown, and tokio panics on a timer of a runtime that has shut down). A leader that is
/// dropped closes the channel, and its followers answer SERVFAIL.
type Flight = watch::Receiver<Option<Resolved>>;

/// Largest reply a transport may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: 512 bytes, or the client's EDNS payload size capped by `--edns-packet-max`.
    Udp,
    /// TCP: 65535 bytes.
    Tcp,
}

/// What the synchronous part decided.
pub enum Step {
    /// `out` holds the reply.
    Reply,
    /// Send nothing.
    Drop,
    /// Go upstream: call [`Pipeline::miss`].
    Miss(Miss),
}

/// A query that missed the cache; holds one `--dns-forward-max` slot until dropped.
pub struct Miss {
    key: Box<Key>,
    packet: Box<[u8]>,
    stale: Option<Entry>,
    transport: Transport,
    /// The client, when its route gets a client subnet option (its reply may be its own).
    client: Option<IpAddr>,
    _slot: Slot,
}

struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The pipeline shared by every socket of one server.
pub struct Pipeline {
    pub(crate) cache: Cache,
    pub(crate) routes: Routes,
    pub(crate) metrics: Arc<Metrics>,
    settings: Settings,
    in_flight: Arc<AtomicUsize>,
    pending: Mutex<HashMap<Pending, Flight>>,
    add_subnet: Option<ecs::AddSubnet>,
    client_cache: ecs::ClientCache,
}

/// What identical misses share: the question, and the client when its route gets a client
/// subnet option (two clients never share one resolution then).
type Pending = (Key, Option<IpAddr>);

/// Removes a leader's entry from the pending table however it ends (done or dropped).
struct Leader<'a> {
    pending: &'a Mutex<HashMap<Pending, Flight>>,
    key: &'a Pending,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.key);
    }
}

impl Pipeline {
    /// A pipeline over `cache` and `routes`.
    pub fn new(cache: Cache, routes: Routes, settings: Settings, metrics: Arc<Metrics>) -> Self {
        Pipeline {
            cache,
            routes,
            metrics,
            settings,
            in_flight: Arc::new(AtomicUsize::new(0)),
            pending: Mutex::new(HashMap::new()),
            add_subnet: None,
            client_cache: ecs::ClientCache::new(0),
        }
    }

    /// Sends the client's subnet to the routes of `add` (`--add-subnet`), and keeps the
    /// replies that depend on it per client.
    pub fn with_add_subnet(mut self, add: ecs::AddSubnet) -> Self {
        self.client_cache = ecs::ClientCache::new(self.cache.policy().capacity);
        self.add_subnet = Some(add);
        self
    }

    /// The cache (for metrics and tests).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Queries currently waiting on upstreams.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Handles `packet` as far as possible without waiting; a reply, if any, goes to `out`.
    pub fn fast(&self, packet: &[u8], transport: Transport, out: &mut Vec<u8>) -> Step {
        self.fast_from(packet, transport, None, out)
    }

    /// [`Pipeline::fast`] for a query from `client` (needed by `--add-subnet`).
    pub fn fast_from(
        &self,
        packet: &[u8],
        transport: Transport,
        client: Option<IpAddr>,
        out: &mut Vec<u8>,
    ) -> Step {
        let q = match wire::parse_query(packet) {
            Ok(q) => q,
            Err(WireError::Drop) => return Step::Drop,
            Err(e) => {
                self.metrics.malformed.inc();
                let rcode = match e {
                    WireError::NotImp => Rcode::NOTIMP,
                    _ => Rcode::FORMERR,
                };
                wire::write_header_only(packet, rcode, out);
                return Step::Reply;
            }
        };
        if q.qclass == wire::CLASS_CH {
            chaos::answer(&q, &self.metrics, out);
            return Step::Reply;
        }
        let key = Key::of(&q);
        let now = Instant::now();
        let client = client.filter(|_| self.add_subnet.is_some());
        if let Some(e) = client.and_then(|c| self.client_cache.get(&key, c, now)) {
            self.metrics.hits.inc();
            let limit = self.limit(&q, transport);
            e.render(&q, now, Served::Cached, limit, out);
            return Step::Reply;
        }
        let stale = match self.cache.lookup(&key, now) {
            Lookup::Hit(e) => {
                let limit = self.limit(&q, transport);
                e.render(&q, now, Served::Cached, limit, out);
                return Step::Reply;
            }
            Lookup::Miss(stale) => stale,
        };
        let taken = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.in_flight.clone());
        if taken >= self.settings.forward_max {
            self.metrics.forward_refused.inc();
            wire::write_error(&q, Rcode::REFUSED, false, out);
            return Step::Reply;
        }
        let client = self.subnet_client(&key, client);
        Step::Miss(Miss {
            key: Box::new(key),
            packet: packet.into(),
            stale,
            transport,
            client,
            _slot: slot,
        })
    }

    /// Resolves a miss and writes the client's reply into `out`.
    pub async fn miss(self: &Arc<Self>, m: Miss, out: &mut Vec<u8>) {
        let resolved = self.resolve_coalesced(&m.key, m.client).await;
        let Ok(q) = wire::parse_query(&m.packet) else {
            return;
        };
        let limit = self.limit(&q, m.transport);
        let now = Instant::now();
        match (resolved, m.stale) {
            (Ok(entry), _) => entry.render(&q, now, Served::Fresh, limit, out),
            (Err(Failed), Some(stale)) if self.settings.serve_stale => {
                self.metrics.stale_served.inc();
                stale.render(&q, now, Served::Stale, limit, out);
            }
            (Err(Failed), _) => {
                self.metrics.servfail.inc();
                wire::write_error(&q, Rcode::SERVFAIL, false, out);
            }
        }
    }

    /// Largest reply `transport` may carry to the client of `q`.
    fn limit(&self, q: &wire::Query<'_>, transport: Transport) -> usize {
        match transport {
            Transport::Udp => q.udp_limit(self.settings.edns_packet_max),
            Transport::Tcp => usize::from(u16::MAX),
        }
    }

    /// `client` when the route of `key` gets a client subnet option.
    fn subnet_client(&self, key: &Key, client: Option<IpAddr>) -> Option<IpAddr> {
        let (add, client) = (self.add_subnet.as_ref()?, client?);
        let route = self.routes.lookup(key.name());
        add.for_route(route, client).map(|s| s.addr)
    }

    /// Joins an identical resolution in flight (for the same client when the reply may
    /// depend on it), or starts one.
    async fn resolve_coalesced(self: &Arc<Self>, key: &Key, client: Option<IpAddr>) -> Resolved {
        let pending_key = (key.clone(), client);
        let joined = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending.get(&pending_key) {
                Some(rx) => Err(rx.clone()),
                None => {
                    let (tx, rx) = watch::channel(None);
                    pending.insert(pending_key.clone(), rx);
                    Ok(tx)
                }
            }
        };
        match joined {
            Ok(tx) => {
                let _leader = Leader {
                    pending: &self.pending,
                    key: &pending_key,
                };
                let r = self.resolve(key, 0, Vec::new(), client).await;
                tx.send_replace(Some(r.clone()));
                r
            }
            Err(mut rx) => match rx.wait_for(Option::is_some).await {
                Ok(r) => r.clone().unwrap_or(Err(Failed)),
                Err(_) => Err(Failed),
            },
        }
    }

    /// Asks the upstreams of `key`'s route, keeps what the route may answer, completes CNAME
    /// chains that leave the route, and caches the result. `visited` holds the names of the
    /// CNAME chain so far (loop guard). `client` is set when the route gets a client subnet
    /// option.
    pub(crate) fn resolve<'a>(
        self: &'a Arc<Self>,
        key: &'a Key,
        depth: usize,
        mut visited: Vec<Vec<u8>>,
        client: Option<IpAddr>,
    ) -> BoxFuture<'a, Resolved> {
        async move {
            let name = key.name();
            let route = self.routes.lookup(name);
            let Some(servers) = self.routes.servers(route) else {
                return Ok(self.local_nxdomain(key));
            };
            let how = Exchange {
                timeout: self.settings.upstream_timeout,
                payload: self.settings.edns_packet_max,
            };
            let subnet = client.and_then(|c| self.add_subnet.as_ref()?.for_route(route, c));
            let mut reply = upstream::forward(servers, key, subnet, how, &self.metrics).await;
            let refused = reply
                .as_deref()
                .is_some_and(|r| Rcode::of(r) == Some(Rcode::REFUSED));
            if refused && route != RouteId::Default && route::is_reverse(name) {
                // kubedns refuses reverse names of addresses it does not own: ask the world.
                let defaults = self.routes.default_servers();
                if let Some(r) = upstream::forward(defaults, key, None, how, &self.metrics).await {
                    reply = Some(r);
                }
            }
            let Some(mut bytes) = reply else {
                tracing::debug!(qname = %wire::name_to_string(name), qtype = key.qtype(), route = self.routes.describe(route), "every upstream failed");
                return Err(Failed);
            };
            // The client subnet option goes before the scrubber sees the reply (our client
            // never asked for it). A reply computed for this client (scope above 0) is kept
            // for this client only.
            let own = match subnet {
                Some(s) => {
                    let scope = ecs::strip(&mut bytes, key.flags().edns()).unwrap_or(0);
                    scope > 0 && s.prefix > 0
                }
                None => false,
            };
            let s = match scrub::scrub(bytes, key, route, &self.routes) {
                Ok(s) => s,
                Err(e) => {
                    self.metrics.bad_reply(e.cause());
                    tracing::debug!(qname = %wire::name_to_string(name), qtype = key.qtype(), route = self.routes.describe(route), error = %e, "refused an upstream reply");
                    return Err(Failed);
                }
            };
            tracing::debug!(qname = %wire::name_to_string(name), qtype = key.qtype(), rcode = s.info.rcode.value(), route = self.routes.describe(route), dropped = s.dropped, "forwarded");
            if s.dropped > 0 {
                self.metrics.out_of_route.inc_by(s.dropped as u64);
            }
            let next = match &s.dangling {
                Some(t) => cname::next(key, &s.info, t, depth, &mut visited).map_err(|_| Failed)?,
                None => None,
            };
            let (bytes, info) = match next {
                None => (s.bytes, s.info),
                Some(sub_key) => {
                    let sub = match self.cache.peek(&sub_key, Instant::now()) {
                        Some(e) => e,
                        None => self.resolve(&sub_key, depth + 1, visited, None).await?,
                    };
                    cname::merge(&s.bytes, &sub.aged(Instant::now())).ok_or(Failed)?
                }
            };
            let entry = Entry::from_reply(bytes, &info, self.cache.policy(), key.flags());
            match client.filter(|_| own) {
                Some(c) => self.client_cache.insert(key, c, entry.clone()),
                None => self.cache.insert(key, entry.clone()),
            }
            Ok(entry)
        }
        .boxed()
    }

    fn local_nxdomain(&self, key: &Key) -> Entry {
        let mut bytes = vec![0, 0, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(key.question());
        let info = wire::scan_reply(&bytes).unwrap_or_default();
        let entry = Entry::from_reply(bytes, &info, self.cache.policy(), key.flags());
        self.cache.insert(key, entry.clone());
        entry
    }
}
