//! testkit: dev-only support shared by the crates' tests and the end-to-end tests of the pod.
//!
//! - [`apiserver`]: a fake Kubernetes API server (list/watch over HTTP) with fault knobs;
//! - [`k8s`]: builders for Services, EndpointSlices, Endpoints, Pods;
//! - [`cluster`]: a generated cluster of any size, as kubectl prints it or for the fake API;
//! - [`bin`]: paths of the workspace binaries (built on demand);
//! - [`proc`]: a child-process harness that captures log lines and finds `listening on` addresses;
//! - [`dns`]: tiny DNS client calls over UDP and TCP (what `dig` does, in-process);
//! - [`upstream`]: a programmable mock DNS server counting the queries it gets;
//! - [`load`]: a fixed-rate UDP load that counts every unanswered query;
//! - [`soak`]: the soak and chaos harness (the whole pod under traffic, churn and faults).
//!
//! Never a dependency of production code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod apiserver;
pub mod bin;
pub mod cluster;
pub mod dns;
pub mod flood;
pub mod k8s;
pub mod load;
pub mod pod;
pub mod proc;
pub mod procfs;
pub mod soak;
pub mod upstream;
