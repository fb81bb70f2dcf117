//! A JSON object writer for the parsed SD fields: ordered keys, no serde, one allocation.

use std::fmt::Write as _;

pub fn object<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let cap = pairs
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 6)
        .sum::<usize>()
        + 2;
    let mut out = String::with_capacity(cap);
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, k.as_ref());
        out.push(':');
        push_string(&mut out, v.as_ref());
    }
    out.push('}');
    out
}

/// A JSON string literal. NUL is escaped as `\u0000`, which PostgreSQL's jsonb
/// rejects, so callers storing jsonb must not pass NUL (text cannot hold it anyway).
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// JSON text from a line (a `headers` field, say) decoded for storing in jsonb:
/// `\u0000` decodes to NUL, which PostgreSQL text cannot hold (22P05 the first
/// time the value is read as text), so every NUL in keys and strings becomes
/// U+FFFD. The parser flags such lines `json_nul`.
pub fn parse_untrusted(text: &str) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_str(text).ok()?;
    if text.contains("\\u0000") {
        replace_nul(&mut v);
    }
    Some(v)
}

fn replace_nul(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{fffd}"),
        Value::Array(a) => a.iter_mut().for_each(replace_nul),
        Value::Object(m) if m.keys().any(|k| k.contains('\0')) => {
            let old = std::mem::take(m);
            for (k, mut item) in old {
                replace_nul(&mut item);
                m.insert(k.replace('\0', "\u{fffd}"), item);
            }
        }
        Value::Object(m) => m.values_mut().for_each(replace_nul),
        _ => {}
    }
}

/// The entries a jsonb object with these keys holds, as indices in jsonb's
/// key order (shorter keys first, then bytewise), one per key, the last of
/// duplicates winning as in `'{…}'::jsonb`. The extension builds jsonb from
/// this directly instead of writing JSON text for jsonb_in to parse.
pub fn jsonb_key_order(keys: &[&str]) -> Vec<usize> {
    let key = |i: usize| keys[i].as_bytes();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    // stable: among equal keys the later pair stays later
    order.sort_by(|&a, &b| {
        key(a)
            .len()
            .cmp(&key(b).len())
            .then_with(|| key(a).cmp(key(b)))
    });
    let mut out: Vec<usize> = Vec::with_capacity(order.len());
    for i in order {
        match out.last_mut() {
            Some(last) if key(*last) == key(i) => *last = i,
            _ => out.push(i),
        }
    }
    out
}

/// Bytes of a jsonb object of these string pairs, near enough to keep it
/// under jsonb's 256 MB limit: the strings plus an 8-byte entry per string.
pub fn jsonb_object_size<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> usize {
    pairs
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 8)
        .sum::<usize>()
        + 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_key_order_is_length_then_bytes_last_duplicate_wins() {
        let pairs = [
            ("zz", "1"),
            ("b", "2"),
            ("aaa", "3"),
            ("a", "4"),
            ("b", "5"),
            ("é", "6"),
        ];
        let keys: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        let kept: Vec<(&str, &str)> = jsonb_key_order(&keys).iter().map(|&i| pairs[i]).collect();
        assert_eq!(
            kept,
            [
                ("a", "4"),
                ("b", "5"),
                ("zz", "1"),
                ("é", "6"),
                ("aaa", "3")
            ]
        );
        assert!(jsonb_key_order(&[]).is_empty());
    }

    #[test]
    fn untrusted_json_has_no_nul() {
        let v = parse_untrusted(
            r#"{"User-Agent": "curl/8\u0000evil", "a\u0000b": ["x\u0000"], "n": 1}"#,
        )
        .unwrap();
        assert_eq!(v["User-Agent"], "curl/8\u{fffd}evil");
        assert_eq!(v["a\u{fffd}b"][0], "x\u{fffd}");
        assert_eq!(v["n"], 1);
        assert!(!v.to_string().contains("\\u0000"));
        assert_eq!(parse_untrusted("not json"), None);
    }

    #[test]
    fn escapes() {
        assert_eq!(object::<&str, &str>(&[]), "{}");
        assert_eq!(
            object(&[("a", "b"), ("path", "/foo\"bar\\\n\u{1}é")]),
            r#"{"a":"b","path":"/foo\"bar\\\n\u0001é"}"#
        );
    }
}
