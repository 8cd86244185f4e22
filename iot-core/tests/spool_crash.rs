//! `kill -9` at random moments loses no record whose `append` returned,
//! under every fsync policy.
//!
//! The test re-runs its own binary as the child, filtered to
//! [`child_appends_until_killed`] and told what to do through environment
//! variables. The child appends (and releases some older records), printing
//! each id once `append` returned; the parent kills it with SIGKILL
//! (`Child::kill`) after a random delay, five times per policy, and after
//! each kill opens the spool and checks that every reported, unreleased
//! record is there with its payload.
#![cfg(all(feature = "spool", unix))]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iot_core::mqtt::spool::{FsyncPolicy, RecordId, Spool, SpoolConfig};

const DIR_VAR: &str = "IOT_SPOOL_CRASH_DIR";
const POLICY_VAR: &str = "IOT_SPOOL_CRASH_POLICY";
const KILLS: usize = 5;
/// Releases trail appends by this many records.
const RELEASE_LAG: u64 = 16;

fn policy(name: &str) -> FsyncPolicy {
    match name {
        "always" => FsyncPolicy::Always,
        "interval" => FsyncPolicy::Interval(Duration::from_millis(5)),
        _ => FsyncPolicy::Os,
    }
}

fn config(dir: &str, policy: FsyncPolicy) -> SpoolConfig {
    // Small segments, so kills land around rolls and deletions too.
    SpoolConfig::new(dir)
        .segment_bytes(16 * 1024)
        .max_bytes(64 << 20)
        .max_record_bytes(1024)
        .fsync(policy)
}

fn payload(id: u64) -> Vec<u8> {
    let len = (id * 7919 % 700) as usize;
    (0..len).map(|i| (id as usize ^ i) as u8).collect()
}

/// The child: appends until killed (or for 30 s at most). Without the
/// environment variable, as a plain test run, it does nothing.
#[test]
fn child_appends_until_killed() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let policy = policy(&std::env::var(POLICY_VAR).unwrap_or_default());
    let (spool, recovery) = Spool::open(config(&dir, policy)).unwrap();
    let mut out = std::io::stdout().lock();
    // The test harness printed `test child_appends_until_killed ... `
    // without a line break: start a line of our own.
    writeln!(out).unwrap();
    // As if re-sent and acknowledged at once. Every release is announced
    // before it is made: a kill between the two must not look like a loss.
    for r in &recovery.records {
        writeln!(out, "releasing {}", r.id).unwrap();
        out.flush().unwrap();
        spool.release(r.id).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let next = spool.next_id().get();
        let id = spool.append(&payload(next)).unwrap().id;
        assert_eq!(id.get(), next);
        spool.wait_durable_blocking(id).unwrap();
        writeln!(out, "appended {id}").unwrap();
        // Release a little behind, pairs swapped: out of order, as
        // acknowledgements come, with the watermark moving.
        if id.get() >= RELEASE_LAG {
            let old = RecordId::new((id.get() - RELEASE_LAG) ^ 1);
            writeln!(out, "releasing {old}").unwrap();
            out.flush().unwrap();
            spool.release(old).unwrap();
        }
        out.flush().unwrap();
    }
}

/// A small xorshift generator: random kill moments without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn crash_loop(policy_name: &str) {
    let dir = std::env::temp_dir().join(format!(
        "iot-spool-crash-{policy_name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_str = dir.to_str().unwrap().to_owned();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("{policy_name}: seed {seed}");
    let mut rng = Rng(seed);
    // Every id the child reported appended, and those it announced it
    // releases.
    let mut appended: BTreeSet<u64> = BTreeSet::new();
    let mut released: BTreeSet<u64> = BTreeSet::new();
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_appends_until_killed",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, &dir_str)
            .env(POLICY_VAR, policy_name)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first append, then kill at a random moment.
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child started");
        let delay = Duration::from_millis(5 + rng.below(300));
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let mut lines = 0;
        for line in std::iter::once(first).chain(rx.try_iter()) {
            lines += 1;
            let mut words = line.split_whitespace();
            let (Some(what), Some(id)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(id) = id.parse::<u64>() else { continue };
            match what {
                "appended" => {
                    appended.insert(id);
                }
                "releasing" => {
                    released.insert(id);
                }
                _ => {}
            }
        }
        let (spool, recovery) = Spool::open(config(&dir_str, policy(policy_name))).unwrap();
        let got: BTreeMap<u64, &[u8]> = recovery
            .records
            .iter()
            .map(|r| (r.id.get(), &r.payload[..]))
            .collect();
        let mut lost = Vec::new();
        for id in appended.difference(&released) {
            match got.get(id) {
                Some(p) => assert_eq!(*p, &payload(*id)[..], "record {id} changed"),
                None => lost.push(*id),
            }
        }
        for (id, p) in &got {
            assert_eq!(*p, &payload(*id)[..], "record {id} changed");
        }
        let resent = got.keys().filter(|id| released.contains(id)).count();
        eprintln!(
            "{policy_name} kill {}: after {delay:?}, {lines} lines; {} appended, {} released so far; recovered {}, released re-sent {resent}, torn bytes {}, lost {}",
            kill + 1,
            appended.len(),
            released.len(),
            got.len(),
            recovery.report.torn_bytes,
            lost.len()
        );
        assert!(
            lost.is_empty(),
            "{policy_name}: lost {lost:?}; recovered {:?}; {:?}; files {:?}",
            got.keys().collect::<Vec<_>>(),
            recovery.report,
            std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect::<Vec<_>>()
        );
        // Released records come back only from above the watermark: the
        // one released ahead of its pair, and one announced but not made.
        assert!(
            resent <= 2,
            "{policy_name}: {resent} released records re-sent"
        );
        drop(spool);
    }
    assert!(appended.len() > KILLS, "the child appended");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_loses_nothing_with_always() {
    crash_loop("always");
}

#[test]
fn kill_9_loses_nothing_with_interval() {
    crash_loop("interval");
}

#[test]
fn kill_9_loses_nothing_with_os() {
    crash_loop("os");
}
