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

# Builds the binary BIN of PACKAGE (release) and prints its path: wherever cargo put it
# (CARGO_TARGET_DIR, a cargo config's build.target-dir), as its JSON messages say.
build() { # PACKAGE BIN
    local executable
    executable=$(cargo build --release --locked -p "$1" --bin "$2" --message-format=json-render-diagnostics |
        jq -r --arg bin "$2" 'select(.reason == "compiler-artifact" and .target.name == $bin) | .executable // empty') ||
        exit 1
    [[ -x $executable ]] || { echo "[run] cargo built $2 but did not say where" >&2; exit 1; }
    echo "$executable"
}

if (($# == 0)) && [[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
    app=$(build pigeonhole-desktop pigeonhole-desktop)
    exec "$app"
fi

[[ ${1:-} == serve ]] && shift
if [[ -z ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
    echo "[run] no display (DISPLAY and WAYLAND_DISPLAY are unset), so not the desktop app: running the headless engine, pigeonhole serve (its web UI is the window's, in a browser)" >&2
fi
engine=$(build pigeonhole pigeonhole)
exec "$engine" serve "$@"
