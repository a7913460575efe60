//! The compiled-component cache: a second load skips compilation, and a
//! corrupt or foreign entry is compiled again, never trusted.

use std::path::Path;

use automation_harness::Plugin;
use automation_harness::cache::{CacheOutcome, ComponentCache};

fn plugin_path() -> &'static Path {
    Path::new(env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN"))
}

#[test]
fn a_second_load_comes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(dir.path());
    let engine = automation_harness::default_engine().unwrap();
    let (_, first) = Plugin::load_cached(&engine, plugin_path(), &cache).unwrap();
    assert_eq!(first, CacheOutcome::Miss);
    let (plugin, second) = Plugin::load_cached(&engine, plugin_path(), &cache).unwrap();
    assert_eq!(second, CacheOutcome::Hit);
    assert_eq!(plugin.catalog().id, "maintenance");
}

#[test]
fn corrupt_entries_are_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(dir.path());
    let engine = automation_harness::default_engine().unwrap();
    Plugin::load_cached(&engine, plugin_path(), &cache).unwrap();
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|file| file.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .expect("a compiled entry");
    let digest = entry.with_extension("cwasm.blake3");
    assert!(digest.exists(), "the entry's digest is stored next to it");

    // A flipped byte in the middle, then a truncated entry.
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let (_, outcome) = Plugin::load_cached(&engine, plugin_path(), &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Replaced);
    assert_eq!(
        Plugin::load_cached(&engine, plugin_path(), &cache)
            .unwrap()
            .1,
        CacheOutcome::Hit
    );

    std::fs::write(&entry, &bytes[..100]).unwrap();
    let (plugin, outcome) = Plugin::load_cached(&engine, plugin_path(), &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Replaced);
    assert_eq!(plugin.catalog().version, "1.3.1");

    // A lost or wrong digest: the entry is not trusted either.
    std::fs::remove_file(&digest).unwrap();
    let (_, outcome) = Plugin::load_cached(&engine, plugin_path(), &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Replaced);
    std::fs::write(&digest, [0u8; 32]).unwrap();
    let (_, outcome) = Plugin::load_cached(&engine, plugin_path(), &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Replaced);
    assert_eq!(
        Plugin::load_cached(&engine, plugin_path(), &cache)
            .unwrap()
            .1,
        CacheOutcome::Hit
    );
}

#[test]
fn another_engine_configuration_does_not_share_entries() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(dir.path());
    let plain = automation_harness::default_engine().unwrap();
    let metered = automation_harness::wasm::engine(automation_harness::EngineOptions {
        fuel: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        Plugin::load_cached(&plain, plugin_path(), &cache)
            .unwrap()
            .1,
        CacheOutcome::Miss
    );
    assert_eq!(
        Plugin::load_cached(&metered, plugin_path(), &cache)
            .unwrap()
            .1,
        CacheOutcome::Miss
    );
    assert_eq!(
        Plugin::load_cached(&metered, plugin_path(), &cache)
            .unwrap()
            .1,
        CacheOutcome::Hit
    );
}
