//! A syslog line as the ingest trigger receives it: parse, store, group.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| decnet_core::fuzzing::line(data));
