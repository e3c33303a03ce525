#!/usr/bin/env bash
# advisories.sh - check Cargo.lock against the RustSec advisory database, offline: the
# snapshot in supply-chain/advisory-db/ (see its README), with cargo-deny 0.20.
#
# cargo-deny reads the database from a git repository under `db-path`, in a folder
# named after the database's URL, and fetches it from GitHub unless told not to; CI
# cannot reach GitHub. So the snapshot becomes a one-commit repository in a scratch
# folder, dated the snapshot's date, and cargo-deny runs `--offline` with a copy of
# deny.toml whose [advisories] points there (its ignore list applies unchanged).
#
# First a control: a scratch crate that depends on smallvec 1.6.0 (RUSTSEC-2021-0003,
# a buffer overflow) must fail the same check with that vulnerability, so the
# workspace passing means the database was read and matched nothing.
#
# Usage: bash scripts/advisories.sh [CARGO_DENY]   (default: `cargo-deny` on PATH)
# Exits non-zero on any advisory deny.toml does not ignore, or a failed control.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

deny=${1:-cargo-deny}
snapshot=supply-chain/advisory-db
commit=$(awk '$1 == "commit" { print $2 }' "$snapshot/SNAPSHOT")
date=$(awk '$1 == "date" { print $2 }' "$snapshot/SNAPSHOT")
age_days=$((($(date +%s) - $(date -d "$date" +%s)) / 86400))
about="RustSec snapshot of $date ($age_days days old, advisory-db commit ${commit:0:12})"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pigeonhole-advisories.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The folder name cargo-deny derives from https://github.com/rustsec/advisory-db.
db="$scratch/db/advisory-db-3157b0e258782691"
mkdir -p "$db"
cp -R "$snapshot/." "$db/"
git -C "$db" init -q
git -C "$db" add -A
GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z" \
    git -C "$db" -c user.name=pigeonhole -c user.email=pigeonhole@localhost -c commit.gpgsign=false \
    commit -q -m "RustSec advisory-db $commit"

awk -v db="$scratch/db" '{ print } /^\[advisories\][[:space:]]*$/ { printf "db-path = \"%s\"\n", db }' \
    deny.toml >"$scratch/deny.toml"
grep -q '^db-path = ' "$scratch/deny.toml" || {
    echo "advisories: deny.toml has no [advisories] table to point at the snapshot" >&2
    exit 1
}

# cargo metadata runs here, where it may download crates; cargo-deny then reads its
# output and stays offline.
check() { # MANIFEST
    cargo metadata --format-version 1 --locked --manifest-path "$1" >"$scratch/metadata.json"
    "$deny" --offline --color never --manifest-path "$1" --metadata-path "$scratch/metadata.json" \
        --config "$scratch/deny.toml" check --hide-inclusion-graph advisories 2>&1
}

mkdir -p "$scratch/control/src"
touch "$scratch/control/src/lib.rs"
cat >"$scratch/control/Cargo.toml" <<'EOF'
[package]
name = "advisories-control"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
smallvec = "=1.6.0"

[workspace]
EOF
# --locked needs a lock file: resolve the control's first.
cargo generate-lockfile --quiet --manifest-path "$scratch/control/Cargo.toml"
if control=$(check "$scratch/control/Cargo.toml"); then
    echo "$control"
    echo "advisories: the control (smallvec 1.6.0) passed against the $about: the database was not read" >&2
    exit 1
fi
if ! grep -q 'error\[vulnerability\]' <<<"$control" || ! grep -q 'RUSTSEC-2021-0003' <<<"$control"; then
    echo "$control"
    echo "advisories: the control (smallvec 1.6.0) failed, but not with RUSTSEC-2021-0003 (output above)" >&2
    exit 1
fi

if out=$(check Cargo.toml); then
    [[ -n $out ]] && echo "$out"
    echo "advisories: checked against the $about: none but those deny.toml ignores (the control, smallvec 1.6.0, fails as it must)"
else
    echo "$out"
    echo "advisories: FAILED against the $about (above)" >&2
    exit 1
fi
