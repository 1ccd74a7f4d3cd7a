//! Table tests per record kind, in zone-file text (CoreDNS `test.Case` style).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod cluster_ip;
mod external_name;
mod headless;
mod pod;
mod ptr;
mod zone;
