//! CPU time and resident memory of a process, or of a process and its descendants, read from
//! `/proc` (Linux only).

use std::path::Path;

/// CPU time the process has used, user and system, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let (utime, stime) = times(&stat).ok_or_else(|| format!("/proc/{pid}/stat: unreadable"))?;
    Ok((utime + stime) as f64 / clock_ticks_per_second())
}

/// Resident memory (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/status: no VmRSS"))
}

/// CPU time of `pid` and every process below it, user and system, in seconds; children that
/// have ended count through their parents' `cutime` and `cstime`.
pub fn tree_cpu_seconds(pid: u32) -> Result<f64, String> {
    let mut ticks = 0;
    for member in tree(pid)? {
        // A descendant may end between the listing and this read; its time is then its
        // parent's.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{member}/stat")) else {
            continue;
        };
        let (utime, stime, cutime, cstime) =
            all_times(&stat).ok_or_else(|| format!("/proc/{member}/stat: unreadable"))?;
        ticks += utime + stime + cutime + cstime;
    }
    Ok(ticks as f64 / clock_ticks_per_second())
}

/// Resident memory of `pid` and every process below it, in KiB.
pub fn tree_rss_kib(pid: u32) -> Result<u64, String> {
    let mut total = 0;
    for member in tree(pid)? {
        total += if member == pid {
            rss_kib(member)?
        } else {
            rss_kib(member).unwrap_or(0)
        };
    }
    Ok(total)
}

/// `pid` and its descendants, found through the parent of every process.
fn tree(pid: u32) -> Result<Vec<u32>, String> {
    let mut parents = Vec::new();
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|stat| parent(&stat));
        if let Some(parent) = parent {
            parents.push((child, parent));
        }
    }
    let mut members = vec![pid];
    let mut next = 0;
    while next < members.len() {
        let current = members[next];
        members.extend(
            parents
                .iter()
                .filter(|(_, parent)| *parent == current)
                .map(|(child, _)| *child),
        );
        next += 1;
    }
    Ok(members)
}

/// The child of this process whose command line holds `arg` (Envoy, found by its config
/// file, since the harness keeps its process to itself).
pub fn child_with_arg(arg: &Path) -> Result<u32, String> {
    let own = std::process::id();
    let wanted = arg.as_os_str().as_encoded_bytes();
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !cmdline.split(|b| *b == 0).any(|part| part == wanted) {
            continue;
        }
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| parent(&stat));
        if parent == Some(own) {
            return Ok(pid);
        }
    }
    Err(format!(
        "no child process runs with {}; did it start?",
        arg.display()
    ))
}

/// The fields after the command name, which may itself hold spaces and parentheses.
fn fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// `utime` and `stime` (fields 14 and 15 of `stat`), in clock ticks.
fn times(stat: &str) -> Option<(u64, u64)> {
    let fields = fields(stat)?;
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

/// `utime`, `stime`, `cutime` and `cstime` (fields 14 to 17 of `stat`), in clock ticks.
fn all_times(stat: &str) -> Option<(u64, u64, u64, u64)> {
    let fields = fields(stat)?;
    let field = |n: usize| fields.get(n)?.parse().ok();
    Some((field(11)?, field(12)?, field(13)?, field(14)?))
}

/// The parent's pid (field 4 of `stat`).
fn parent(stat: &str) -> Option<u32> {
    fields(stat)?.get(1)?.parse().ok()
}

/// `CLK_TCK`, the unit of `utime` and `stime`.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .filter(|ticks: &f64| *ticks > 0.0)
            // The value on every Linux architecture Envoy ships for.
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (envoy (main)) S 4200 4242 4200 0 -1 4194560 3123 0 0 0 \
                        1500 250 0 0 20 0 9 0 712 1000 20 18446744073709551615";

    #[test]
    fn reads_times_and_parent_past_a_name_with_spaces() {
        assert_eq!(times(STAT), Some((1500, 250)));
        assert_eq!(all_times(STAT), Some((1500, 250, 0, 0)));
        assert_eq!(parent(STAT), Some(4200));
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();

        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(rss_kib(pid).unwrap() > 0);
        let own = cpu_seconds(pid).unwrap();
        assert!(tree_cpu_seconds(pid).unwrap() >= own);
        assert!(tree_rss_kib(pid).unwrap() > 0);
    }
}
