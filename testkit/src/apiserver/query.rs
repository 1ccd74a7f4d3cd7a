//! Query strings of list and watch requests (`?&limit=500&continue=..&watch=true&...`, note
//! kube-rs's empty first pair) and the label and field selectors the API server applies.
//! Label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`.
//! Field selectors: `a.b=v`, `a.b==v`, `a.b!=v` over the object's JSON (missing field = "").

use serde_json::Value;

/// Decoded query parameters in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string, skipping empty pairs.
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        Query(pairs)
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` parsed as a number, if present and valid.
    pub fn num(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    /// `key` equals `true`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }
}

/// Percent-decoding (`+` stays `+`, as Kubernetes' Go server treats it in practice for selectors).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label or field selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Req>);

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn set_values(s: &str) -> Vec<String> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

impl Selector {
    /// Parses a selector; `None` on a syntax error (the server answers 400).
    pub fn parse(s: &str) -> Option<Selector> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some((k, v)) = part.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set_values(v))
            } else if let Some((k, v)) = part.split_once(" in ") {
                Req::In(k.trim().into(), set_values(v))
            } else if let Some(k) = part.strip_prefix('!') {
                Req::NotExists(k.trim().into())
            } else if part.contains(' ') || part.contains('(') {
                return None;
            } else {
                Req::Exists(part.into())
            };
            reqs.push(req);
        }
        Some(Selector(reqs))
    }

    /// Whether `lookup` (key -> value, `None` if absent) satisfies every requirement.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => lookup(k).as_deref() == Some(v.as_str()),
            Req::Ne(k, v) => lookup(k).as_deref() != Some(v.as_str()),
            Req::Exists(k) => lookup(k).is_some(),
            Req::NotExists(k) => lookup(k).is_none(),
            Req::In(k, vs) => lookup(k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => lookup(k).is_none_or(|x| !vs.contains(&x)),
        })
    }

    /// Label selector semantics over `metadata.labels`.
    pub fn matches_labels(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.matches(|k| labels.get(k).and_then(Value::as_str).map(str::to_string))
    }

    /// Field selector semantics: dotted JSON paths; a missing field compares as "".
    pub fn matches_fields(&self, obj: &Value) -> bool {
        self.matches(|path| {
            let v = path.split('.').fold(obj, |v, seg| &v[seg]);
            Some(match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_skips_empty_pairs_and_decodes() {
        let q = Query::parse("&watch=true&fieldSelector=metadata.name%3Dkube-dns&limit=5");
        assert!(q.flag("watch"));
        assert_eq!(q.get("fieldSelector"), Some("metadata.name=kube-dns"));
        assert_eq!(q.num("limit"), Some(5));
        assert_eq!(q.get("continue"), None);
    }

    #[test]
    fn label_selectors() {
        let obj = json!({"metadata": {"labels": {"a": "b", "tier": "web"}}});
        let ok = |s: &str| Selector::parse(s).unwrap().matches_labels(&obj);
        assert!(ok("a=b"));
        assert!(ok("a==b,tier"));
        assert!(!ok("a!=b"));
        assert!(ok("!missing"));
        assert!(!ok("missing"));
        assert!(ok("tier in (web, db)"));
        assert!(!ok("tier notin (web,db)"));
        assert!(ok("missing notin (x)"));
        assert!(ok(""));
    }

    #[test]
    fn field_selectors() {
        let obj =
            json!({"metadata": {"name": "kube-dns", "namespace": "kube-system"}, "status": {}});
        let ok = |s: &str| Selector::parse(s).unwrap().matches_fields(&obj);
        assert!(ok("metadata.name=kube-dns,metadata.namespace=kube-system"));
        assert!(!ok("metadata.name=other"));
        assert!(!ok("status.podIP!="));
    }
}
