//! Host bindings, one module per contract version the host serves, each
//! generated from that version's WIT: the current package in `wit/` and
//! the frozen ones in `wit/since_vX.Y.Z/`. Nothing outside the wasm
//! adapter sees these types.

/// `checkstack:automation@0.3.1`, the current contract (`wit/`), in its
/// world with queries: a component without the `queries` export still
/// links, its plugin export looked up alone (see `adapter::Pre::link`).
pub(crate) mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "queryable-plugin",
        with: {
            "checkstack:automation/entity.mutation": crate::engine::MutationState,
        },
        // Host functions may trap: a broken resource handle or a store
        // failure the plugin must not paper over ends the run.
        imports: { default: trappable },
        // Calls into the guest are futures, so the host can bound each one
        // by the run's deadline even while the guest waits inside a WASI
        // host call, where epoch interruption never looks (see
        // `sandbox::bounded`).
        exports: { default: async },
    });
}

/// `checkstack:automation@0.2.0`, frozen in `wit/since_v0.2.0/`.
pub(crate) mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "automation-plugin",
        with: {
            "checkstack:automation/entity.mutation": crate::engine::MutationState,
        },
        imports: { default: trappable },
        exports: { default: async },
    });
}
