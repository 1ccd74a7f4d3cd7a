//! Binding the listening sockets of every binary, in one place: DNS (UDP siblings sharing a
//! port with `SO_REUSEPORT`, plus TCP on the same port) and HTTP.
//!
//! Rules:
//! - A wildcard address (`0.0.0.0` or `::`) means "every address of the host, IPv4 and
//!   IPv6", as a Go `net.Listen(":53")` or dnsmasq does: one `[::]` socket with `IPV6_V6ONLY`
//!   off serves both families (IPv4 peers appear as `::ffff:a.b.c.d`, which [`canonical`]
//!   turns back into IPv4). On a host without IPv6 the wildcard falls back to `0.0.0.0`.
//! - A specific address binds that address only.
//! - Port 0 picks one free port for UDP and TCP together (tests), retrying when TCP's half of
//!   the pair is taken.
//! - UDP receive buffers are raised so that bursts are not dropped; TCP listens with a deep
//!   backlog. Every socket is non-blocking and close-on-exec unless made inheritable.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsFd;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use thiserror::Error;

/// Receive buffer asked for each UDP socket (the kernel caps it at `net.core.rmem_max`).
pub const UDP_RCVBUF: usize = 4 << 20;
/// Listen backlog of TCP sockets.
pub const TCP_BACKLOG: i32 = 1024;

/// A socket that could not be bound.
#[derive(Debug, Error)]
#[error("cannot bind {what} {addr}: {source}")]
pub struct BindError {
    /// udp, tcp or http.
    pub what: &'static str,
    /// The address asked for.
    pub addr: SocketAddr,
    /// The cause.
    pub source: io::Error,
}

/// Whether `ip` is a wildcard (every address of the host).
pub fn is_wildcard(ip: IpAddr) -> bool {
    ip.is_unspecified()
}

/// `ip` with an IPv4-mapped IPv6 address (as a dual-stack socket reports IPv4 peers) turned
/// back into IPv4, so that logs, metrics and address checks see one spelling.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// The address to bind for `addr`: a wildcard becomes the dual-stack `[::]` when the host
/// has IPv6, else `0.0.0.0`; anything else is kept.
fn bind_target(addr: SocketAddr) -> (SocketAddr, bool) {
    if is_wildcard(addr.ip()) && ipv6_available() {
        (
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), addr.port()),
            true,
        )
    } else if is_wildcard(addr.ip()) {
        (
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port()),
            false,
        )
    } else {
        (addr, false)
    }
}

/// Whether an IPv6 socket can be created and bound to `[::]` (false with `ipv6.disable=1`).
fn ipv6_available() -> bool {
    Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))
        .and_then(|s| {
            s.bind(&SockAddr::from(SocketAddr::from((
                Ipv6Addr::UNSPECIFIED,
                0,
            ))))
        })
        .is_ok()
}

fn socket(addr: SocketAddr, dual: bool, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(!dual)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

fn udp_at(addr: SocketAddr, dual: bool) -> io::Result<UdpSocket> {
    let s = socket(addr, dual, Type::DGRAM, Protocol::UDP)?;
    s.set_reuse_port(true)?;
    // Bursts of queries must not be dropped by a small default receive buffer.
    let _ = s.set_recv_buffer_size(UDP_RCVBUF);
    s.bind(&SockAddr::from(addr))?;
    Ok(s.into())
}

fn tcp_at(addr: SocketAddr, dual: bool) -> io::Result<TcpListener> {
    let s = socket(addr, dual, Type::STREAM, Protocol::TCP)?;
    s.set_reuse_address(true)?;
    s.bind(&SockAddr::from(addr))?;
    s.listen(TCP_BACKLOG)?;
    Ok(s.into())
}

/// The DNS sockets of one listen address: UDP sockets sharing the port (one per worker
/// thread) and the TCP listener on the same port.
#[derive(Debug)]
pub struct DnsSockets {
    /// UDP sockets, all bound to the same address (SO_REUSEPORT siblings, or duplicates of
    /// one inherited socket).
    pub udp: Vec<UdpSocket>,
    /// The TCP listener.
    pub tcp: TcpListener,
}

impl DnsSockets {
    /// Binds `udp_sockets` UDP sockets and one TCP listener on `addr` (see the module rules
    /// for wildcards and port 0).
    pub fn bind(addr: SocketAddr, udp_sockets: usize) -> Result<DnsSockets, BindError> {
        let (target, dual) = bind_target(addr);
        let err = |what, source| BindError { what, addr, source };
        let attempts = if addr.port() == 0 { 20 } else { 1 };
        let mut last = None;
        for _ in 0..attempts {
            let first = udp_at(target, dual).map_err(|e| err("udp", e))?;
            let real = first.local_addr().map_err(|e| err("udp", e))?;
            match tcp_at(real, dual) {
                Ok(tcp) => {
                    let mut udp = vec![first];
                    for _ in 1..udp_sockets.max(1) {
                        udp.push(udp_at(real, dual).map_err(|e| err("udp", e))?);
                    }
                    return Ok(DnsSockets { udp, tcp });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(err(
            "tcp",
            last.unwrap_or_else(|| io::Error::other("no free port for udp and tcp")),
        ))
    }

    /// Sockets inherited from a parent: `udp` is duplicated so that each of `workers`
    /// threads has its own descriptor of the one socket.
    pub fn inherited(udp: UdpSocket, tcp: TcpListener, workers: usize) -> io::Result<Self> {
        let mut all = Vec::with_capacity(workers.max(1));
        for _ in 1..workers.max(1) {
            all.push(udp.try_clone()?);
        }
        all.push(udp);
        for s in &all {
            s.set_nonblocking(true)?;
        }
        tcp.set_nonblocking(true)?;
        Ok(DnsSockets { udp: all, tcp })
    }

    /// Clears close-on-exec on every socket, so that a child process started later inherits
    /// them (the nanny's hand-over to dnscache).
    pub fn make_inheritable(&self) -> io::Result<()> {
        for fd in self.udp.iter().map(|s| s.as_fd()).chain([self.tcp.as_fd()]) {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
        }
        Ok(())
    }

    /// The bound address (the same port for UDP and TCP).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Logs the stable `listening on udp|tcp <addr>` lines the harnesses match.
    pub fn log(&self) {
        if let Some(Ok(a)) = self.udp.first().map(UdpSocket::local_addr) {
            tracing::info!(sockets = self.udp.len(), "listening on udp {a}");
        }
        if let Ok(a) = self.tcp.local_addr() {
            tracing::info!("listening on tcp {a}");
        }
    }
}

/// Binds an HTTP listener on `addr` (a wildcard serves IPv4 and IPv6) and logs
/// `listening on http <addr>`.
pub fn bind_http(addr: SocketAddr) -> Result<TcpListener, BindError> {
    let (target, dual) = bind_target(addr);
    let l = tcp_at(target, dual).map_err(|source| BindError {
        what: "http",
        addr,
        source,
    })?;
    if let Ok(a) = l.local_addr() {
        tracing::info!("listening on http {a}");
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v4(port: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    #[test]
    fn port_zero_gives_udp_and_tcp_one_port() {
        let s = DnsSockets::bind(v4(0), 3).unwrap();
        let port = s.local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert_eq!(s.udp.len(), 3);
        for u in &s.udp {
            assert_eq!(u.local_addr().unwrap().port(), port);
        }
    }

    #[test]
    fn wildcard_serves_both_families() {
        let s = DnsSockets::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), 1).unwrap();
        let port = s.local_addr().unwrap().port();
        let udp = &s.udp[0];
        udp.set_nonblocking(false).unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut families = vec![v4(port)];
        if ipv6_available() {
            families.push(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
        }
        for to in families {
            let client = UdpSocket::bind(SocketAddr::new(to.ip(), 0)).unwrap();
            client.send_to(b"x", to).unwrap();
            let mut buf = [0u8; 4];
            let (n, from) = udp.recv_from(&mut buf).unwrap();
            assert_eq!(n, 1);
            assert_eq!(canonical(from).ip(), to.ip(), "peer of {to}");
            std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2)).unwrap();
        }
    }

    #[test]
    fn specific_address_binds_only_it() {
        let s = DnsSockets::bind(v4(0), 1).unwrap();
        assert_eq!(
            s.local_addr().unwrap().ip(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        let taken = DnsSockets::bind(s.local_addr().unwrap(), 1);
        // UDP shares the port (SO_REUSEPORT), TCP does not: the second bind fails on TCP.
        assert_eq!(taken.err().map(|e| e.what), Some("tcp"));
    }

    #[test]
    fn mapped_peers_become_ipv4() {
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:53".parse().unwrap();
        assert_eq!(
            canonical(mapped),
            "10.1.2.3:53".parse::<SocketAddr>().unwrap()
        );
        let v6: SocketAddr = "[fd00::1]:53".parse().unwrap();
        assert_eq!(canonical(v6), v6);
    }
}
