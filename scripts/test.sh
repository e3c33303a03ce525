#!/usr/bin/env bash
# test.sh - THE test command: set up the machine, then build and run every test in the
# workspace (unit, property and end-to-end tests with real SMTP clients).
# Exits non-zero on any failure; the output ends with cargo's own summary lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rustup installs cargo in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
command -v cargo >/dev/null || PATH="$HOME/.cargo/bin:$PATH"
header() { printf '\n==== %s ====\n' "$*"; }

header "set-up (scripts/setup.sh)"
bash scripts/setup.sh

header "format and lints (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# Build first, on its own, so a compile error is told apart from a failing test and
# the test phase's timings are not skewed by compilation.
header "build tests (cargo test --workspace --locked --no-run)"
cargo test --workspace --locked --no-run

header "run tests (cargo test --workspace --locked --no-fail-fast)"
# The connection-cap test holds 1000 sessions open in each of two processes.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# --no-fail-fast: one failing test binary must not hide the results of the others.
# exec: nothing may print after cargo's summary, and its exit status is ours.
exec cargo test --workspace --locked --no-fail-fast "$@"
