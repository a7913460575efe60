//! The two actions: `send` and `mark_sent`.

use plugin_sdk::config::{self, Text};
use plugin_sdk::entity::mutate;
use plugin_sdk::host::Host;
use plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::catalog::{ACTION_MARK_SENT, ACTION_SEND};
use crate::notification::{
    self, ENTITY_KIND, Notification, NotificationState, Status, dedupe_index_key,
    find_by_dedupe_key, notification_key,
};

/// The longest channel, in characters.
pub const MAX_CHANNEL_CHARS: usize = 200;
/// The longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 500;
/// The longest body, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;
/// The longest dedupe key, in characters.
pub const MAX_DEDUPE_KEY_CHARS: usize = 200;

/// `send`'s config, version 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendConfig {
    /// Where the notification goes.
    pub channel: Text<1, MAX_CHANNEL_CHARS>,
    /// Its subject line.
    pub subject: Text<1, MAX_SUBJECT_CHARS>,
    /// Its text, empty when absent.
    #[serde(default)]
    pub body: Text<0, MAX_BODY_CHARS>,
    /// At most one notification is queued per dedupe key. Absent means
    /// none; `null` is refused, as the schema refuses it.
    #[serde(default, deserialize_with = "config::not_null")]
    pub dedupe_key: Option<Text<1, MAX_DEDUPE_KEY_CHARS>>,
}

/// `mark_sent`'s config, version 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MarkSentConfig {
    /// The notification that was delivered.
    pub notification_id: String,
}

/// Runs the action `action` (a local id).
pub fn run_action<H: Host>(
    host: &H,
    action: &str,
    config: &Value,
    context: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    match action {
        ACTION_SEND => send(host, config::parse(config)?, context),
        ACTION_MARK_SENT => mark_sent(host, config::parse(config)?, context),
        other => Err(ActionError::NotFound(format!("Unknown action: {other}"))),
    }
}

/// `send`'s success: the notification's id and its `message` artifact.
fn sent_message(notification: &Notification) -> ActionSuccess {
    ActionSuccess::new(notification.id.clone(), notification.message())
}

/// `mark_sent`'s success: the notification's id, and no artifact, since
/// the action declares no artifact type.
fn marked(id: String) -> ActionSuccess {
    ActionSuccess {
        external_id: Some(id),
        artifact: None,
    }
}

fn not_found(id: &str) -> ActionError {
    ActionError::NotFound(format!("Notification not found: {id}"))
}

/// Queues a notification, or returns the one already queued under the
/// config's dedupe key.
pub fn send<H: Host>(
    host: &H,
    config: SendConfig,
    context: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    let dedupe_key = config.dedupe_key.map(Text::into_string);
    if let Some(key) = &dedupe_key
        && let Some(existing) = find_by_dedupe_key(host, key)?
    {
        host.info(&format!(
            "Notification {} already exists for dedupe key {key}",
            existing.id
        ));
        return Ok(sent_message(&existing));
    }
    // The id is drawn before the mutation opens, so `prev` reads the
    // notification as absent.
    let id = host.new_id();
    let key = notification_key(&id).ok_or_else(|| {
        ActionError::Internal(format!(
            "the host handed out an id too long for a key: {id}"
        ))
    })?;
    let notification = Notification {
        id: id.clone(),
        channel: config.channel.into_string(),
        subject: config.subject.into_string(),
        body: config.body.into_string(),
        status: Status::Queued,
        dedupe_key,
        queued_at: host.now(),
        sent_at: None,
    };
    mutate(
        host,
        ENTITY_KIND,
        &id,
        &context.mutation_options(),
        |prev: Option<NotificationState>| {
            if prev.is_some() {
                return Err(ActionError::Internal(format!(
                    "the host handed out id {id}, which a notification already has"
                )));
            }
            host.set_json(&key, &notification)?;
            if let Some(dedupe_key) = &notification.dedupe_key {
                host.set(&dedupe_index_key(dedupe_key), id.as_bytes())?;
            }
            Ok(Some(notification.state()))
        },
    )?;
    host.info(&format!(
        "Queued notification {id} to {}",
        notification.channel
    ));
    Ok(sent_message(&notification))
}

/// Records that a notification was delivered.
pub fn mark_sent<H: Host>(
    host: &H,
    config: MarkSentConfig,
    context: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    let id = config.notification_id;
    // Probing first keeps a missing notification a clean failure that
    // opens no mutation at all.
    let existing = notification::load(host, &id)?.ok_or_else(|| not_found(&id))?;
    if existing.status == Status::Sent {
        host.info(&format!("Notification {id} was already sent"));
        return Ok(marked(id));
    }
    let key = notification_key(&id).ok_or_else(|| not_found(&id))?;
    mutate(
        host,
        ENTITY_KIND,
        &id,
        &context.mutation_options(),
        |_prev: Option<NotificationState>| {
            let sent = Notification {
                status: Status::Sent,
                sent_at: Some(host.now()),
                ..existing
            };
            host.set_json(&key, &sent)?;
            Ok::<_, ActionError>(Some(sent.state()))
        },
    )?;
    host.info(&format!("Marked notification {id} as sent"));
    Ok(marked(id))
}

#[cfg(test)]
mod tests;
