//! Syslog over TCP (RFC 6587): splitting a byte stream into messages.
//!
//! Each frame is either octet-counted (`LEN SP MSG`, RFC 6587 3.4.1, what
//! rsyslog's omfwd sends with `TCP_Framing="octet-counted"`) or
//! non-transparent: the message ends at LF (3.4.2, what `logger -T` and most
//! senders do). A frame that starts with a digit is octet-counted, as rsyslog
//! decides it. A message is never longer than [`MAX_MESSAGE_BYTES`]: a sender
//! cannot grow memory without bound.

/// The longest message kept whole; longer ones are cut into pieces this long
/// (LF framing) or end the connection (an octet count above it).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// An octet count that is not a number or exceeds the bound.
    BadOctetCount(String),
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Start,
    /// Reading the digits of an octet count.
    Count(usize, usize),
    /// Reading an octet-counted message of this length.
    Counted(usize),
    /// Reading an LF-terminated message.
    Lf,
}

#[derive(Debug, Default)]
pub struct FrameDecoder {
    state: State,
    message: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes from the stream; calls `message` for every complete message.
    pub fn feed(&mut self, data: &[u8], mut message: impl FnMut(&[u8])) -> Result<(), FrameError> {
        let mut i = 0;
        while i < data.len() {
            match self.state {
                State::Start => {
                    let b = data[i];
                    if b.is_ascii_digit() {
                        self.state = State::Count((b - b'0') as usize, 1);
                        i += 1;
                    } else {
                        self.state = State::Lf;
                    }
                }
                State::Count(n, digits) => {
                    let b = data[i];
                    i += 1;
                    if b.is_ascii_digit() {
                        let n = n * 10 + (b - b'0') as usize;
                        if digits >= 8 || n > MAX_MESSAGE_BYTES {
                            return Err(FrameError::BadOctetCount(format!("{n}…")));
                        }
                        self.state = State::Count(n, digits + 1);
                    } else if b == b' ' {
                        self.state = State::Counted(n);
                        if n == 0 {
                            message(&[]);
                            self.state = State::Start;
                        }
                    } else {
                        return Err(FrameError::BadOctetCount(format!(
                            "{n} followed by byte {b:#04x}"
                        )));
                    }
                }
                State::Counted(n) => {
                    let take = (n - self.message.len()).min(data.len() - i);
                    self.message.extend_from_slice(&data[i..i + take]);
                    i += take;
                    if self.message.len() == n {
                        message(&self.message);
                        self.message.clear();
                        self.state = State::Start;
                    }
                }
                State::Lf => match data[i..].iter().position(|&b| b == b'\n') {
                    Some(end) if self.message.len() + end <= MAX_MESSAGE_BYTES => {
                        self.message.extend_from_slice(&data[i..i + end]);
                        // a blank line between frames carries nothing
                        if !strip_cr(&self.message).is_empty() {
                            message(strip_cr(&self.message));
                        }
                        self.message.clear();
                        self.state = State::Start;
                        i += end + 1;
                    }
                    _ => {
                        let room = MAX_MESSAGE_BYTES - self.message.len();
                        let take = room.min(data.len() - i);
                        self.message.extend_from_slice(&data[i..i + take]);
                        i += take;
                        if self.message.len() == MAX_MESSAGE_BYTES {
                            message(&self.message);
                            self.message.clear();
                        }
                    }
                },
            }
        }
        Ok(())
    }

    /// The connection closed: an LF-framed message without its LF is still a message.
    pub fn finish(&mut self, mut message: impl FnMut(&[u8])) {
        if matches!(self.state, State::Lf) && !self.message.is_empty() {
            message(strip_cr(&self.message));
        }
        self.message.clear();
        self.state = State::Start;
    }
}

/// A CR before the LF belongs to the framing (senders that write CRLF).
fn strip_cr(m: &[u8]) -> &[u8] {
    m.strip_suffix(b"\r").unwrap_or(m)
}

/// One UDP datagram is one message (RFC 5426); a trailing LF some senders add
/// belongs to the transport.
pub fn datagram_message(d: &[u8]) -> &[u8] {
    let d = d.strip_suffix(b"\n").unwrap_or(d);
    d.strip_suffix(b"\r").unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Result<(), FrameError>) {
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            if let Err(e) = d.feed(c, |m| out.push(m.to_vec())) {
                return (out, Err(e));
            }
        }
        d.finish(|m| out.push(m.to_vec()));
        (out, Ok(()))
    }

    #[test]
    fn octet_counted_frames_carry_any_byte() {
        let (out, r) = decode(&[b"5 a\nb\x00c3 <1>", b"8 x"]);
        assert!(r.is_ok());
        assert_eq!(out, vec![b"a\nb\x00c".to_vec(), b"<1>".to_vec()]);
        // split anywhere, even inside the count
        let (out, _) = decode(&[b"1", b"2 hello", b" world!"]);
        assert_eq!(out, vec![b"hello world!".to_vec()]);
    }

    #[test]
    fn lf_frames_end_at_lf_and_at_close() {
        let (out, _) = decode(&[b"<13>1 a\r\n\n<13>1 b\n<13>1 c"]);
        assert_eq!(
            out,
            vec![
                b"<13>1 a".to_vec(),
                b"<13>1 b".to_vec(),
                b"<13>1 c".to_vec()
            ]
        );
    }

    #[test]
    fn framings_mix_per_frame() {
        let (out, _) = decode(&[b"<13>1 lf\n3 abc<13>1 again\n"]);
        assert_eq!(
            out,
            vec![
                b"<13>1 lf".to_vec(),
                b"abc".to_vec(),
                b"<13>1 again".to_vec()
            ]
        );
    }

    #[test]
    fn hostile_counts_and_endless_lines_are_bounded() {
        let (_, r) = decode(&[b"99999999999 x"]);
        assert!(matches!(r, Err(FrameError::BadOctetCount(_))));
        let (_, r) = decode(&[b"12x"]);
        assert!(r.is_err());
        let big = vec![b'a'; MAX_MESSAGE_BYTES + 5];
        let (out, _) = decode(&[&big]);
        assert_eq!(
            out.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![MAX_MESSAGE_BYTES, 5]
        );
    }

    #[test]
    fn a_datagram_loses_only_its_trailing_newline() {
        assert_eq!(datagram_message(b"<13>1 x\n"), b"<13>1 x");
        assert_eq!(datagram_message(b"<13>1 x\r\n"), b"<13>1 x");
        assert_eq!(datagram_message(b"a\nb"), b"a\nb");
    }
}
