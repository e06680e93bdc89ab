//! A virtual clock that only moves when a test moves it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A virtual clock: a fixed base [`Instant`] plus an offset that only tests advance.
///
/// The base is read from the OS once per process ([`Clock::new`]) or given
/// ([`Clock::starting_at`]); after that nothing reads real time, so minutes of protocol time pass
/// in microseconds. Because every `Clock::new()` in a test binary shares one base, two runs of
/// the same simulation see the very same [`Instant`]s, and their wire logs compare equal.
///
/// ```
/// use sip_testkit::{Clock, ms, secs};
///
/// let mut clock = Clock::new();
/// let start = clock.now();
/// clock.advance(ms(500));
/// clock.advance_to(start + secs(2));
/// clock.advance_to(start); // never goes backwards
/// assert_eq!(clock.elapsed(), secs(2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clock {
    base: Instant,
    offset: Duration,
}

impl Clock {
    /// A clock at the process-wide base instant (read from the OS by the first call), with zero
    /// time elapsed.
    ///
    /// Sharing one base makes runs comparable: two simulations started with `Clock::new()` use
    /// identical instants, so "same seed, same log" holds with plain `==`.
    #[must_use]
    pub fn new() -> Self {
        static BASE: OnceLock<Instant> = OnceLock::new();
        Self::starting_at(*BASE.get_or_init(Instant::now))
    }

    /// A clock whose base is `base`, with zero time elapsed.
    #[must_use]
    pub fn starting_at(base: Instant) -> Self {
        Self { base, offset: Duration::ZERO }
    }

    /// The current virtual time: the base plus everything advanced so far.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.base + self.offset
    }

    /// The instant the clock started at.
    #[must_use]
    pub fn base(&self) -> Instant {
        self.base
    }

    /// Virtual time passed since the base.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.offset
    }

    /// Moves the clock forward by `by` and returns the new time.
    pub fn advance(&mut self, by: Duration) -> Instant {
        self.offset += by;
        self.now()
    }

    /// Moves the clock to `at` if that is later than now, and returns the (new) current time.
    ///
    /// An `at` in the past leaves the clock where it is: time never goes backwards, as the
    /// protocol machines expect (they treat an earlier `now` as the last one).
    pub fn advance_to(&mut self, at: Instant) -> Instant {
        if let Some(offset) = at.checked_duration_since(self.base) {
            self.offset = self.offset.max(offset);
        }
        self.now()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// `n` milliseconds, for terse timings in tests: `ms(500)`.
#[must_use]
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` seconds, for terse timings in tests: `secs(32)`.
#[must_use]
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_base_with_nothing_elapsed() {
        let base = Instant::now();
        let clock = Clock::starting_at(base);
        assert_eq!(clock.now(), base);
        assert_eq!(clock.base(), base);
        assert_eq!(clock.elapsed(), Duration::ZERO);
    }

    #[test]
    fn new_clocks_share_one_base() {
        let mut first = Clock::new();
        first.advance(secs(1));
        assert_eq!(Clock::new().now(), first.base());
    }

    #[test]
    fn advance_adds_up() {
        let mut clock = Clock::new();
        let base = clock.now();
        assert_eq!(clock.advance(ms(500)), base + ms(500));
        assert_eq!(clock.advance(secs(1)), base + ms(1500));
        assert_eq!(clock.elapsed(), ms(1500));
    }

    #[test]
    fn advance_to_never_goes_backwards() {
        let mut clock = Clock::new();
        let base = clock.now();
        assert_eq!(clock.advance_to(base + secs(3)), base + secs(3));
        assert_eq!(clock.advance_to(base + secs(1)), base + secs(3));
        // Before the base is also "the past".
        if let Some(before) = base.checked_sub(secs(1)) {
            assert_eq!(clock.advance_to(before), base + secs(3));
        }
        assert_eq!(clock.elapsed(), secs(3));
    }

    #[test]
    fn helpers_are_plain_durations() {
        assert_eq!(ms(1500), Duration::from_millis(1500));
        assert_eq!(secs(32), Duration::from_secs(32));
    }
}
