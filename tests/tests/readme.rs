//! The README's "Write a plugin" works as written: its plugin is the
//! crate `tests/readme-plugin` (built by `tests/build.rs` like every
//! component here, its unit tests run by `cargo test --workspace`), and
//! its scenario passes against that component through the real host. Its
//! "Automations" shows the example file as it is.

use std::path::Path;

use automation_harness::scenario::{Scenario, run_scenario};
use integration_tests::load;

const README_PLUGIN_WASM: &str = env!("README_PLUGIN_WASM");

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The first fenced block of `language` in the README's "Write a plugin".
fn readme_block(language: &str) -> String {
    section_block("## Write a plugin", language)
}

/// The first fenced block of `language` in the README's section `heading`.
fn section_block(heading: &str, language: &str) -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme.find(heading).expect("the section exists");
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    let fence = format!("```{language}\n");
    let open = section.find(&fence).expect("the section has the block") + fence.len();
    let close = section[open..].find("```").expect("the block ends") + open;
    section[open..close].to_owned()
}

#[test]
fn the_readme_plugin_is_the_crate_the_tests_build() {
    let crate_source =
        std::fs::read_to_string(workspace().join("tests/readme-plugin/src/lib.rs")).unwrap();
    assert_eq!(
        readme_block("rust"),
        crate_source,
        "README.md's plugin and tests/readme-plugin/src/lib.rs must be the same"
    );
}

#[test]
fn the_readme_scenario_passes_against_the_readme_plugin() {
    let engine = automation_harness::default_engine().unwrap();
    let plugin = load(&engine, Path::new(README_PLUGIN_WASM));
    assert_eq!(plugin.catalog().id, "greeter");
    let scenario: Scenario = serde_json::from_str(&readme_block("json")).unwrap();
    let report = run_scenario(&plugin, &scenario);
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.steps.len(), 3);
}

/// The README's "Automations" shows an automation of
/// `automations/ops.json` as it is there, and the file loads against the
/// shipped plugins.
#[test]
fn the_readme_automation_is_the_example_files() {
    let shown: serde_json::Value =
        serde_json::from_str(&section_block("## Automations", "json")).unwrap();
    let file = workspace().join("automations/ops.json");
    let example: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let listed = example["automations"].as_array().unwrap();
    assert!(
        listed.contains(&shown),
        "README's automation is in ops.json"
    );
    let host = automation_harness::Harness::builder()
        .with_plugins(vec![
            integration_tests::plugin(),
            integration_tests::notifications_plugin(),
        ])
        .unwrap();
    let automations = automation_harness::Automations::load(&file, &host.catalogs()).unwrap();
    assert_eq!(automations.iter().count(), listed.len());
}
