//! Many idle TCP connections held open against a server, as a misbehaving pod of the cluster
//! could hold them against the pod's health and metrics ports.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connections opened between two requests that wait for the server to catch up: below the
/// smallest listen backlog in use (128, the Rust standard library's).
pub const BATCH: usize = 100;

/// Open connections; closed when dropped.
pub struct Flood {
    conns: Vec<TcpStream>,
}

impl Flood {
    /// Opens `idle` connections that send nothing, then `half` that send half a request line
    /// and stall. Raises this process's descriptor limit first and panics when it is still
    /// too low for the flood (a test that cannot open its flood proves nothing).
    ///
    /// Every [`BATCH`] connections, one HTTP request on a fresh connection waits until the
    /// server has accepted all before it (accept order is connection order). A client that
    /// connects faster than the server accepts overflows the listen backlog, and each
    /// dropped SYN costs a 1 s retransmission, which would make the test slow, not stricter.
    pub fn open(addr: SocketAddr, idle: usize, half: usize) -> Flood {
        let limit = ops::start::raise_nofile_limit().expect("read the descriptor limit");
        let want = (idle + half + 256) as u64;
        assert!(
            limit >= want,
            "descriptor limit {limit} is below the {want} this flood needs"
        );
        let mut conns = Vec::with_capacity(idle + half);
        for i in 0..idle + half {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("connection {i} to {addr}: {e}"));
            if i >= idle {
                // The server may have closed it already; the flood goes on.
                let _ = s.write_all(b"GET /metrics HT");
            }
            conns.push(s);
            if (i + 1) % BATCH == 0 {
                crate::pod::http_get(addr, "/")
                    .unwrap_or_else(|e| panic!("request after {} connections: {e}", i + 1));
            }
        }
        Flood { conns }
    }

    /// Connections opened.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when no connection was opened.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }
}
