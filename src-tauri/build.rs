//! Reads tauri.conf.json and capabilities/ (at the package root, beside Cargo.toml)
//! for `tauri::generate_context!`, and writes their schemas to gen/schemas/.
//!
//! The app's own commands are listed here so that each gets a permission
//! (`allow-save-message`, …): the window's page is remote content to Tauri, and a
//! command it may call must be granted by name in the capability.

fn main() {
    let commands = tauri_build::AppManifest::new().commands(&[
        "save_message",
        "export_messages",
        "get_settings",
        "save_settings",
        "restart_app",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)).expect("tauri build step");
}
