//! ISO 8601 timestamps as DECNET's emitters write them, read into UTC.
//!
//! Accepts what Python 3.11's `datetime.fromisoformat` accepts in practice
//! (spec §A.3 step 5): extended and basic format, `T`/`t`/space separator,
//! `.` or `,` fractions of any length (truncated to microseconds), `Z` or a
//! `±HH[:MM[:SS]]` offset, a bare date. A value without an offset is UTC.
//! Unlike DECNET's collector (which keeps the wall clock and drops the
//! offset, §A.4 step 6) the offset is applied: the result is a real instant.
//! ISO week dates are not accepted.

/// Microseconds since 1970-01-01T00:00:00Z.
pub type UnixMicros = i64;

pub fn parse_iso8601(s: &str) -> Option<UnixMicros> {
    let b = s.as_bytes();
    let mut p = Cursor { b, i: 0 };
    let year = p.digits(4)? as i64;
    let extended = p.eat(b'-');
    let month = p.digits(2)?;
    if extended && !p.eat(b'-') {
        return None;
    }
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut micros_of_day: i64 = 0;
    let mut offset_seconds: i64 = 0;
    if p.i < b.len() {
        if !matches!(b[p.i], b'T' | b't' | b' ') {
            return None;
        }
        p.i += 1;
        let hour = p.digits(2)?;
        let colon = p.eat(b':');
        let minute = p.digits(2)?;
        let mut second = 0;
        let mut micros = 0;
        if p.i < b.len() && (b[p.i].is_ascii_digit() || (colon && b[p.i] == b':')) {
            if colon && !p.eat(b':') {
                return None;
            }
            second = p.digits(2)?;
            if p.eat(b'.') || p.eat(b',') {
                micros = p.fraction_micros()?;
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        micros_of_day = ((hour * 60 + minute) * 60 + second) as i64 * 1_000_000 + micros;
        if p.i < b.len() {
            offset_seconds = p.offset()?;
        }
    }
    if p.i != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400_000_000 + micros_of_day - offset_seconds * 1_000_000)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let chunk = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in chunk {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        self.i += n;
        Some(v)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// One or more digits; the first six are microseconds, the rest ignored.
    fn fraction_micros(&mut self) -> Option<i64> {
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            if self.i - start < 6 {
                v = v * 10 + (c - b'0') as i64;
            }
            self.i += 1;
        }
        let n = self.i - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            v *= 10;
        }
        Some(v)
    }

    /// `Z`, or `±HH`, `±HH:MM`, `±HHMM`, `±HH:MM:SS`; returns seconds east of UTC.
    fn offset(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let h = self.digits(2)? as i64;
        let mut m = 0;
        let mut s = 0;
        if self.i < self.b.len() {
            let colon = self.eat(b':');
            m = self.digits(2)? as i64;
            if self.i < self.b.len() {
                if colon && !self.eat(b':') {
                    return None;
                }
                s = self.digits(2)? as i64;
            }
        }
        if h > 23 || m > 59 || s > 59 {
            return None;
        }
        Some(sign * (h * 3600 + m * 60 + s))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `datetime.isoformat()` of a UTC instant: microseconds only when non-zero.
pub fn iso_utc(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    let (secs, micros) = (rem / 1_000_000, rem % 1_000_000);
    let frac = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}+00:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_777_629_600_000_000; // 2026-05-01T10:00:00Z

    #[test]
    fn extended_utc_forms() {
        assert_eq!(parse_iso8601("2026-05-01T10:00:00+00:00"), Some(T0));
        assert_eq!(parse_iso8601("2026-05-01T10:00:00Z"), Some(T0));
        assert_eq!(parse_iso8601("2026-05-01 10:00:00"), Some(T0));
        assert_eq!(parse_iso8601("2026-05-01T10:00"), Some(T0));
        assert_eq!(
            parse_iso8601("2026-05-01T10:00:00.512334+00:00"),
            Some(T0 + 512_334)
        );
    }

    #[test]
    fn offsets_are_applied_not_dropped() {
        // DECNET's collector would keep 10:00 wall time; the real instant is 08:00Z.
        assert_eq!(
            parse_iso8601("2026-05-01T10:00:00+02:00"),
            Some(T0 - 7_200_000_000)
        );
        assert_eq!(
            parse_iso8601("2026-05-01T10:00:00-0130"),
            Some(T0 + 5_400_000_000)
        );
        assert_eq!(
            parse_iso8601("2026-05-01T10:00:00+02"),
            Some(T0 - 7_200_000_000)
        );
    }

    #[test]
    fn naive_is_utc_and_basic_format_and_date_only() {
        assert_eq!(
            parse_iso8601("2026-05-02T06:22:48.089309"),
            Some(1_777_702_968_089_309)
        );
        assert_eq!(parse_iso8601("20260501T100000Z"), Some(T0));
        assert_eq!(parse_iso8601("2026-05-01"), Some(T0 - 36_000_000_000));
    }

    #[test]
    fn fractions_truncate_to_micros_and_accept_comma() {
        assert_eq!(parse_iso8601("2026-05-01T10:00:00.1"), Some(T0 + 100_000));
        assert_eq!(
            parse_iso8601("2026-05-01T10:00:00,123456789"),
            Some(T0 + 123_456)
        );
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "not-a-date",
            "",
            "-",
            "2026-13-01T00:00:00",
            "2026-02-29T00:00:00",
            "2026-05-01T24:00:00",
            "2026-05-01T10:60:00",
            "2026-05-01T10:00:00+25:00",
            "2026-05-01T10:00:00.",
            "2026-05-01X10:00",
            "2026-05-01T10:00:00+00:00junk",
            "2026-W18-5",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad:?}");
        }
        assert!(parse_iso8601("2024-02-29T00:00:00").is_some());
    }

    #[test]
    fn epoch_and_pre_epoch() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("1969-12-31T23:59:59Z"), Some(-1_000_000));
    }
}
