fn main() {
    // tauri.conf.json lives at the workspace root; capabilities stay in src-tauri/capabilities.
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("failed to run tauri-build");
}
