//! The component build installs its own wasm target: the two paths of
//! `build-support/plugin_build.rs` when the target is missing (rustup
//! present: it runs `rustup target add`; rustup absent: it fails at once
//! with one line), proven with a fake sysroot and a fake rustup, so no
//! network and no real toolchain change is needed.

#[path = "../../build-support/plugin_build.rs"]
#[allow(dead_code)]
mod plugin_build;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plugin_build::{TargetStatus, ensure_target, ensure_target_for, find_on_path, target_libdir};

/// A stand-in for rustup that records its arguments and installs the
/// target the way rustup would, by creating its library directory.
fn fake_rustup(dir: &Path, sysroot: &Path, exit_code: i32) -> PathBuf {
    let script = dir.join("rustup");
    let log = dir.join("rustup.args");
    let libdir = target_libdir(sysroot);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nmkdir -p '{}'\nexit {exit_code}\n",
            log.display(),
            libdir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn a_missing_target_is_installed_with_rustup_for_the_running_toolchain() {
    let dir = tempfile::tempdir().unwrap();
    let sysroot = dir
        .path()
        .join("toolchains/1.95.0-x86_64-unknown-linux-gnu");
    std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/lib")).unwrap();
    let rustup = fake_rustup(dir.path(), &sysroot, 0);
    // Found the way the build script finds it: on PATH.
    let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
    let found = find_on_path("rustup", Some(path)).expect("rustup is found on PATH");
    assert_eq!(found, rustup);

    let status = ensure_target(
        &sysroot,
        Some("1.95.0-x86_64-unknown-linux-gnu"),
        Some(&found),
    );

    assert_eq!(
        status,
        Ok(TargetStatus::Installed(
            "rustup target add wasm32-wasip2 --toolchain 1.95.0-x86_64-unknown-linux-gnu".into()
        ))
    );
    let args = std::fs::read_to_string(dir.path().join("rustup.args")).unwrap();
    assert_eq!(
        args.trim(),
        "target add wasm32-wasip2 --toolchain 1.95.0-x86_64-unknown-linux-gnu"
    );
    assert!(target_libdir(&sysroot).is_dir());
}

/// A stand-in for rustc that knows only `--print sysroot`.
fn fake_rustc(dir: &Path, sysroot: &Path) -> PathBuf {
    let script = dir.join("rustc");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = '--print sysroot' ] || exit 9\necho '{}'\n",
            sysroot.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn the_build_installs_into_the_toolchain_of_the_rustc_it_runs() {
    // What the build script does: the sysroot from `RUSTC`, the toolchain
    // from `RUSTUP_TOOLCHAIN`, rustup from `PATH`.
    let dir = tempfile::tempdir().unwrap();
    let sysroot = dir.path().join("toolchains/my-toolchain");
    std::fs::create_dir_all(&sysroot).unwrap();
    let rustc = fake_rustc(dir.path(), &sysroot);
    fake_rustup(dir.path(), &sysroot, 0);
    let path = std::env::join_paths([dir.path()]).unwrap();

    let (found, status) =
        ensure_target_for(rustc.as_os_str(), Some("my-toolchain"), Some(path)).unwrap();

    assert_eq!(found, sysroot);
    assert_eq!(
        status,
        TargetStatus::Installed("rustup target add wasm32-wasip2 --toolchain my-toolchain".into())
    );
    let args = std::fs::read_to_string(dir.path().join("rustup.args")).unwrap();
    assert_eq!(
        args.trim(),
        "target add wasm32-wasip2 --toolchain my-toolchain"
    );
}

#[test]
fn a_rustup_that_installs_elsewhere_is_an_error() {
    // rustup succeeds, but for another toolchain than the running one.
    let dir = tempfile::tempdir().unwrap();
    let sysroot = dir.path().join("sysroot");
    let rustup = fake_rustup(dir.path(), &dir.path().join("another-sysroot"), 0);
    let error = ensure_target(&sysroot, None, Some(&rustup)).unwrap_err();
    assert!(error.contains("still has no wasm32-wasip2"), "{error}");
}

#[test]
fn an_installed_target_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(target_libdir(dir.path())).unwrap();
    // A rustup that would fail proves it is not called.
    let rustup = fake_rustup(dir.path(), &dir.path().join("elsewhere"), 1);
    assert_eq!(
        ensure_target(dir.path(), None, Some(&rustup)),
        Ok(TargetStatus::Present)
    );
    assert!(!dir.path().join("rustup.args").exists());
}

#[test]
fn without_rustup_the_build_fails_at_once_with_one_line_saying_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let empty_path = std::env::join_paths([dir.path()]).unwrap();
    let rustup = find_on_path("rustup", Some(empty_path));
    assert_eq!(rustup, None);

    let error = ensure_target(dir.path(), Some("stable"), rustup.as_deref()).unwrap_err();

    assert!(!error.contains('\n'), "one line: {error}");
    assert!(error.contains("rustup is not on PATH"), "{error}");
    assert!(
        error.contains("`rustup target add wasm32-wasip2`"),
        "{error}"
    );
    assert!(error.contains(&dir.path().display().to_string()), "{error}");
}

#[test]
fn a_failing_rustup_is_reported_with_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let sysroot = dir.path().join("sysroot");
    let rustup = fake_rustup(dir.path(), &sysroot, 3);
    let error = ensure_target(&sysroot, None, Some(&rustup)).unwrap_err();
    assert!(
        error.contains("`rustup target add wasm32-wasip2` failed"),
        "{error}"
    );
}
