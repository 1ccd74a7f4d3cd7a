//! Socket handover with the nanny: serving on inherited, already-bound descriptors
//! (`--inherit-udp-fd`, `--inherit-tcp-fd`) and signalling readiness (`--ready-fd`).
//!
//! Owns: the one piece of `unsafe` in the crate (taking ownership of a raw descriptor number
//! given on the command line) and the checks around it: the descriptor must be open, and a
//! socket of the right type (`SO_TYPE`; a TCP one must be listening). Must not bind anything.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{SockType, getsockopt, sockopt};
use thiserror::Error;

/// An inherited descriptor that cannot be used.
#[derive(Debug, Error)]
pub enum HandoverError {
    /// The number is not an open descriptor of this process.
    #[error("descriptor {fd} is not open")]
    NotOpen {
        /// The descriptor.
        fd: RawFd,
    },
    /// It is open but not the kind of socket the flag asks for.
    #[error("descriptor {fd} is not a {want} socket")]
    WrongKind {
        /// The descriptor.
        fd: RawFd,
        /// What was expected.
        want: &'static str,
    },
    /// Writing the ready line failed.
    #[error("writing to the ready descriptor failed: {0}")]
    ReadyWrite(io::Error),
}

/// Takes ownership of descriptor `fd`, which the parent process left open for us.
#[allow(unsafe_code)]
fn adopt(fd: RawFd) -> Result<OwnedFd, HandoverError> {
    if fd < 0 || std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_err() {
        return Err(HandoverError::NotOpen { fd });
    }
    // SAFETY: `fd` is an open descriptor of this process (checked above through /proc). It was
    // passed to us on the command line for our exclusive use: nothing else in this process
    // owns it, and `cli` rejects the same number given for two flags, so it is adopted at most
    // once and closed exactly once, when the returned `OwnedFd` is dropped.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn socket_type(fd: RawFd, owned: &OwnedFd, want: &'static str) -> Result<SockType, HandoverError> {
    getsockopt(owned, sockopt::SockType).map_err(|_| HandoverError::WrongKind { fd, want })
}

/// The bound UDP socket at `fd`.
pub fn inherit_udp(fd: RawFd) -> Result<std::net::UdpSocket, HandoverError> {
    let owned = adopt(fd)?;
    match socket_type(fd, &owned, "UDP")? {
        SockType::Datagram => Ok(std::net::UdpSocket::from(owned)),
        _ => Err(HandoverError::WrongKind { fd, want: "UDP" }),
    }
}

/// The listening TCP socket at `fd`.
pub fn inherit_tcp(fd: RawFd) -> Result<std::net::TcpListener, HandoverError> {
    let owned = adopt(fd)?;
    let listening = getsockopt(&owned, sockopt::AcceptConn).unwrap_or(false);
    match socket_type(fd, &owned, "listening TCP")? {
        SockType::Stream if listening => Ok(std::net::TcpListener::from(owned)),
        _ => Err(HandoverError::WrongKind {
            fd,
            want: "listening TCP",
        }),
    }
}

/// The descriptor `--ready-fd` names (a pipe or any writable file).
pub fn ready_fd(fd: RawFd) -> Result<File, HandoverError> {
    adopt(fd).map(File::from)
}

/// Writes `ready\n` and closes the descriptor.
pub fn signal_ready(mut f: File) -> Result<(), HandoverError> {
    f.write_all(b"ready\n").map_err(HandoverError::ReadyWrite)
}
