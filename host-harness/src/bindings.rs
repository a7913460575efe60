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
    // Calls into the guest are futures, so the host can bound each one by
    // the run's deadline even while the guest waits inside a WASI host
    // call, where epoch interruption never looks (see `limits::bounded`).
    exports: { default: async },
});

pub use checkstack::automation::{entity, log, storage, types};
pub use exports::checkstack::automation::plugin;
