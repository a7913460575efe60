//! A notifications plugin for Checkstack automations, written only with
//! `plugin-sdk`: no WIT, no bindings, plain Rust over the SDK's host
//! traits.
//!
//! An automation queues a notification with `send` and records its
//! delivery with `mark_sent`; each notification is a `notification`
//! entity, so queueing fires `notifications.queued` and delivery fires
//! `notifications.sent`, both derived from the entity's changes.
//!
//! Storage keys:
//! - `notification/<id>`: the notification, body included.
//! - `dedupe/<key>`: the id of the notification queued under a dedupe key.
//!
//! Both are written inside the mutation that creates the notification, so
//! a failed run leaves neither behind.
//!
//! **Decisions.** A `send` whose dedupe key is taken returns the
//! notification queued under it (its artifact as it is now, `sent` once
//! delivered, and its id as the external id) and writes and fires nothing.
//! `mark_sent` declares no artifact type and returns no artifact, only the
//! notification's id as the external id; the `notifications.sent` event
//! carries the notification as delivered. Marking a notification that is
//! already sent succeeds and changes nothing. A `dedupeKey` of `null` is
//! refused, as the schema refuses it: leave the field out for none.

pub mod actions;
pub mod catalog;
pub mod notification;

use plugin_sdk::host::{Host, QueryHost};
use plugin_sdk::{
    ActionError, ActionSuccess, EntityChange, Plugin, PluginDefinition, QueryError, RunContext,
    TriggerEvent,
};
use serde_json::Value;

/// The notifications plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotificationsPlugin;

impl Plugin for NotificationsPlugin {
    fn catalog(&self) -> PluginDefinition {
        catalog::definitions()
    }

    fn run_action<H: Host>(
        &self,
        host: &H,
        action: &str,
        config: &Value,
        context: &RunContext,
    ) -> Result<ActionSuccess, ActionError> {
        actions::run_action(host, action, config, context)
    }

    fn derive(&self, change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
        notification::derive(change)
    }

    fn run_query<H: QueryHost>(
        &self,
        host: &H,
        query: &str,
        input: &Value,
    ) -> Result<Value, QueryError> {
        match query {
            catalog::QUERY_GET => notification::get(host, input),
            other => Err(QueryError::NotFound(format!("Unknown query: {other}"))),
        }
    }
}

plugin_sdk::export_plugin!(NotificationsPlugin);
