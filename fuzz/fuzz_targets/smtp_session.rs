//! The SMTP session state machine under arbitrary input and splits; the logic and
//! the invariants are in `pigeonhole::fuzzing::smtp_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pigeonhole::fuzzing::smtp_session(data));
