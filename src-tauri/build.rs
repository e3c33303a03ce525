//! Reads tauri.conf.json and capabilities/ (at the package root, beside Cargo.toml)
//! for `tauri::generate_context!`, and writes their schemas to gen/schemas/.

fn main() {
    tauri_build::build()
}
