//! What the gateway prints: start-up banner, events, the live progress
//! line and the summary.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressMode {
    /// One refreshing line on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// One line, redrawn in place every second.
    Line,
    /// A plain line every 5 seconds (logs, CI).
    Plain,
    /// Nothing but the summary (events go to tracing).
    Off,
}

/// Serialises output so events and the progress line do not interleave.
#[derive(Debug)]
pub struct Console {
    mode: ProgressMode,
    lock: Mutex<bool>,
}

impl Console {
    /// A console in `mode` (`Auto` is resolved against stdout).
    pub fn new(mode: ProgressMode) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stdout().is_terminal() => ProgressMode::Line,
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        };
        Self {
            mode,
            lock: Mutex::new(false),
        }
    }

    /// The resolved mode.
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// A line of its own (banner, events), above the progress line.
    pub fn event(&self, msg: &str) {
        let mut line_shown = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        match self.mode {
            ProgressMode::Off => tracing::info!("{msg}"),
            ProgressMode::Line if *line_shown => {
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "\r\x1b[K{msg}\n");
                let _ = out.flush();
                *line_shown = false;
            }
            _ => println!("{msg}"),
        }
    }

    /// The progress line: redrawn in place, or printed as a line.
    pub fn progress(&self, line: &str) {
        let mut line_shown = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        match self.mode {
            ProgressMode::Line => {
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "\r\x1b[K{line}");
                let _ = out.flush();
                *line_shown = true;
            }
            ProgressMode::Plain => println!("{line}"),
            _ => {}
        }
    }

    /// Ends the progress line before the summary.
    pub fn finish(&self) {
        let mut line_shown = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if *line_shown {
            println!();
            *line_shown = false;
        }
    }
}

/// `12345` as `12,345`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds, readably.
pub fn micros(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formatting() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
        assert_eq!(super::micros(420), "420 µs");
        assert_eq!(super::micros(1500), "1.5 ms");
    }
}
