//! Turning raw log bytes into rows for `COPY decnet.logs (raw_line, raw_bytes) FROM STDIN`.
//!
//! PostgreSQL `text` cannot hold NUL or invalid UTF-8. Such a line is stored as a
//! lossy `raw_line` (invalid sequences and NUL become U+FFFD) plus the exact
//! bytes in `raw_bytes`; the ingest trigger flags it `lossy_text`. A clean line
//! has `raw_bytes` NULL. Nothing is dropped.

use std::borrow::Cow;

/// The text to store for a line, and whether it lost anything.
pub fn line_text(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => (Cow::Borrowed(s), false),
        _ => {
            let lossy = String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}");
            (Cow::Owned(lossy), true)
        }
    }
}

/// Appends one COPY text-format row `raw_line<TAB>raw_bytes\n` for a log line (without its `\n`).
pub fn push_row(out: &mut Vec<u8>, line: &[u8]) {
    let (text, lossy) = line_text(line);
    push_field(out, text.as_bytes());
    out.push(b'\t');
    if lossy {
        out.extend_from_slice(b"\\\\x");
        for b in line {
            out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    } else {
        out.extend_from_slice(b"\\N");
    }
    out.push(b'\n');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// COPY text-format escaping of one field.
fn push_field(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// Splits input into lines at `\n`. A final line without `\n` counts; the empty
/// remainder after a final `\n` does not. `\r` is kept (the parser trims it).
pub fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let trimmed = data.strip_suffix(b"\n").unwrap_or(data);
    let empty = data.is_empty();
    trimmed.split(|&b| b == b'\n').filter(move |_| !empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_line_is_escaped_only() {
        let mut out = Vec::new();
        push_row(&mut out, b"a\\b\tc\rd");
        assert_eq!(out, b"a\\\\b\\tc\\rd\t\\N\n");
    }

    #[test]
    fn nul_and_invalid_utf8_keep_their_bytes() {
        let mut out = Vec::new();
        push_row(&mut out, b"\x00x\xff");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{fffd}x\u{fffd}\t\\\\x0078ff\n"
        );
        assert!(!line_text("café".as_bytes()).1);
    }

    #[test]
    fn splitting() {
        assert_eq!(
            split_lines(b"a\nb\n").collect::<Vec<_>>(),
            vec![&b"a"[..], b"b"]
        );
        assert_eq!(
            split_lines(b"a\n\nb").collect::<Vec<_>>(),
            vec![&b"a"[..], b"", b"b"]
        );
        assert_eq!(split_lines(b"").count(), 0);
        assert_eq!(split_lines(b"\n").collect::<Vec<_>>(), vec![&b""[..]]);
    }
}
