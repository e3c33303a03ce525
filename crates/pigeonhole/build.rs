//! Builds the web UI (`ui/`, with npm + Vite) into `ui/dist/` when that output is
//! missing or older than its sources, so `cargo build -p pigeonhole` alone gives a
//! binary with the current UI embedded (`api::ui` embeds `ui/dist/` with rust-embed).
//!
//! Cargo re-runs this script only when a UI source changes; the timestamp check
//! below then spares the npm run when `ui/dist/` is already newer than every
//! source (a fresh clone, or a second build profile, after a first build).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The UI's sources: anything here changing makes `ui/dist/` stale.
const SOURCES: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "svelte.config.js",
    "tsconfig.json",
];

fn main() {
    // At run time, not `env!`: a build script compiled for a copy of the tree
    // elsewhere can be reused from a shared target folder.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let ui = Path::new(&manifest_dir).join("../../ui");
    // Only paths that exist: cargo takes a missing one as changed, so it would run
    // this script and recompile the crate on every build. (A source folder created
    // later is watched from the next run on, which any other UI change brings.)
    for source in SOURCES.iter().map(|s| ui.join(s)).filter(|p| p.exists()) {
        println!("cargo::rerun-if-changed={}", source.display());
    }
    // Watched even when missing: then the script runs, and builds it.
    let dist_index = ui.join("dist/index.html");
    println!("cargo::rerun-if-changed={}", dist_index.display());

    let dist_built = modified(&dist_index);
    let sources_changed = SOURCES.iter().filter_map(|s| newest(&ui.join(s))).max();
    if dist_built.is_some() && dist_built >= sources_changed {
        return;
    }

    // `npm ci` when node_modules is missing or older than the lock file.
    let installed = modified(&ui.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < modified(&ui.join("package-lock.json")) {
        npm(&ui, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(&ui, &["run", "build"]);
    // Dated as the sources it was built from, not as the moment Vite wrote it: cargo
    // reruns a script when a watched file is newer than the script's start, and this
    // one is written by the script, so the next build would run it (and compile the
    // crate) again for nothing. A source edited during the build stays newer.
    if let Some(sources_changed) = sources_changed {
        let index = std::fs::File::options().write(true).open(&dist_index).expect("open ui/dist/index.html");
        index.set_modified(sources_changed).expect("date ui/dist/index.html");
    }
}

fn npm(ui: &Path, args: &[&str]) {
    println!("cargo::warning=building the web UI: npm {} (in ui/)", args.join(" "));
    let status = Command::new("npm").args(args).current_dir(ui).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("`npm {}` in ui/ failed ({s}); run it there by hand to see why", args.join(" ")),
        Err(e) => panic!(
            "cannot run npm ({e}): the web UI is built with Node.js 20+ and npm; \
             install them (scripts/setup.sh does) and build again"
        ),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file, or of any file under a directory.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = path.metadata().ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    let entries = std::fs::read_dir(path).ok()?;
    entries.filter_map(|e| e.ok().map(|e| e.path())).filter_map(|p: PathBuf| newest(&p)).max()
}
