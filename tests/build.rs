//! Builds the plugin components the integration tests load (the real
//! maintenance plugin, the notifications plugin, the hostile and probe
//! test plugins), so that `cargo test` alone always tests the component of the
//! current source.

#[path = "../build-support/plugin_build.rs"]
mod plugin_build;

fn main() {
    let components = [
        (
            "MAINTENANCE_PLUGIN_WASM",
            "maintenance-plugin",
            &[][..],
            "plugin",
        ),
        (
            "NOTIFICATIONS_PLUGIN_WASM",
            "notifications-plugin",
            &[][..],
            "plugins/notifications",
        ),
        (
            "HOSTILE_PLUGIN_WASM",
            "hostile-plugin",
            &[][..],
            "tests/hostile-plugin",
        ),
        (
            "FOREIGN_IDS_PLUGIN_WASM",
            "hostile-plugin",
            &["foreign-ids"][..],
            "tests/hostile-plugin",
        ),
        (
            "FILESYSTEM_PLUGIN_WASM",
            "hostile-plugin",
            &["filesystem"][..],
            "tests/hostile-plugin",
        ),
        (
            "PROBE_PLUGIN_WASM",
            "probe-plugin",
            &[][..],
            "tests/probe-plugin",
        ),
        (
            "README_PLUGIN_WASM",
            "greeter",
            &[][..],
            "tests/readme-plugin",
        ),
        (
            "CONTRACT_0_2_PLUGIN_WASM",
            "contract-fixture",
            &["v0_2"][..],
            "tests/contract-fixture",
        ),
        (
            "CONTRACT_0_3_0_PLUGIN_WASM",
            "contract-fixture",
            &["v0_3_0"][..],
            "tests/contract-fixture",
        ),
        (
            "CONTRACT_0_3_2_PLUGIN_WASM",
            "contract-fixture",
            &["v0_3_2"][..],
            "tests/contract-fixture",
        ),
        (
            "CONTRACT_0_1_PLUGIN_WASM",
            "contract-fixture",
            &["v0_1"][..],
            "tests/contract-fixture",
        ),
        (
            "SLEEPY_DEFINITIONS_PLUGIN_WASM",
            "hostile-plugin",
            &["sleep-in-definitions"][..],
            "tests/hostile-plugin",
        ),
    ];
    for (variable, package, features, source) in components {
        match plugin_build::build_component(package, features, source) {
            Ok(path) => println!("cargo:rustc-env={variable}={}", path.display()),
            Err(error) => {
                eprintln!("{error}");
                std::process::exit(1);
            }
        }
    }
}
