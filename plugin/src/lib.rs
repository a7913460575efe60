//! The Checkstack maintenance plugin: maintenance windows for systems,
//! written as plain Rust over the host traits in [`host`] and compiled to a
//! WebAssembly component whose glue lives in `component.rs`.
//!
//! The behaviour is specified in `shared/spec/maintenance.md`.

pub mod actions;
pub mod catalog;
pub mod config;
pub mod entity;
pub mod host;
pub mod jobs;
pub mod model;
pub mod service;

#[cfg(target_family = "wasm")]
mod component;

#[cfg(test)]
mod testing;
