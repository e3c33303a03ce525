#!/usr/bin/env bash
# run.sh - THE run command: set up the machine, build the release engine and run it.
# Arguments go to `pigeonhole serve`, e.g. `bash scripts/run.sh --smtp 127.0.0.1:2525`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rustup installs cargo in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
command -v cargo >/dev/null || PATH="$HOME/.cargo/bin:$PATH"
bash scripts/setup.sh
cargo build --release --locked -p pigeonhole
exec target/release/pigeonhole serve "$@"
