//! The connection cap, pure: which connection makes room for a new one.
//!
//! Connections are numbered in accept order, so the smallest number is the oldest. When the
//! table is full, the oldest connection that is not inside a request gives up its place
//! (serving a new client beats keeping an idle one: a liveness probe must get through
//! connections that only sit there); when every connection is inside a request, the new one
//! is refused.

use std::collections::BTreeMap;

/// Open connections, oldest first.
#[derive(Debug)]
pub(crate) struct Table<T> {
    cap: usize,
    next: u64,
    conns: BTreeMap<u64, T>,
}

/// What [`Table::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit<T> {
    /// Admitted under this number; there was room.
    Room(u64),
    /// Admitted under this number after taking out this idle connection.
    Evicted(u64, T),
    /// Not admitted: the table is full and every connection is busy.
    Refused,
}

impl<T> Table<T> {
    /// An empty table holding at most `cap` connections (at least one).
    pub(crate) fn new(cap: usize) -> Self {
        Table {
            cap: cap.max(1),
            next: 0,
            conns: BTreeMap::new(),
        }
    }

    /// Admits `conn`, evicting the oldest connection for which `busy` is false if the table
    /// is full.
    pub(crate) fn admit(&mut self, conn: T, busy: impl Fn(&T) -> bool) -> Admit<T> {
        let mut evicted = None;
        if self.conns.len() >= self.cap {
            let Some(oldest_idle) = self
                .conns
                .iter()
                .find_map(|(id, c)| (!busy(c)).then_some(*id))
            else {
                return Admit::Refused;
            };
            evicted = self.conns.remove(&oldest_idle);
        }
        let id = self.next;
        self.next += 1;
        self.conns.insert(id, conn);
        match evicted {
            Some(old) => Admit::Evicted(id, old),
            None => Admit::Room(id),
        }
    }

    /// Takes connection `id` out (it closed); no-op when it was evicted already.
    pub(crate) fn remove(&mut self, id: u64) {
        self.conns.remove(&id);
    }

    /// Open connections.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection in these tests: a name and whether it is inside a request.
    type Conn = (&'static str, bool);

    fn busy(c: &Conn) -> bool {
        c.1
    }

    #[test]
    fn admits_until_the_cap() {
        let mut t = Table::new(2);
        assert_eq!(t.admit(("a", false), busy), Admit::Room(0));
        assert_eq!(t.admit(("b", false), busy), Admit::Room(1));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn full_table_evicts_the_oldest_idle_connection() {
        let mut t = Table::new(3);
        t.admit(("a", true), busy);
        t.admit(("b", false), busy);
        t.admit(("c", false), busy);
        assert_eq!(t.admit(("d", false), busy), Admit::Evicted(3, ("b", false)));
        assert_eq!(t.admit(("e", false), busy), Admit::Evicted(4, ("c", false)));
        // Then the newest idle ones go, oldest first; the busy one stays.
        assert_eq!(t.admit(("f", false), busy), Admit::Evicted(5, ("d", false)));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn full_table_of_busy_connections_refuses() {
        let mut t = Table::new(2);
        t.admit(("a", true), busy);
        t.admit(("b", true), busy);
        assert_eq!(t.admit(("c", false), busy), Admit::Refused);
        assert_eq!(t.len(), 2);
        // A closed connection makes room again.
        t.remove(0);
        assert_eq!(t.admit(("c", false), busy), Admit::Room(2));
    }

    #[test]
    fn removing_an_evicted_connection_is_harmless() {
        let mut t = Table::new(1);
        t.admit(("a", false), busy);
        assert_eq!(t.admit(("b", false), busy), Admit::Evicted(1, ("a", false)));
        t.remove(0);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_zero_cap_still_admits_one() {
        let mut t = Table::new(0);
        assert_eq!(t.admit(("a", false), busy), Admit::Room(0));
        assert_eq!(t.admit(("b", true), busy), Admit::Evicted(1, ("a", false)));
        assert_eq!(t.admit(("c", false), busy), Admit::Refused);
    }
}
