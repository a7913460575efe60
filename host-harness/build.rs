//! In this workspace the CLI's default plugin is the component built from
//! `plugin/`; the build script builds it when missing or stale. Built
//! outside the workspace, the CLI has no default and needs `--plugin`.

#[path = "../build-support/plugin_build.rs"]
mod plugin_build;

fn main() {
    let workspace_plugin =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin/Cargo.toml");
    println!("cargo:rerun-if-changed={}", workspace_plugin.display());
    if !workspace_plugin.exists() {
        return;
    }
    match plugin_build::build_plugin_component() {
        Ok(path) => println!(
            "cargo:rustc-env=AUTOMATION_HARNESS_DEFAULT_PLUGIN={}",
            path.display()
        ),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}
