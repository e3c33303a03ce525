#!/usr/bin/env bash
# deb-test.sh - the .deb as a user gets it: bundled by the Tauri CLI in the debug profile
# (`tauri bundle --debug --bundles deb` around the desktop binary the test phase built and
# the desktop tests drove; `tauri build --debug` first where there is none: building it
# with `cargo build` semantics would compile most of the workspace again), then its file
# list (both binaries, the man page), unpacked with dpkg -x into an empty root where both
# binaries answer --version, and its maintainer scripts run against that root
# (DPKG_ROOT): the sendmail alternative registered and withdrawn, a real MTA's
# /usr/sbin/sendmail left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[deb-test] %s\n' "$*"; }

[[ -x node_modules/.bin/tauri ]] || npm ci --no-audit --no-fund --loglevel=error
target=$(cargo metadata --format-version 1 --no-deps --locked | jq -r .target_directory)
# The headless binary the package ships: the test phase's, when it built one.
[[ -x $target/debug/pigeonhole ]] && export PIGEONHOLE_BIN=$target/debug/pigeonhole
start=$SECONDS
if [[ -x $target/debug/pigeonhole-desktop ]]; then
    npx tauri bundle --debug --bundles deb --ci
    say "tauri bundle --debug --bundles deb: $((SECONDS - start)) s"
else
    npx tauri build --debug --bundles deb --ci
    say "tauri build --debug --bundles deb: $((SECONDS - start)) s"
fi
deb=$(ls -t "$target"/debug/bundle/deb/*.deb | head -n 1)

work=$(mktemp -d "${TMPDIR:-/tmp}/pigeonhole-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Paths as dpkg-deb lists them, without the leading "./" some builders write.
dpkg-deb -c "$deb" | awk '{sub(/^\.\//, "", $NF); print $NF}' >"$work/files"
for file in usr/bin/pigeonhole usr/bin/pigeonhole-desktop usr/share/man/man1/pigeonhole.1.gz; do
    grep -qx -- "$file" "$work/files" || { say "$deb lacks $file; it has:"; cat "$work/files"; exit 1; }
done

root="$work/root"
dpkg -x "$deb" "$root"
"$root/usr/bin/pigeonhole" --version | grep -q '^pigeonhole [0-9]'
"$root/usr/bin/pigeonhole-desktop" --version | grep -q '^pigeonhole-desktop [0-9]'
zcat "$root/usr/share/man/man1/pigeonhole.1.gz" | grep -q 'sendmail'
say "both binaries answer --version from the unpacked package; the man page lists the subcommands"

dpkg-deb -e "$deb" "$work/control"
mkdir -p "$root/usr/sbin" "$root/etc/alternatives" "$root/var/lib/dpkg/alternatives"
DPKG_ROOT="$root" sh "$work/control/postinst" configure
[[ $(readlink "$root/usr/sbin/sendmail") == /etc/alternatives/sendmail &&
    $(readlink "$root/etc/alternatives/sendmail") == /usr/bin/pigeonhole ]] ||
    { say "postinst did not register the sendmail alternative"; exit 1; }
DPKG_ROOT="$root" sh "$work/control/prerm" remove
[[ ! -e $root/usr/sbin/sendmail && ! -L $root/usr/sbin/sendmail ]] ||
    { say "prerm left /usr/sbin/sendmail behind"; exit 1; }
echo "a real MTA's sendmail" >"$root/usr/sbin/sendmail"
DPKG_ROOT="$root" sh "$work/control/postinst" configure 2>/dev/null
[[ $(cat "$root/usr/sbin/sendmail") == "a real MTA's sendmail" ]] ||
    { say "postinst replaced a real MTA's sendmail"; exit 1; }
say "sendmail alternative: registered when free, withdrawn on removal, a real MTA's left alone"
