//! The library's layers point one way, and nothing outside the wasm
//! adapter sees the generated WIT bindings.
//!
//! The check reads the sources: every `crate::…` and `super::…` path in a
//! module is an edge to the module it names (the longest module path that
//! exists). A parent's `mod` and `pub use child::…` lines are structure,
//! not edges. Modules name the module they use, never a root re-export
//! (`crate::Harness`), so every edge is visible.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top-level module by top-level module: a module may use its
/// own layer's modules and those of lower layers, never a higher one.
const LAYERS: &[(&str, u32)] = &[
    ("records", 0),
    ("clock", 0),
    ("schema", 0),
    ("limits", 0),
    ("masking", 0),
    ("template", 0),
    ("backend", 1),
    ("catalog", 2),
    ("engine", 3),
    ("run", 4),
    ("wasm", 5),
    ("native", 5),
    ("automation", 5),
    ("harness", 6),
    ("plugin_host", 6),
    ("dispatcher", 6),
    ("scheduler", 6),
    ("scenario", 6),
];

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library module by its path (`wasm::loader`), with its source.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if path.is_dir() {
                if name == "bin" && prefix.is_empty() {
                    continue;
                }
                let mut inner = prefix.to_vec();
                inner.push(name);
                walk(&path, &inner, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let mut segments = prefix.to_vec();
                if name != "mod" && name != "lib" {
                    segments.push(name);
                }
                let source = std::fs::read_to_string(&path).unwrap();
                // A file's unit tests come last (clippy's
                // `items_after_test_module`) and are not part of its layer.
                let code = match source.find("#[cfg(test)]") {
                    Some(at) => source[..at].to_owned(),
                    None => source,
                };
                out.insert(segments.join("::"), code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&source_dir(), &[], &mut out);
    out
}

/// The paths (`crate::a::b`, `super::a`) a source names, outside
/// comments; a group (`crate::{a::X, b::Y}`, one level) names each of its
/// members.
fn named_paths(source: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    for start in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(start) {
            let preceded_by_ident = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let path: String = rest[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let after = &rest[at + path.len()..];
            if !preceded_by_ident {
                if path.ends_with("::") && after.starts_with('{') {
                    let group = &after[1..after.find('}').unwrap_or(after.len())];
                    assert!(!group.contains('{'), "nested group after {path}");
                    for member in group.split(',') {
                        let member = member.trim().split(" as ").next().unwrap_or_default();
                        if !member.is_empty() && member != "self" {
                            paths.push(format!("{path}{member}"));
                        }
                    }
                } else {
                    paths.push(path.trim_end_matches(':').to_owned());
                }
            }
            rest = &rest[at + start.len()..];
        }
    }
    paths
}

/// The module a path from `module` names: the longest existing module.
fn resolve(module: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = path.split("::").peekable();
    let mut base: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    match parts.next() {
        Some("crate") => base.clear(),
        Some("super") => {
            base.pop();
            while parts.peek() == Some(&"super") {
                parts.next();
                base.pop();
            }
        }
        _ => return None,
    }
    segments.extend(base);
    // `super::{A, B}` names the parent itself.
    let mut best = Some(segments.join("::")).filter(|m| !m.is_empty() && known.contains(m));
    for part in parts {
        segments.push(part);
        let candidate = segments.join("::");
        if known.contains(&candidate) {
            best = Some(candidate);
        }
    }
    best
}

/// Module -> the modules it uses.
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    edges_and_unresolved().0
}

/// [`edges`], and every path that names no module (`module: path`).
fn edges_and_unresolved() -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut unresolved = Vec::new();
    let edges = modules
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, source)| {
            let used = named_paths(source)
                .iter()
                .filter_map(|path| {
                    let target = resolve(name, path, &known);
                    if target.is_none() {
                        unresolved.push(format!("{name}: {path}"));
                    }
                    target
                })
                .filter(|used| used != name)
                .collect();
            (name.clone(), used)
        })
        .collect();
    (edges, unresolved)
}

/// The names the crate root re-exports (`pub use a::{B, c}` gives `B`
/// and `c`), which modules must not use in place of the real path.
fn root_re_exports() -> BTreeSet<String> {
    let lib = &modules()[""];
    let mut names = BTreeSet::new();
    for statement in lib.split("pub use ").skip(1) {
        let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
        let members = match statement.find('{') {
            Some(open) => statement[open + 1..].trim_end_matches('}'),
            None => statement,
        };
        for member in members.split(',') {
            let member = member.trim().rsplit(" as ").next().unwrap_or_default();
            let member = member.rsplit("::").next().unwrap_or_default().trim();
            if !member.is_empty() {
                names.insert(member.to_owned());
            }
        }
    }
    names
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

#[test]
fn every_path_names_a_module() {
    // A path the reader cannot place would be an edge it cannot check.
    let (_, unresolved) = edges_and_unresolved();
    assert!(
        unresolved.is_empty(),
        "paths naming no module: {unresolved:#?}"
    );
}

#[test]
fn the_source_reader_sees_edges() {
    // The check below is only as good as the reader: it must find the
    // edges it is meant to forbid.
    let edges = edges();
    assert!(edges["harness"].contains("run::pipeline"), "{edges:?}");
    assert!(edges["wasm::adapter"].contains("wasm::bindings"));
    assert!(edges["engine::entity"].contains("engine"));
    assert!(edges["run::pipeline"].contains("engine"));
    assert_eq!(
        named_paths("use crate::{engine::Session, run::Guest as G};\nuse crate::wasm::Plugin;"),
        [
            "crate::engine::Session",
            "crate::run::Guest",
            "crate::wasm::Plugin"
        ],
        "groups are read member by member"
    );
    assert!(root_re_exports().contains("Harness") && root_re_exports().contains("cache"));
    // A `super::` inside an inline module would be read from the file's
    // module; inline modules use `crate::` paths instead.
    for (module, source) in modules() {
        assert!(
            !source.contains("super::super::"),
            "{module}: use a crate:: path in an inline module"
        );
    }
}

#[test]
fn every_module_has_a_layer() {
    let layers: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    for module in edges().keys() {
        assert!(
            layers.contains_key(top(module)),
            "module {module} has no layer in LAYERS"
        );
    }
}

#[test]
fn layers_point_one_way() {
    let layers: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut upward = Vec::new();
    for (module, used) in edges() {
        for target in used {
            if layers[top(&target)] > layers[top(&module)] {
                upward.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(upward.is_empty(), "edges to a higher layer: {upward:#?}");
}

#[test]
fn there_is_no_import_cycle() {
    let edges = edges();
    // Depth-first search with colours; a grey target is a back edge.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        colour.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            match colour.get(next.as_str()).copied().unwrap_or(0) {
                0 => visit(next, edges, colour, stack, cycles),
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    cycles.push(format!("{} -> {next}", stack[from..].join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(node.to_owned(), 2);
    }
    let mut colour = BTreeMap::new();
    let mut cycles = Vec::new();
    for node in edges.keys() {
        if !colour.contains_key(node) {
            visit(node, &edges, &mut colour, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn generated_bindings_stay_in_the_wasm_adapter() {
    for (module, used) in edges() {
        if used.contains("wasm::bindings") {
            assert!(
                module == "wasm::adapter" || module == "wasm::loader",
                "{module} uses the generated bindings"
            );
        }
    }
    let modules = modules();
    assert!(
        modules["wasm"].contains("\nmod bindings;"),
        "the bindings module is private"
    );
    for (module, source) in &modules {
        if module == "wasm::bindings" {
            continue;
        }
        for line in source.lines() {
            let line = line.trim();
            assert!(
                !(line.starts_with("pub") && line.contains("bindings")),
                "{module} makes generated bindings visible: {line}"
            );
        }
    }
}

#[test]
fn modules_name_what_they_use_not_root_re_exports() {
    let re_exported = root_re_exports();
    let module_names: BTreeSet<String> = modules().keys().cloned().collect();
    for (module, source) in modules() {
        for path in named_paths(&source) {
            let Some(first) = path.strip_prefix("crate::") else {
                continue;
            };
            let first = first.split("::").next().unwrap_or_default();
            assert!(
                module_names.contains(first) || !re_exported.contains(first),
                "{module} names {path}, a root re-export: name the module it lives in"
            );
        }
    }
}
