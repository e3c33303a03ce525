//! Client subcommands of the `pigeonhole` binary: `wait`, `list`, `get`, `delete`
//! and `readyz` talk to a running server over its HTTP API ([`client`]), and so do `check`
//! (a message's check report, [`check`]), `diff` (what changed between two
//! messages or mail files, [`diff`]) and `screenshot` (a PNG of its HTML,
//! [`screenshot`]); `sendmail` (alias `send`)
//! delivers a message read from stdin to its SMTP listener ([`sendmail`]); `token new`
//! makes an API token and its tokens-file line, offline ([`token`]).
//!
//! They live in the binary, not the library: they are thin scripts around the public
//! HTTP and SMTP interfaces, and take nothing from the engine but the wait API's
//! duration syntax (so that the client and the server read `--timeout` alike), the
//! check report's types, and the message diff (two files are compared in the client).

pub mod check;
pub mod client;
pub mod diff;
pub mod screenshot;
pub mod sendmail;
pub mod token;

use std::process::ExitCode;

/// Why a client command stopped: printed as one line on stderr, then the process
/// exits with `code`.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

/// Prints a failure as `error: …` and turns the outcome into the exit code.
pub fn finish(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
