//! What the proxy tells the application, and its counters.

use sip_transaction::TransactionId;

/// Something the application may want to learn, from
/// [`poll_event`](crate::Proxy::poll_event). The proxy has already acted on it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyEvent {
    /// A request was proxied statefully: a response context now forwards it to `targets`
    /// targets (§16.6).
    Proxied {
        /// The server transaction of the request.
        server: TransactionId,
        /// Size of the target set so far (3xx recursion may add more).
        targets: usize,
    },
    /// The proxy answered a request itself, as a UAS (§16.3, §16.5, §16.10): a validation
    /// failure, 404, 480, an OPTIONS for the proxy, a CANCEL.
    Answered {
        /// The server transaction.
        server: TransactionId,
        /// The status sent.
        status: u16,
    },
    /// A request had looped back unchanged (§16.3 step 4) and was answered 482.
    LoopDetected {
        /// The server transaction.
        server: TransactionId,
    },
    /// A response context sent its final response upstream: the first 2xx, or the best
    /// response once every branch ended (§16.7 steps 5 and 6).
    Finished {
        /// The server transaction.
        server: TransactionId,
        /// The status sent upstream.
        status: u16,
    },
    /// Every transaction of a response context terminated and its state was freed (§16.7
    /// step 9: "maintain the response context until all of its associated transactions have
    /// been terminated").
    ContextFreed {
        /// The server transaction the context served.
        server: TransactionId,
    },
}

/// Counters for operators (protocol crates do not log).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Live response contexts.
    pub contexts: usize,
    /// Pending proxy timers (Timer C and CANCEL guards), stale queue entries excluded.
    pub timers: usize,
    /// Requests handed to the proxy.
    pub requests: u64,
    /// Requests forwarded downstream: client transactions started, plus stateless forwards
    /// (ACKs for 2xx included).
    pub forwarded: u64,
    /// Requests forwarded outside any transaction (stateless mode, ACKs for 2xx).
    pub forwarded_stateless: u64,
    /// Responses relayed upstream.
    pub responses: u64,
    /// Requests the proxy answered itself.
    pub answered: u64,
    /// Loops detected (482 sent).
    pub loops: u64,
    /// CANCELs sent downstream.
    pub cancels: u64,
    /// Responses that matched no transaction and were dropped (RFC 6026 §7.3).
    pub strays_dropped: u64,
    /// Timer C expiries.
    pub timer_c_fired: u64,
}
