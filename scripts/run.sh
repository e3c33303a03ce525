#!/usr/bin/env bash
# run.sh - THE run command: set up the machine, build the desktop app and launch it.
#
# The app takes its settings from PIGEONHOLE_SMTP, PIGEONHOLE_HTTP and PIGEONHOLE_DATA
# (defaults 127.0.0.1:1025, 127.0.0.1:8025, ~/.local/share/pigeonhole).
# Without a display (a server, CI, ssh) it runs the headless engine, `pigeonhole serve`,
# instead: the same engine and web UI, in a browser. Arguments ask for the headless
# engine too and go to it: `bash scripts/run.sh serve --smtp 127.0.0.1:2525`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rustup installs cargo in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
command -v cargo >/dev/null || PATH="$HOME/.cargo/bin:$PATH"
bash scripts/setup.sh

if (($# == 0)) && [[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
    cargo build --release --locked -p pigeonhole-desktop
    exec target/release/pigeonhole-desktop
fi

[[ ${1:-} == serve ]] && shift
if [[ -z ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
    echo "[run] no display (DISPLAY and WAYLAND_DISPLAY are unset), so not the desktop app: running the headless engine, pigeonhole serve (its web UI is the window's, in a browser)" >&2
fi
cargo build --release --locked -p pigeonhole
exec target/release/pigeonhole serve "$@"
