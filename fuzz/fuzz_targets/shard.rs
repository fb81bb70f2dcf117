//! A recorded-session shard: split, parse, profile, SimHash.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| decnet_core::fuzzing::shard(data));
