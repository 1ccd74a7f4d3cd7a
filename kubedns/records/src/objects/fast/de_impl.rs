//! The serde side of the fast reader: a [`Value`] deserializes one node of the text, and
//! mappings and sequences hand out their entries as [`Map`] and [`Seq`].

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{
    Node, Parser, Result, Unsupported, integer, maybe_not_text, null, split_key, unescape,
};

/// One value of the document, read on demand.
pub(super) struct Value<'p, 'de> {
    pub(super) p: &'p mut Parser<'de>,
    pub(super) node: Node<'de>,
}

impl<'de> Value<'_, 'de> {
    fn text<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.node {
            Node::Plain(s) if !maybe_not_text(s) => v.visit_borrowed_str(s),
            Node::Quoted(s, true) if !s.contains('\\') => v.visit_borrowed_str(s),
            Node::Quoted(s, true) => v.visit_string(unescape(s)?),
            Node::Quoted(s, false) => match s.contains('\'') {
                true => v.visit_string(s.replace("''", "'")),
                false => v.visit_borrowed_str(s),
            },
            _ => Err(Unsupported),
        }
    }
}

impl<'de> Deserializer<'de> for Value<'_, 'de> {
    type Error = Unsupported;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.node {
            Node::Map(_) | Node::Seq(_) if self.p.depth >= super::MAX_DEPTH => Err(Unsupported),
            Node::Map(indent) => self.deserialize_map_at(indent, v),
            Node::Seq(indent) => {
                let p = self.p;
                p.depth += 1;
                let value = v.visit_seq(Seq {
                    p: &mut *p,
                    indent,
                    first: true,
                });
                p.depth -= 1;
                value
            }
            Node::EmptyMap => v.visit_map(de::value::MapDeserializer::<_, Unsupported>::new(
                std::iter::empty::<((), ())>(),
            )),
            Node::EmptySeq => v.visit_seq(de::value::SeqDeserializer::<_, Unsupported>::new(
                std::iter::empty::<()>(),
            )),
            Node::Empty => v.visit_unit(),
            Node::Plain(s) if null(s) => v.visit_unit(),
            Node::Plain("true") => v.visit_bool(true),
            Node::Plain("false") => v.visit_bool(false),
            Node::Plain(s) if integer(s) => v.visit_i64(s.parse().map_err(|_| Unsupported)?),
            Node::Plain(s) if maybe_not_text(s) => {
                match s.starts_with(|c: char| c.is_ascii_digit()) {
                    true => v.visit_f64(s.parse().map_err(|_| Unsupported)?),
                    false => Err(Unsupported),
                }
            }
            _ => self.text(v),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.node {
            Node::Empty => v.visit_none(),
            Node::Plain(s) if null(s) => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.node {
            Node::Plain("true") => v.visit_bool(true),
            Node::Plain("false") => v.visit_bool(false),
            _ => Err(Unsupported),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.node {
            Node::Plain(s) if integer(s) => v.visit_i64(s.parse().map_err(|_| Unsupported)?),
            _ => Err(Unsupported),
        }
    }

    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_i64(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.text(v)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.text(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.text(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.node {
            Node::Seq(_) | Node::EmptySeq => self.deserialize_any(v),
            _ => Err(Unsupported),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.node {
            Node::Map(_) | Node::EmptyMap => self.deserialize_any(v),
            _ => Err(Unsupported),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        self.deserialize_map(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_any(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct tuple
        tuple_struct enum
    }
}

impl<'de> Value<'_, 'de> {
    fn deserialize_map_at<V: Visitor<'de>>(self, indent: usize, v: V) -> Result<V::Value> {
        let start = self.p.keys.len();
        // `None` marks where this mapping's keys start.
        self.p.keys.push(None);
        self.p.depth += 1;
        let value = v.visit_map(Map {
            p: &mut *self.p,
            indent,
            first: true,
        })?;
        self.p.depth -= 1;
        self.p.keys.truncate(start);
        Ok(value)
    }
}

struct Map<'p, 'de> {
    p: &'p mut Parser<'de>,
    indent: usize,
    first: bool,
}

impl<'de> MapAccess<'de> for Map<'_, 'de> {
    type Error = Unsupported;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !std::mem::take(&mut self.first) {
            match self.p.peek_line() {
                None => return Ok(None),
                Some(i) if i < self.indent => return Ok(None),
                Some(i) if i == self.indent => self.p.pos += i,
                Some(_) => return Err(Unsupported),
            }
            if self.p.dash() {
                return Err(Unsupported);
            }
        }
        let (node, key) = self.p.key()?;
        let mine = self.p.keys.iter().rev().map_while(Option::as_ref);
        if mine.into_iter().any(|k| *k == key) {
            return Err(Unsupported);
        }
        self.p.keys.push(Some(key));
        seed.deserialize(Value {
            p: &mut *self.p,
            node,
        })
        .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value> {
        let node = self.p.value(self.indent, true)?;
        seed.deserialize(Value {
            p: &mut *self.p,
            node,
        })
    }
}

struct Seq<'p, 'de> {
    p: &'p mut Parser<'de>,
    indent: usize,
    first: bool,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Unsupported;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !std::mem::take(&mut self.first) {
            match self.p.peek_line() {
                None => return Ok(None),
                Some(i) if i < self.indent => return Ok(None),
                Some(i) if i == self.indent => {
                    self.p.pos += i;
                    if !self.p.dash() {
                        // A key of the mapping this sequence is the value of.
                        self.p.pos -= i;
                        return Ok(None);
                    }
                }
                Some(_) => return Err(Unsupported),
            }
        }
        self.p.pos += 1;
        let rest = &self.p.text[self.p.pos..];
        self.p.pos += rest.len() - rest.trim_start_matches(' ').len();
        let rest = &self.p.text[self.p.pos..];
        let node = if rest.starts_with(['\n', '\r']) || rest.is_empty() {
            self.p.value(self.indent, false)?
        } else if self.p.dash() {
            return Err(Unsupported);
        } else if split_key(rest).is_some() {
            Node::Map(self.p.column())
        } else {
            self.p.value(self.indent, false)?
        };
        seed.deserialize(Value {
            p: &mut *self.p,
            node,
        })
        .map(Some)
    }
}
