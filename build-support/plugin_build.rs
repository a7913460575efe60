//! Shared by the build scripts that need plugin components: builds a
//! workspace plugin (`plugin/`, `plugins/notifications/`, the hostile test
//! plugin) for `wasm32-wasip2` with a nested cargo.
//!
//! The nested cargo uses a target directory of its own, because the outer
//! cargo holds the lock on the main one while build scripts run; every
//! component shares it, so the wasm dependencies and the wit-bindgen
//! macro are compiled once. Each build is copied to
//! `components/<crate>[+<features>].wasm` there, because builds of one
//! package with different features write the same artifact path.

use std::env;
use std::ffi::OsString;
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
    // Every plugin component but the hostile one is built on the SDK; it
    // is watched for all of them, as a change there is rare and cheap to
    // rebuild for.
    for watched in [
        source_dir,
        "plugin-sdk",
        "contract-rules",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    ensure_target_installed()?;
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
            "building the plugin component failed ({status}); the errors are above"
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

/// What [`ensure_target`] found or did.
#[derive(Debug, PartialEq, Eq)]
pub enum TargetStatus {
    /// The toolchain already had the target's standard library.
    Present,
    /// rustup installed it, with this command line.
    Installed(String),
}

/// Makes sure the toolchain that builds the component, the one running
/// this build (`RUSTC`, which the nested cargo inherits), has the wasm
/// target's standard library, installing it with rustup when it is
/// missing, and says so in one line.
///
/// rustup's own answer to a missing target (`targets` in
/// `rust-toolchain.toml`) is not relied on: with `RUSTUP_AUTO_INSTALL=0` it
/// installs nothing, and otherwise it may update the whole channel, changing
/// the user's compiler without asking. Installing one target into the
/// toolchain the user already runs changes nothing else.
fn ensure_target_installed() -> Result<(), String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let (sysroot, status) = ensure_target_for(
        &rustc,
        env::var("RUSTUP_TOOLCHAIN").ok().as_deref(),
        env::var_os("PATH"),
    )?;
    // The component depends on the target's standard library: watching its
    // directory re-runs this script once after an install, so cargo does
    // not replay the line below on every later build, and at every build
    // while it is missing.
    println!(
        "cargo:rerun-if-changed={}",
        target_libdir(&sysroot)
            .parent()
            .unwrap_or(&sysroot)
            .display()
    );
    if let TargetStatus::Installed(command) = status {
        println!("cargo::warning=the {TARGET} target was missing: ran `{command}`");
    }
    Ok(())
}

/// [`ensure_target`] for the toolchain of `rustc`, with rustup looked up
/// on `path`; returns the sysroot with what was found or done.
pub fn ensure_target_for(
    rustc: &std::ffi::OsStr,
    toolchain: Option<&str>,
    path: Option<OsString>,
) -> Result<(PathBuf, TargetStatus), String> {
    let sysroot = sysroot(rustc)?;
    let rustup = find_on_path("rustup", path);
    let status = ensure_target(&sysroot, toolchain, rustup.as_deref())?;
    Ok((sysroot, status))
}

/// The sysroot of `rustc`, where each installed target has its standard
/// library.
fn sysroot(rustc: &std::ffi::OsStr) -> Result<PathBuf, String> {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|error| format!("cannot run {}: {error}", rustc.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "`{} --print sysroot` failed: {}",
            rustc.to_string_lossy(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    ))
}

/// Where the standard library of [`TARGET`] lives in `sysroot`.
pub fn target_libdir(sysroot: &Path) -> PathBuf {
    sysroot.join("lib").join("rustlib").join(TARGET).join("lib")
}

/// The first executable called `name` in the directories of `path`.
pub fn find_on_path(name: &str, path: Option<OsString>) -> Option<PathBuf> {
    env::split_paths(&path?)
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

/// Checks `sysroot` for [`TARGET`] and, when it is missing, runs
/// `rustup target add` for `toolchain` (rustup's name for the running
/// toolchain; rustup sets `RUSTUP_TOOLCHAIN` for the tools it starts).
/// Without rustup it fails at once, with one line saying what to do.
pub fn ensure_target(
    sysroot: &Path,
    toolchain: Option<&str>,
    rustup: Option<&Path>,
) -> Result<TargetStatus, String> {
    let libdir = target_libdir(sysroot);
    if libdir.is_dir() {
        return Ok(TargetStatus::Present);
    }
    let Some(rustup) = rustup else {
        return Err(format!(
            "the {TARGET} standard library is missing from {} and rustup is not on PATH: \
             install the {TARGET} target for this Rust toolchain (with rustup: \
             `rustup target add {TARGET}`), then build again",
            sysroot.display()
        ));
    };
    let mut arguments = vec!["target", "add", TARGET];
    if let Some(toolchain) = toolchain {
        arguments.extend(["--toolchain", toolchain]);
    }
    let command = format!("rustup {}", arguments.join(" "));
    let status = Command::new(rustup)
        .args(&arguments)
        .status()
        .map_err(|error| format!("cannot run `{command}`: {error}"))?;
    if !status.success() {
        return Err(format!(
            "`{command}` failed ({status}); the {TARGET} target is needed to build the plugin component"
        ));
    }
    if !libdir.is_dir() {
        return Err(format!(
            "`{command}` succeeded but {} still has no {TARGET} standard library; \
             is this toolchain managed by rustup?",
            sysroot.display()
        ));
    }
    Ok(TargetStatus::Installed(command))
}
