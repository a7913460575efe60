//! Host bindings generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "automation-plugin",
    with: {
        "checkstack:automation/entity.mutation": crate::entity::MutationState,
    },
    // Host functions may trap: a broken resource handle or a store failure
    // the plugin must not paper over ends the run.
    imports: { default: trappable },
});

pub use checkstack::automation::{entity, log, storage, types};
pub use exports::checkstack::automation::plugin;
