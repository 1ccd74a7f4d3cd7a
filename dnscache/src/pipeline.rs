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
use futures::future::{BoxFuture, Shared};

use crate::cache::{Cache, Entry, Lookup};
use crate::metrics::Metrics;
use crate::route::{self, RouteId, Routes};
use crate::wire::{self, WireError};
use crate::{chaos, cname, ecs, upstream};

/// Settings of the miss path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `--dns-forward-max`: queries waiting on upstreams at once.
    pub forward_max: usize,
    /// Timeout of one upstream exchange.
    pub upstream_timeout: Duration,
    /// Serve expired entries when every upstream fails (RFC 8767).
    pub serve_stale: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            forward_max: 1500,
            upstream_timeout: Duration::from_secs(2),
            serve_stale: false,
        }
    }
}

/// Every upstream failed (the client gets SERVFAIL, or a stale answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

/// Outcome of a resolution shared by coalesced queries.
pub type Resolved = Result<Entry, Failed>;
type Pending = Shared<BoxFuture<'static, Resolved>>;

/// Largest reply a transport may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: 512 bytes, or the client's EDNS payload size.
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
    key: Box<[u8]>,
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
    pending: Mutex<HashMap<Box<[u8]>, Pending>>,
    add_subnet: Option<ecs::AddSubnet>,
    client_cache: ecs::ClientCache,
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
                    WireError::NotImp => wire::rcode::NOTIMP,
                    _ => wire::rcode::FORMERR,
                };
                wire::write_header_only(packet, rcode, out);
                return Step::Reply;
            }
        };
        if q.qclass == wire::CLASS_CH {
            chaos::answer(&q, &self.metrics, out);
            return Step::Reply;
        }
        let mut key_buf = [0u8; wire::MAX_KEY];
        let key_len = q.key(&mut key_buf);
        let key = &key_buf[..key_len];
        let now = Instant::now();
        let client = client.filter(|_| self.add_subnet.is_some());
        if let Some(e) = client.and_then(|c| self.client_cache.get(key, c, now)) {
            self.metrics.hits.inc();
            e.render(&q, now, false, limit(&q, transport), out);
            return Step::Reply;
        }
        let stale = match self.cache.lookup(key, now) {
            Lookup::Hit(e) => {
                e.render(&q, now, false, limit(&q, transport), out);
                return Step::Reply;
            }
            Lookup::Miss(stale) => stale,
        };
        let taken = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.in_flight.clone());
        if taken >= self.settings.forward_max {
            self.metrics.forward_refused.inc();
            wire::write_error(&q, wire::rcode::REFUSED, false, out);
            return Step::Reply;
        }
        Step::Miss(Miss {
            key: key.into(),
            packet: packet.into(),
            stale,
            transport,
            client: self.subnet_client(key, client),
            _slot: slot,
        })
    }

    /// Resolves a miss and writes the client's reply into `out`.
    pub async fn miss(self: &Arc<Self>, m: Miss, out: &mut Vec<u8>) {
        let resolved = self.resolve_coalesced(&m.key, m.client).await;
        let Ok(q) = wire::parse_query(&m.packet) else {
            return;
        };
        let limit = limit(&q, m.transport);
        let now = Instant::now();
        match (resolved, m.stale) {
            (Ok(entry), _) => entry.render(&q, now, false, limit, out),
            (Err(Failed), Some(stale)) if self.settings.serve_stale => {
                self.metrics.stale_served.inc();
                stale.render(&q, now, true, limit, out);
            }
            (Err(Failed), _) => {
                self.metrics.servfail.inc();
                wire::write_error(&q, wire::rcode::SERVFAIL, false, out);
            }
        }
    }

    /// `client` when the route of `key` gets a client subnet option.
    fn subnet_client(&self, key: &[u8], client: Option<IpAddr>) -> Option<IpAddr> {
        let (add, client) = (self.add_subnet.as_ref()?, client?);
        let route = self.routes.lookup(&key[..key.len() - 5]);
        add.for_route(route, client).map(|s| s.addr)
    }

    /// Joins an identical resolution in flight (for the same client when the reply may
    /// depend on it), or starts one.
    async fn resolve_coalesced(self: &Arc<Self>, key: &[u8], client: Option<IpAddr>) -> Resolved {
        let mut pending_key = key.to_vec();
        if let Some(c) = client {
            pending_key.extend_from_slice(c.to_string().as_bytes());
        }
        let fut = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending.get(pending_key.as_slice()) {
                Some(f) => f.clone(),
                None => {
                    let this = self.clone();
                    let k: Box<[u8]> = key.into();
                    let pk: Box<[u8]> = pending_key.into();
                    let pk2 = pk.clone();
                    let f = async move {
                        let r = this.resolve(&k, 0, Vec::new(), client).await;
                        this.pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&pk2);
                        r
                    }
                    .boxed()
                    .shared();
                    pending.insert(pk, f.clone());
                    f
                }
            }
        };
        fut.await
    }

    /// Asks the upstreams of `key`'s route, completes CNAME chains that leave the route, and
    /// caches the result. `visited` holds the names of the CNAME chain so far (loop guard).
    /// `client` is set when the route gets a client subnet option.
    pub(crate) fn resolve<'a>(
        self: &'a Arc<Self>,
        key: &'a [u8],
        depth: usize,
        visited: Vec<Vec<u8>>,
        client: Option<IpAddr>,
    ) -> BoxFuture<'a, Resolved> {
        async move {
            let name = &key[..key.len() - 5];
            let route = self.routes.lookup(name);
            let Some(servers) = self.routes.servers(route) else {
                return Ok(self.local_nxdomain(key));
            };
            let timeout = self.settings.upstream_timeout;
            let subnet = client.and_then(|c| self.add_subnet.as_ref()?.for_route(route, c));
            let mut reply = upstream::forward(servers, key, subnet, timeout, &self.metrics).await;
            let refused = reply
                .as_ref()
                .is_some_and(|r| r[3] & 0x0F == wire::rcode::REFUSED);
            if refused && route != RouteId::Default && route::is_reverse(name) {
                // kubedns refuses reverse names of addresses it does not own: ask the world.
                let defaults = self.routes.default_servers();
                if let Some(r) =
                    upstream::forward(defaults, key, None, timeout, &self.metrics).await
                {
                    reply = Some(r);
                }
            }
            let qtype = u16::from_be_bytes([key[key.len() - 5], key[key.len() - 4]]);
            let Some(mut bytes) = reply else {
                tracing::debug!(
                    qname = %wire::name_to_string(name),
                    qtype,
                    route = self.routes.describe(route),
                    "every upstream failed"
                );
                return Err(Failed);
            };
            tracing::debug!(
                qname = %wire::name_to_string(name),
                qtype,
                rcode = bytes[3] & 0x0F,
                route = self.routes.describe(route),
                "forwarded"
            );
            // A reply computed for this client (scope above 0) is kept for this client only.
            let own = match subnet {
                Some(s) => {
                    let edns = key[key.len() - 1] & wire::KEY_EDNS != 0;
                    ecs::strip(&mut bytes, edns).unwrap_or(0) > 0 && s.prefix > 0
                }
                None => false,
            };
            let Some(info) = wire::scan_reply(&bytes) else {
                return Err(Failed);
            };
            let (bytes, info) = if info.cnames > 0 {
                cname::complete(self, route, key, bytes, info, depth, visited).await?
            } else {
                (bytes, info)
            };
            let flags = key[key.len() - 1];
            let entry = Entry::from_reply(bytes, &info, self.cache.policy(), flags);
            match client.filter(|_| own) {
                Some(c) => self.client_cache.insert(key, c, entry.clone()),
                None => self.cache.insert(key, entry.clone()),
            }
            Ok(entry)
        }
        .boxed()
    }

    fn local_nxdomain(&self, key: &[u8]) -> Entry {
        let mut bytes = vec![0, 0, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&key[..key.len() - 1]);
        let info = wire::scan_reply(&bytes).unwrap_or_default();
        let entry = Entry::from_reply(bytes, &info, self.cache.policy(), key[key.len() - 1]);
        self.cache.insert(key, entry.clone());
        entry
    }
}

fn limit(q: &wire::Query<'_>, transport: Transport) -> usize {
    match transport {
        Transport::Udp => q.udp_limit(),
        Transport::Tcp => usize::from(u16::MAX),
    }
}
