//! A fast reader for the block YAML that `kubectl get -o yaml` writes: block mappings and
//! sequences (sequences at their key's indentation or deeper), one-line plain, single- and
//! double-quoted scalars, and the empty flow collections `{}` and `[]`. It feeds serde
//! straight from the text, borrowing every string without escapes, several times faster
//! than the general parser on a big List.
//!
//! It is only a fast path: anything outside that subset, or any doubt about what a scalar
//! means (anchors, tags, block or multi-line scalars, comments after a value, tabs, numbers
//! or booleans in another spelling, keys that could be numbers, a value of the wrong type),
//! is [`Unsupported`], and the caller reads the same text with the general parser, which
//! also gives the exact error. So what this reader accepts it reads as that parser would,
//! duplicate keys included (an error in both).

use std::borrow::Cow;

use serde::de;

mod de_impl;
use de_impl::Value;

/// The text is outside the subset this reader takes; read it with the general parser.
#[derive(Debug, thiserror::Error)]
#[error("outside the fast YAML subset")]
pub(super) struct Unsupported;

impl de::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

type Result<T> = std::result::Result<T, Unsupported>;

/// Reads a whole YAML document (a block mapping or sequence) into `T`.
pub(super) fn from_str<'de, T: de::Deserialize<'de>>(text: &'de str) -> Result<T> {
    let mut p = Parser {
        text,
        pos: 0,
        keys: Vec::new(),
        depth: 0,
    };
    let indent = p.peek_line().ok_or(Unsupported)?;
    p.pos += indent;
    let node = match p.dash() {
        true => Node::Seq(indent),
        false => Node::Map(indent),
    };
    let value = T::deserialize(Value { p: &mut p, node })?;
    match p.peek_line() {
        None => Ok(value),
        Some(_) => Err(Unsupported),
    }
}

struct Parser<'de> {
    text: &'de str,
    /// Byte offset: a line start, or a key or a sequence dash inside its line.
    pos: usize,
    /// Keys of the mappings being read, innermost last, to refuse duplicates.
    keys: Vec<Option<Cow<'de, str>>>,
    /// Collections being read (see [`MAX_DEPTH`]).
    depth: usize,
}

/// Collections nested deeper than this are left to the general parser, whose budget refuses
/// absurd nesting: reading is recursive, and a crafted file nested thousands deep would
/// otherwise exhaust a parsing thread's stack. kubectl's objects nest about ten deep.
const MAX_DEPTH: usize = 64;

/// What the next value is.
enum Node<'de> {
    /// A block mapping whose keys are at this column; `pos` is at its first key.
    Map(usize),
    /// A block sequence whose dashes are at this column; `pos` is at its first dash.
    Seq(usize),
    /// `{}` or `[]`.
    EmptyMap,
    EmptySeq,
    /// An empty value (null).
    Empty,
    Plain(&'de str),
    /// Quoted text (between the quotes, undecoded) and whether it was double-quoted.
    Quoted(&'de str, bool),
}

impl<'de> Parser<'de> {
    /// The rest of the current line, without its line break; moves `pos` to the next line.
    fn rest_of_line(&mut self) -> &'de str {
        let rest = &self.text[self.pos..];
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], self.pos + i + 1),
            None => (rest, self.text.len()),
        };
        self.pos = next;
        line.strip_suffix('\r').unwrap_or(line)
    }

    /// Skips blank and comment lines from a line start; the indentation of the next line with
    /// content, `pos` staying at its start, or `None` at the end.
    fn peek_line(&mut self) -> Option<usize> {
        loop {
            let rest = self.text.get(self.pos..).filter(|r| !r.is_empty())?;
            let indent = rest.len() - rest.trim_start_matches(' ').len();
            let body = &rest[indent..];
            if !(body.starts_with(['\n', '\r', '#'])) {
                // A tab is whitespace to YAML but not indentation: the general parser decides.
                return Some(if body.starts_with('\t') {
                    usize::MAX
                } else {
                    indent
                });
            }
            self.rest_of_line();
        }
    }

    /// Whether `pos` is at a sequence entry (`-` then a space or the line's end).
    fn dash(&self) -> bool {
        let b = self.text.as_bytes();
        b.get(self.pos) == Some(&b'-')
            && matches!(b.get(self.pos + 1), None | Some(b' ' | b'\n' | b'\r'))
    }

    /// The column of `pos` in its line.
    fn column(&self) -> usize {
        self.pos - self.text[..self.pos].rfind('\n').map_or(0, |i| i + 1)
    }

    /// Reads the key at `pos` and its `:`, leaving `pos` after the spaces that follow: the key
    /// as a node to deserialize, and its text to compare with the mapping's other keys.
    fn key(&mut self) -> Result<(Node<'de>, Cow<'de, str>)> {
        let rest = &self.text[self.pos..];
        let (node, text, len) = match split_key(rest) {
            Some((Node::Plain(k), len)) if !maybe_not_text(k) => (Node::Plain(k), k.into(), len),
            Some((Node::Quoted(k, true), len)) if k.contains('\\') => {
                (Node::Quoted(k, true), unescape(k)?.into(), len)
            }
            Some((Node::Quoted(k, double), len)) if !k.contains('\'') => {
                (Node::Quoted(k, double), k.into(), len)
            }
            _ => return Err(Unsupported),
        };
        self.pos += len;
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches(' ').len();
        Ok((node, text))
    }

    /// The value that follows a key or a dash at `pos`, in a collection at column `indent`;
    /// `same` says a sequence may start at that same column (a mapping's value).
    fn value(&mut self, indent: usize, same: bool) -> Result<Node<'de>> {
        let line = self.rest_of_line();
        if line.is_empty() {
            return match self.peek_line() {
                Some(usize::MAX) => Err(Unsupported),
                Some(i) if i > indent => {
                    self.pos += i;
                    Ok(if self.dash() {
                        Node::Seq(i)
                    } else {
                        Node::Map(i)
                    })
                }
                Some(i) if same && i == indent => {
                    self.pos += i;
                    if self.dash() {
                        return Ok(Node::Seq(i));
                    }
                    self.pos -= i;
                    Ok(Node::Empty)
                }
                _ => Ok(Node::Empty),
            };
        }
        scalar(line)
    }
}

/// A one-line value: a scalar or an empty flow collection; anything else is unsupported.
fn scalar(line: &str) -> Result<Node<'_>> {
    let line = line.trim_end_matches(' ');
    match line {
        "{}" => return Ok(Node::EmptyMap),
        "[]" => return Ok(Node::EmptySeq),
        _ => {}
    }
    match quoted(line) {
        Some((node, len)) if len == line.len() => Ok(node),
        Some(_) => Err(Unsupported),
        None if line.starts_with(|c| "&*!|>{[]}%@`?,#-:'\"\t".contains(c))
            || line.contains(": ")
            || line.contains(" #")
            || line.ends_with(':') =>
        {
            Err(Unsupported)
        }
        None => Ok(Node::Plain(line)),
    }
}

/// A quoted scalar at the start of `s` (closed on the same line) and its length with quotes.
fn quoted(s: &str) -> Option<(Node<'_>, usize)> {
    let b = s.as_bytes();
    let double = match b.first()? {
        b'"' => true,
        b'\'' => false,
        _ => return None,
    };
    let mut i = 1;
    while i < b.len() {
        match (b[i], double) {
            (b'\\', true) => i += 2,
            (b'"', true) => return Some((Node::Quoted(&s[1..i], true), i + 1)),
            (b'\'', false) if b.get(i + 1) == Some(&b'\'') => i += 2,
            (b'\'', false) => return Some((Node::Quoted(&s[1..i], false), i + 1)),
            _ => i += 1,
        }
    }
    None
}

/// The key at the start of `s` (plain or quoted) and the length through its `:`, when `s`
/// starts a mapping entry.
fn split_key(s: &str) -> Option<(Node<'_>, usize)> {
    let colon = |at: usize| {
        let after = s.as_bytes().get(at + 1);
        (s.as_bytes().get(at) == Some(&b':') && matches!(after, None | Some(b' ' | b'\n' | b'\r')))
            .then_some(at + 1)
    };
    if let Some((node, len)) = quoted(s) {
        return colon(len).map(|end| (node, end));
    }
    let line = &s[..s.find('\n').unwrap_or(s.len())];
    let at = line
        .find(": ")
        .or_else(|| line.trim_end().strip_suffix(':').map(str::len))?;
    let key = &s[..at];
    (!key.is_empty()
        && !key.starts_with(|c| "&*!|>{[]}%@`?,#-:'\" \t".contains(c))
        && !key.contains(" #"))
    .then(|| (Node::Plain(key.trim_end_matches(' ')), at + 1))
}

/// Whether a plain scalar may mean something other than its text (null, a boolean, a
/// number in any YAML spelling): only the general parser decides those.
fn maybe_not_text(s: &str) -> bool {
    const WORDS: [&str; 10] = [
        "true", "false", "y", "n", "yes", "no", "on", "off", ".inf", ".nan",
    ];
    null(s)
        || WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
        || s.parse::<f64>().is_ok()
        || s.starts_with('+')
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with("0b")
        || s.starts_with(|c: char| c.is_ascii_digit())
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// A decimal integer in its one plain spelling (no sign but `-`, no leading zero).
fn integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits.len() == 1 || !digits.starts_with('0'))
}

fn null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// A double-quoted scalar's text with its JSON-style escapes decoded; others unsupported.
fn unescape(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next().ok_or(Unsupported)? {
            c @ ('"' | '\\' | '/') => c,
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'u' => {
                let hex = chars.as_str().get(..4).ok_or(Unsupported)?;
                let code = u32::from_str_radix(hex, 16).map_err(|_| Unsupported)?;
                chars = chars.as_str()[4..].chars();
                char::from_u32(code).ok_or(Unsupported)?
            }
            _ => return Err(Unsupported),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
