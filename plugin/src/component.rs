//! The plugin as the SDK sees it; `export_plugin!` makes it the
//! component's `plugin` export. No logic lives here.

use plugin_sdk::host::{Host, QueryHost};
use plugin_sdk::{
    ActionError, ActionSuccess, EntityChange, JobContext, Plugin, PluginDefinition, QueryError,
    RunContext, TriggerEvent,
};
use serde_json::Value;

use crate::{actions, catalog, entity, jobs, queries};

/// The maintenance plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct MaintenancePlugin;

impl Plugin for MaintenancePlugin {
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

    fn run_job<H: Host>(
        &self,
        host: &H,
        job: &str,
        context: &JobContext,
    ) -> Result<(), ActionError> {
        jobs::run_job(host, job, context)
    }

    fn derive(&self, change: &EntityChange) -> Result<Vec<TriggerEvent>, String> {
        entity::derive(change)
    }

    fn run_query<H: QueryHost>(
        &self,
        host: &H,
        query: &str,
        input: &Value,
    ) -> Result<Value, QueryError> {
        queries::run_query(host, query, input)
    }
}

plugin_sdk::export_plugin!(MaintenancePlugin);
