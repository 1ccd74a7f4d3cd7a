//! The projection: [`ClusterObjects`] and [`ZoneConfig`] to an immutable [`ZoneSnapshot`].
//!
//! Owns the object plumbing shared by the record kinds: Service classification, merging the
//! EndpointSlices of a Service (label `kubernetes.io/service-name`) or, when a Service has no
//! slice, its core/v1 Endpoints; readiness and `publishNotReadyAddresses`; the reverse index;
//! namespaces; pod IPs for `--pods=verified`. Pure: no clock, no logging, no I/O; malformed
//! objects are skipped and counted, never fatal. Spec: schema 1.1.0 §2.3, §2.4, §2.5.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::rr::Name;

use crate::kind::{cluster_ip, external_name, headless};
use crate::model::{KeyIndex, Owner, Pool, PortSpec, Reverse, Svc, SvcEntry, SvcKind};
use crate::objects::{EndpointSlice, Endpoints, Service, ServiceSpec};
use crate::snapshot::ZoneSnapshot;
use crate::{ClusterObjects, PodMode, ZoneConfig};

pub use crate::objects::model::SERVICE_NAME_LABEL;

/// Projects the cluster objects into a zone snapshot with SOA serial `serial`.
pub fn project(objects: &ClusterObjects, cfg: &ZoneConfig, serial: u32) -> ZoneSnapshot {
    let mut zone = cfg.zone.to_lowercase();
    zone.set_fqdn(true);
    let ns_name = zone
        .prepend_label(&b"dns"[..])
        .and_then(|n| n.prepend_label(&b"ns"[..]))
        .unwrap_or_else(|_| zone.clone());
    let hostmaster = zone
        .prepend_label(&b"hostmaster"[..])
        .unwrap_or_else(|_| zone.clone());
    let mut snap = ZoneSnapshot {
        serial,
        ns_name,
        hostmaster,
        zone,
        ttl: cfg.ttl,
        neg_ttl: cfg.neg_ttl,
        pods: cfg.pods,
        reverse_cidrs: cfg.reverse_cidrs.clone(),
        ..ZoneSnapshot::default()
    };
    snap.stats.services = objects.services.len();
    snap.stats.endpoint_slices = objects.endpoint_slices.len();
    snap.stats.endpoints_objects = objects.endpoints.len();
    snap.stats.pods = objects.pods.len();
    snap.stats.namespaces = objects.namespaces.len();

    let mut slices: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for slice in &objects.endpoint_slices {
        let ns = slice.metadata.namespace.as_deref().unwrap_or("default");
        match &slice.metadata.service_name {
            Some(svc) => slices.entry((ns, svc.as_str())).or_default().push(slice),
            None => snap.stats.skipped += 1,
        }
    }
    let mut endpoints: HashMap<(&str, &str), &Endpoints> = HashMap::new();
    for ep in &objects.endpoints {
        let ns = ep.metadata.namespace.as_deref().unwrap_or("default");
        if let Some(name) = ep.metadata.name.as_deref() {
            endpoints.insert((ns, name), ep);
        }
    }

    let mut services: Vec<(&str, &str, &Service)> = objects
        .services
        .iter()
        .filter_map(|s| {
            let name = s.metadata.name.as_deref()?;
            Some((
                s.metadata.namespace.as_deref().unwrap_or("default"),
                name,
                &**s,
            ))
        })
        .collect();
    services.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    snap.stats.skipped += objects.services.len() - services.len();

    let mut namespaces: Vec<Box<str>> = objects
        .namespaces
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .map(|n| n.to_ascii_lowercase().into_boxed_str())
        .collect();

    // Everything the Services keep goes to vectors sized once up front (about: endpoints are
    // counted before readiness), see `model/pool.rs`.
    let addresses = objects
        .endpoint_slices
        .iter()
        .flat_map(|s| &s.endpoints)
        .map(|e| e.addresses.len())
        .sum::<usize>();
    let mut pool = Pool::with_capacity(services.len(), addresses);
    let mut by_key = KeyIndex::with_capacity(services.len());
    let mut entries: Vec<SvcEntry> = Vec::with_capacity(services.len());
    for (ns, name, svc) in services {
        let (ns_lower, name_lower) = (ns.to_ascii_lowercase(), name.to_ascii_lowercase());
        let key = (ns_lower.as_bytes(), name_lower.as_bytes());
        let is = |idx: u32| {
            let entry = usize::try_from(idx).ok().and_then(|i| entries.get(i));
            entry.is_some_and(|e| pool.svc(e).is(key.0, key.1))
        };
        if by_key.get(key.0, key.1, is).is_some() {
            snap.stats.skipped += 1;
            continue;
        }
        let Some(built) = build_service(&snap, &mut pool, ns, name, svc, &slices, &endpoints)
        else {
            snap.stats.skipped += 1;
            continue;
        };
        let idx = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        if !by_key.insert(key.0, key.1, idx) {
            snap.stats.skipped += 1;
            continue;
        }
        let view = pool.svc(&built.entry);
        index_reverse(&mut snap.reverse, idx, view);
        snap.stats.not_ready_endpoints += built.not_ready;
        snap.stats.published_endpoints += view.endpoints().len();
        match view.kind() {
            SvcKind::ClusterIp(_) => snap.stats.cluster_ip_services += 1,
            SvcKind::Headless => snap.stats.headless_services += 1,
            SvcKind::ExternalName(_) => snap.stats.external_name_services += 1,
        }
        namespaces.push(ns_lower.into_boxed_str());
        entries.push(built.entry);
    }
    namespaces.sort();
    namespaces.dedup();
    pool.set_namespaces(&namespaces);
    pool.finish();
    entries.shrink_to_fit();
    snap.services = entries;
    snap.pool = pool;
    snap.by_key = by_key;
    snap.reverse.finish();
    snap.stats.ptr_names = snap.reverse.len();

    let dns = &cfg.dns_service;
    if let Some(svc) = snap.service(
        dns.namespace.to_ascii_lowercase().as_bytes(),
        dns.name.to_ascii_lowercase().as_bytes(),
    ) && let SvcKind::ClusterIp(ips) = svc.kind()
    {
        snap.glue = ips.to_vec();
    }
    if cfg.pods == PodMode::Verified {
        snap.pod_ips = crate::kind::pod::pod_ips(&objects.pods);
        snap.pod_namespaces = crate::kind::pod::namespaces_by_ip(&objects.pods);
    }
    snap
}

/// Whether the projection turns `svc`'s endpoints into records: true for headless Services
/// only (spec §2.4). ExternalName and ClusterIP Services answer from the Service alone, so the
/// object sources may drop their EndpointSlices and Endpoints (`watch/trim.rs`,
/// [`ClusterObjects::retain_used_endpoints`]). The same decision `project` takes below.
pub fn reads_endpoints(svc: &Service) -> bool {
    spec_reads_endpoints(svc.spec.as_ref())
}

/// [`reads_endpoints`] for a Service's `spec`.
pub fn spec_reads_endpoints(spec: Option<&ServiceSpec>) -> bool {
    external_name::target(spec).is_none() && cluster_ip::cluster_ips(spec).is_none()
}

struct Built {
    entry: SvcEntry,
    not_ready: usize,
}

fn build_service(
    snap: &ZoneSnapshot,
    pool: &mut Pool,
    ns: &str,
    name: &str,
    svc: &Service,
    slices: &HashMap<(&str, &str), Vec<&EndpointSlice>>,
    endpoints: &HashMap<(&str, &str), &Endpoints>,
) -> Option<Built> {
    if !headless::valid_hostname(ns) || !headless::valid_hostname(name) {
        return None;
    }
    let fqdn = snap
        .zone
        .prepend_label(&b"svc"[..])
        .and_then(|n| n.prepend_label(ns.to_ascii_lowercase().as_bytes()))
        .and_then(|n| n.prepend_label(name.to_ascii_lowercase().as_bytes()))
        .ok()?;
    let spec = svc.spec.as_ref();
    let ports = cluster_ip::service_ports(spec);
    if let Some(target) = external_name::target(spec) {
        let target = target?;
        return Some(Built {
            entry: pool.external_name(fqdn, target, &ports),
            not_ready: 0,
        });
    }
    let publish_all = spec.and_then(|s| s.publish_not_ready_addresses) == Some(true)
        || svc.metadata.tolerate_unready;
    let ips = cluster_ip::cluster_ips(spec);
    // Endpoints are published for headless Services only (spec §2.4, as kube-dns): a ClusterIP
    // Service's records are its cluster IPs. The kube source therefore does not even keep the
    // endpoints of ClusterIP Services, and both sources give the same zone.
    let mut collected = Collected::default();
    if ips.is_none() {
        match slices.get(&(ns, name)) {
            Some(list) => list
                .iter()
                .for_each(|s| collected.add_slice(s, publish_all)),
            None => {
                if let Some(ep) = endpoints.get(&(ns, name)) {
                    collected.add_endpoints(ep, publish_all);
                }
            }
        }
    }
    let not_ready = collected.not_ready;
    Some(Built {
        entry: collected.into_entry(pool, fqdn, ips.as_deref(), &ports),
        not_ready,
    })
}

/// An endpoint address before compaction.
struct RawEp {
    ip: IpAddr,
    host: Option<Box<str>>,
    group: u16,
}

/// Endpoints of one Service gathered from its slices (or Endpoints subsets).
#[derive(Default)]
struct Collected {
    groups: Vec<Box<[PortSpec]>>,
    eps: Vec<RawEp>,
    not_ready: usize,
}

impl Collected {
    fn group(&mut self, ports: Vec<PortSpec>) -> u16 {
        let mut ports = ports;
        ports.sort();
        ports.dedup();
        let idx = match self.groups.iter().position(|g| **g == ports[..]) {
            Some(i) => i,
            None => {
                self.groups.push(ports.into_boxed_slice());
                self.groups.len() - 1
            }
        };
        u16::try_from(idx).unwrap_or(u16::MAX)
    }

    /// Sorts endpoints by (label, ip) and merges duplicates: the same address with the same
    /// hostname listed by two slices (or subsets) with different ports keeps the union of
    /// their ports, so `_<port>._<proto>` finds it under either. Then stores the Service
    /// (`ips`: its cluster IPs, `None` when headless) in `pool`.
    fn into_entry(
        mut self,
        pool: &mut Pool,
        name: Name,
        ips: Option<&[IpAddr]>,
        ports: &[PortSpec],
    ) -> SvcEntry {
        let mut raw = std::mem::take(&mut self.eps);
        raw.sort_by_cached_key(|e| {
            let label = match &e.host {
                Some(h) => h.to_string(),
                None => crate::name::dashed_ip(e.ip),
            };
            (label, e.ip, e.group)
        });
        let mut merged: Vec<RawEp> = Vec::with_capacity(raw.len());
        for e in raw {
            match merged.last_mut() {
                Some(prev) if prev.ip == e.ip && prev.host == e.host => {
                    if prev.group != e.group {
                        let mut ports = self.group_ports(prev.group);
                        ports.extend(self.group_ports(e.group));
                        prev.group = self.group(ports);
                    }
                }
                _ => merged.push(e),
            }
        }
        let eps: Vec<(IpAddr, u16, Option<&str>)> = merged
            .iter()
            .map(|e| (e.ip, e.group, e.host.as_deref()))
            .collect();
        pool.service(name, ips, ports, &self.groups, &eps)
    }

    fn group_ports(&self, group: u16) -> Vec<PortSpec> {
        self.groups
            .get(usize::from(group))
            .map(|g| g.to_vec())
            .unwrap_or_default()
    }

    fn push(&mut self, ip: IpAddr, host: Option<&str>, ready: bool, publish_all: bool, group: u16) {
        if !ready && !publish_all {
            self.not_ready += 1;
            return;
        }
        let host = host
            .filter(|h| headless::valid_hostname(h))
            .map(|h| h.to_ascii_lowercase().into_boxed_str());
        self.eps.push(RawEp { ip, host, group });
    }

    fn add_slice(&mut self, slice: &EndpointSlice, publish_all: bool) {
        if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
            return;
        }
        let ports = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| PortSpec::new(p.name.as_deref(), p.protocol.as_deref(), p.port?))
            .collect();
        let group = self.group(ports);
        for ep in &slice.endpoints {
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            for addr in &ep.addresses {
                self.push(*addr, ep.hostname.as_deref(), ready, publish_all, group);
            }
        }
    }

    fn add_endpoints(&mut self, endpoints: &Endpoints, publish_all: bool) {
        for subset in endpoints.subsets.iter().flatten() {
            let ports = subset
                .ports
                .iter()
                .flatten()
                .filter_map(|p| PortSpec::new(p.name.as_deref(), p.protocol.as_deref(), p.port?))
                .collect();
            let group = self.group(ports);
            let listed = [
                (&subset.addresses, true),
                (&subset.not_ready_addresses, false),
            ];
            for (addresses, ready) in listed {
                for a in addresses.iter().flatten() {
                    if let Some(ip) = crate::name::parse_object_ip(&a.ip) {
                        self.push(ip, a.hostname.as_deref(), ready, publish_all, group);
                    }
                }
            }
        }
    }
}

fn index_reverse(reverse: &mut Reverse, idx: u32, svc: Svc<'_>) {
    let headless = svc.is_headless();
    if let SvcKind::ClusterIp(ips) = svc.kind() {
        for ip in ips {
            reverse.push(*ip, Owner::Service(idx));
        }
    }
    for (i, ep) in svc.endpoints().iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let owner = if headless {
            Owner::HeadlessEndpoint(idx, i)
        } else {
            Owner::Endpoint(idx, i)
        };
        reverse.push(ep.ip, owner);
    }
}
