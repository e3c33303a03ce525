//! Arbitrary bytes as a captured message through parsing, views, links and the
//! HTML sanitizer; the logic and the invariants are in
//! `pigeonhole::fuzzing::message_pipeline`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pigeonhole::fuzzing::message_pipeline(data));
