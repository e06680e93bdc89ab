//! Timer values and the random seed.

use std::time::Duration;

/// Settings of a [`TransactionTable`](crate::TransactionTable): the RFC 3261 timer bases T1, T2
/// and T4 (§17.1.1.1, §17.1.2.2, Appendix A), the delay before an automatic 100 (Trying) and the
/// seed of the generator that makes branches.
///
/// Every timer of Appendix A (and RFC 6026's L and M) derives from these:
///
/// | timer | value | section |
/// | --- | --- | --- |
/// | A | T1, doubling (unreliable only) | §17.1.1.2 |
/// | B, F, H, J, L, M | 64*T1 (J and D, I, K are zero on reliable transports) | §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2, RFC 6026 |
/// | D | max(32 s, 64*T1) | §17.1.1.2 ("at least 32 seconds") |
/// | E, G | T1 doubling up to T2 (unreliable only) | §17.1.2.2, §17.2.1 |
/// | I, K | T4 | §17.2.1, §17.1.2.2 |
///
/// ```
/// use std::time::Duration;
/// use sip_transaction::TransactionConfig;
///
/// let config = TransactionConfig::default().t1(Duration::from_millis(250)).rng_seed(7);
/// assert_eq!(config.timer_b(), Duration::from_secs(16));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionConfig {
    pub(crate) t1: Duration,
    pub(crate) t2: Duration,
    pub(crate) t4: Duration,
    pub(crate) trying_delay: Option<Duration>,
    pub(crate) rng_seed: u64,
    pub(crate) udp_request_limit: Option<usize>,
}

/// Smallest accepted timer base: a zero T1 would retransmit in a loop.
const MIN_BASE: Duration = Duration::from_millis(1);
/// Largest accepted timer base, so that 64*T1 added to any `Instant` stays representable.
const MAX_BASE: Duration = Duration::from_secs(3600);

/// RFC 3261 §18.1.1: with the path MTU unknown, requests "larger than 1300 bytes" go over a
/// congestion-controlled transport.
pub(crate) const DEFAULT_UDP_REQUEST_LIMIT: usize = 1300;

impl Default for TransactionConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Some(Duration::from_millis(200)),
            rng_seed: 0,
            udp_request_limit: Some(DEFAULT_UDP_REQUEST_LIMIT),
        }
    }
}

impl TransactionConfig {
    /// T1, the round-trip estimate (default 500 ms, RFC 3261 §17.1.1.1); clamped to 1 ms..=1 h.
    #[must_use]
    pub fn t1(mut self, t1: Duration) -> Self {
        self.t1 = t1.clamp(MIN_BASE, MAX_BASE);
        self
    }

    /// T2, the longest retransmission interval (default 4 s, §17.1.2.2); clamped to 1 ms..=1 h.
    #[must_use]
    pub fn t2(mut self, t2: Duration) -> Self {
        self.t2 = t2.clamp(MIN_BASE, MAX_BASE);
        self
    }

    /// T4, how long the network holds a message (default 5 s, §17.1.2.2); clamped to 1 ms..=1 h.
    #[must_use]
    pub fn t4(mut self, t4: Duration) -> Self {
        self.t4 = t4.clamp(MIN_BASE, MAX_BASE);
        self
    }

    /// How long an INVITE server transaction waits for the TU's first response before it sends
    /// a 100 (Trying) itself (RFC 3261 §17.2.1: "unless it knows that the TU will generate a
    /// provisional or final response within 200 ms"). Default 200 ms; `None` never sends one.
    #[must_use]
    pub fn trying_delay(mut self, delay: Option<Duration>) -> Self {
        self.trying_delay = delay;
        self
    }

    /// Seed of the generator that makes branches: the same seed and the same calls give the
    /// same bytes (default 0). It also keys the hash of the table's matching indexes, which
    /// hold branches chosen by remote peers: in production, seed it from a secret random source
    /// (the runtime's), so that no peer can predict which branches collide.
    #[must_use]
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// The largest request, in bytes, that a client transaction sends over UDP (RFC 3261
    /// §18.1.1): a larger one whose target is `Target::Addr(Transport::Udp, addr)` goes to the
    /// same address over TCP, with its top Via changed to TCP, before the transaction starts
    /// (so it runs the timers of a reliable transport). Default `Some(1300)`, the RFC's figure
    /// when the path MTU is unknown; with a known path MTU use MTU − 200 ("within 200 bytes of
    /// the path MTU"). `None` never switches.
    ///
    /// ```
    /// use sip_transaction::TransactionConfig;
    ///
    /// assert_eq!(TransactionConfig::default().udp_request_limit_bytes(), Some(1300));
    /// let jumbo = TransactionConfig::default().udp_request_limit(Some(9000 - 200));
    /// assert_eq!(jumbo.udp_request_limit_bytes(), Some(8800));
    /// ```
    #[must_use]
    pub fn udp_request_limit(mut self, limit: Option<usize>) -> Self {
        self.udp_request_limit = limit;
        self
    }

    /// The configured UDP request size limit ([`udp_request_limit`](Self::udp_request_limit)).
    #[must_use]
    pub fn udp_request_limit_bytes(&self) -> Option<usize> {
        self.udp_request_limit
    }

    /// The configured T1.
    #[must_use]
    pub fn timer_t1(&self) -> Duration {
        self.t1
    }

    /// The configured T2.
    #[must_use]
    pub fn timer_t2(&self) -> Duration {
        self.t2
    }

    /// The configured T4.
    #[must_use]
    pub fn timer_t4(&self) -> Duration {
        self.t4
    }

    /// 64*T1: Timers B, F, H, J (unreliable), L and M.
    #[must_use]
    pub fn timer_b(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D on an unreliable transport: at least 32 s (RFC 3261 §17.1.1.2), and as long as
    /// the server's Timer H (RFC 6026 §8.4) when T1 makes that longer.
    #[must_use]
    pub fn timer_d(&self) -> Duration {
        self.timer_b().max(Duration::from_secs(32))
    }
}
