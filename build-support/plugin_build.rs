//! Shared by the build scripts that need the plugin component: builds
//! `plugin/` for `wasm32-wasip2` with a nested cargo.
//!
//! The nested cargo uses a target directory of its own, because the outer
//! cargo holds the lock on the main one while build scripts run; every
//! component shares it, so the wasm dependencies and the wit-bindgen
//! macro are compiled once. Each build is copied to
//! `components/<crate>[+<features>].wasm` there, because builds of one
//! package with different features write the same artifact path.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "wasm-release";

/// Builds the maintenance plugin component when its sources changed;
/// returns its path.
#[allow(dead_code)]
pub fn build_plugin_component() -> Result<PathBuf, String> {
    build_component("maintenance-plugin", &[], "plugin")
}

/// The nested build's target directory, under the main one.
const TARGET_NAME: &str = "plugin-build";

/// Builds the component of workspace package `package` with `features`,
/// watching `source_dir` (relative to the workspace); returns the path of
/// its copy under `components/`.
pub fn build_component(
    package: &str,
    features: &[&str],
    source_dir: &str,
) -> Result<PathBuf, String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let workspace = manifest_dir
        .parent()
        .ok_or("the crate has no parent directory")?
        .to_path_buf();
    for watched in [source_dir, "wit", "Cargo.lock", "Cargo.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join(TARGET_NAME);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--package",
            package,
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags and wrappers meant for the host build must not reach the
        // wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    let status = command
        .status()
        .map_err(|error| format!("cannot run cargo to build the plugin component: {error}"))?;
    if !status.success() {
        return Err(format!(
            "building the plugin component failed ({status}); is the {TARGET} target installed? \
             `rustup target add {TARGET}`"
        ));
    }
    let artifact = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !Path::new(&artifact).exists() {
        return Err(format!("the plugin build left no {}", artifact.display()));
    }
    let mut name = package.replace('-', "_");
    for feature in features {
        name.push('+');
        name.push_str(feature);
    }
    let components = target_dir.join("components");
    let copy = components.join(format!("{name}.wasm"));
    // Written aside and renamed, as the build scripts of two crates may
    // copy the same component at once.
    let temporary = components.join(format!("{name}.wasm.{}", std::process::id()));
    std::fs::create_dir_all(&components)
        .and_then(|()| std::fs::copy(&artifact, &temporary))
        .and_then(|_| std::fs::rename(&temporary, &copy))
        .map_err(|error| {
            format!(
                "cannot copy {} to {}: {error}",
                artifact.display(),
                copy.display()
            )
        })?;
    Ok(copy)
}
