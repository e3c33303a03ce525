//! The fuzz targets' logic, as plain functions: `fuzz/` (cargo-fuzz, nightly) wraps
//! each in a `fuzz_target!`, and the test below replays the committed corpus
//! through the same functions on stable, so CI needs no nightly toolchain.
//!
//! * [`smtp_session`]: arbitrary bytes, split at arbitrary points, through the
//!   SMTP session state machine, which must behave the same whatever the split.
//! * [`imap_session`]: arbitrary client bytes, fed in arbitrary chunks, through
//!   an IMAP session over a real store; its output must parse back.
//! * [`message_pipeline`]: arbitrary bytes as a captured message through parsing,
//!   the views, links and codes, and the sanitized HTML rendering.
//!
//! Compiled for tests and with the `fuzzing` feature only (the fuzz crate turns it
//! on), so the release binary carries none of it. Every invariant is an `assert!`:
//! a violation is a panic, which is what libFuzzer reports as a crash.

mod imap_session;
mod message_pipeline;
mod smtp_session;

pub use imap_session::imap_session;
pub use message_pipeline::message_pipeline;
pub use smtp_session::smtp_session;

/// The committed corpus replayed on stable: the equivalent of
/// `cargo fuzz run <target> fuzz/corpus/<target> -- -runs=0`, which needs nightly.
/// Every file of `fuzz/corpus/<target>/` (the minimised corpus) and of
/// `fuzz/artifacts/<target>/` (crashes found and fixed, kept as regressions) goes
/// through the target once; a panic names the file.
#[cfg(test)]
mod replay {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::path::{Path, PathBuf};

    fn replay(target: &str, run: fn(&[u8])) {
        let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut files = Vec::new();
        for folder in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else { continue };
            files.extend(entries.map(|entry| entry.expect("read fuzz folder entry").path()));
        }
        files.sort();
        assert!(!files.is_empty(), "no corpus for {target} under {}", fuzz.display());
        let failed: Vec<&Path> = files
            .iter()
            .filter(|file| {
                let bytes = std::fs::read(file).expect("read corpus file");
                catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err()
            })
            .map(PathBuf::as_path)
            .collect();
        assert!(failed.is_empty(), "{target} failed on {} of {} inputs: {failed:?}", failed.len(), files.len());
    }

    #[test]
    fn smtp_session_corpus() {
        replay("smtp_session", super::smtp_session);
    }

    #[test]
    fn imap_session_corpus() {
        replay("imap_session", super::imap_session);
    }

    #[test]
    fn message_pipeline_corpus() {
        replay("message_pipeline", super::message_pipeline);
    }
}
