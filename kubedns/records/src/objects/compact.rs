//! Trimming spare capacity from parsed objects before they are stored. Deserializers grow
//! vectors by doubling (a one-port Service gets room for four, ten endpoints room for
//! sixteen), and a store of 10,000 Services and their slices would keep that slack for as long
//! as the objects live. Both object sources call [`Compact::compact`] once per object.

use super::model::{
    Endpoint, EndpointSlice, EndpointSubset, Endpoints, Meta, Pod, PodStatus, Port, Service,
};

/// Gives back the spare capacity of every vector and string an object owns.
pub trait Compact {
    /// Shrinks in place.
    fn compact(&mut self);
}

impl<T: Compact> Compact for Vec<T> {
    fn compact(&mut self) {
        self.iter_mut().for_each(Compact::compact);
        self.shrink_to_fit();
    }
}

impl<T: Compact> Compact for Option<T> {
    fn compact(&mut self) {
        if let Some(v) = self {
            v.compact();
        }
    }
}

impl Compact for String {
    fn compact(&mut self) {
        self.shrink_to_fit();
    }
}

impl Compact for Meta {
    fn compact(&mut self) {
        self.name.compact();
        self.namespace.compact();
        self.service_name.compact();
    }
}

impl Compact for Port {
    fn compact(&mut self) {
        self.name.compact();
        self.protocol.compact();
    }
}

impl Compact for Service {
    fn compact(&mut self) {
        self.metadata.compact();
        if let Some(spec) = &mut self.spec {
            spec.cluster_ip.compact();
            spec.cluster_ips.compact();
            spec.type_.compact();
            spec.external_name.compact();
            spec.ports.compact();
        }
    }
}

impl Compact for Endpoint {
    fn compact(&mut self) {
        self.addresses.shrink_to_fit();
        self.hostname.compact();
    }
}

impl Compact for EndpointSlice {
    fn compact(&mut self) {
        self.metadata.compact();
        self.address_type.compact();
        self.endpoints.compact();
        self.ports.compact();
    }
}

impl Compact for EndpointSubset {
    fn compact(&mut self) {
        for list in [&mut self.addresses, &mut self.not_ready_addresses]
            .into_iter()
            .flatten()
        {
            for a in list.iter_mut() {
                a.ip.compact();
                a.hostname.compact();
            }
            list.shrink_to_fit();
        }
        self.ports.compact();
    }
}

impl Compact for Endpoints {
    fn compact(&mut self) {
        self.metadata.compact();
        self.subsets.compact();
    }
}

impl Compact for PodStatus {
    fn compact(&mut self) {
        self.phase.compact();
        self.pod_ip.compact();
        if let Some(ips) = &mut self.pod_ips {
            ips.iter_mut().for_each(|ip| ip.ip.compact());
            ips.shrink_to_fit();
        }
    }
}

impl Compact for Pod {
    fn compact(&mut self) {
        self.metadata.compact();
        self.status.compact();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_service_keeps_no_spare_capacity() {
        let mut svc: Service = serde_json::from_str(
            r#"{"metadata": {"name": "web", "namespace": "ns"},
                "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
                         "ports": [{"name": "http", "port": 80}]}}"#,
        )
        .unwrap();
        svc.compact();
        let spec = svc.spec.unwrap();
        let ports = spec.ports.unwrap();
        assert_eq!(ports.capacity(), ports.len());
        let ips = spec.cluster_ips.unwrap();
        assert_eq!(ips.capacity(), ips.len());
    }
}
