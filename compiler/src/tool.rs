//! Running external tools (Verilator, Yosys) with errors a user can act on.

use std::process::Command;

/// An external tool was missing, failed, or its files could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run {tool}: {message} (install it, e.g. `apt-get install -y {tool}`)")]
    Missing { tool: String, message: String },
    #[error("{what} failed:\n{log}")]
    Failed { what: String, log: String },
    #[error("{0}")]
    Io(String),
}

/// Runs `cmd`; on failure returns the last 40 lines of its output.
pub fn run(cmd: &mut Command, what: &str) -> Result<String, ToolError> {
    let tool = cmd.get_program().to_string_lossy().to_string();
    let out = cmd.output().map_err(|e| ToolError::Missing {
        tool: tool.clone(),
        message: e.to_string(),
    })?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        return Err(ToolError::Failed {
            what: what.to_string(),
            log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(log)
}
