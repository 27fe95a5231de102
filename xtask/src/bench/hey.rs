//! The load generator: `hey`, from the distribution's packages, driving every setup the same
//! way. Fixed concurrency for throughput; a rate per worker (`-q`) for latency, which hey
//! paces with one ticker per worker, so a fixed total rate is only approximated (the workers'
//! ticks fall together, and a worker whose call outlasts its tick skips that tick).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian package, and the binary it installs.
const PACKAGE: &str = "hey";

/// Finds `hey`, installing it with apt-get when it is missing and this is root.
pub fn ensure() -> Result<PathBuf, String> {
    if let Some(found) = on_path(PACKAGE) {
        return Ok(found);
    }
    let how = "install the Debian/Ubuntu package `hey` (`apt-get install hey`, as root)";
    if on_path("apt-get").is_none() {
        return Err(format!(
            "the load generator `hey` is missing and there is no apt-get here; {how}, or put \
             a `hey` binary on PATH"
        ));
    }
    if !is_root() {
        return Err(format!(
            "the load generator `hey` is missing and installing it needs root; {how}"
        ));
    }
    eprintln!("installing the load generator `{PACKAGE}` with apt-get");
    if !apt_get(&["install", "-y", "-q", PACKAGE]) {
        // A fresh machine may not have read the package lists yet.
        let updated = apt_get(&["update", "-q"]);
        if !updated || !apt_get(&["install", "-y", "-q", PACKAGE]) {
            return Err(format!(
                "`apt-get install -y {PACKAGE}` failed (see its output above); {how}"
            ));
        }
    }
    on_path(PACKAGE).ok_or_else(|| format!("apt-get installed `{PACKAGE}` but it is not on PATH"))
}

/// Runs apt-get with its output on stderr, so stdout keeps only the benchmark's report.
fn apt_get(args: &[&str]) -> bool {
    Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(std::io::stderr())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// One run of hey against one URL.
pub struct Load<'a> {
    pub hey: &'a Path,
    pub url: String,
    pub method: &'a str,
    /// Headers as `name: value`, content type included.
    pub headers: Vec<String>,
    pub body_file: Option<&'a Path>,
    /// Workers, each with one connection kept alive.
    pub workers: usize,
    /// Calls per second per worker; `None` sends as fast as answers come.
    pub rate_per_worker: Option<u32>,
    pub seconds: u64,
}

/// What one run saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Answers with status 200.
    pub ok: u64,
    /// Answers with another status, and calls that got no answer.
    pub failed: u64,
    /// Wall time of the run as hey counts it.
    pub seconds: f64,
    /// Latency percentiles of answered calls, milliseconds; hey reports them to 0.1 ms.
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Run {
    /// Successful calls per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Runs hey and reads its summary.
pub async fn run(load: &Load<'_>) -> Result<Run, String> {
    let mut command = tokio::process::Command::new(load.hey);
    command
        .arg("-z")
        .arg(format!("{}s", load.seconds))
        .arg("-c")
        .arg(load.workers.to_string())
        .args(["-m", load.method]);
    if let Some(rate) = load.rate_per_worker {
        command.arg("-q").arg(rate.to_string());
    }
    for header in &load.headers {
        command.arg("-H").arg(header);
    }
    if let Some(body) = load.body_file {
        command.arg("-D").arg(body);
    }
    command.arg(&load.url).kill_on_drop(true);

    let output = command
        .output()
        .await
        .map_err(|e| format!("cannot run hey: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "hey failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&text).map_err(|why| format!("cannot read hey's summary ({why}):\n{text}"))
}

/// Reads hey's text summary: total time, latency distribution, status codes and errors.
/// hey leaves out the 99th percentile of fewer than a hundred answers (a slow gateway's
/// short warm-up); the slowest answer is then that percentile by nearest rank.
fn parse(text: &str) -> Result<Run, String> {
    let mut seconds = None;
    let (mut p50, mut p99, mut slowest) = (None, None, None);
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut section = "";
    for line in text.lines() {
        let line = line.trim();
        // Headings end with a colon; the lines under them do not.
        if line.ends_with(':') {
            section = line;
            continue;
        }
        if let Some(rest) = line.strip_prefix("Total:") {
            seconds = secs(rest);
        } else if let Some(rest) = line.strip_prefix("Slowest:") {
            slowest = secs(rest);
        } else if section == "Latency distribution:" {
            if let Some(rest) = line.strip_prefix("50% in ") {
                p50 = secs(rest);
            } else if let Some(rest) = line.strip_prefix("99% in ") {
                p99 = secs(rest);
            }
        } else if let Some(rest) = line.strip_prefix('[') {
            let Some((tag, count)) = rest.split_once(']') else {
                continue;
            };
            if section == "Status code distribution:" {
                let count = leading_number(count).ok_or("a status line without a count")?;
                if tag == "200" {
                    ok += count;
                } else {
                    failed += count;
                }
            } else if section == "Error distribution:" {
                // `[count]\tthe error`.
                failed += tag.trim().parse::<u64>().map_err(|e| e.to_string())?;
            }
        }
    }
    let seconds = seconds.ok_or("no total time")?;
    if ok == 0 {
        return Err("no call was answered with 200".to_owned());
    }
    Ok(Run {
        ok,
        failed,
        seconds,
        p50_ms: p50.ok_or("no 50th percentile")? * 1000.0,
        p99_ms: p99.or(slowest).ok_or("no 99th percentile")? * 1000.0,
    })
}

/// `0.0012 secs` in seconds.
fn secs(text: &str) -> Option<f64> {
    text.trim().strip_suffix("secs")?.trim().parse().ok()
}

fn leading_number(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "
Summary:
  Total:\t10.0031 secs
  Slowest:\t0.0131 secs
  Fastest:\t0.0001 secs
  Average:\t0.0010 secs
  Requests/sec:\t3005.6775

  Total data:\t9060000 bytes
  Size/request:\t453 bytes

Response time histogram:
  0.000 [1]\t|
  0.001 [15465]\t|\u{25a0}\u{25a0}\u{25a0}

Latency distribution:
  10% in 0.0002 secs
  25% in 0.0004 secs
  50% in 0.0008 secs
  75% in 0.0013 secs
  90% in 0.0019 secs
  95% in 0.0024 secs
  99% in 0.0041 secs

Details (average, fastest, slowest):
  DNS+dialup:\t0.0000 secs, 0.0000 secs, 0.0017 secs
  resp wait:\t0.0009 secs, 0.0001 secs, 0.0130 secs

Status code distribution:
  [200]\t30040 responses
  [503]\t10 responses

Error distribution:
  [6]\tPost \"http://127.0.0.1:1/v1/messages\": EOF
";

    #[test]
    fn reads_the_summary() {
        let run = parse(SUMMARY).unwrap();

        assert_eq!(run.ok, 30040);
        assert_eq!(run.failed, 16);
        assert!((run.seconds - 10.0031).abs() < 1e-9);
        assert!((run.p50_ms - 0.8).abs() < 1e-9);
        assert!((run.p99_ms - 4.1).abs() < 1e-9);
        assert!((run.rate() - 30040.0 / 10.0031).abs() < 1e-6);
    }

    #[test]
    fn the_slowest_of_fewer_than_a_hundred_answers_is_their_99th_percentile() {
        let text = SUMMARY
            .replace("  99% in 0.0041 secs\n", "  0% in 0.0000 secs\n")
            .replace("[200]\t30040 responses", "[200]\t64 responses");

        let run = parse(&text).unwrap();

        assert_eq!(run.ok, 64);
        assert!((run.p99_ms - 13.1).abs() < 1e-9);
    }

    #[test]
    fn a_run_without_answers_is_an_error() {
        let text = "Summary:\n  Total:\t1.0 secs\n\nError distribution:\n  [5]\tEOF\n";

        assert!(parse(text).is_err());
    }
}
