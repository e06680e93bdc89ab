//! A redirect server (RFC 3261 §8.3): answers requests with the locations of their target.

use std::fmt;
use std::time::Instant;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sip_message::{BuildError, HeaderName, Message, Method, Uri};

use crate::binding::same_uri;
use crate::registrar::build_response;
use crate::tag::ToTags;
use crate::{Aor, Domains, LocationService};

/// Settings of a [`RedirectServer`].
///
/// ```
/// use sip_registrar::{Domains, RedirectConfig};
/// let config = RedirectConfig::default().domains(Domains::only(["biloxi.example.com"])).rng_seed(3);
/// # let _ = config;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectConfig {
    domains: Domains,
    rng_seed: u64,
}

impl Default for RedirectConfig {
    fn default() -> Self {
        RedirectConfig { domains: Domains::any(), rng_seed: 0 }
    }
}

impl RedirectConfig {
    /// The domains whose users this server redirects (default: any); a Request-URI elsewhere is
    /// answered 404.
    #[must_use]
    pub fn domains(mut self, domains: Domains) -> Self {
        self.domains = domains;
        self
    }

    /// Seed of the generator that makes To tags (default 0).
    #[must_use]
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }
}

/// Counters for operators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedirectStats {
    /// Requests answered.
    pub requests: u64,
    /// Answered 302.
    pub redirected: u64,
    /// Answered 404.
    pub not_found: u64,
    /// Answered 480.
    pub unavailable: u64,
    /// Answered 400, 416 or 500.
    pub failed: u64,
}

/// A request could not be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectError {
    /// The message is a response.
    NotARequest,
    /// No response can be built from this request.
    Build(BuildError),
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectError::NotARequest => f.write_str("a redirect server answers requests only"),
            RedirectError::Build(e) => write!(f, "cannot build the response: {e}"),
        }
    }
}

impl std::error::Error for RedirectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedirectError::Build(e) => Some(e),
            RedirectError::NotARequest => None,
        }
    }
}

/// A redirect server (RFC 3261 §8.3): the transaction user behind a server transaction that
/// answers each request with where its target can be found, reading a [`LocationService`]
/// (usually the [`Registrar`](crate::Registrar) of the same domain).
///
/// For a request whose Request-URI is a SIP or SIPS URI in a domain served, canonicalised as an
/// [`Aor`]:
///
/// - **302 (Moved Temporarily)** with one Contact per live binding, highest `q` first, each as
///   `<uri>` with its `q` and `expires` (the seconds left, §8.3). Bindings whose URI equals the
///   Request-URI are left out (§8.3: "MUST NOT redirect a request to a URI equal to the one in
///   the Request-URI"); if none is left, **404**.
/// - **480 (Temporarily Unavailable)** for a *known* user with no binding, **404 (Not Found)**
///   for an unknown one or a domain not served. "Known" is
///   [`LocationService::is_known`]: for a [`MemoryStore`](crate::MemoryStore), an AOR that has
///   had a binding since start-up (or restore), or was provisioned with
///   [`MemoryStore::add_user`](crate::MemoryStore::add_user).
/// - 416 for a Request-URI that is not SIP or SIPS, 400 for one that does not parse, 500 when
///   the location service fails.
///
/// ACK gets no response (§17.2.1 absorbs ACKs for non-2xx finals). CANCEL gets none from here
/// either: §9.2 makes it the UAS core's business (200 to the CANCEL, 487 to the request if still
/// pending), and a redirect server answers at once, so there is never anything to cancel.
/// Unknown headers, option tags in Require and methods are ignored, as §8.3 requires. Every
/// response gets a To tag unless the request had one (§8.2.6.2).
#[derive(Debug)]
pub struct RedirectServer {
    config: RedirectConfig,
    tags: ToTags,
    stats: RedirectStats,
}

impl RedirectServer {
    /// A redirect server with `config`.
    #[must_use]
    pub fn new(config: RedirectConfig) -> RedirectServer {
        let tags = ToTags::new(ChaCha8Rng::seed_from_u64(config.rng_seed));
        RedirectServer { config, tags, stats: RedirectStats::default() }
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> RedirectStats {
        self.stats
    }

    /// Answers `request` from `location` at `now`: the final response to send through the
    /// request's server transaction, or `None` for ACK and CANCEL (see [`RedirectServer`]).
    ///
    /// # Errors
    /// [`RedirectError::NotARequest`] for a response; [`RedirectError::Build`] if no response
    /// can be built from the request.
    pub fn handle_request<L: LocationService + ?Sized>(
        &mut self,
        now: Instant,
        request: &Message,
        location: &L,
    ) -> Result<Option<Message>, RedirectError> {
        let method = request.method().ok_or(RedirectError::NotARequest)?;
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(None);
        }
        self.stats.requests += 1;
        let (status, reason, headers) = self.decide(now, request, location);
        match status {
            302 => self.stats.redirected += 1,
            404 => self.stats.not_found += 1,
            480 => self.stats.unavailable += 1,
            _ => self.stats.failed += 1,
        }
        let tag = self.tags.next();
        build_response(request, status, reason, &tag, &headers)
            .or_else(|_| build_response(request, 500, None, &tag, &[]))
            .map(Some)
            .map_err(RedirectError::Build)
    }

    fn decide<L: LocationService + ?Sized>(
        &self,
        now: Instant,
        request: &Message,
        location: &L,
    ) -> (u16, Option<&'static str>, Vec<(HeaderName, String)>) {
        let Some(Ok(ruri)) = request.request_uri() else {
            return (400, Some("Bad Request (malformed Request-URI)"), Vec::new());
        };
        let Some(sip) = ruri.as_sip() else {
            return (416, None, Vec::new());
        };
        let aor = Aor::from_sip(sip);
        if !self.config.domains.serves_aor(&aor) {
            return (404, Some("Not Found (domain not served here)"), Vec::new());
        }
        let Ok(locations) = location.lookup(&aor, now) else {
            return (500, Some("Server Internal Error (location service failed)"), Vec::new());
        };
        if locations.is_empty() {
            return match location.is_known(&aor) {
                Ok(true) => (480, None, Vec::new()),
                Ok(false) => (404, None, Vec::new()),
                Err(_) => (500, Some("Server Internal Error (location service failed)"), vec![]),
            };
        }
        let contacts: Vec<(HeaderName, String)> = locations
            .iter()
            .filter(|l| !same_uri(&l.uri, ruri.as_str()) && Uri::parse(&l.uri).is_ok())
            .map(|l| {
                let expires = l.remaining_secs(now);
                let value = match l.q {
                    Some(q) => format!("<{}>;q={q};expires={expires}", l.uri),
                    None => format!("<{}>;expires={expires}", l.uri),
                };
                (HeaderName::Contact, value)
            })
            .collect();
        if contacts.is_empty() {
            return (404, Some("Not Found (no location other than the Request-URI)"), Vec::new());
        }
        (302, None, contacts)
    }
}
