//! `pigeonhole-desktop`, the desktop app: see [`pigeonhole_desktop::run`].

// Release builds on Windows open no console window beside the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Before anything else: it sets environment variables, safe only while the
    // process has one thread.
    pigeonhole_desktop::rendering::prefer_cpu();
    pigeonhole_desktop::run()
}
