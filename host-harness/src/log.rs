//! `interface log`: a plugin's log lines become part of its run's outcome.

use crate::bindings::log::{Host, Level};
use crate::records::{LogLevel, LogLine};
use crate::state::{HostState, Session};

/// A run may log this much; past it, lines are dropped and one notice
/// says so, so a chatty plugin cannot exhaust the host's memory.
const MAX_LOG_BYTES: usize = 1 << 20;
const TRUNCATED: &str = "log truncated: the run logged more than 1 MiB";

impl Session {
    pub fn log(&mut self, level: LogLevel, message: String) {
        let Some(run) = self.run.as_mut() else {
            tracing::debug!(plugin = %self.catalog.id, "{message}");
            return;
        };
        if run.log_bytes > MAX_LOG_BYTES {
            return;
        }
        run.log_bytes += message.len();
        let line = if run.log_bytes > MAX_LOG_BYTES {
            LogLine {
                level: LogLevel::Warn,
                message: TRUNCATED.into(),
            }
        } else {
            LogLine { level, message }
        };
        run.logs.push(line);
    }
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.session.log(level, message);
        Ok(())
    }
}
