//! Per-thread CPU time and context switches from `/proc`, to see how a
//! run's work was spread over the client's runtime workers and how often
//! the broker was preempted (Linux only; elsewhere the snapshots are
//! empty).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::mqtt_broker::{clock_ticks, stat_cpu_ticks};

/// What one thread had used at a point in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadMark {
    /// User plus system time, in clock ticks.
    pub ticks: u64,
    /// Times the thread gave up the CPU itself (it blocked).
    pub voluntary: u64,
    /// Times the scheduler took the CPU away from it.
    pub involuntary: u64,
}

/// The threads of one process, by thread id, with their names.
#[derive(Debug, Clone, Default)]
pub struct ThreadsMark {
    threads: BTreeMap<u32, (String, ThreadMark)>,
}

/// One thread's use over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadUse {
    /// The thread's name (`comm`).
    pub name: String,
    /// CPU used, as a fraction of one core.
    pub cores: f64,
    /// Voluntary context switches in the window.
    pub voluntary: u64,
    /// Involuntary context switches in the window.
    pub involuntary: u64,
}

impl ThreadsMark {
    /// The threads of process `pid` now.
    pub fn now(pid: u32) -> Self {
        let mut threads = BTreeMap::new();
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Self { threads };
        };
        for entry in dir.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(t) = read_thread(pid, tid) {
                threads.insert(tid, t);
            }
        }
        Self { threads }
    }

    /// Use per thread between `self` and `later` (threads present in
    /// both), busiest first.
    pub fn since(&self, later: &ThreadsMark, wall: Duration) -> Vec<ThreadUse> {
        let ticks = clock_ticks() as f64;
        let mut uses: Vec<ThreadUse> = later
            .threads
            .iter()
            .filter_map(|(tid, (name, b))| {
                let (_, a) = self.threads.get(tid)?;
                Some(ThreadUse {
                    name: name.clone(),
                    cores: b.ticks.saturating_sub(a.ticks) as f64
                        / ticks
                        / wall.as_secs_f64().max(1e-9),
                    voluntary: b.voluntary.saturating_sub(a.voluntary),
                    involuntary: b.involuntary.saturating_sub(a.involuntary),
                })
            })
            .filter(|u| u.cores > 0.0 || u.voluntary > 0 || u.involuntary > 0)
            .collect();
        uses.sort_by(|a, b| b.cores.total_cmp(&a.cores));
        uses
    }
}

/// `name cores vol/invol` per thread, for a log line.
pub fn summary(uses: &[ThreadUse]) -> String {
    uses.iter()
        .map(|u| {
            format!(
                "{} {:.2} {}/{}",
                u.name, u.cores, u.voluntary, u.involuntary
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_thread(pid: u32, tid: u32) -> Option<(String, ThreadMark)> {
    let base = format!("/proc/{pid}/task/{tid}");
    let stat = std::fs::read_to_string(format!("{base}/stat")).ok()?;
    let name = stat[stat.find('(')? + 1..stat.rfind(')')?].to_string();
    let status = std::fs::read_to_string(format!("{base}/status")).ok()?;
    let field = |key: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
    };
    let mark = ThreadMark {
        ticks: stat_cpu_ticks(&stat)?,
        voluntary: field("voluntary_ctxt_switches:")?,
        involuntary: field("nonvoluntary_ctxt_switches:")?,
    };
    Some((name, mark))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread that spins between two marks shows up under its name with
    /// most of a core; one that started after the first mark does not.
    #[test]
    #[cfg(target_os = "linux")]
    fn a_busy_thread_is_seen() {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("spinner".into())
            .spawn(move || {
                wait.recv().unwrap();
                let started = std::time::Instant::now();
                let mut x = 0u64;
                while started.elapsed() < Duration::from_millis(400) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                // Still alive when the second mark is taken.
                std::thread::sleep(Duration::from_millis(300));
            })
            .expect("spawn");
        // Let the spawned thread appear in /proc before the first mark.
        std::thread::sleep(Duration::from_millis(50));
        let before = ThreadsMark::now(std::process::id());
        let start = std::time::Instant::now();
        go.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(450));
        let after = ThreadsMark::now(std::process::id());
        let uses = before.since(&after, start.elapsed());
        let spinner = uses
            .iter()
            .find(|u| u.name == "spinner")
            .unwrap_or_else(|| panic!("no spinner in {uses:?}"));
        // 400 ms of spinning in a 450 ms window, on a possibly busy machine.
        assert!(spinner.cores > 0.3, "{spinner:?}");
        // Threads missing from the first mark are left out.
        assert!(
            ThreadsMark::default()
                .since(&after, start.elapsed())
                .is_empty()
        );
    }
}
