//! The BEFORE INSERT row trigger on `decnet.logs`: parse `raw_line` once
//! and write the typed columns. It never raises for a bad line: whatever the
//! input, the row is stored with a parse status and reason.

use crate::datum;
use crate::functions::PG_EPOCH_OFFSET_MICROS;
use decnet_core::syslog::{self, Flag, ParseStatus, ParsedLine};
use decnet_core::{copy_text, json};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgTupleDesc};
use std::num::NonZeroUsize;

/// jsonb cannot hold more than 256 MB; larger field sets are stored as `{}` and flagged.
const MAX_FIELDS_JSON_BYTES: usize = 200 << 20;

/// The columns the trigger reads and writes, by attribute number (1-based).
#[derive(Default)]
struct Columns {
    id: Option<NonZeroUsize>,
    raw_line: Option<NonZeroUsize>,
    raw_bytes: Option<NonZeroUsize>,
    ts: Option<NonZeroUsize>,
    decky: Option<NonZeroUsize>,
    service: Option<NonZeroUsize>,
    event_type: Option<NonZeroUsize>,
    attacker_ip: Option<NonZeroUsize>,
    fields: Option<NonZeroUsize>,
    msg: Option<NonZeroUsize>,
    parse_status: Option<NonZeroUsize>,
    parse_reason: Option<NonZeroUsize>,
}

impl Columns {
    /// Looked up per row by name: partitions may number their columns differently.
    fn of(tuple: &PgHeapTuple<'_, AllocatedByPostgres>) -> Self {
        let mut c = Columns::default();
        for (attno, att) in tuple.attributes() {
            if att.attisdropped {
                continue;
            }
            let slot = match att.name() {
                "id" => &mut c.id,
                "raw_line" => &mut c.raw_line,
                "raw_bytes" => &mut c.raw_bytes,
                "ts" => &mut c.ts,
                "decky" => &mut c.decky,
                "service" => &mut c.service,
                "event_type" => &mut c.event_type,
                "attacker_ip" => &mut c.attacker_ip,
                "fields" => &mut c.fields,
                "msg" => &mut c.msg,
                "parse_status" => &mut c.parse_status,
                "parse_reason" => &mut c.parse_reason,
                _ => continue,
            };
            *slot = Some(attno);
        }
        c
    }
}

#[pg_trigger]
fn logs_parse_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let Some(tuple) = trigger.new() else {
        return Ok(None);
    };
    let cols = Columns::of(&tuple);
    let (Some(raw_attno), Some(status_attno)) = (cols.raw_line, cols.parse_status) else {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            "decnet.logs_parse_trigger needs raw_line and parse_status columns",
            "decnet.logs_parse_trigger",
        )
        .set_hint("Attach this trigger only to decnet.logs, created by the decnet migrations.")
        .report(PgLogLevel::ERROR);
        unreachable!()
    };
    let mut raw: Option<&str> = tuple.get_by_index(raw_attno).ok().flatten();
    let raw_bytes: Option<&[u8]> = cols
        .raw_bytes
        .and_then(|a| tuple.get_by_index::<&[u8]>(a).ok().flatten());
    let mut values: Vec<(NonZeroUsize, Option<pg_sys::Datum>)> = Vec::with_capacity(11);

    // raw_bytes, when given, are the line: raw_line must be their text as the
    // loader makes it. A writer that sends other text gets it replaced (and the
    // line flagged), so what is parsed and what is kept never disagree.
    let text_of_bytes = raw_bytes.map(|b| copy_text::line_text(b).0);
    let mismatch = matches!((&text_of_bytes, raw), (Some(t), r) if r != Some(t.as_ref()));
    if mismatch {
        raw = text_of_bytes.as_deref();
        values.push((raw_attno, raw.and_then(text_datum)));
    }

    // A panic in the parser must not abort the COPY: the line is kept as unparsed.
    // An error raised by PostgreSQL inside it (a cancel, statement_timeout) is
    // not the parser's: it goes on.
    let parsed = match std::panic::catch_unwind(|| raw.map(syslog::parse_line)) {
        Err(payload) if payload.is::<pgrx::pg_sys::panic::CaughtError>() => {
            std::panic::resume_unwind(payload)
        }
        parsed => parsed,
    };
    match parsed {
        Ok(Some(mut p)) => {
            if raw_bytes.is_some() {
                p.flag(Flag::LossyText);
            }
            if mismatch {
                p.flag(Flag::RawMismatch);
            }
            let log_id = cols
                .id
                .and_then(|a| tuple.get_by_index::<i64>(a).ok().flatten())
                .unwrap_or(0);
            if !crate::statement::record(log_id, &p) {
                p.flag(Flag::ProfileError);
            }
            push_parsed(&cols, &mut p, &mut values);
            values.push((status_attno, text_datum(p.status().as_str())));
            set(
                &mut values,
                cols.parse_reason,
                p.reason().as_deref().and_then(text_datum),
            );
        }
        Ok(None) => {
            values.push((status_attno, text_datum(ParseStatus::Unparsed.as_str())));
            set(&mut values, cols.parse_reason, text_datum("null_line"));
        }
        Err(_) => {
            values.push((status_attno, text_datum(ParseStatus::Unparsed.as_str())));
            set(&mut values, cols.parse_reason, text_datum("parser_panic"));
        }
    }

    unsafe {
        let tupdesc = trigger
            .relation()
            .map_err(|_| PgTriggerError::NullTriggerData)?
            .rd_att;
        let n = values.len();
        let mut attnums: Vec<i32> = values.iter().map(|(a, _)| a.get() as i32).collect();
        let mut datums: Vec<pg_sys::Datum> = values
            .iter()
            .map(|(_, d)| d.unwrap_or(pg_sys::Datum::from(0)))
            .collect();
        let mut nulls: Vec<bool> = values.iter().map(|(_, d)| d.is_none()).collect();
        let modified = pg_sys::heap_modify_tuple_by_cols(
            tuple.into_pg(),
            tupdesc,
            n as i32,
            attnums.as_mut_ptr(),
            datums.as_mut_ptr(),
            nulls.as_mut_ptr(),
        );
        Ok(Some(PgHeapTuple::from_heap_tuple(
            PgTupleDesc::from_pg_unchecked(tupdesc),
            modified,
        )))
    }
}

fn set(
    values: &mut Vec<(NonZeroUsize, Option<pg_sys::Datum>)>,
    attno: Option<NonZeroUsize>,
    d: Option<pg_sys::Datum>,
) {
    if let Some(a) = attno {
        values.push((a, d));
    }
}

fn push_parsed(
    cols: &Columns,
    p: &mut ParsedLine<'_>,
    values: &mut Vec<(NonZeroUsize, Option<pg_sys::Datum>)>,
) {
    let fields = if json::jsonb_object_size(&p.fields) > MAX_FIELDS_JSON_BYTES {
        p.flag(Flag::Oversized);
        datum::jsonb_object_datum(&[])
    } else {
        datum::jsonb_object_datum(&p.fields)
    };
    set(
        values,
        cols.ts,
        p.ts.map(|us| pg_sys::Datum::from(us - PG_EPOCH_OFFSET_MICROS)),
    );
    set(values, cols.decky, p.decky.and_then(text_datum));
    set(values, cols.service, p.service.and_then(text_datum));
    set(values, cols.event_type, p.event_type.and_then(text_datum));
    set(
        values,
        cols.attacker_ip,
        p.attacker_ip.map(datum::inet_datum),
    );
    set(values, cols.fields, Some(fields));
    set(values, cols.msg, p.msg.and_then(text_datum));
}

fn text_datum(s: &str) -> Option<pg_sys::Datum> {
    s.into_datum()
}
