//! Datums built in place: an `inet` from its address bytes, a `jsonb` from
//! string pairs or a serde_json value. pgrx's own conversions go through text
//! (`inet_in`, `jsonb_in`), and ingest makes hundreds of thousands of these
//! per statement: the text round trip was a sixth of the row trigger's time
//! and a third of the bounty and credential functions'.

use decnet_core::json;
use pgrx::pg_sys::{self, jbvType, JsonbPair, JsonbValue};
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable,
};
use pgrx::prelude::*;
use serde_json::Value;
use std::borrow::Cow;
use std::ffi::{c_char, CString};
use std::net::IpAddr;

/// An address as a result column of type `inet`.
pub struct InetAddr(pub IpAddr);

/// A JSON value as a result column of type `jsonb`.
pub struct Jsonb(pub Value);

impl IntoDatum for InetAddr {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(inet_datum(self.0))
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::INETOID
    }
}

impl IntoDatum for Jsonb {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(jsonb_datum(&self.0))
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

// As pgrx returns its own datum types: through into_datum.
macro_rules! box_ret_via_into_datum {
    ($($t:ty),*) => {$(
        unsafe impl pgrx::callconv::BoxRet for $t {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
                match self.into_datum() {
                    Some(datum) => unsafe { fcinfo.return_raw_datum(datum) },
                    None => fcinfo.return_null(),
                }
            }
        }
    )*};
}
box_ret_via_into_datum!(InetAddr, Jsonb);

unsafe impl SqlTranslatable for InetAddr {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(InetAddr);
    const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
        pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("inet"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("inet")));
}

unsafe impl SqlTranslatable for Jsonb {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(Jsonb);
    const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
        pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

/// The `inet` varlena (family, bits, address bytes) of a host address.
pub fn inet_datum(ip: IpAddr) -> pg_sys::Datum {
    const PGSQL_AF_INET: u8 = 2; // AF_INET on every platform PostgreSQL supports
    const PGSQL_AF_INET6: u8 = 3; // AF_INET + 1, PostgreSQL's own code
    let (family, bits, octets): (u8, u8, Vec<u8>) = match ip {
        IpAddr::V4(v4) => (PGSQL_AF_INET, 32, v4.octets().to_vec()),
        IpAddr::V6(v6) => (PGSQL_AF_INET6, 128, v6.octets().to_vec()),
    };
    let size = pg_sys::VARHDRSZ + 2 + octets.len();
    unsafe {
        let ptr = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(ptr as *mut pg_sys::varlena, size as i32);
        *ptr.add(pg_sys::VARHDRSZ) = family;
        *ptr.add(pg_sys::VARHDRSZ + 1) = bits;
        std::ptr::copy_nonoverlapping(octets.as_ptr(), ptr.add(pg_sys::VARHDRSZ + 2), octets.len());
        pg_sys::Datum::from(ptr)
    }
}

/// A jsonb object of string pairs (a parsed line's fields).
pub fn jsonb_object_datum(pairs: &[(Cow<'_, str>, Cow<'_, str>)]) -> pg_sys::Datum {
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_ref()).collect();
    let mut entries = pairs_in_key_order(&keys, |i| string(&pairs[i].1));
    let mut object = object(&mut entries);
    // SAFETY: every pointer in `object` outlives the call; JsonbValueToJsonb
    // copies the strings into a new palloc'd jsonb.
    unsafe { pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(&mut object)) }
}

/// The jsonb of a serde_json value.
pub fn jsonb_datum(v: &Value) -> pg_sys::Datum {
    let mut arena = Arena::default();
    let mut root = arena.value(v);
    // SAFETY: the arena and `v` hold everything `root` points to until the call returns.
    unsafe { pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(&mut root)) }
}

/// Owns the pair and element arrays of a JsonbValue tree while it is converted.
#[derive(Default)]
struct Arena {
    pairs: Vec<Vec<JsonbPair>>,
    elems: Vec<Vec<JsonbValue>>,
}

impl Arena {
    fn value(&mut self, v: &Value) -> JsonbValue {
        match v {
            Value::Null => scalar(jbvType::jbvNull),
            Value::Bool(b) => {
                let mut out = scalar(jbvType::jbvBool);
                out.val.boolean = *b;
                out
            }
            Value::Number(n) => {
                let text = CString::new(n.to_string()).expect("a number's text has no NUL");
                let numeric = unsafe {
                    pgrx::direct_function_call_as_datum(
                        pg_sys::numeric_in,
                        &[
                            text.as_c_str().into_datum(),
                            pg_sys::InvalidOid.into_datum(),
                            (-1i32).into_datum(),
                        ],
                    )
                    .expect("numeric_in never returns NULL")
                };
                let mut out = scalar(jbvType::jbvNumeric);
                out.val.numeric = numeric.cast_mut_ptr();
                out
            }
            Value::String(s) => string(s),
            Value::Array(items) => {
                let mut elems: Vec<JsonbValue> = items.iter().map(|i| self.value(i)).collect();
                let mut out = scalar(jbvType::jbvArray);
                out.val.array = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_2 {
                    nElems: elems.len() as i32,
                    elems: elems.as_mut_ptr(),
                    rawScalar: false,
                };
                self.elems.push(elems); // moves the Vec, not its buffer
                out
            }
            Value::Object(map) => {
                let entries: Vec<(&String, &Value)> = map.iter().collect();
                let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
                let mut pairs = pairs_in_key_order(&keys, |i| self.value(entries[i].1));
                let out = object(&mut pairs);
                self.pairs.push(pairs); // moves the Vec, not its buffer
                out
            }
        }
    }
}

fn scalar(kind: jbvType::Type) -> JsonbValue {
    JsonbValue {
        type_: kind,
        val: unsafe { std::mem::zeroed() },
    }
}

/// jsonb strings are raw UTF-8, so a Rust string goes in as it is (text never holds NUL).
fn string(s: &str) -> JsonbValue {
    let mut v = scalar(jbvType::jbvString);
    v.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
        len: s.len() as i32,
        val: s.as_ptr() as *mut c_char,
    };
    v
}

/// The pairs of an object with these keys, in jsonb key order, one per key
/// (json::jsonb_key_order); `value(i)` makes the value of `keys[i]`.
fn pairs_in_key_order(keys: &[&str], mut value: impl FnMut(usize) -> JsonbValue) -> Vec<JsonbPair> {
    json::jsonb_key_order(keys)
        .into_iter()
        .enumerate()
        .map(|(n, i)| JsonbPair {
            key: string(keys[i]),
            value: value(i),
            order: n as u32,
        })
        .collect()
}

/// An object of pairs already in jsonb key order, keys unique.
fn object(pairs: &mut [JsonbPair]) -> JsonbValue {
    let mut v = scalar(jbvType::jbvObject);
    v.val.object = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_3 {
        nPairs: pairs.len() as i32,
        pairs: pairs.as_mut_ptr(),
    };
    v
}
