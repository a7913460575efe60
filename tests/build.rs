//! Builds the maintenance plugin component for the integration tests, so
//! that `cargo test` alone always tests the component of the current
//! source.

#[path = "../build-support/plugin_build.rs"]
mod plugin_build;

fn main() {
    match plugin_build::build_plugin_component() {
        Ok(path) => println!("cargo:rustc-env=MAINTENANCE_PLUGIN_WASM={}", path.display()),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}
