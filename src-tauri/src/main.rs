//! `pigeonhole-desktop`, the desktop app: see [`pigeonhole_desktop::run`].

// Release builds on Windows open no console window beside the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Answered before any GTK or engine start, so it works without a display (a
    // package's smoke test, a user's terminal) and never reaches a running instance.
    if std::env::args_os().nth(1).is_some_and(|arg| arg == "--version" || arg == "-V") {
        println!("pigeonhole-desktop {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    // Before anything else: it sets environment variables, safe only while the
    // process has one thread.
    pigeonhole_desktop::rendering::prefer_cpu();
    pigeonhole_desktop::run()
}
