//! Read coalescing: when a consumer keeps being woken for one message at a
//! time, it pauses briefly before reading again.
//!
//! Why: a broker that leaves Nagle's algorithm on (Mosquitto's default,
//! `set_tcp_nodelay false`) sends a message at once when everything it
//! sent before was acknowledged, and holds it back otherwise. A consumer
//! that reads each message as soon as it arrives empties its socket, which
//! makes the kernel acknowledge at once, so the broker sends the next
//! message on its own too: every message then costs a TCP segment, an
//! acknowledgement and a wake-up of the consumer's thread, which on a
//! loaded machine also preempts the broker. The stream stays in that
//! state for as long as the consumer keeps up. A consumer that reads a
//! little later finds many messages in one read, and the broker sends them
//! in large segments: the same stream then costs a fraction of the CPU on
//! both sides (measured in `docs/benchmarks.md`). The pause tips the
//! stream into the second state; it only happens while wake-ups are both
//! frequent and nearly empty, so a quiet stream is read without delay.

use std::time::{Duration, Instant};

use super::config::ReadCoalescing;

/// A wake-up that brought at least one message and at most this many is a
/// thin one. Wake-ups that read no message (an acknowledgement written, a
/// ping) do not count.
const THIN_MESSAGES: u32 = 2;

/// Decides, each time rumqttc has nothing ready, whether to pause before
/// waiting on the socket again.
#[derive(Debug)]
pub(crate) struct Coalescer {
    config: ReadCoalescing,
    /// Start of the current window.
    window_start: Instant,
    /// Thin wake-ups in the current window.
    thin: u32,
    /// Messages read since rumqttc last had nothing ready.
    messages: u32,
}

impl Coalescer {
    pub(crate) fn new(config: ReadCoalescing, now: Instant) -> Self {
        Self {
            config,
            window_start: now,
            thin: 0,
            messages: 0,
        }
    }

    /// rumqttc read a message.
    pub(crate) fn on_message(&mut self) {
        self.messages = self.messages.saturating_add(1);
    }

    /// rumqttc has nothing ready at `now`: how long to pause before waiting
    /// on the socket, if at all. A pause lasts until the end of the current
    /// window, which then starts the next one.
    pub(crate) fn on_idle(&mut self, now: Instant) -> Option<Duration> {
        let thin = (1..=THIN_MESSAGES).contains(&self.messages);
        self.messages = 0;
        if !self.config.is_enabled() {
            return None;
        }
        let window = self.config.window;
        // Zero when `now` is before the window's start (a pause that ended
        // early by this clock): the pause is then one window, no longer.
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= window {
            self.window_start = now;
            self.thin = 0;
        }
        if thin {
            self.thin = self.thin.saturating_add(1);
        }
        if self.thin <= self.config.max_thin_reads {
            return None;
        }
        let pause = window.saturating_sub(now.saturating_duration_since(self.window_start));
        self.window_start = now + pause;
        self.thin = 0;
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coalescer(max_thin_reads: u32) -> (Coalescer, Instant) {
        let t0 = Instant::now();
        let config = ReadCoalescing {
            window: Duration::from_millis(1),
            max_thin_reads,
        };
        (Coalescer::new(config, t0), t0)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// One message per wake-up, every 10 µs: the fourth thin wake-up in
    /// the window (budget 3) pauses until the window ends; the next window
    /// starts with a fresh budget.
    #[test]
    fn thin_wakeups_over_the_budget_pause_until_the_window_ends() {
        let (mut c, t0) = coalescer(3);
        let mut pauses = Vec::new();
        for i in 0..4u64 {
            c.on_message();
            pauses.push(c.on_idle(t0 + us(10 * (i + 1))));
        }
        assert_eq!(pauses, [None, None, None, Some(us(1000 - 40))]);
        // After the pause (the caller slept until t0 + 1 ms), a new window.
        let mut c2 = c;
        let after: Vec<_> = (0..4u64)
            .map(|i| {
                c2.on_message();
                c2.on_idle(t0 + us(1000 + 10 * (i + 1)))
            })
            .collect();
        assert_eq!(after, [None, None, None, Some(us(2000 - 1040))]);
    }

    /// Wake-ups that bring many messages never pause, however frequent.
    #[test]
    fn full_wakeups_never_pause() {
        let (mut c, t0) = coalescer(0);
        for i in 0..100u64 {
            for _ in 0..=THIN_MESSAGES {
                c.on_message();
            }
            assert_eq!(c.on_idle(t0 + us(i)), None);
        }
    }

    /// Thin wake-ups spread out (one per window) stay within the budget:
    /// a quiet stream is read without delay.
    #[test]
    fn a_quiet_stream_is_read_at_once() {
        let (mut c, t0) = coalescer(ReadCoalescing::default().max_thin_reads);
        for i in 0..50u64 {
            c.on_message();
            assert_eq!(c.on_idle(t0 + Duration::from_millis(2 * i)), None, "{i}");
        }
    }

    /// Only wake-ups that read one or two messages count: none (an
    /// acknowledgement written, a ping) or three do not.
    #[test]
    fn only_one_or_two_messages_make_a_thin_wakeup() {
        let (mut c, t0) = coalescer(1);
        for (i, n) in [0u32, 3, 0, 3, 3, 0].into_iter().enumerate() {
            for _ in 0..n {
                c.on_message();
            }
            assert_eq!(c.on_idle(t0 + us(i as u64)), None, "{n} messages");
        }
        c.on_message();
        c.on_message();
        assert_eq!(c.on_idle(t0 + us(10)), None);
        c.on_message();
        assert_eq!(c.on_idle(t0 + us(20)), Some(us(1000 - 20)));
    }

    /// A clock that reads earlier than the window's start (a pause that
    /// ended early) never yields a pause longer than the window.
    #[test]
    fn a_pause_never_exceeds_the_window() {
        let (mut c, t0) = coalescer(0);
        c.on_message();
        assert_eq!(c.on_idle(t0 + us(100)), Some(us(900)));
        // The window now starts at t0 + 1 ms; the caller is back early.
        c.on_message();
        assert_eq!(c.on_idle(t0 + us(600)), Some(us(1000)));
    }

    /// Disabled, it never pauses.
    #[test]
    fn disabled_never_pauses() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(ReadCoalescing::off(), t0);
        for i in 0..1000u64 {
            c.on_message();
            assert_eq!(c.on_idle(t0 + Duration::from_nanos(i)), None);
        }
    }
}
