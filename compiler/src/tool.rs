//! Running external tools (Verilator, Yosys) with errors a user can act on.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// An external tool was missing, failed, ran too long, or its files could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run {tool}: {message} (install it, e.g. `apt-get install -y {tool}`)")]
    Missing { tool: String, message: String },
    #[error("{what} failed:\n{log}")]
    Failed { what: String, log: String },
    #[error("{what} did not finish within {seconds} s and was stopped (raise --timeout)")]
    Timeout { what: String, seconds: u64 },
    #[error("{0}")]
    Io(String),
}

/// The longest any one tool run may take, in seconds (0: no limit).
static TIMEOUT_SECONDS: AtomicU64 = AtomicU64::new(0);

/// Limits every later tool run of this process to `limit` (`None`: no limit).
pub fn set_timeout(limit: Option<Duration>) {
    TIMEOUT_SECONDS.store(limit.map_or(0, |d| d.as_secs().max(1)), Ordering::Relaxed);
}

/// Runs `cmd` under the process-wide limit ([`set_timeout`]); on failure returns the last 40
/// lines of its output.
pub fn run(cmd: &mut Command, what: &str) -> Result<String, ToolError> {
    let limit = match TIMEOUT_SECONDS.load(Ordering::Relaxed) {
        0 => None,
        s => Some(Duration::from_secs(s)),
    };
    run_within(cmd, what, limit)
}

/// [`run`] with an explicit limit.
pub fn run_within(
    cmd: &mut Command,
    what: &str,
    limit: Option<Duration>,
) -> Result<String, ToolError> {
    let tool = cmd.get_program().to_string_lossy().to_string();
    // Its own process group, so a timeout stops the tool's children (make, the compiler) too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ToolError::Missing {
            tool: tool.clone(),
            message: e.to_string(),
        })?;
    // Drain both pipes on their own threads, so a chatty tool never blocks on a full pipe.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child
            .try_wait()
            .map_err(|e| ToolError::Io(format!("{what}: {e}")))?
        {
            Some(status) => break status,
            None if limit.is_some_and(|l| start.elapsed() >= l) => {
                #[cfg(unix)]
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError::Timeout {
                    what: what.to_string(),
                    seconds: limit.map_or(0, |l| l.as_secs()),
                });
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.join().unwrap_or_default()),
        String::from_utf8_lossy(&err.join().unwrap_or_default())
    );
    if !status.success() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        return Err(ToolError::Failed {
            what: what.to_string(),
            log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_over_its_limit_is_stopped_with_a_clear_error() {
        let t0 = Instant::now();
        let e = run_within(
            Command::new("sleep").arg("30"),
            "a slow tool",
            Some(Duration::from_secs(1)),
        )
        .unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        assert!(matches!(e, ToolError::Timeout { .. }));
        assert!(
            e.to_string()
                .contains("a slow tool did not finish within 1 s"),
            "{e}"
        );
    }

    #[test]
    fn missing_and_failing_tools_say_what_to_do() {
        let e = run_within(&mut Command::new("no-such-tool-xyz"), "x", None).unwrap_err();
        assert!(
            e.to_string()
                .contains("apt-get install -y no-such-tool-xyz"),
            "{e}"
        );
        let e = run_within(
            Command::new("sh").args(["-c", "echo first; echo oops >&2; exit 3"]),
            "a failing tool",
            None,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("a failing tool failed") && text.contains("oops"),
            "{text}"
        );
        let ok = run_within(Command::new("sh").args(["-c", "echo fine"]), "ok", None).unwrap();
        assert_eq!(ok.trim(), "fine");
    }
}
