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
    #[error("the design does not fit {device}: it needs {need} {what}, the device has {has}")]
    DoesNotFit {
        device: String,
        what: String,
        need: u64,
        has: u64,
    },
    #[error("{tool} not found on PATH: {install}")]
    NotInstalled { tool: String, install: String },
    #[error("{what} failed{}:\n{log}", log_path.as_ref().map_or(String::new(), |p| format!(" (full log: {})", p.display())))]
    Failed {
        what: String,
        /// The last lines of the tool's output.
        log: String,
        /// Where the whole output was saved, when the tool ran in a folder of ours.
        log_path: Option<std::path::PathBuf>,
    },
    #[error("{tool} {found} is too old: Spikeforge needs {need} or newer ({why}; install a newer {tool})")]
    TooOld {
        tool: String,
        found: String,
        need: String,
        why: String,
    },
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
    check_version(&cmd.get_program().to_string_lossy())?;
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
        // The whole output beside the tool's files, named after the step.
        let log_path = cmd.get_current_dir().and_then(|d| {
            let name: String = what
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let p = d.join(format!("{name}.log"));
            std::fs::write(&p, &log).ok().map(|_| p)
        });
        return Err(ToolError::Failed {
            what: what.to_string(),
            log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            log_path,
        });
    }
    Ok(log)
}

/// The oldest versions Spikeforge works with, and why: (tool, version flag, minimum, reason).
const MINIMUM: [(&str, &str, (u32, u32), &str); 2] = [
    (
        "verilator",
        "--version",
        (4, 210),
        "the cosim harness reads signals through the model's `rootp`",
    ),
    (
        "yosys",
        "-V",
        (0, 10),
        "the flows use `synth_xilinx -family` and `check -assert`",
    ),
];

/// The `major.minor` of a version line such as `Verilator 5.006 2023-01-22` or
/// `Yosys 0.23 (git sha1 ...)`.
pub fn parse_version(line: &str) -> Option<(u32, u32)> {
    let word = line.split_whitespace().nth(1)?;
    let mut parts = word.trim_start_matches('v').split(['.', '+', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn version_text(tool: &str, (major, minor): (u32, u32)) -> String {
    if tool == "verilator" {
        format!("{major}.{minor:03}")
    } else {
        format!("{major}.{minor}")
    }
}

/// Errs when `program` is Verilator or Yosys older than Spikeforge needs. Each tool is asked
/// once per process; a version line that cannot be read is let through (the run itself will
/// say what is wrong).
fn check_version(program: &str) -> Result<(), ToolError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    /// Per program: its `major.minor`, if its banner could be read.
    type Versions = HashMap<String, Option<(u32, u32)>>;
    static SEEN: OnceLock<Mutex<Versions>> = OnceLock::new();
    let base = std::path::Path::new(program)
        .file_name()
        .map_or(program.to_string(), |f| f.to_string_lossy().to_string());
    let Some(&(tool, flag, need, why)) = MINIMUM.iter().find(|m| m.0 == base) else {
        return Ok(());
    };
    let found = {
        let mut seen = SEEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *seen.entry(program.to_string()).or_insert_with(|| {
            let out = Command::new(program)
                .arg(flag)
                .stdin(Stdio::null())
                .output();
            out.ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.lines().next().and_then(parse_version))
        })
    };
    match found {
        Some(v) if v < need => Err(ToolError::TooOld {
            tool: tool.to_string(),
            // Each tool's own spelling: Verilator 4.038, Yosys 0.9.
            found: version_text(tool, v),
            need: version_text(tool, need),
            why: why.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_tools_banners() {
        assert_eq!(
            parse_version("Verilator 5.006 2023-01-22 rev (Debian 5.006-3)"),
            Some((5, 6))
        );
        assert_eq!(parse_version("Verilator 4.038 2020-07-11"), Some((4, 38)));
        assert_eq!(
            parse_version("Yosys 0.23 (git sha1 7ce5011c24b)"),
            Some((0, 23))
        );
        assert_eq!(
            parse_version("Yosys 0.9+4081 (git sha1 862e84eb)"),
            Some((0, 9))
        );
        assert_eq!(parse_version("garbage"), None);
        // 4.038 < 4.210: minor versions compare as numbers, not decimals.
        assert!(parse_version("Verilator 4.038").unwrap() < (4, 210));
        assert!(parse_version("Verilator 5.006").unwrap() > (4, 210));
    }

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
