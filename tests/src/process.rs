//! Child processes of the harness: started with their output in a log file, waited on by
//! signals (a line printed, a port that answers), stopped with SIGTERM or SIGKILL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running child whose stderr (and stdout after the ready line) goes to a log file.
pub struct Process {
    pub name: String,
    child: Child,
    pub log_path: PathBuf,
}

impl Process {
    /// Spawns `command`, and returns once it prints a stdout line that starts with
    /// `ready_prefix`, with the rest of that line.
    pub async fn spawn_until_line(
        name: &str,
        mut command: Command,
        log_path: &Path,
        ready_prefix: &str,
    ) -> Result<(Process, String), String> {
        let log = std::fs::File::create(log_path).map_err(|e| format!("{name}: log file: {e}"))?;
        command
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("{name}: no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let wait = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix(ready_prefix) {
                    return Some(rest.trim().to_owned());
                }
            }
            None
        };
        let rest = match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(Some(rest)) => rest,
            _ => {
                let _ = child.start_kill();
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                return Err(format!("{name} did not become ready; its log:\n{log}"));
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((
            Process {
                name: name.to_owned(),
                child,
                log_path: log_path.to_path_buf(),
            },
            rest,
        ))
    }

    /// Spawns `command` with stdout and stderr in the log file.
    pub fn spawn(name: &str, mut command: Command, log_path: &Path) -> Result<Process, String> {
        let log = std::fs::File::create(log_path).map_err(|e| format!("{name}: log file: {e}"))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("{name}: log file: {e}"))?;
        command.stdout(log).stderr(log2).kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Process {
            name: name.to_owned(),
            child,
            log_path: log_path.to_path_buf(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the child has exited (without waiting).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .args([format!("-{signal}"), pid.to_string()])
                .status();
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within ten seconds.
    pub async fn stop(mut self) {
        self.signal("TERM");
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Polls `probe` until it answers true, for at most `limit`.
pub async fn wait_for<F, Fut>(limit: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if probe().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
