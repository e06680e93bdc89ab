//! How a user agent presents itself and which timers it uses.

use std::time::Duration;

use bytes::Bytes;
use sip_message::Method;

/// A message body: its Content-Type and bytes. Session descriptions are carried opaquely
/// (offer and answer, RFC 3261 §13.2.1); SDP itself is the application's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// The Content-Type, e.g. `application/sdp`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

impl Body {
    /// A body of `content_type`.
    pub fn new(content_type: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Body { content_type: content_type.into(), bytes: bytes.into() }
    }

    /// An `application/sdp` body.
    pub fn sdp(bytes: impl Into<Bytes>) -> Self {
        Body::new("application/sdp", bytes)
    }
}

/// The user agent's identity, capabilities and limits.
///
/// `sent_by` and `contact` must name an address the peer can reach (the runtime's listening
/// address): Via `sent-by` (RFC 3261 §18.1.1) and Contact (§8.1.1.8).
#[derive(Clone, Debug)]
pub struct UaConfig {
    /// The Via sent-by: `host[:port]`.
    pub sent_by: String,
    /// The Contact URI (without `<>`), e.g. `sip:alice@192.0.2.1:5060`.
    pub contact: String,
    /// The default From (a name-addr, without tag), e.g. `"Alice" <sip:alice@example.com>`.
    pub from: String,
    /// The methods this UA accepts (§8.2.1: others get 405 with this list in Allow).
    pub allow: Vec<Method>,
    /// The option tags this UA supports (Supported; §8.2.2.3: any other in Require gets 420).
    pub supported: Vec<String>,
    /// The body types this UA accepts (Accept; §8.2.3: any other gets 415).
    pub accept: Vec<String>,
    /// A URI every out-of-dialog request is routed through (a pre-loaded Route, §8.1.2).
    pub outbound_proxy: Option<String>,
    /// A User-Agent header value, if any.
    pub user_agent: Option<String>,
    /// How many 3xx redirections one call follows (§8.1.3.4).
    pub max_redirects: u8,
    /// Send 100 (Trying) as soon as an INVITE arrives, rather than leave it to the transaction
    /// layer's 200 ms rule (§17.2.1).
    pub send_trying: bool,
    /// The most calls and requests alive at once; new ones beyond it are refused (503 for
    /// incoming, an error for commands), so live state stays bounded.
    pub max_calls: usize,
    /// Seed of the generator for tags, Call-IDs and the §14.1 glare delay. Tags and Call-IDs
    /// must be globally unique (RFC 3261 §19.3, §8.1.1.4), so every agent needs its own seed:
    /// a real deployment draws it from the operating system (as `sip` does), tests pick
    /// distinct constants.
    pub rng_seed: u64,
    /// How long after an unanswered CANCEL the INVITE is given up (§9.1: 64*T1 by default,
    /// taken from the transaction table when `None`).
    pub cancel_timeout: Option<Duration>,
    /// How long an outgoing call may ring before the UA cancels it (default 180 s, like a
    /// proxy's Timer C, §16.6 step 11): an INVITE client transaction in Proceeding has no timer
    /// of its own (Figure 5).
    pub invite_timeout: Duration,
}

impl UaConfig {
    /// A configuration for `sent_by` (`host:port`) with a Contact and From built from `user`.
    #[must_use]
    pub fn new(user: &str, sent_by: &str) -> Self {
        UaConfig {
            sent_by: sent_by.to_string(),
            contact: format!("sip:{user}@{sent_by}"),
            from: format!("<sip:{user}@{sent_by}>"),
            allow: vec![Method::Invite, Method::Ack, Method::Cancel, Method::Bye, Method::Options],
            supported: Vec::new(),
            accept: vec!["application/sdp".to_string()],
            outbound_proxy: None,
            user_agent: None,
            max_redirects: 5,
            send_trying: true,
            max_calls: 100_000,
            rng_seed: 0,
            cancel_timeout: None,
            invite_timeout: Duration::from_secs(180),
        }
    }

    /// Sets [`UaConfig::from`].
    #[must_use]
    pub fn from(mut self, from: impl Into<String>) -> Self {
        self.from = from.into();
        self
    }

    /// Sets [`UaConfig::rng_seed`].
    #[must_use]
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// Sets [`UaConfig::outbound_proxy`].
    #[must_use]
    pub fn outbound_proxy(mut self, uri: impl Into<String>) -> Self {
        self.outbound_proxy = Some(uri.into());
        self
    }

    /// The Allow header value.
    pub(crate) fn allow_value(&self) -> String {
        join(self.allow.iter().map(Method::as_str))
    }

    /// The Accept header value.
    pub(crate) fn accept_value(&self) -> String {
        join(self.accept.iter().map(String::as_str))
    }

    /// The Supported header value (may be empty).
    pub(crate) fn supported_value(&self) -> String {
        join(self.supported.iter().map(String::as_str))
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for item in items {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(item);
    }
    out
}
