//! A JSON object writer for the parsed SD fields: ordered keys, no serde, one allocation.

use std::fmt::Write as _;

pub fn object<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let cap = pairs.iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 6).sum::<usize>() + 2;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(object::<&str, &str>(&[]), "{}");
        assert_eq!(object(&[("a", "b"), ("path", "/foo\"bar\\\n\u{1}é")]), r#"{"a":"b","path":"/foo\"bar\\\n\u0001é"}"#);
    }
}
