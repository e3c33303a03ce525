#!/usr/bin/env bash
# setup.sh - install what building, running and testing Pigeonhole needs on Debian/Ubuntu.
#
# Idempotent: apt is skipped entirely when every package is already installed, so a
# re-run costs well under a second. Runs as root, or through sudo otherwise.
# The Rust toolchain (cargo >= 1.95) is expected on the machine already.
#
# Add a package: append it to PACKAGES (with a comment saying which issue needs it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(
    build-essential pkg-config   # C toolchain for bundled SQLite, zstd, ring
    swaks libnet-ssleay-perl     # integration tests: STARTTLS + AUTH client (TLS needs Net::SSLeay)
    postfix                      # integration tests: only its smtp-source load tool
    python3                      # integration tests: smtplib client
    curl jq sqlite3              # scripts and poking at a running server
    chromium                     # web UI tests (playwright-core) and the engine's screenshots (tests/screenshot.rs)
    fonts-dejavu-core fonts-noto-color-emoji  # web UI screenshots: text and emoji fonts for the headless browser
    # desktop app (Tauri): WebKitGTK, GTK, the tray's appindicator, icons
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev
    xdg-utils                    # desktop app: xdg-open takes links from mail to the browser (and their test)
    xvfb xauth webkit2gtk-driver imagemagick  # desktop window tests: a display, WebKitWebDriver, screenshots
    xdotool                      # desktop window tests: answer the native save and folder dialogs
    spamd                        # SpamAssassin check: a real spamd for its test (pulls in spamassassin and its rules)
    python3-dkim python3-nacl    # the DKIM checks' tests: dkimpy's dkimsign/dknewkey, the independent signer (nacl: ed25519)
    dnsmasq-base                 # DKIM/SPF/DMARC over DNS: a DNS server the tests start on loopback (the binary only: no system service)
    python3-boto3                # the SES API's client test: boto3's sesv2 and ses clients (tests/clients/ses_boto3.py)
    fetchmail                    # POP3: a real client that downloads and deletes (crates/pigeonhole/tests/pop3.rs)
    prometheus                   # /metrics tests: promtool check metrics, and a server the test starts (tests/metrics.rs)
    isync neomutt tmux           # IMAP's client tests: mbsync syncing to a Maildir (tests/imap.rs), neomutt driven in tmux
    thunderbird                  # IMAP's client tests: real Thunderbird, headless, driven by Marionette (tests/thunderbird/run.py)
    postgresql haproxy           # the team server: the PostgreSQL store's tests and tests/team/run.py start their own cluster (initdb, pg_ctl; no system cluster) and balancer
    help2man                     # the .deb: pigeonhole(1) made from `pigeonhole --help` (scripts/deb-extras.sh)
)

say() { printf '[setup] %s\n' "$*"; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "not root and no sudo: run this as root" >&2; exit 1; }
    SUDO=(sudo)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    say "system packages already installed"
else
    say "apt-get install ${missing[*]}"
    apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
    # postfix is wanted for smtp-source only: no configuration means no mail system.
    echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
    # Only a postfix that this script installed gets stopped; never a pre-existing MTA.
    postfix_was_installed=no
    dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'ok installed' && postfix_was_installed=yes
    # apt is chatty: keep its output in a log and show it only when something fails.
    log=$(mktemp "${TMPDIR:-/tmp}/pigeonhole-setup.XXXXXX.log")
    if ! { "${apt[@]}" update -qq && "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        say "apt-get failed (log above, also in $log)" >&2
        exit 1
    fi
    rm -f "$log"
    # The tests start their own Prometheus; the package's service (started on install
    # where an init system lets it) must not stay running.
    if [[ " ${missing[*]} " == *" prometheus "* ]]; then
        "${SUDO[@]}" service prometheus stop >/dev/null 2>&1 || true
        "${SUDO[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
    if [[ $postfix_was_installed == no ]]; then
        # Belt and braces: "No configuration" should not start it, but a policy-rc.d-less
        # image may still have launched a master process.
        "${SUDO[@]}" postfix stop >/dev/null 2>&1 || true
        "${SUDO[@]}" service postfix stop >/dev/null 2>&1 || true
    fi
fi

PATH="$PATH:/usr/sbin:/sbin"
# rustup installs cargo in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
command -v cargo >/dev/null || PATH="$HOME/.cargo/bin:$PATH"
for tool in swaks smtp-source python3 cargo chromium dkimsign dknewkey dnsmasq prometheus promtool fetchmail; do
    command -v "$tool" >/dev/null || { say "missing after set-up: $tool" >&2; exit 1; }
done

# The web UI (ui/) builds with Vite 7, which needs Node.js 20.19 or newer; Debian's
# own nodejs is older, so the machine's Node.js is used and only checked here.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)) || ! command -v npm >/dev/null; then
    say "Node.js 20+ with npm is needed to build the web UI (found: $(node --version 2>&1 || echo none)); install it from https://nodejs.org or your distribution's nodejs 20+ package" >&2
    exit 1
fi
# npm packages of the UI and its browser tests, from ui/package-lock.json.
if [[ ! -f ui/node_modules/.package-lock.json || ui/package-lock.json -nt ui/node_modules/.package-lock.json ]]; then
    say "npm ci (ui/)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
# The desktop window tests (tests/desktop.rs) drive the app through tauri-driver,
# which is only on crates.io (about 40 s to build, once).
if ! command -v tauri-driver >/dev/null; then
    say "cargo install tauri-driver --locked"
    cargo install tauri-driver --locked --quiet
fi
say "ok: $(cargo --version), $(python3 --version 2>&1), node $(node --version), smtp-source at $(command -v smtp-source), $(command -v tauri-driver)"
