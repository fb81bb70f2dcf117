//! The DECNET log line parser (spec §A.2–A.4), one pass, no regex on the hot path.
//!
//! One parser replaces DECNET's two (collector and correlation, §A.5). It takes
//! the collector's wide acceptance (numeric PROCID, prose lines, IP from the
//! message) and the correlation parser's richer results (bash `CMD` fields,
//! aware timestamps), and fixes the quirks listed in docs/corrections.md:
//! `\]` is decoded instead of truncating the SD block, ports are split from
//! addresses, IPv6 is never mangled, and nothing is dropped silently: every
//! deviation is reported as a [`Flag`] and the raw line is always kept by the caller.

use crate::addr;
use crate::bound::{self, MAX_FIELDS, MAX_HEADER_BYTES};
use crate::timestamp::{parse_iso8601, UnixMicros};
use std::borrow::Cow;
use std::net::IpAddr;

/// Our one SD-ID (PEN 55555, §A.2). Parameters of other SD elements are not fields.
pub const RELAY_SD_ID: &str = "relay@55555";

/// A line longer than this is parsed in full but flagged, so analysts can find it.
pub const OVERSIZED_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseStatus {
    /// Every part of the line was read as the grammar says.
    Ok,
    /// The header was read; something else was missing or malformed (see the flags).
    Partial,
    /// Not an RFC 5424 line: only the raw text is kept.
    Unparsed,
}

impl ParseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ParseStatus::Ok => "ok",
            ParseStatus::Partial => "partial",
            ParseStatus::Unparsed => "unparsed",
        }
    }
}

/// Why a line is not `ok`. The codes are stable: they are stored in `logs.parse_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Empty,
    NotSyslog,
    UnsupportedVersion,
    TruncatedHeader,
    BadPri,
    NilTimestamp,
    BadTimestamp,
    NilHostname,
    NilAppname,
    MissingSd,
    BadSd,
    UnterminatedSd,
    BadIpField,
    Oversized,
    /// Set by the loader/trigger, not the parser: the text is a lossy copy of bytes kept elsewhere.
    LossyText,
    /// HOSTNAME or APP-NAME longer than `bound::MAX_HEADER_BYTES`: kept cut to that length.
    LongHeader,
    /// More than `bound::MAX_FIELDS` fields: the rest are dropped.
    TooManyFields,
    /// A field holds the JSON escape `\u0000`: decoded JSON (headers) has it as U+FFFD,
    /// since PostgreSQL text cannot hold NUL.
    JsonNul,
    /// The address fields name `0.0.0.0`, `::` or a loopback address: no attacker.
    NotAnAttacker,
    /// Set by the ingest trigger: the writer's raw_line was not the text of its
    /// raw_bytes; the text of the bytes replaced it.
    RawMismatch,
    /// Set by the ingest trigger: deriving the profile delta of this line failed (a bug);
    /// the line is stored, and decnet.verify()/rebuild() repair the derived tables.
    ProfileError,
}

impl Flag {
    /// Every flag, for documentation checks.
    pub const ALL: [Flag; 21] = [
        Flag::Empty,
        Flag::NotSyslog,
        Flag::UnsupportedVersion,
        Flag::TruncatedHeader,
        Flag::BadPri,
        Flag::NilTimestamp,
        Flag::BadTimestamp,
        Flag::NilHostname,
        Flag::NilAppname,
        Flag::MissingSd,
        Flag::BadSd,
        Flag::UnterminatedSd,
        Flag::BadIpField,
        Flag::Oversized,
        Flag::LossyText,
        Flag::LongHeader,
        Flag::TooManyFields,
        Flag::JsonNul,
        Flag::NotAnAttacker,
        Flag::RawMismatch,
        Flag::ProfileError,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Flag::Empty => "empty",
            Flag::NotSyslog => "not_syslog",
            Flag::UnsupportedVersion => "unsupported_version",
            Flag::TruncatedHeader => "truncated_header",
            Flag::BadPri => "bad_pri",
            Flag::NilTimestamp => "nil_timestamp",
            Flag::BadTimestamp => "bad_timestamp",
            Flag::NilHostname => "nil_hostname",
            Flag::NilAppname => "nil_appname",
            Flag::MissingSd => "missing_sd",
            Flag::BadSd => "bad_sd",
            Flag::UnterminatedSd => "unterminated_sd",
            Flag::BadIpField => "bad_ip_field",
            Flag::Oversized => "oversized",
            Flag::LossyText => "lossy_text",
            Flag::LongHeader => "long_header",
            Flag::TooManyFields => "too_many_fields",
            Flag::JsonNul => "json_nul",
            Flag::NotAnAttacker => "not_an_attacker",
            Flag::RawMismatch => "raw_mismatch",
            Flag::ProfileError => "profile_error",
        }
    }

    fn is_fatal(self) -> bool {
        matches!(
            self,
            Flag::Empty | Flag::NotSyslog | Flag::UnsupportedVersion | Flag::TruncatedHeader
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedLine<'a> {
    pub flags: Vec<Flag>,
    pub pri: Option<u16>,
    pub ts: Option<UnixMicros>,
    pub decky: Option<&'a str>,
    pub service: Option<&'a str>,
    pub procid: Option<&'a str>,
    /// MSGID; `None` for the NILVALUE `-`.
    pub event_type: Option<&'a str>,
    pub attacker_ip: Option<IpAddr>,
    /// SD parameters of `relay@55555` (and bash CMD fields), first-seen key order.
    pub fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub msg: Option<&'a str>,
}

impl<'a> ParsedLine<'a> {
    pub fn status(&self) -> ParseStatus {
        if self.flags.iter().any(|f| f.is_fatal()) {
            ParseStatus::Unparsed
        } else if self.flags.is_empty() {
            ParseStatus::Ok
        } else {
            ParseStatus::Partial
        }
    }

    /// Comma-joined flag codes, `None` when the line is `ok`.
    pub fn reason(&self) -> Option<String> {
        if self.flags.is_empty() {
            return None;
        }
        Some(
            self.flags
                .iter()
                .map(|f| f.code())
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The fields as a JSON object text, keys in first-seen order.
    pub fn fields_json(&self) -> String {
        crate::json::object(&self.fields)
    }

    pub fn flag(&mut self, f: Flag) {
        if !self.flags.contains(&f) {
            self.flags.push(f);
        }
    }

    /// Later duplicates overwrite the value but keep the first position (as DECNET's dict).
    /// At most `MAX_FIELDS` keys: the search is then bounded, and so is the line's work.
    fn set_field(&mut self, key: Cow<'a, str>, value: Cow<'a, str>) {
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.push_field(key, value),
        }
    }

    fn set_default_field(&mut self, key: Cow<'a, str>, value: Cow<'a, str>) {
        if !self.fields.iter().any(|(k, _)| *k == key) {
            self.push_field(key, value);
        }
    }

    fn push_field(&mut self, key: Cow<'a, str>, value: Cow<'a, str>) {
        if self.fields.len() < MAX_FIELDS {
            self.fields.push((key, value));
        } else {
            self.flag(Flag::TooManyFields);
        }
    }
}

/// Python's `str.isspace()`, which DECNET's `strip()` uses (§A.7.6): Unicode
/// whitespace plus the ASCII information separators 0x1C–0x1F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Splits off the next token ending at one ASCII space (the header grammar's SP).
fn header_token<'a>(s: &mut &'a str) -> Option<&'a str> {
    let (tok, rest) = match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (*s, ""),
    };
    if tok.is_empty() {
        return None;
    }
    *s = rest;
    Some(tok)
}

/// Splits off the next run of non-whitespace, skipping leading whitespace (the inner `\s+` grammar).
fn ws_token<'a>(s: &mut &'a str) -> Option<&'a str> {
    let t = s.trim_start_matches(is_py_space);
    let end = t.find(is_py_space).unwrap_or(t.len());
    if end == 0 {
        return None;
    }
    *s = &t[end..];
    Some(&t[..end])
}

fn nil(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

pub fn parse_line(raw: &str) -> ParsedLine<'_> {
    let mut out = ParsedLine::default();
    if raw.len() > OVERSIZED_BYTES {
        out.flag(Flag::Oversized);
    }
    let line = raw.trim_matches(is_py_space);
    if line.is_empty() {
        out.flag(Flag::Empty);
        return out;
    }
    let Some(mut rest) = parse_pri_version(line, &mut out) else {
        return out;
    };

    // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, each one SP-terminated token.
    let mut header = [""; 5];
    for slot in header.iter_mut() {
        match header_token(&mut rest) {
            Some(t) => *slot = t,
            None => {
                out.flag(Flag::TruncatedHeader);
                return out;
            }
        }
    }
    let [ts_raw, mut host, mut app, procid, mut msgid] = header;
    out.procid = nil(procid);

    // Docker-wrapped bash PROMPT_COMMAND lines (§A.3 step 3): the real header
    // is inside the message. The outer timestamp is kept, as DECNET does.
    if msgid == "-" {
        if let Some(body) = rest.strip_prefix('-') {
            if let Some((ihost, iapp, imsgid, irest)) = unwrap_inner(body) {
                (host, app, msgid, rest) = (ihost, iapp, imsgid, irest);
            }
        }
    }

    match ts_raw {
        "-" => out.flag(Flag::NilTimestamp),
        t => match parse_iso8601(t) {
            Some(us) => out.ts = Some(us),
            None => out.flag(Flag::BadTimestamp),
        },
    }
    if host.len() > MAX_HEADER_BYTES || app.len() > MAX_HEADER_BYTES {
        out.flag(Flag::LongHeader);
    }
    out.decky = nil(bound::cut(host, MAX_HEADER_BYTES));
    out.service = nil(bound::cut(app, MAX_HEADER_BYTES));
    out.event_type = nil(msgid);
    if out.decky.is_none() {
        out.flag(Flag::NilHostname);
    }
    if out.service.is_none() {
        out.flag(Flag::NilAppname);
    }

    parse_sd_and_msg(rest, &mut out);
    extract_attacker_ip(&mut out);
    rewrite_bash_cmd(&mut out);
    if out.fields.iter().any(|(_, v)| v.contains("\\u0000")) {
        out.flag(Flag::JsonNul);
    }
    out
}

/// `<PRI>VERSION SP`; returns what follows.
fn parse_pri_version<'a>(line: &'a str, out: &mut ParsedLine<'a>) -> Option<&'a str> {
    let Some(after_lt) = line.strip_prefix('<') else {
        out.flag(Flag::NotSyslog);
        return None;
    };
    let close = after_lt.find('>').filter(|&i| (1..=3).contains(&i));
    let Some(close) = close.filter(|&i| after_lt[..i].bytes().all(|c| c.is_ascii_digit())) else {
        out.flag(Flag::NotSyslog);
        return None;
    };
    let pri: u16 = after_lt[..close].parse().ok()?;
    if pri > 191 {
        out.flag(Flag::BadPri);
    }
    out.pri = Some(pri);
    let after = &after_lt[close + 1..];
    let vlen = after.bytes().take_while(u8::is_ascii_digit).count();
    if vlen == 0 {
        out.flag(Flag::NotSyslog);
        return None;
    }
    if &after[..vlen] != "1" {
        out.flag(Flag::UnsupportedVersion);
        return None;
    }
    match after[vlen..].strip_prefix(' ') {
        Some(rest) => Some(rest),
        None => {
            out.flag(Flag::TruncatedHeader);
            None
        }
    }
}

/// The inner line of a double-wrapped record:
/// `YYYY-MM-DDT… HOST APP PROCID MSGID REST`, whitespace-separated.
fn unwrap_inner(body: &str) -> Option<(&str, &str, &str, &str)> {
    let mut s = body;
    let ts = ws_token(&mut s)?;
    let b = ts.as_bytes();
    let date_ok = b.len() > 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'T';
    if !date_ok {
        return None;
    }
    let host = ws_token(&mut s)?;
    let app = ws_token(&mut s)?;
    let _procid = ws_token(&mut s)?;
    let msgid = ws_token(&mut s)?;
    let rest = s.trim_start_matches(is_py_space);
    if rest.is_empty() {
        return None;
    }
    Some((host, app, msgid, rest))
}

/// STRUCTURED-DATA then MSG (RFC 5424 §6.3, §6.4).
fn parse_sd_and_msg<'a>(rest: &'a str, out: &mut ParsedLine<'a>) {
    let msg = if let Some(after_nil) = rest.strip_prefix('-') {
        after_nil
    } else if rest.starts_with('[') {
        match parse_sd_elements(rest, out) {
            Some(after) => after,
            None => return,
        }
    } else {
        // Not the grammar, but DECNET's collector keeps such a line whole as MSG.
        out.flag(Flag::MissingSd);
        rest
    };
    let msg = msg.trim_start_matches(is_py_space);
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg); // RFC 5424 MSG may start with a BOM
    out.msg = (!msg.is_empty()).then_some(msg);
}

/// Parses consecutive `[SD-ID PARAM="VALUE" …]` elements. Returns the text after
/// the last one, or `None` when the SD is broken (what was read before the break is kept).
fn parse_sd_elements<'a>(mut s: &'a str, out: &mut ParsedLine<'a>) -> Option<&'a str> {
    let mut step = 0;
    while let Some(body) = s.strip_prefix('[') {
        let id_end = body.find([' ', ']']).unwrap_or(body.len());
        let sd_id = &body[..id_end];
        let ours = sd_id == RELAY_SD_ID;
        let mut p = &body[id_end..];
        loop {
            step += 1;
            bound::poll_interrupt(step);
            p = p.trim_start_matches(' ');
            if let Some(after) = p.strip_prefix(']') {
                s = after;
                break;
            }
            if p.is_empty() {
                out.flag(Flag::UnterminatedSd);
                return None;
            }
            let Some(eq) = p.find('=') else {
                out.flag(Flag::BadSd);
                return None;
            };
            let name = &p[..eq];
            if name.is_empty() || name.contains([' ', ']', '"']) {
                out.flag(Flag::BadSd);
                return None;
            }
            let Some(quoted) = p[eq + 1..].strip_prefix('"') else {
                out.flag(Flag::BadSd);
                return None;
            };
            let Some((value, after)) = read_param_value(quoted) else {
                out.flag(Flag::UnterminatedSd);
                return None;
            };
            if ours {
                out.set_field(Cow::Borrowed(name), value);
            }
            p = after;
        }
    }
    Some(s)
}

/// Reads a PARAM-VALUE up to its closing quote, decoding `\"`, `\\` and `\]`.
/// Any other backslash stays literal (RFC 5424 §6.3.3). Borrows when nothing is escaped.
fn read_param_value(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut owned: Option<String> = None;
    let mut copied_to = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    Some(mut o) => {
                        o.push_str(&s[copied_to..i]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&s[..i]),
                };
                return Some((value, &s[i + 1..]));
            }
            b'\\' if matches!(bytes.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                let o = owned.get_or_insert_with(String::new);
                o.push_str(&s[copied_to..i]);
                o.push(bytes[i + 1] as char);
                i += 2;
                copied_to = i;
            }
            _ => i += 1,
        }
    }
    None
}

fn extract_attacker_ip(out: &mut ParsedLine<'_>) {
    let mut found = None;
    for key in addr::IP_FIELDS {
        let Some(value) = out.field(key) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        match addr::parse_addr(value) {
            Some(hit) => {
                found = Some(hit);
                break;
            }
            None => out.flag(Flag::BadIpField),
        }
    }
    match found {
        Some((ip, _)) if !addr::is_attacker_address(ip) => out.flag(Flag::NotAnAttacker),
        Some((ip, port)) => {
            out.attacker_ip = Some(ip);
            if let Some(port) = port {
                out.set_default_field(Cow::Borrowed("remote_port"), Cow::Owned(port.to_string()));
            }
        }
        // prose such as "listening on 0.0.0.0" names no attacker: no flag
        None => {
            out.attacker_ip = out
                .msg
                .and_then(addr::ip_from_message)
                .filter(|ip| addr::is_attacker_address(*ip))
        }
    }
}

/// bash PROMPT_COMMAND records (§A.3 step 9): `CMD uid=0 user=root src=… pwd=… cmd=<rest>`
/// becomes event_type `command` with those fields; `cmd=` keeps the rest of the line.
fn rewrite_bash_cmd(out: &mut ParsedLine<'_>) {
    if !matches!(out.event_type, None | Some("command")) || out.field("command").is_some() {
        return;
    }
    let Some(body) = out.msg.and_then(|m| m.strip_prefix("CMD ")) else {
        return;
    };
    out.event_type = Some("command");
    let (head, command) = match body.split_once("cmd=") {
        Some((head, rest)) => (head, Some(rest)),
        None => (body, None),
    };
    for (step, token) in head.split(is_py_space).enumerate() {
        bound::poll_interrupt(step);
        let Some((key, value)) = token.split_once('=') else {
            continue;
        };
        let key = addr::word_suffix(key);
        if !key.is_empty() && !value.is_empty() {
            out.set_default_field(Cow::Borrowed(key), Cow::Borrowed(value));
        }
    }
    if let Some(command) = command {
        out.set_default_field(Cow::Borrowed("command"), Cow::Borrowed(command));
    }
}
