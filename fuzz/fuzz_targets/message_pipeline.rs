//! Arbitrary bytes as a captured message through parsing, views, links and the
//! HTML sanitizer; the logic and the invariants are in
//! `pigeonhole::fuzzing::message_pipeline`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on any panic, even one caught; the engine catches
    // mail-parser's on purpose (a message it cannot parse is stored and shown
    // without a summary), so only a panic escaping the target is a crash.
    init: drop(std::panic::take_hook()),
    |data: &[u8]| pigeonhole::fuzzing::message_pipeline(data)
);
