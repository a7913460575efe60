//! Released contract versions are frozen: `wit/README.md` says their
//! files are kept verbatim and never edited, not even their comments,
//! because components in the wild were built against them. Each file's
//! BLAKE3 digest is pinned here; a digest that changes means a frozen
//! file was edited.

use std::path::Path;

/// `(file, digest)` of every frozen file, relative to the workspace.
const FROZEN: &[(&str, &str)] = &[
    (
        "wit/since_v0.2.0/entity.wit",
        "e4e2f9e81c9b5306a2a3f2e281994a6a34f1a843c431be6bbb79e12f32463b1e",
    ),
    (
        "wit/since_v0.2.0/log.wit",
        "0b5c50b9666c73c37249e81c45c5b7b5010ba2008002a206704c13c4c49e4b03",
    ),
    (
        "wit/since_v0.2.0/plugin.wit",
        "8f666fd979130e526f02d0f0cabb3b426e8831383d2f173f8542f025c67da264",
    ),
    (
        "wit/since_v0.2.0/storage.wit",
        "9592803f0ff0a988c76d3a6f2e8fb4af1f7f25b7f76c731efb9d4b1385231243",
    ),
    (
        "wit/since_v0.2.0/types.wit",
        "7f787406d9707b51a8538398b83d97d1b4eae7d72bafb3532916da38fd66185b",
    ),
    (
        "wit/since_v0.2.0/world.wit",
        "22523c3bdf6c53e4cf5a79804e1fabfa4d1b59727136fb05a2402ef032540ed8",
    ),
    (
        "tests/contract-fixture/wit-0.1.0/entity.wit",
        "3643b9adc7e15b509e3be0f85ac03cf0dfa1957318a77a4fc7f423dd13e719a2",
    ),
    (
        "tests/contract-fixture/wit-0.1.0/log.wit",
        "ce90e76c63b45f5f434e2d4bd323d915360ef3d393ab3c13b1cc717e82ea62b7",
    ),
    (
        "tests/contract-fixture/wit-0.1.0/plugin.wit",
        "b5a422401ba7dd600966d6e6e951022c2c69ce7186579c5dd155fa1ff96692f0",
    ),
    (
        "tests/contract-fixture/wit-0.1.0/storage.wit",
        "807c6bc0d484f0d064aca9125633eee58b51b65599860f3c922e8de3cecbe365",
    ),
    (
        "tests/contract-fixture/wit-0.1.0/types.wit",
        "956deb6c2125e31e96cba16f5f36f8b40289e3d25b1df6b42aac64529bd36be0",
    ),
    (
        "tests/contract-fixture/wit-0.1.0/world.wit",
        "aa9572a84e2b8f517d6920782c0de285245914d6e022677516dfee65a5cffd2b",
    ),
    (
        "tests/contract-fixture/wit-0.3.0/entity.wit",
        "12384df4838e2e8861f3807becb058e834880112e4a9733ef2c361ffa4c8a719",
    ),
    (
        "tests/contract-fixture/wit-0.3.0/log.wit",
        "82ef8560970ed89b968c5d79578de61f6f9387312c31531043e66c664647722d",
    ),
    (
        "tests/contract-fixture/wit-0.3.0/plugin.wit",
        "2141c22f71360e977a44092144a8a0a5dad67e724b2641c156de5d9e778ecd86",
    ),
    (
        "tests/contract-fixture/wit-0.3.0/storage.wit",
        "88e1cb05e83b139b631644a99e46b62f019711d370a7224f9c962ed8ca5d8f99",
    ),
    (
        "tests/contract-fixture/wit-0.3.0/types.wit",
        "3e1c8e22f5a05ffb5fabb5d436db070abf3bc685044720c68a1effec719f1146",
    ),
    (
        "tests/contract-fixture/wit-0.3.0/world.wit",
        "d2f5511f7ed3997b309a6cb2db389edafcb9dc9df762897e3f79335c4a5abaf9",
    ),
];

fn digest(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap())
        .to_hex()
        .to_string()
}

#[test]
fn frozen_contract_files_are_unchanged() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for folder in [
        "wit/since_v0.2.0",
        "tests/contract-fixture/wit-0.1.0",
        "tests/contract-fixture/wit-0.3.0",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(workspace.join(folder))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let relative = file.strip_prefix(&workspace).unwrap().display().to_string();
            found.push((relative, digest(&file)));
        }
    }
    let pinned: Vec<(String, String)> = FROZEN
        .iter()
        .map(|(file, digest)| ((*file).to_owned(), (*digest).to_owned()))
        .collect();
    assert_eq!(
        found, pinned,
        "a frozen contract file was added, removed or edited; released versions are never edited (wit/README.md)"
    );
}
