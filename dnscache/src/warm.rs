//! A warm cache across config changes: on SIGTERM the old process writes its fresh entries to
//! `--cache-dump-fd`; the nanny passes the other end of that pipe to the next process as
//! `--cache-load-fd`, which reads them while it already serves and keeps those whose route
//! still goes to the same servers, with the lifetime they had left.
//!
//! Owns: the stream format (below) and the route check. A stream that does not parse ends the
//! load (what was read stays, a counter and a warning say why). Must not bind anything.
//!
//! Stream: one record per entry, all integers big endian:
//! `len u32 | age_ms u64 | lifetime u32 | flags u8 | route_len u16 | route | reply`, where
//! `len` counts everything after itself, `route` is the textual list of the servers that
//! answered (the route of the question's name) and `reply` is the cached reply as stored.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::time::{Duration, Instant};

use crate::cache::{Cache, Entry};
use crate::key::{Flags, Key};
use crate::route::Routes;
use crate::wire;

/// Largest record accepted (a reply is at most 64 KiB).
const MAX_RECORD: usize = 70_000;

/// How a load went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Entries stored.
    pub kept: u64,
    /// Entries whose route now goes to other servers (or that expired meanwhile).
    pub dropped: u64,
}

/// The servers of the route of `name`, as compared between two processes.
fn route_of(routes: &Routes, name: &[u8]) -> String {
    format!("{:?}", routes.servers(routes.lookup(name)))
}

/// The cache key an entry answers (its stored question and flags).
fn key_of(e: &Entry) -> Option<Key> {
    let bytes = e.bytes();
    let name_len = wire::plain_name_len(bytes, wire::HEADER)?;
    let name = bytes.get(wire::HEADER..wire::HEADER + name_len)?;
    let qtype = wire::u16_at(bytes, wire::HEADER + name_len)?;
    let qclass = wire::u16_at(bytes, wire::HEADER + name_len + 2)?;
    Key::new(name, qtype, qclass, e.flags())
}

/// Writes every fresh entry of `cache` to `out`; returns how many.
pub fn dump(cache: &Cache, routes: &Routes, out: impl Write) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let now = Instant::now();
    let mut n = 0;
    for e in cache.fresh_entries(now) {
        let Some(key) = key_of(&e) else { continue };
        let route = route_of(routes, key.name());
        let reply = e.bytes();
        let Ok(route_len) = u16::try_from(route.len()) else {
            continue;
        };
        let len = 8 + 4 + 1 + 2 + route.len() + reply.len();
        let (Ok(len), Ok(age)) = (u32::try_from(len), u64::try_from(e.age(now).as_millis())) else {
            continue;
        };
        w.write_all(&len.to_be_bytes())?;
        w.write_all(&age.to_be_bytes())?;
        w.write_all(&e.lifetime().to_be_bytes())?;
        w.write_all(&[e.flags().bits()])?;
        w.write_all(&route_len.to_be_bytes())?;
        w.write_all(route.as_bytes())?;
        w.write_all(reply)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// Why a load stopped early.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading failed.
    #[error("reading the previous cache: {0}")]
    Read(#[from] io::Error),
    /// A record does not parse.
    #[error("the previous cache is malformed at entry {0}")]
    Malformed(u64),
}

fn take<'a>(rec: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rec.split_at_checked(n)?;
    *rec = tail;
    Some(head)
}

/// One record: age, lifetime, flags, route, reply.
type Record<'a> = (Duration, u32, Flags, &'a [u8], &'a [u8]);

fn parse(mut rec: &[u8]) -> Option<Record<'_>> {
    let r = &mut rec;
    let age = u64::from_be_bytes(take(r, 8)?.try_into().ok()?);
    let lifetime = u32::from_be_bytes(take(r, 4)?.try_into().ok()?);
    let flags = Flags::from_bits(*take(r, 1)?.first()?);
    let route_len = usize::from(u16::from_be_bytes(take(r, 2)?.try_into().ok()?));
    let route = take(r, route_len)?;
    Some((Duration::from_millis(age), lifetime, flags, route, rec))
}

/// Reads entries from `input` until EOF and stores those whose route is unchanged.
pub fn load(cache: &Cache, routes: &Routes, input: impl Read) -> Result<Loaded, LoadError> {
    let mut r = BufReader::with_capacity(1 << 16, input);
    let mut done = Loaded::default();
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(done),
            Err(e) => return Err(e.into()),
        }
        let n = done.kept + done.dropped;
        let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        if len > MAX_RECORD {
            return Err(LoadError::Malformed(n));
        }
        buf.resize(len, 0);
        r.read_exact(&mut buf)?;
        let (age, lifetime, flags, route, reply) = parse(&buf).ok_or(LoadError::Malformed(n))?;
        let info = wire::scan_reply(reply).ok_or(LoadError::Malformed(n))?;
        let entry = Entry::restore(reply.to_vec(), &info, flags, lifetime, age);
        let Some(key) = key_of(&entry) else {
            return Err(LoadError::Malformed(n));
        };
        if route_of(routes, key.name()).as_bytes() != route || !entry.fresh(Instant::now()) {
            done.dropped += 1;
            continue;
        }
        cache.restore(&key, entry);
        done.kept += 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
