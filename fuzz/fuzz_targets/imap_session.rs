//! The IMAP session over a real store under arbitrary input and splits; the logic
//! and the invariants are in `pigeonhole::fuzzing::imap_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pigeonhole::fuzzing::imap_session(data));
