//! The `process_*` metrics every Prometheus client library offers, named and defined as the Go
//! client's process collector does: CPU time, resident and virtual memory, open and maximum file
//! descriptors, start time, address-space limit, plus the thread count. Read from `/proc/self` on
//! Linux; absent elsewhere.
//!
//! They change every moment, so they are read when `/metrics` is asked for, not on a timer: a
//! scrape finds readings at most `REFRESH_EVERY` old, and an exporter nobody scrapes reads
//! nothing. Each reading is published on the board as a chunk of its own
//! ([`Key::ProcessStats`]), beside the server's figures, so no other target is encoded again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::debug;

use crate::exposition::{Board, Chunk, Key, Published, Publisher};
use crate::snapshot::{Family, Sample};
use crate::telemetry::{
    PROCESS_CPU_SECONDS, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY, PROCESS_START_TIME,
    PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY, PROCESS_VIRTUAL_MEMORY_MAX, SELF_METRICS,
};

/// Readings younger than this are served as they are.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI; the Go
/// client assumes the same).
const USER_HZ: f64 = 100.0;

/// The process's readings on one board, refreshed on demand.
#[derive(Debug)]
pub struct ProcessStats {
    publisher: Publisher,
    /// When the last reading was taken.
    last: Mutex<Option<Instant>>,
}

impl ProcessStats {
    /// Publishes on `board` under [`Key::ProcessStats`] (nothing until the first refresh).
    pub fn new(board: &Arc<Board>) -> ProcessStats {
        ProcessStats {
            publisher: board.publisher(Key::ProcessStats, &Vec::new(), true),
            last: Mutex::new(None),
        }
    }

    /// Reads `/proc/self` again and republishes, unless the last reading is younger than
    /// [`REFRESH_EVERY`] (or another scrape is reading now).
    pub(crate) fn refresh(&self) {
        let Ok(mut last) = self.last.try_lock() else {
            return;
        };
        if last.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let families = families(&read());
        match Chunk::encode(vec![Arc::new(families)]) {
            Ok(chunk) => self.publisher.publish(Published::new(vec![Arc::new(chunk)])),
            Err(_) => debug!("cannot encode the process metrics"),
        }
    }
}

/// The readings as families, in the table's order.
fn families(values: &[(&'static str, f64)]) -> Vec<Family> {
    SELF_METRICS
        .iter()
        .filter_map(|m| {
            let (_, value) = values.iter().find(|(name, _)| *name == m.name)?;
            Some(Family {
                name: Arc::from(m.name),
                help: Arc::from(m.help),
                kind: m.kind,
                samples: vec![Sample { labels: Vec::new(), value: *value }],
            })
        })
        .collect()
}

/// The readings that could be taken: none off Linux, and none of a file that cannot be read.
pub(crate) fn read() -> Vec<(&'static str, f64)> {
    #[cfg(target_os = "linux")]
    {
        linux::read()
    }
    #[cfg(not(target_os = "linux"))]
    Vec::new()
}

/// What `/proc/self/stat` says.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    /// `utime + stime`, in clock ticks.
    cpu_ticks: u64,
    threads: u64,
    /// Ticks after boot.
    start_ticks: u64,
    /// Bytes.
    vsize: u64,
}

/// Parses `/proc/<pid>/stat`: the fields after the command name, which is in parentheses and may
/// hold anything (spaces, parentheses), so the last `)` ends it.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Numbered from 1 in proc(5); `rest` starts at field 3 (state).
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
    })
}

/// `btime` of `/proc/stat`: the boot time, in seconds since the epoch.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// `VmRSS` of `/proc/<pid>/status`, in bytes.
fn parse_resident(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;

    #[allow(clippy::cast_precision_loss)]
    pub(super) fn read() -> Vec<(&'static str, f64)> {
        let mut values = Vec::new();
        let file = |path: &str| std::fs::read_to_string(path).ok();
        if let Some(stat) = file("/proc/self/stat").as_deref().and_then(parse_stat) {
            values.push((PROCESS_CPU_SECONDS, stat.cpu_ticks as f64 / USER_HZ));
            values.push((PROCESS_VIRTUAL_MEMORY, stat.vsize as f64));
            values.push((PROCESS_THREADS, stat.threads as f64));
            if let Some(boot) = file("/proc/stat").as_deref().and_then(parse_boot_time) {
                values.push((PROCESS_START_TIME, boot as f64 + stat.start_ticks as f64 / USER_HZ));
            }
        }
        if let Some(rss) = file("/proc/self/status").as_deref().and_then(parse_resident) {
            values.push((PROCESS_RESIDENT_MEMORY, rss as f64));
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            values.push((PROCESS_OPEN_FDS, dir.count() as f64));
        }
        // The soft limits, as /proc/self/limits shows them (unlimited: 2^64 − 1, as Go reports).
        if let Ok((soft, _)) = rlimit::Resource::NOFILE.get() {
            values.push((PROCESS_MAX_FDS, soft as f64));
        }
        if let Ok((soft, _)) = rlimit::Resource::AS.get() {
            values.push((PROCESS_VIRTUAL_MEMORY_MAX, soft as f64));
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_an_awkward_command_name() {
        let text = "4242 (sobot (x) y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 7 0 \
                    123456 987654144 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let stat = parse_stat(text).expect("parses");
        assert_eq!(stat, Stat { cpu_ticks: 325, threads: 7, start_ticks: 123_456, vsize: 987_654_144 });
        assert_eq!(parse_stat("4242 (cut) S 1 2"), None);
        assert_eq!(parse_stat("no parentheses"), None);
    }

    #[test]
    fn boot_time_and_resident_memory() {
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_boot_time("cpu 1\n"), None);
        assert_eq!(parse_resident("Name:\tx\nVmRSS:\t   20480 kB\nThreads:\t3\n"), Some(20_971_520));
        assert_eq!(parse_resident("Name:\tx\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_sensibly() {
        let values = read();
        let get = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let now = jiff::Timestamp::now().as_second() as f64;
        let start = get(PROCESS_START_TIME).expect("start time");
        assert!(start > now - 86_400.0 * 30.0 && start <= now + 1.0, "{start} vs {now}");
        assert!(get(PROCESS_RESIDENT_MEMORY).expect("rss") > 1e5);
        assert!(get(PROCESS_VIRTUAL_MEMORY).expect("vsize") >= get(PROCESS_RESIDENT_MEMORY).expect("rss"));
        assert!(get(PROCESS_OPEN_FDS).expect("fds") >= 3.0);
        assert!(get(PROCESS_MAX_FDS).expect("max fds") >= get(PROCESS_OPEN_FDS).expect("fds"));
        assert!(get(PROCESS_THREADS).expect("threads") >= 1.0);
        assert!(get(PROCESS_CPU_SECONDS).expect("cpu") >= 0.0);
        assert!(get(PROCESS_VIRTUAL_MEMORY_MAX).is_some());
        assert_eq!(families(&values).len(), 8, "every reading has its family in the table");
    }
}
