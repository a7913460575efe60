//! The Checkstack maintenance plugin: maintenance windows for systems,
//! written as plain Rust over the SDK's host traits
//! ([`plugin_sdk::host`]) and exported as a WebAssembly component by
//! `plugin_sdk::export_plugin!` in `component.rs`.
//!
//! The behaviour is specified in `shared/spec/maintenance.md`.

pub mod actions;
pub mod catalog;
pub mod config;
pub mod entity;
pub mod jobs;
pub mod model;
pub mod queries;
pub mod service;

mod component;

pub use component::MaintenancePlugin;

#[cfg(test)]
mod testing;
