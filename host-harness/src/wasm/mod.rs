//! The wasm adapter: everything that knows a plugin is a WebAssembly
//! component. It reads which contract version a component was built for
//! ([`version`]), links it against that version's generated bindings
//! (`bindings`, never seen outside this module) and adapter (`adapter`),
//! enforces the run limits ([`sandbox`]), caches compiled components
//! ([`cache`]) and runs instances for the run pipeline.

mod adapter;
mod bindings;
pub mod cache;
mod instance;
mod loader;
pub mod sandbox;
mod store;
pub mod version;

pub(crate) use instance::WasmGuest;
pub use instance::{InstanceMode, PluginInstance};
pub use loader::Plugin;
pub use sandbox::{EngineOptions, default_engine, engine};
