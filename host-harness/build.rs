//! In this workspace the CLI ships the plugins built from `plugin/` (the
//! default) and `plugins/notifications/`; the build script builds them
//! when missing or stale. Built outside the workspace, the CLI ships none
//! and needs `--plugin <WASM>`.

#[path = "../build-support/plugin_build.rs"]
mod plugin_build;

fn main() {
    let shipped = [
        (
            "AUTOMATION_HARNESS_DEFAULT_PLUGIN",
            "maintenance-plugin",
            "plugin",
        ),
        (
            "AUTOMATION_HARNESS_NOTIFICATIONS_PLUGIN",
            "notifications-plugin",
            "plugins/notifications",
        ),
    ];
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (variable, package, source) in shipped {
        let manifest = workspace.join(source).join("Cargo.toml");
        println!("cargo:rerun-if-changed={}", manifest.display());
        if !manifest.exists() {
            continue;
        }
        match plugin_build::build_component(package, &[], source) {
            Ok(path) => println!("cargo:rustc-env={variable}={}", path.display()),
            Err(error) => {
                eprintln!("{error}");
                std::process::exit(1);
            }
        }
    }
}
