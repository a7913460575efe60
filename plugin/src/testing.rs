//! The SDK's test host set up for this plugin's unit tests. The real host
//! is exercised by the integration tests in `tests/`.

use plugin_sdk::testing::TestHost;
use serde_json::Value;

use crate::MaintenancePlugin;
use crate::model::Instant;

/// A host that knows the `maintenance` kind and, standing in for its state
/// schema, checks the part of a state a plugin bug could get wrong: the
/// instants, which must be stored exactly as printed.
pub fn fake_host() -> TestHost {
    TestHost::for_plugin(&MaintenancePlugin).with_state_check(|_, state| instants_problems(state))
}

/// [`fake_host`] that also takes storage writes outside a mutation, for
/// the service's tests, which sit below the entity protocol.
pub fn storage_host() -> TestHost {
    fake_host().with_writes_outside_mutations()
}

fn instants_problems(state: &Value) -> Vec<String> {
    ["startAt", "endAt"]
        .into_iter()
        .filter(|field| {
            let text = state[*field].as_str().unwrap_or_default();
            Instant::parse(text).map(|i| i.to_string()).as_deref() != Some(text)
        })
        .map(|field| format!("/{field}: {}", state[field]))
        .collect()
}
