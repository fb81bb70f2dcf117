//! Reading growing log files exactly once: a file's identity (its head
//! fingerprint) and the split of appended bytes into complete lines.
//!
//! A loader stores, with the lines it commits, the byte offset just after the
//! last complete line. A partial last line is held back until its newline
//! arrives, so an offset always falls on a line boundary.

use sha2::{Digest, Sha256};

/// Bytes of a file's start that fingerprint it (decnet.ingest_positions.head_len).
pub const HEAD_BYTES: usize = 1024;

/// A line longer than this without a newline is cut here and stored as a line
/// of its own: a writer that never sends a newline cannot grow memory without bound.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The fingerprint of a file's first bytes: its SHA-256 over `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub len: usize,
    pub sha256: [u8; 32],
}

impl Head {
    /// The head of a file whose first bytes are `start` (only the first
    /// [`HEAD_BYTES`] count).
    pub fn of(start: &[u8]) -> Head {
        let start = &start[..start.len().min(HEAD_BYTES)];
        Head {
            len: start.len(),
            sha256: Sha256::digest(start).into(),
        }
    }

    /// Whether a file whose first bytes are `start` is the file this head was
    /// taken from: it must still hold those bytes unchanged.
    pub fn matches(&self, start: &[u8]) -> bool {
        start.len() >= self.len && Head::of(&start[..self.len]) == *self
    }

    /// Whether a file's head should be taken again once it has `offset` bytes
    /// stored: a file first seen shorter than [`HEAD_BYTES`] gets a longer,
    /// stronger fingerprint as it grows.
    pub fn can_grow(&self, offset: u64) -> bool {
        self.len < HEAD_BYTES && offset > self.len as u64
    }
}

/// Where reading a file starts, given its stored position (if any) and its
/// current size and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The stored position belongs to this file: continue at this offset.
    At(u64),
    /// No position, or one that belongs to other content (a reused inode, a
    /// truncated or rewritten file): read from the start.
    FromStart,
}

pub fn resume(stored: Option<(&Head, u64)>, size: u64, start: &[u8]) -> Resume {
    match stored {
        Some((head, offset)) if offset <= size && head.matches(start) => Resume::At(offset),
        _ => Resume::FromStart,
    }
}

/// Splits appended bytes into complete lines, holding a partial last line
/// back. Each line is reported with the bytes it consumed (its newline included).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes read from the file, in order; calls `line(content, consumed)`
    /// for every line they complete.
    pub fn feed(&mut self, mut data: &[u8], mut line: impl FnMut(&[u8], u64)) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) if self.partial.len() + i <= MAX_LINE_BYTES => {
                    if self.partial.is_empty() {
                        line(&data[..i], i as u64 + 1);
                    } else {
                        self.partial.extend_from_slice(&data[..i]);
                        line(&self.partial, self.partial.len() as u64 + 1);
                        self.partial.clear();
                    }
                    data = &data[i + 1..];
                }
                _ => {
                    // no newline yet (or not within the bound): keep up to the bound
                    let room = MAX_LINE_BYTES - self.partial.len();
                    let take = data.len().min(room);
                    self.partial.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.partial.len() == MAX_LINE_BYTES {
                        line(&self.partial, MAX_LINE_BYTES as u64);
                        self.partial.clear();
                    }
                }
            }
        }
    }

    /// Bytes held back as a partial line.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// The file has rotated away and will not grow: its partial last line is a line.
    pub fn finish(&mut self, mut line: impl FnMut(&[u8], u64)) {
        if !self.partial.is_empty() {
            line(&self.partial, self.partial.len() as u64);
            self.partial.clear();
        }
    }

    /// Forgets a partial line (the reader goes back to a stored offset).
    pub fn reset(&mut self) {
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> (Vec<(Vec<u8>, u64)>, usize) {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l, n| out.push((l.to_vec(), n)));
        }
        (out, s.pending())
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let (out, pending) = split(&[b"one\ntw", b"o\nthr"]);
        assert_eq!(out, vec![(b"one".to_vec(), 4), (b"two".to_vec(), 4)]);
        assert_eq!(pending, 3);
        // consumed bytes add up to the offset of the last line boundary
        assert_eq!(out.iter().map(|(_, n)| n).sum::<u64>(), 8);
    }

    #[test]
    fn empty_lines_and_raw_bytes_are_lines() {
        let (out, _) = split(&[b"\n\x00\xff\r\n"]);
        assert_eq!(out, vec![(b"".to_vec(), 1), (b"\x00\xff\r".to_vec(), 4)]);
    }

    #[test]
    fn a_line_without_newline_is_cut_at_the_bound() {
        let big = vec![b'a'; MAX_LINE_BYTES + 10];
        let (out, pending) = split(&[&big, b"\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0.len(), MAX_LINE_BYTES);
        assert_eq!(out[0].1, MAX_LINE_BYTES as u64);
        assert_eq!((out[1].0.len(), out[1].1), (10, 11));
        assert_eq!(pending, 0);
    }

    #[test]
    fn finish_emits_the_partial_line_once() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.feed(b"a\nb", |l, n| out.push((l.to_vec(), n)));
        s.finish(|l, n| out.push((l.to_vec(), n)));
        s.finish(|l, n| out.push((l.to_vec(), n)));
        assert_eq!(out, vec![(b"a".to_vec(), 2), (b"b".to_vec(), 1)]);
    }

    #[test]
    fn a_head_matches_only_its_own_file() {
        let file = b"<134>1 2026-05-01T00:00:00Z a b - c\n".repeat(100);
        let head = Head::of(&file);
        assert_eq!(head.len, HEAD_BYTES);
        assert!(head.matches(&file));
        let mut other = file.clone();
        other[5] = b'9';
        assert!(!head.matches(&other));
        assert!(
            !head.matches(&file[..10]),
            "a shorter file is not the same file"
        );
    }

    #[test]
    fn resume_continues_only_the_same_file_within_its_size() {
        let file = b"line one\nline two\n";
        let head = Head::of(&file[..9]);
        assert_eq!(resume(Some((&head, 9)), 18, file), Resume::At(9));
        assert_eq!(resume(None, 18, file), Resume::FromStart);
        // truncated (copytruncate): shorter than the stored offset
        assert_eq!(resume(Some((&head, 9)), 4, b"new\n"), Resume::FromStart);
        // same size, other content (a reused inode)
        assert_eq!(
            resume(Some((&head, 9)), 18, b"LINE ONE\nline two\n"),
            Resume::FromStart
        );
        assert!(head.can_grow(18));
        assert!(!Head::of(&file.repeat(100)).can_grow(1 << 20));
    }
}
