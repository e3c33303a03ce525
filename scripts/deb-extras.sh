#!/usr/bin/env bash
# deb-extras.sh - what the .deb ships besides the desktop app, made before Tauri bundles
# it (tauri.conf.json: build.beforeBundleCommand; bundle.linux.deb.files takes them from
# target/deb-extras/): the headless binary `pigeonhole`, built in the profile of the
# bundle (debug under `tauri build --debug`, which sets TAURI_ENV_DEBUG; there
# PIGEONHOLE_BIN, when set, is taken as it is), and its man page, made by help2man from
# its --help and --version, so it says what the binary does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${TAURI_ENV_DEBUG:-} == true && -x ${PIGEONHOLE_BIN:-} ]]; then
    # A debug package from a binary already built (scripts/deb-test.sh passes the test
    # phase's): building it again with `-p pigeonhole` alone would unify features
    # differently and recompile much of the workspace.
    executable=$PIGEONHOLE_BIN
else
    profile=(--release)
    [[ ${TAURI_ENV_DEBUG:-} == true ]] && profile=()
    executable=$(cargo build "${profile[@]}" --locked -p pigeonhole --bin pigeonhole --message-format=json-render-diagnostics |
        jq -r 'select(.reason == "compiler-artifact" and .target.name == "pigeonhole") | .executable // empty')
    [[ -x $executable ]] || { echo "[deb-extras] cargo built pigeonhole but did not say where" >&2; exit 1; }
fi

out=target/deb-extras
mkdir -p "$out"
install -m 0755 "$executable" "$out/pigeonhole"
help2man --no-info --section 1 --name "catch the mail your application sends" \
    --output "$out/pigeonhole.1" "$out/pigeonhole"
gzip -9nf "$out/pigeonhole.1"
