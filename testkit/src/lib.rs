//! testkit: dev-only support shared by the crates' tests and the end-to-end tests of the pod.
//!
//! - [`apiserver`]: a fake Kubernetes API server (list/watch over HTTP) with fault knobs;
//! - [`k8s`]: builders for Services, EndpointSlices, Endpoints, Pods;
//! - [`bin`]: paths of the workspace binaries (built on demand);
//! - [`proc`]: a child-process harness that captures log lines and finds `listening on` addresses;
//! - [`dns`]: tiny DNS client calls over UDP and TCP (what `dig` does, in-process);
//! - [`upstream`]: a programmable mock DNS server counting the queries it gets;
//! - [`load`]: a fixed-rate UDP load that counts every unanswered query.
//!
//! Never a dependency of production code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod apiserver;
pub mod bin;
pub mod dns;
pub mod k8s;
pub mod load;
pub mod pod;
pub mod proc;
pub mod upstream;
