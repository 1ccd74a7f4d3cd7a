//! A [`Sink`] that encodes records straight into the reply buffer (RFC 1035 §4.1.3), for the
//! fast path. Names are compressed (RFC 1035 §4.1.4) against every name already written, the
//! question's included, so a record owned by the asked name costs a two-octet pointer to
//! offset 12; SRV targets are written whole (RFC 2782: no compression there) but others may
//! point into them, as hickory does. Nothing here allocates: the compression table is a fixed
//! array and `out` is the worker's reused buffer.
//!
//! Any record that would pass `limit`, or a record for an earlier section than the last one,
//! marks the writer failed; the handler then answers through the reference path, which owns
//! the truncation rules (TC, what is kept).

use kubedns_records::{Data, NameRef, Section, Sink};

/// Compression candidates kept (hickory keeps 64); later names are still written, only not
/// offered as pointer targets.
const TABLE: usize = 64;
/// Labels of one name handled with compression; longer names are written whole.
const MAX_LABELS: usize = 32;
/// Pointers to follow while comparing a stored name (a well-formed message needs few).
const MAX_HOPS: usize = 16;

/// The reply being written after its header and question.
pub(super) struct Wire<'a> {
    out: &'a mut Vec<u8>,
    /// The question's name as received (original case), wire form.
    asked: &'a [u8],
    limit: usize,
    /// Records per section (Answer, Authority, Additional).
    pub counts: [u16; 3],
    section: Section,
    table: [u16; TABLE],
    stored: usize,
    /// Set when a record did not fit or came out of order: the reply must not be sent.
    pub failed: bool,
}

impl<'a> Wire<'a> {
    /// A writer appending to `out`, which holds the header and the question, whose name
    /// starts at offset 12 and is `asked`; the message may grow to `limit` octets.
    pub(super) fn new(out: &'a mut Vec<u8>, asked: &'a [u8], limit: usize) -> Self {
        let mut wire = Wire {
            out,
            asked,
            limit,
            counts: [0; 3],
            section: Section::Answer,
            table: [0; TABLE],
            stored: 0,
            failed: false,
        };
        let mut at = 12;
        while let Some(&len) = asked.get(at - 12)
            && len != 0
        {
            wire.store(at);
            at += 1 + usize::from(len);
        }
        wire
    }

    fn store(&mut self, at: usize) {
        if let (Some(slot), Ok(at)) = (self.table.get_mut(self.stored), u16::try_from(at))
            && at < 0x3FFF
        {
            *slot = at;
            self.stored += 1;
        }
    }

    /// Writes `name`; `compress` allows ending it with a pointer.
    fn name(&mut self, name: NameRef<'_>, compress: bool) {
        if compress && let NameRef::Asked = name {
            self.out.extend_from_slice(&[0xC0, 12]);
            return;
        }
        let mut labels: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
        let mut n = 0;
        let mut whole = |label| -> bool {
            match labels.get_mut(n) {
                Some(slot) => {
                    *slot = label;
                    n += 1;
                    true
                }
                None => false,
            }
        };
        let fits = match name {
            NameRef::Asked => WireLabels(self.asked).all(&mut whole),
            NameRef::Name(name) => name.iter().all(&mut whole),
            NameRef::Under(label, name) => whole(label) && name.iter().all(&mut whole),
        };
        let labels = labels.get(..n).unwrap_or(&[]);
        if !fits {
            // Too many labels to compare: write it whole (it still parses; it is only longer).
            match name {
                NameRef::Asked => self.out.extend_from_slice(self.asked),
                NameRef::Name(n) => self.uncompressed(n.iter()),
                NameRef::Under(l, n) => self.uncompressed(std::iter::once(l).chain(n.iter())),
            }
            return;
        }
        for (i, label) in labels.iter().enumerate() {
            if compress && let Some(at) = self.find(labels.get(i..).unwrap_or(&[])) {
                self.out.extend_from_slice(&(0xC000 | at).to_be_bytes());
                return;
            }
            self.store(self.out.len());
            self.label(label);
        }
        self.out.push(0);
    }

    fn uncompressed<'l>(&mut self, labels: impl Iterator<Item = &'l [u8]>) {
        for label in labels {
            self.label(label);
        }
        self.out.push(0);
    }

    /// One label (RFC 1035 §3.1: 1 to 63 octets); anything else cannot be sent.
    fn label(&mut self, label: &[u8]) {
        match u8::try_from(label.len()) {
            Ok(len @ 1..=63) => {
                self.out.push(len);
                self.out.extend_from_slice(label);
            }
            _ => self.failed = true,
        }
    }

    /// The offset of a stored name equal to `labels` (octet for octet, as hickory compares).
    fn find(&self, labels: &[&[u8]]) -> Option<u16> {
        let stored = self.table.get(..self.stored).unwrap_or(&[]);
        stored
            .iter()
            .copied()
            .find(|at| same(self.out, usize::from(*at), labels))
    }

    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    fn rdata(&mut self, data: Data<'_>) -> u16 {
        match data {
            Data::A(ip) => {
                self.out.extend_from_slice(&ip.octets());
                1
            }
            Data::Aaaa(ip) => {
                self.out.extend_from_slice(&ip.octets());
                28
            }
            Data::Cname(n) => {
                self.name(n, true);
                5
            }
            Data::Ns(n) => {
                self.name(n, true);
                2
            }
            Data::Ptr(n) => {
                self.name(n, true);
                12
            }
            Data::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                self.u16(priority);
                self.u16(weight);
                self.u16(port);
                self.name(target, false);
                33
            }
            Data::Txt(text) => {
                // One character-string (RFC 1035 §3.3.14); ours are short constants.
                let bytes = text.as_bytes();
                let bytes = bytes.get(..255).unwrap_or(bytes);
                self.out.push(u8::try_from(bytes.len()).unwrap_or(255));
                self.out.extend_from_slice(bytes);
                16
            }
            Data::Soa(soa) => {
                self.name(NameRef::Name(soa.mname), true);
                self.name(NameRef::Name(soa.rname), true);
                self.u32(soa.serial);
                for timer in [soa.refresh, soa.retry, soa.expire] {
                    self.out.extend_from_slice(&timer.to_be_bytes());
                }
                self.u32(soa.minimum);
                6
            }
        }
    }
}

impl Sink for Wire<'_> {
    fn record(&mut self, section: Section, owner: NameRef<'_>, ttl: u32, data: Data<'_>) {
        if self.failed || section < self.section {
            self.failed = true;
            return;
        }
        self.section = section;
        let start = self.out.len();
        let stored = self.stored;
        self.name(owner, true);
        let type_at = self.out.len();
        self.out.extend_from_slice(&[0, 0, 0, 1]); // TYPE (patched below), CLASS IN
        self.u32(ttl);
        self.out.extend_from_slice(&[0, 0]); // RDLENGTH (patched below)
        let rdata_at = self.out.len();
        let rtype = self.rdata(data);
        let rdlen = u16::try_from(self.out.len() - rdata_at).ok();
        let idx = match section {
            Section::Answer => 0,
            Section::Authority => 1,
            Section::Additional => 2,
        };
        let count = self.counts.get(idx).and_then(|c| c.checked_add(1));
        match (rdlen, count, self.out.len() <= self.limit && !self.failed) {
            (Some(rdlen), Some(count), true) => {
                patch(self.out, type_at, rtype);
                patch(self.out, rdata_at - 2, rdlen);
                if let Some(c) = self.counts.get_mut(idx) {
                    *c = count;
                }
            }
            _ => {
                self.out.truncate(start);
                self.stored = stored;
                self.failed = true;
            }
        }
    }
}

fn patch(out: &mut [u8], at: usize, v: u16) {
    if let Some(slot) = out.get_mut(at..at + 2) {
        slot.copy_from_slice(&v.to_be_bytes());
    }
}

/// True when the name at `at` in `msg` (following pointers) is exactly `labels`.
fn same(msg: &[u8], mut at: usize, labels: &[&[u8]]) -> bool {
    let mut hops = 0;
    let mut next = || -> Option<&[u8]> {
        loop {
            let len = *msg.get(at)?;
            if len >= 0xC0 {
                hops += 1;
                let low = *msg.get(at + 1)?;
                at = usize::from(u16::from_be_bytes([len & 0x3F, low]));
                if hops > MAX_HOPS {
                    return None;
                }
                continue;
            }
            let label = msg.get(at + 1..at + 1 + usize::from(len))?;
            at += 1 + usize::from(len);
            return Some(label);
        }
    };
    for want in labels {
        match next() {
            Some(got) if got == *want && !got.is_empty() => {}
            _ => return false,
        }
    }
    next().is_some_and(<[u8]>::is_empty)
}

/// The labels of a wire-form name without pointers (the question's), root excluded.
pub(super) struct WireLabels<'a>(pub(super) &'a [u8]);

impl<'a> Iterator for WireLabels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.0.split_first()?;
        let label = rest.get(..usize::from(len)).filter(|l| !l.is_empty())?;
        self.0 = rest.get(usize::from(len)..)?;
        Some(label)
    }
}
