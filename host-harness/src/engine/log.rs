//! The run log: a plugin's log lines become part of its run's outcome.

use super::Session;
use crate::limits::MAX_LOG_BYTES;
use crate::records::{LogLevel, LogLine};

/// The notice that replaces the lines past [`MAX_LOG_BYTES`].
const TRUNCATED: &str = "log truncated: the run logged more than 1 MiB";

impl Session {
    /// Appends a line to the run's log; past [`MAX_LOG_BYTES`] lines are
    /// dropped and one notice says so, so a chatty plugin cannot exhaust
    /// the host's memory.
    pub(crate) fn log(&mut self, level: LogLevel, message: String) {
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
