//! Reading the items of a big `kind: List` document on several threads. `kubectl get -o yaml`
//! writes one document whose `items:` is a block sequence at column 0 (or indented); any run
//! of consecutive entries of that sequence is itself a valid YAML document (a top-level
//! block sequence), so the entries can be cut at their `- ` lines and parsed apart, without
//! copying. Cutting is only a fast path: any doubt (an entry count that does not add up, a
//! parse error, an alias across entries) returns `None`, and the caller reads the document
//! whole, which also gives the exact error message.

use super::read::{Item, yaml_options};

/// Below this size a document is read whole: threads would cost more than they save.
pub(super) const MIN_SPLIT_BYTES: usize = 1 << 20;

/// The document without its `items` entries (to read `kind`, `apiVersion`), and the entries.
pub(super) struct List {
    pub head: String,
    pub items: Vec<Item>,
}

/// Byte offsets of the `items:` entries of `doc`: the start of each entry and the end of the
/// last one, or `None` when `doc` has no top-level `items:` block sequence.
fn entries(doc: &str) -> Option<(Vec<usize>, usize)> {
    let mut offset = 0;
    let mut lines = doc.split_inclusive('\n').map(|l| {
        let at = offset;
        offset += l.len();
        (at, l.trim_end_matches(['\n', '\r']))
    });
    lines.by_ref().find(|(_, l)| l.trim_end() == "items:")?;
    let mut starts = Vec::new();
    let mut indent = None;
    let mut end = doc.len();
    for (at, line) in lines {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let depth = line.len() - body.len();
        let dash = body == "-" || body.starts_with("- ");
        // The first entry sets the sequence's indentation; a line at or left of it that is
        // not an entry ends the sequence; deeper lines belong to the current entry.
        let seq = match indent {
            Some(seq) => seq,
            None if dash => *indent.insert(depth),
            None => return None,
        };
        if depth == seq && dash {
            starts.push(at);
        } else if depth <= seq {
            end = at;
            break;
        }
    }
    (!starts.is_empty()).then_some((starts, end))
}

/// Reads `doc` as a List whose entries are parsed on up to `threads` threads, or `None` when
/// it is not one or anything about the cut is in doubt.
pub(super) fn read(doc: &str, threads: usize) -> Option<List> {
    let (starts, end) = entries(doc)?;
    let first = *starts.first()?;
    let mut head = String::with_capacity(first + doc.len() - end);
    head.push_str(doc.get(..first)?);
    head.push_str(doc.get(end..)?);
    // Cut into `threads` runs of about equal size, at entry starts.
    let per = (end - first) / threads.max(1) + 1;
    let mut cuts = vec![first];
    for &s in &starts {
        if s >= cuts.last().copied().unwrap_or(0) + per {
            cuts.push(s);
        }
    }
    cuts.push(end);
    let chunks: Vec<&str> = cuts
        .windows(2)
        .filter_map(|w| doc.get(w[0]..w[1]))
        .collect();
    let parsed: Vec<Option<Vec<Item>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    super::fast::from_str::<Vec<Item>>(chunk).ok().or_else(|| {
                        serde_saphyr::from_str_with_options::<Vec<Item>>(
                            chunk,
                            yaml_options(chunk.len()),
                        )
                        .ok()
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut items = Vec::with_capacity(starts.len());
    for run in parsed {
        items.extend(run?);
    }
    (items.len() == starts.len()).then_some(List { head, items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_entries_of_a_kubectl_list() {
        let doc = "apiVersion: v1\nitems:\n- kind: Service\n  metadata:\n    name: a\n# note\n- kind: Service\n  metadata:\n    name: b\nkind: List\n";
        let (starts, end) = entries(doc).unwrap();
        assert_eq!(starts.len(), 2);
        assert_eq!(&doc[end..], "kind: List\n");
        let indented = "items:\n  - kind: Pod\n    x: 1\n  - kind: Pod\nkind: List\n";
        assert_eq!(entries(indented).unwrap().0.len(), 2);
        assert!(entries("kind: Service\nmetadata:\n  name: a\n").is_none());
    }

    #[test]
    fn reads_entries_on_threads_in_order() {
        let mut doc = String::from("apiVersion: v1\nitems:\n");
        for i in 0..50 {
            doc.push_str(&format!("- kind: Service\n  metadata:\n    name: s{i}\n"));
        }
        doc.push_str("kind: List\n");
        let list = read(&doc, 4).unwrap();
        assert_eq!(list.items.len(), 50);
        assert_eq!(list.items[49].metadata.name.as_deref(), Some("s49"));
        assert_eq!(list.head, "apiVersion: v1\nitems:\nkind: List\n");
        // An alias across entries cannot be cut: the caller reads the document whole.
        let aliased = "items:\n- &a {kind: Service}\n- *a\n";
        assert!(read(aliased, 2).is_none());
    }
}
