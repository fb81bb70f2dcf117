//! RELP, rsyslog's acknowledged transport (librelp's doc/relp.md): frames
//! `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. The client sends `open`
//! (offers), then `syslog` commands, then `close`; the server answers each with
//! `rsp`. A receiver acknowledges a `syslog` frame only once its message is
//! stored, so nothing acknowledged is lost.

/// The largest DATA accepted (librelp's default is 128 KiB).
pub const MAX_DATA_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub txnr: u64,
    pub command: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelpError(pub String);

#[derive(Debug, Default, Clone, Copy)]
enum State {
    #[default]
    Txnr,
    Command,
    Len,
    Data,
    Trailer,
}

/// Splits a RELP byte stream into frames.
#[derive(Debug, Default)]
pub struct RelpDecoder {
    state: State,
    txnr: u64,
    digits: usize,
    command: Vec<u8>,
    len: usize,
    data: Vec<u8>,
}

impl RelpDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn err(&self, what: &str) -> Result<(), RelpError> {
        Err(RelpError(format!("invalid RELP frame: {what}")))
    }

    /// Feeds bytes; calls `frame` for each complete frame. An error means the
    /// connection must be closed (RELP's rule for framing errors).
    pub fn feed(&mut self, data: &[u8], mut frame: impl FnMut(Frame)) -> Result<(), RelpError> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.state {
                State::Txnr => match b {
                    b'0'..=b'9' if self.digits < 9 => {
                        self.txnr = self.txnr * 10 + u64::from(b - b'0');
                        self.digits += 1;
                    }
                    b' ' if self.digits > 0 => {
                        self.state = State::Command;
                        self.digits = 0;
                    }
                    _ => return self.err("bad transaction number"),
                },
                State::Command => match b {
                    b'a'..=b'z' | b'A'..=b'Z' if self.command.len() < 32 => self.command.push(b),
                    b' ' if !self.command.is_empty() => self.state = State::Len,
                    _ => return self.err("bad command"),
                },
                State::Len => match b {
                    b'0'..=b'9' if self.digits < 9 => {
                        self.len = self.len * 10 + usize::from(b - b'0');
                        self.digits += 1;
                        if self.len > MAX_DATA_BYTES {
                            return self.err("data too long");
                        }
                    }
                    // DATALEN 0: no data, the trailer follows at once
                    b'\n' if self.digits > 0 && self.len == 0 => self.emit(&mut frame),
                    b' ' if self.digits > 0 && self.len > 0 => self.state = State::Data,
                    _ => return self.err("bad data length"),
                },
                State::Data => {
                    let take = (self.len - self.data.len()).min(data.len() - i);
                    self.data.extend_from_slice(&data[i..i + take]);
                    i += take;
                    if self.data.len() == self.len {
                        self.state = State::Trailer;
                    }
                    continue;
                }
                State::Trailer => match b {
                    b'\n' => self.emit(&mut frame),
                    _ => return self.err("missing trailer"),
                },
            }
            i += 1;
        }
        Ok(())
    }

    fn emit(&mut self, frame: &mut impl FnMut(Frame)) {
        frame(Frame {
            txnr: self.txnr,
            command: String::from_utf8_lossy(&self.command).into_owned(),
            data: std::mem::take(&mut self.data),
        });
        *self = RelpDecoder::default();
    }
}

/// A `rsp` frame answering `txnr` with `data`.
pub fn response(txnr: u64, data: &[u8]) -> Vec<u8> {
    let mut out = format!("{txnr} rsp {}", data.len()).into_bytes();
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
    out
}

/// The answer to `open`: what this server supports (RELP version 0, the
/// `syslog` command), whatever the client offered beyond that.
pub fn open_response(txnr: u64) -> Vec<u8> {
    response(
        txnr,
        b"200 OK\nrelp_version=0\nrelp_software=decnet-pg\ncommands=syslog",
    )
}

/// The acknowledgement of a stored `syslog` frame.
pub fn ack(txnr: u64) -> Vec<u8> {
    response(txnr, b"200 OK")
}

/// The hint a server sends before it closes the connection.
pub const SERVER_CLOSE: &[u8] = b"0 serverclose 0\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> (Vec<Frame>, Result<(), RelpError>) {
        let mut d = RelpDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            if let Err(e) = d.feed(c, |f| out.push(f)) {
                return (out, Err(e));
            }
        }
        (out, Ok(()))
    }

    #[test]
    fn a_session_decodes_frame_by_frame_however_it_is_split() {
        let offers = b"relp_version=0\nrelp_software=x\ncommands=syslog";
        let stream = [
            format!("1 open {} ", offers.len()).as_bytes(),
            offers,
            b"\n2 syslog 9 <13>1 a\x00b\n3 close 0\n",
        ]
        .concat();
        for cut in 0..stream.len() {
            let (frames, r) = decode(&[&stream[..cut], &stream[cut..]]);
            assert!(r.is_ok(), "cut {cut}");
            assert_eq!(frames.len(), 3);
            assert_eq!((frames[0].txnr, frames[0].command.as_str()), (1, "open"));
            assert_eq!(frames[1].data, b"<13>1 a\x00b");
            assert_eq!(
                (
                    frames[2].txnr,
                    frames[2].command.as_str(),
                    frames[2].data.len()
                ),
                (3, "close", 0)
            );
        }
    }

    #[test]
    fn framing_errors_are_refused() {
        assert!(decode(&[b"x open 0\n"]).1.is_err());
        assert!(
            decode(&[b"1 syslog 3 abcd\n"]).1.is_err(),
            "data longer than its length"
        );
        assert!(
            decode(&[b"1 syslog 99999999 x"]).1.is_err(),
            "over the bound"
        );
        assert!(decode(&[b"1 sys-log 0\n"]).1.is_err());
    }

    #[test]
    fn responses_are_frames() {
        assert_eq!(ack(7), b"7 rsp 6 200 OK\n");
        assert_eq!(response(3, b""), b"3 rsp 0\n");
        let (frames, _) = decode(&[&open_response(1)]);
        assert_eq!(frames[0].command, "rsp");
        assert!(frames[0].data.starts_with(b"200 OK\nrelp_version=0"));
    }
}
