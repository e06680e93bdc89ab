//! The registrar: RFC 3261 §10.3 REGISTER processing over a [`BindingStore`].

use std::collections::VecDeque;
use std::fmt;
use std::time::{Instant, SystemTime};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sip_message::{
    BuildError, HeaderName, Message, MessageBuilder, Method, Path, Q, ReplyTo, To, TypedHeader,
};

use crate::binding::add_secs;
use crate::tag::{ToTags, is_token};
use crate::{Aor, Binding, BindingStore, Domains, Location, LocationService, StoreError};

/// RFC 3261 §10.2.1: "Malformed values SHOULD be treated as equivalent to 3600."
const MALFORMED_EXPIRES: u32 = 3600;

/// RFC 3261 §10.3 step 7: a 423 only when the requested interval is "greater than zero AND
/// smaller than one hour AND less than a registrar-configured minimum".
const ONE_HOUR: u32 = 3600;

/// Settings of a [`Registrar`].
///
/// | setting | default | rule |
/// | --- | --- | --- |
/// | [`domains`](Self::domains) | any | §10.3 steps 1 and 5 |
/// | [`min_expires`](Self::min_expires) | 60 s | §10.3 step 7, 423 + Min-Expires |
/// | [`default_expires`](Self::default_expires) | 3600 s | §10.3 step 7, neither `expires` nor Expires |
/// | [`max_expires`](Self::max_expires) | 86400 s | §10.3 step 7, "MAY choose an expiration less than the requested" |
/// | [`max_bindings`](Self::max_bindings) | 32 per AOR | local policy, 403 (Forbidden) |
/// | [`path`](Self::path) | on | RFC 3327 |
/// | [`supported`](Self::supported) | (none) | §8.2.2.3, more option tags accepted in Require |
/// | [`rng_seed`](Self::rng_seed) | 0 | To tags (§8.2.6.2, §19.3) |
///
/// The values are used consistently whatever their order of setting: the effective maximum
/// is never below the minimum, and the default lies between them (so a client that asks for
/// nothing never gets a 423).
///
/// ```
/// use sip_registrar::{Domains, RegistrarConfig};
///
/// let config = RegistrarConfig::default()
///     .domains(Domains::only(["biloxi.example.com"]))
///     .min_expires(120)
///     .max_bindings(Some(5))
///     .rng_seed(7);
/// assert_eq!(config.effective_default_expires(), 3600);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    domains: Domains,
    min_expires: u32,
    default_expires: u32,
    max_expires: u32,
    max_bindings: Option<usize>,
    path: bool,
    supported: Vec<String>,
    rng_seed: u64,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            domains: Domains::any(),
            min_expires: 60,
            default_expires: 3600,
            max_expires: 86_400,
            max_bindings: Some(32),
            path: true,
            supported: Vec::new(),
            rng_seed: 0,
        }
    }
}

impl RegistrarConfig {
    /// The domains this registrar keeps bindings for (default: any). A Request-URI whose host
    /// is not one is answered 404 (§10.3 step 1, §8.2.2.1: this registrar is not a proxy that
    /// could forward it); an AOR whose host is not one, 404 too (step 5).
    #[must_use]
    pub fn domains(mut self, domains: Domains) -> Self {
        self.domains = domains;
        self
    }

    /// The shortest registration accepted, in seconds (default 60); a request for less (but
    /// more than zero and less than an hour) is answered 423 with `Min-Expires` (§10.3 step 7).
    #[must_use]
    pub fn min_expires(mut self, secs: u32) -> Self {
        self.min_expires = secs;
        self
    }

    /// The interval granted when the REGISTER names none, in seconds (default 3600, §10.3
    /// step 7: "a locally-configured default value").
    #[must_use]
    pub fn default_expires(mut self, secs: u32) -> Self {
        self.default_expires = secs;
        self
    }

    /// The longest interval granted, in seconds (default 86400, one day); longer requests are
    /// shortened (§10.3 step 7). `u32::MAX` grants whatever is asked.
    #[must_use]
    pub fn max_expires(mut self, secs: u32) -> Self {
        self.max_expires = secs;
        self
    }

    /// The most bindings one AOR may have (default 32; `None`: no limit). A REGISTER that
    /// would add a binding beyond it is refused with 403 (Forbidden), reason "Too Many
    /// Bindings": the request is well-formed and authorised, but policy forbids it and
    /// repeating it will not help (§21.4.4). Refreshes and removals are never refused.
    #[must_use]
    pub fn max_bindings(mut self, max: Option<usize>) -> Self {
        self.max_bindings = max;
        self
    }

    /// Whether to support Path (RFC 3327, default on): Path values are stored with the
    /// bindings and returned by lookups, echoed in the 200 when the request's `Supported`
    /// lists `path`, and `Require: path` is accepted. Off: Path is ignored and `Require: path`
    /// draws a 420.
    #[must_use]
    pub fn path(mut self, on: bool) -> Self {
        self.path = on;
        self
    }

    /// Accepts one more option tag in `Require` (§8.2.2.3), for an extension the layer above
    /// implements (for example `outbound` when the runtime handles RFC 5626 flows).
    #[must_use]
    pub fn supported(mut self, option_tag: impl Into<String>) -> Self {
        self.supported.push(option_tag.into());
        self
    }

    /// Seed of the generator that makes To tags (default 0): the same seed and calls give the
    /// same responses.
    #[must_use]
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// The domains served.
    #[must_use]
    pub fn served_domains(&self) -> &Domains {
        &self.domains
    }

    /// The minimum interval, as sent in `Min-Expires`.
    #[must_use]
    pub fn effective_min_expires(&self) -> u32 {
        self.min_expires
    }

    /// The maximum interval granted: the configured maximum, but never below the minimum.
    #[must_use]
    pub fn effective_max_expires(&self) -> u32 {
        self.max_expires.max(self.min_expires)
    }

    /// The default interval, kept between the minimum and the maximum.
    #[must_use]
    pub fn effective_default_expires(&self) -> u32 {
        self.default_expires.clamp(self.min_expires, self.effective_max_expires())
    }

    /// The binding limit per AOR.
    #[must_use]
    pub fn binding_limit(&self) -> Option<usize> {
        self.max_bindings
    }

    /// Whether `option_tag` is supported (option tags are tokens, compared case-insensitively,
    /// §7.3.1 / §19.2).
    #[must_use]
    pub fn is_supported(&self, option_tag: &str) -> bool {
        (self.path && option_tag.eq_ignore_ascii_case("path"))
            || self.supported.iter().any(|t| t.eq_ignore_ascii_case(option_tag))
    }
}

/// Facts about one REGISTER that the layer above knows and this crate cannot: who was
/// authenticated, where the request came from, and optionally the To tag to use.
///
/// ```
/// use sip_registrar::RegisterContext;
/// let ctx = RegisterContext::new().authenticated_user("bob").source("tls:192.0.2.201:5061");
/// assert_eq!(ctx.user(), Some("bob"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterContext {
    user: Option<String>,
    source: Option<String>,
    to_tag: Option<String>,
}

impl RegisterContext {
    /// No authenticated user, no source, a generated To tag.
    #[must_use]
    pub fn new() -> RegisterContext {
        RegisterContext::default()
    }

    /// The identity the authentication layer verified (§10.3 step 3), handed to the
    /// [`Authorizer`] (step 4).
    #[must_use]
    pub fn authenticated_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Where the request came from (a transport address, a connection id): stored with the
    /// bindings it creates or refreshes ([`Binding::source`]).
    #[must_use]
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The To tag for the response, when the layer above already chose one (for example for a
    /// 401 it sent to the same request); it must be a token, else a generated tag is used.
    #[must_use]
    pub fn to_tag(mut self, tag: impl Into<String>) -> Self {
        self.to_tag = Some(tag.into());
        self
    }

    /// The authenticated user, if any.
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The source, if any.
    #[must_use]
    pub fn source_str(&self) -> Option<&str> {
        self.source.as_deref()
    }
}

/// RFC 3261 §10.3 step 4: may this authenticated user modify the bindings of this AOR?
/// "If the authenticated user is not authorized to modify bindings, the registrar MUST return a
/// 403 (Forbidden)." Third-party registration is a policy this hook expresses.
///
/// Closures `Fn(Option<&str>, &Aor) -> bool` implement it.
pub trait Authorizer {
    /// Whether `user` (the authenticated identity, `None` when the request was not
    /// authenticated) may register, refresh, remove or fetch the bindings of `aor`.
    fn may_register(&self, user: Option<&str>, aor: &Aor, request: &Message) -> bool;
}

/// The default [`Authorizer`]: everyone may register anything (an open registrar, or one whose
/// layer above already decided).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn may_register(&self, _user: Option<&str>, _aor: &Aor, _request: &Message) -> bool {
        true
    }
}

/// An [`Authorizer`] that lets an authenticated user manage only the AOR whose user part is its
/// own name (`bob` manages `sip:bob@...`); unauthenticated requests are refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SameUser;

impl Authorizer for SameUser {
    fn may_register(&self, user: Option<&str>, aor: &Aor, _request: &Message) -> bool {
        user.is_some_and(|u| aor.user() == Some(u))
    }
}

impl<F: Fn(Option<&str>, &Aor) -> bool> Authorizer for F {
    fn may_register(&self, user: Option<&str>, aor: &Aor, _request: &Message) -> bool {
        self(user, aor)
    }
}

/// What the registrar tells its owner about the bindings (drain with
/// [`Registrar::poll_event`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrarEvent {
    /// A REGISTER created a binding.
    BindingAdded {
        /// The address-of-record.
        aor: Aor,
        /// The binding as stored.
        binding: Binding,
    },
    /// A REGISTER refreshed or modified an existing binding.
    BindingRefreshed {
        /// The address-of-record.
        aor: Aor,
        /// The binding as now stored.
        binding: Binding,
    },
    /// A REGISTER removed a binding (`expires=0` or `Contact: *`).
    BindingRemoved {
        /// The address-of-record.
        aor: Aor,
        /// The binding as it was.
        binding: Binding,
    },
    /// A binding reached its expiry without being refreshed.
    BindingExpired {
        /// The address-of-record.
        aor: Aor,
        /// The binding as it was.
        binding: Binding,
    },
}

/// Counters for operators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrarStats {
    /// REGISTER requests answered.
    pub requests: u64,
    /// Of those, answered 200.
    pub accepted: u64,
    /// Of those, answered with an error.
    pub rejected: u64,
    /// Refused because a binding had the same Call-ID and a higher or equal CSeq (§10.3).
    pub out_of_order: u64,
    /// Bindings created.
    pub added: u64,
    /// Bindings refreshed or modified.
    pub refreshed: u64,
    /// Bindings removed by a REGISTER.
    pub removed: u64,
    /// Bindings that expired.
    pub expired: u64,
    /// Store operations that failed.
    pub store_errors: u64,
}

/// A REGISTER could not be answered: a caller mistake, or a response that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// The message is a response; only requests are processed.
    NotARequest,
    /// The method never gets a response from a registrar: ACK (§17.2.1 absorbs it) or CANCEL
    /// (§9.2: the UAS core answers it; a REGISTER is answered at once, so there is nothing
    /// left to cancel).
    NoResponse(Method),
    /// Neither the response nor a plain 500 could be built from this request (its headers do
    /// not fit the default [`Limits`](sip_message::Limits), for example).
    Build(BuildError),
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::NotARequest => f.write_str("a registrar processes requests only"),
            RegisterError::NoResponse(m) => write!(f, "{m} gets no response from a registrar"),
            RegisterError::Build(e) => write!(f, "cannot build the response: {e}"),
        }
    }
}

impl std::error::Error for RegisterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegisterError::Build(e) => Some(e),
            RegisterError::NotARequest | RegisterError::NoResponse(_) => None,
        }
    }
}

/// A registrar (RFC 3261 §10.3) over a [`BindingStore`].
///
/// - [`handle_register`](Self::handle_register): a REGISTER the transaction layer matched; it
///   returns the response to send through that server transaction.
/// - [`handle_timeout`](Self::handle_timeout) / [`poll_timeout`](Self::poll_timeout):
///   bindings expire on the caller's clock.
/// - [`poll_event`](Self::poll_event): bindings added, refreshed, removed, expired.
/// - [`LocationService`]: lookups for a co-located proxy or redirect server.
///
/// After each call, drain `poll_event` until `None`, then read `poll_timeout` afresh. A `now`
/// earlier than one already seen is treated as that one.
pub struct Registrar<S: BindingStore> {
    config: RegistrarConfig,
    store: S,
    authorizer: Box<dyn Authorizer>,
    tags: ToTags,
    events: VecDeque<RegistrarEvent>,
    stats: RegistrarStats,
    last_now: Option<Instant>,
}

impl<S: BindingStore + fmt::Debug> fmt::Debug for Registrar<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("config", &self.config)
            .field("store", &self.store)
            .field("events", &self.events.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<S: BindingStore> Registrar<S> {
    /// A registrar over `store`, authorising everything ([`AllowAll`]).
    #[must_use]
    pub fn new(config: RegistrarConfig, store: S) -> Registrar<S> {
        let tags = ToTags::new(ChaCha8Rng::seed_from_u64(config.rng_seed));
        Registrar {
            config,
            store,
            authorizer: Box::new(AllowAll),
            tags,
            events: VecDeque::new(),
            stats: RegistrarStats::default(),
            last_now: None,
        }
    }

    /// Uses `authorizer` for §10.3 step 4.
    #[must_use]
    pub fn with_authorizer(mut self, authorizer: impl Authorizer + 'static) -> Self {
        self.authorizer = Box::new(authorizer);
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, for administration (restoring a [`Snapshot`](crate::Snapshot), provisioning
    /// users). Changes made here emit no events.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> RegistrarStats {
        self.stats
    }

    /// The live bindings of `aor` at `now`, in registration order.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    pub fn bindings(&self, aor: &Aor, now: Instant) -> Result<Vec<Binding>, StoreError> {
        let mut list = self.store.bindings(aor)?;
        list.retain(|b| b.is_alive(now));
        Ok(list)
    }

    /// Processes a REGISTER (RFC 3261 §10.3) and returns the response to send. `wall` is the
    /// wall-clock time for the `Date` header (§10.3 step 8 "SHOULD include a Date header
    /// field"; §10.2.5), read by the caller; `ctx` carries what the layer above knows.
    ///
    /// The steps, in the RFC's order, after the checks of §8.2 (To, Call-ID and a CSeq whose
    /// method is REGISTER, each answered 400 when missing or malformed):
    ///
    /// 1. Request-URI: not a SIP/SIPS URI → 416; a host not in [`RegistrarConfig::domains`] →
    ///    404. (A user part, which §10.2 forbids, is tolerated.)
    /// 2. `Require`: option tags not supported → 420 with `Unsupported`.
    /// 3. Authentication is the caller's: pass the result in `ctx`.
    /// 4. [`Authorizer`] → 403 (it is given the AOR, so a To that is not a SIP or SIPS URI is
    ///    answered 404 just before).
    /// 5. AOR from To, canonical ([`Aor`]); not in a domain served → 404.
    /// 6. `Contact: *` must be alone and with `Expires: 0`, else 400; it removes every binding
    ///    unless one has this Call-ID and a CSeq at least this one's (then 500, nothing done).
    /// 7. Each contact's interval: its `expires`, else `Expires`, else the default (a malformed
    ///    value counts as 3600, a value beyond 2^32-1 as 2^32-1, §10.2.1); 0 < interval <
    ///    min and < 3600 → 423 with `Min-Expires`; capped at the maximum. A contact equal
    ///    (§19.1.4) to a binding with the same Call-ID and a CSeq not lower than the
    ///    request's → 500 (Server Internal Error), nothing done; otherwise it is updated,
    ///    or removed for 0; new contacts are added (0 adds nothing). All or nothing.
    /// 8. 200 with every live binding as a Contact with `expires`, and a `Date`; the Path of
    ///    the request echoed when `Supported: path`.
    ///
    /// A request without Contact only fetches the bindings. Every non-100 response carries a
    /// To tag (§8.2.6.2). Other methods are answered 405 with `Allow: REGISTER`.
    ///
    /// # Errors
    /// [`RegisterError::NotARequest`] for a response, [`RegisterError::NoResponse`] for ACK and
    /// CANCEL, [`RegisterError::Build`] if no response can be built from this request.
    pub fn handle_register(
        &mut self,
        now: Instant,
        wall: SystemTime,
        request: &Message,
        ctx: &RegisterContext,
    ) -> Result<Message, RegisterError> {
        let method = request.method().ok_or(RegisterError::NotARequest)?;
        match method {
            Method::Ack | Method::Cancel => return Err(RegisterError::NoResponse(method.clone())),
            _ => {}
        }
        let now = self.advance(now);
        self.handle_timeout(now);
        let tag = match ctx.to_tag.as_deref() {
            Some(t) if is_token(t) => t.to_owned(),
            _ => self.tags.next(),
        };
        let reply = if *method == Method::Register {
            self.stats.requests += 1;
            let reply = self.process(now, request, ctx);
            match &reply {
                Reply::Ok { .. } => self.stats.accepted += 1,
                Reply::Reject(_) => self.stats.rejected += 1,
            }
            reply
        } else {
            Reply::Reject(Rejection::new(405, None).header(HeaderName::Allow, "REGISTER"))
        };
        let (status, reason, headers) = match reply {
            Reply::Ok { bindings, path } => {
                let mut headers: Vec<(HeaderName, String)> = bindings
                    .iter()
                    .map(|b| {
                        let expires = b.remaining_secs(now);
                        (HeaderName::Contact, format!("{};expires={expires}", b.contact))
                    })
                    .collect();
                headers.extend(path.into_iter().map(|p| (HeaderName::Path, p)));
                headers.push((HeaderName::Date, crate::format_date(wall)));
                (200, None, headers)
            }
            Reply::Reject(r) => (r.status, r.reason, r.headers),
        };
        build_response(request, status, reason.as_deref(), &tag, &headers)
            .or_else(|_| build_response(request, 500, None, &tag, &[]))
            .map_err(RegisterError::Build)
    }

    /// Removes the bindings that expired by `now` and queues a
    /// [`RegistrarEvent::BindingExpired`] for each. Early calls do nothing. Call it at
    /// [`poll_timeout`](Self::poll_timeout); lookups already ignore expired bindings, so a late
    /// call only delays the events.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        if self.store.next_expiry().is_none_or(|at| at > now) {
            return;
        }
        let mut expired = Vec::new();
        if self.store.remove_expired(now, &mut expired).is_err() {
            self.stats.store_errors += 1;
        }
        for (aor, binding) in expired {
            self.stats.expired += 1;
            self.events.push_back(RegistrarEvent::BindingExpired { aor, binding });
        }
    }

    /// When the next binding expires: call [`handle_timeout`](Self::handle_timeout) then.
    /// `None` when there is no binding. Changes after every REGISTER.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.store.next_expiry()
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    // ----- internals --------------------------------------------------------------------------

    fn advance(&mut self, now: Instant) -> Instant {
        let now = self.last_now.map_or(now, |last| last.max(now));
        self.last_now = Some(now);
        now
    }

    /// §8.2 checks and §10.3 steps 1–8, up to the reply (not yet a message).
    fn process(&mut self, now: Instant, request: &Message, ctx: &RegisterContext) -> Reply {
        match self.try_process(now, request, ctx) {
            Ok(reply) => reply,
            Err(rejection) => Reply::Reject(rejection),
        }
    }

    fn try_process(
        &mut self,
        now: Instant,
        request: &Message,
        ctx: &RegisterContext,
    ) -> Result<Reply, Rejection> {
        // §8.2: what every request needs, and what steps 5–7 read.
        let call_id =
            request.call_id().ok_or_else(|| Rejection::bad("missing or malformed Call-ID"))?;
        let cseq =
            request.cseq_number().ok_or_else(|| Rejection::bad("missing or malformed CSeq"))?;
        if request.cseq_method() != Some(&Method::Register) {
            return Err(Rejection::bad("CSeq method does not match request method"));
        }
        let to_text =
            request.header_str(HeaderName::To).ok_or_else(|| Rejection::bad("missing To"))?;
        let to = To::parse(to_text).map_err(|_| Rejection::bad("malformed To"))?;

        // Step 1: the Request-URI names a domain we keep bindings for.
        let ruri = request.request_uri().ok_or_else(|| Rejection::bad("missing Request-URI"))?;
        let ruri = ruri.map_err(|_| Rejection::bad("malformed Request-URI"))?;
        let Some(ruri) = ruri.as_sip() else {
            return Err(Rejection::new(416, None));
        };
        if !self.config.domains.serves_host(&ruri.host()) {
            return Err(Rejection::new(404, Some("Not Found (domain not served here)")));
        }

        // Step 2: Require (§8.2.2.3).
        let mut unsupported: Vec<&str> = Vec::new();
        for value in request.values(HeaderName::Require) {
            let tag = std::str::from_utf8(value)
                .ok()
                .filter(|t| is_token(t))
                .ok_or_else(|| Rejection::bad("malformed Require"))?;
            if !self.config.is_supported(tag) && !unsupported.contains(&tag) {
                unsupported.push(tag);
            }
        }
        if !unsupported.is_empty() {
            return Err(
                Rejection::new(420, None).header(HeaderName::Unsupported, unsupported.join(", "))
            );
        }

        // Step 5, first half: the AOR must be a SIP or SIPS URI ("not valid for the domain").
        let aor = Aor::from_uri(&to.uri()).map_err(|_| {
            Rejection::new(404, Some("Not Found (address-of-record must be a SIP or SIPS URI)"))
        })?;

        // Steps 3 and 4: authenticated above; authorised here.
        if !self.authorizer.may_register(ctx.user(), &aor, request) {
            return Err(Rejection::new(
                403,
                Some("Forbidden (not authorized for this address-of-record)"),
            ));
        }

        // Step 5, second half.
        if !self.config.domains.serves_aor(&aor) {
            return Err(Rejection::new(
                404,
                Some("Not Found (address-of-record not in a domain served here)"),
            ));
        }

        let path = self.request_path(request)?;
        let echo_path =
            if self.config.path && supports_path(request) { path.clone() } else { vec![] };

        // Step 6: is there a Contact at all, and is `*` used properly?
        let contacts = self.request_contacts(request)?;
        let Some(contacts) = contacts else {
            let bindings = self.bindings(&aor, now).map_err(|_| self.store_failed())?;
            return Ok(Reply::Ok { bindings, path: echo_path });
        };

        let change = Change {
            call_id,
            cseq,
            contacts,
            path,
            source: ctx.source.clone(),
            now,
            max_bindings: self.config.max_bindings,
        };
        let mut outcome: Option<Result<Planned, Refusal>> = None;
        let committed = self.store.update(&aor, &mut |list| {
            let planned = change.plan(list);
            let commit = match &planned {
                Ok(p) => {
                    list.clone_from(&p.list);
                    true
                }
                Err(_) => false,
            };
            outcome = Some(planned);
            commit
        });
        let planned = match (committed, outcome) {
            (Ok(true), Some(Ok(planned))) => planned,
            (Ok(_), Some(Err(Refusal::OutOfOrder))) => {
                self.stats.out_of_order += 1;
                return Err(Rejection::new(
                    500,
                    Some("Server Internal Error (out-of-order REGISTER: CSeq not above stored)"),
                ));
            }
            (Ok(_), Some(Err(Refusal::TooManyBindings))) => {
                return Err(Rejection::new(403, Some("Forbidden (Too Many Bindings)")));
            }
            // A store error, or a store that never called `edit`.
            (Err(_) | Ok(_), _) => return Err(self.store_failed()),
        };
        for (kind, binding) in planned.events {
            let aor = aor.clone();
            let event = match kind {
                EventKind::Added => {
                    self.stats.added += 1;
                    RegistrarEvent::BindingAdded { aor, binding }
                }
                EventKind::Refreshed => {
                    self.stats.refreshed += 1;
                    RegistrarEvent::BindingRefreshed { aor, binding }
                }
                EventKind::Removed => {
                    self.stats.removed += 1;
                    RegistrarEvent::BindingRemoved { aor, binding }
                }
                EventKind::Expired => {
                    self.stats.expired += 1;
                    RegistrarEvent::BindingExpired { aor, binding }
                }
            };
            self.events.push_back(event);
        }
        Ok(Reply::Ok { bindings: planned.list, path: echo_path })
    }

    fn store_failed(&mut self) -> Rejection {
        self.stats.store_errors += 1;
        Rejection::new(500, Some("Server Internal Error (binding store failed)"))
    }

    /// The Path values of the request (RFC 3327), if Path is supported.
    fn request_path(&self, request: &Message) -> Result<Vec<String>, Rejection> {
        if !self.config.path {
            return Ok(Vec::new());
        }
        request
            .values(HeaderName::Path)
            .map(|v| {
                std::str::from_utf8(v)
                    .ok()
                    .filter(|s| Path::parse(s).is_ok())
                    .map(unfold)
                    .ok_or_else(|| Rejection::bad("malformed Path"))
            })
            .collect()
    }

    /// Step 6 and the interval part of step 7: `None` without Contact, else the contacts with
    /// their granted intervals (`Contacts::Star` for `*`).
    fn request_contacts(&self, request: &Message) -> Result<Option<Contacts>, Rejection> {
        let values: Vec<&[u8]> = request.values(HeaderName::Contact).collect();
        if values.is_empty() {
            return Ok(None);
        }
        let expires_header = request.header_str(HeaderName::Expires).map(parse_delta);
        if values.iter().any(|v| *v == b"*") {
            if values.len() != 1 {
                return Err(Rejection::bad("Contact: * must be the only Contact"));
            }
            if expires_header != Some(Delta::Seconds(0)) {
                return Err(Rejection::bad("Contact: * requires Expires: 0"));
            }
            return Ok(Some(Contacts::Star));
        }
        let min = self.config.min_expires;
        let max = self.config.effective_max_expires();
        let default = self.config.effective_default_expires();
        let mut contacts = Vec::with_capacity(values.len());
        for value in values {
            let text =
                std::str::from_utf8(value).map_err(|_| Rejection::bad("malformed Contact"))?;
            let parsed = parse_contact(text).ok_or_else(|| Rejection::bad("malformed Contact"))?;
            let requested = parsed.expires.or(expires_header).map_or(default, Delta::seconds);
            if requested > 0 && requested < min && requested < ONE_HOUR {
                return Err(
                    Rejection::new(423, None).header(HeaderName::MinExpires, min.to_string())
                );
            }
            contacts.push(NewContact {
                uri: parsed.uri,
                contact: parsed.contact,
                q: parsed.q,
                granted: requested.min(max),
            });
        }
        Ok(Some(Contacts::List(contacts)))
    }
}

impl<S: BindingStore> LocationService for Registrar<S> {
    fn lookup(&self, aor: &Aor, now: Instant) -> Result<Vec<Location>, StoreError> {
        self.store.lookup(aor, now)
    }

    fn is_known(&self, aor: &Aor) -> Result<bool, StoreError> {
        BindingStore::is_known(&self.store, aor)
    }
}

// ----- request analysis --------------------------------------------------------------------------

/// A delta-seconds value as a registrar reads it (§10.2.1): digits, or malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delta {
    Seconds(u32),
    Malformed,
}

impl Delta {
    fn seconds(self) -> u32 {
        match self {
            Delta::Seconds(s) => s,
            Delta::Malformed => MALFORMED_EXPIRES,
        }
    }
}

/// `delta-seconds`, leniently: more than 2^32-1 is 2^32-1 ("MAY treat values larger than
/// 2**32-1 ... as equivalent to 2**32-1"), anything but digits is malformed.
fn parse_delta(s: &str) -> Delta {
    let s = s.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Delta::Malformed;
    }
    Delta::Seconds(s.parse::<u32>().unwrap_or(u32::MAX))
}

/// One Contact value of a REGISTER, as stored.
struct ParsedContact {
    uri: String,
    contact: String,
    q: Option<Q>,
    expires: Option<Delta>,
}

/// Parses a Contact value with the Contact grammar minus the checks on `q` and `expires`, which
/// a registrar applies leniently (§10.2.1: a malformed `expires` counts as 3600; a malformed
/// `q` is dropped). Reply-To has exactly that grammar: `(name-addr / addr-spec) *(SEMI
/// generic-param)` with no parameter checked.
fn parse_contact(text: &str) -> Option<ParsedContact> {
    let parsed = ReplyTo::parse(text).ok()?;
    let addr = parsed.name_addr();
    let uri = addr.uri_str();
    let params = parsed.params();
    let q = match params.get("q") {
        Some(Some(v)) => v.parse::<Q>().ok(),
        _ => None,
    };
    let expires = params.get("expires").map(|v| v.map_or(Delta::Malformed, parse_delta));
    let mut contact = String::with_capacity(text.len() + 2);
    if let Some(display) = addr.display_name_raw() {
        contact.push_str(display);
        contact.push(' ');
    }
    contact.push('<');
    contact.push_str(uri);
    contact.push('>');
    for (name, value) in params.iter() {
        if name.eq_ignore_ascii_case("expires") || (name.eq_ignore_ascii_case("q") && q.is_none()) {
            continue;
        }
        contact.push(';');
        contact.push_str(name);
        if let Some(value) = value {
            contact.push('=');
            contact.push_str(value);
        }
    }
    Some(ParsedContact { uri: unfold(uri), contact: unfold(&contact), q, expires })
}

/// Replaces line breaks (of folded lines, RFC 3261 §7.3.1) and other control characters with
/// spaces, so stored text can be written back as one header line.
fn unfold(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Whether the request's Supported lists `path` (RFC 3327 §5.3: only then is Path echoed).
fn supports_path(request: &Message) -> bool {
    request.values(HeaderName::Supported).any(|v| v.eq_ignore_ascii_case(b"path"))
}

/// The contacts of a REGISTER with their granted intervals.
enum Contacts {
    Star,
    List(Vec<NewContact>),
}

struct NewContact {
    uri: String,
    contact: String,
    q: Option<Q>,
    granted: u32,
}

// ----- the change to one AOR ---------------------------------------------------------------------

/// Everything step 6–7 need, captured so that the store's `edit` can replay it.
struct Change<'a> {
    call_id: &'a str,
    cseq: u32,
    contacts: Contacts,
    path: Vec<String>,
    source: Option<String>,
    now: Instant,
    max_bindings: Option<usize>,
}

enum Refusal {
    OutOfOrder,
    TooManyBindings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventKind {
    Added,
    Refreshed,
    Removed,
    Expired,
}

struct Planned {
    /// The AOR's new list: live bindings only, registration order.
    list: Vec<Binding>,
    events: Vec<(EventKind, Binding)>,
}

/// One entry of the list being edited.
struct Entry {
    binding: Binding,
    /// Whether the binding existed before this request.
    existed: bool,
    /// Whether this request touched it (it then skips the CSeq check for later duplicates).
    touched: bool,
    removed: bool,
}

impl Change<'_> {
    /// Steps 6–7 on `current`, without touching it: the new list and the events, or why the
    /// request fails.
    fn plan(&self, current: &[Binding]) -> Result<Planned, Refusal> {
        let mut events = Vec::new();
        let mut entries: Vec<Entry> = Vec::with_capacity(current.len());
        for b in current {
            if b.is_alive(self.now) {
                entries.push(Entry {
                    binding: b.clone(),
                    existed: true,
                    touched: false,
                    removed: false,
                });
            } else {
                // Expired but not yet removed (a store shared with other processes).
                events.push((EventKind::Expired, b.clone()));
            }
        }
        let out_of_order = |b: &Binding| b.call_id == self.call_id && self.cseq <= b.cseq;
        match &self.contacts {
            Contacts::Star => {
                // Step 6: every binding goes, unless one is newer from the same client.
                if entries.iter().any(|e| out_of_order(&e.binding)) {
                    return Err(Refusal::OutOfOrder);
                }
                for e in &mut entries {
                    e.removed = true;
                }
            }
            Contacts::List(contacts) => {
                for c in contacts {
                    let found = entries.iter_mut().find(|e| e.binding.matches_uri(&c.uri));
                    match found {
                        Some(e) => {
                            if !e.touched && out_of_order(&e.binding) {
                                return Err(Refusal::OutOfOrder);
                            }
                            e.touched = true;
                            e.removed = c.granted == 0;
                            self.fill(&mut e.binding, c);
                        }
                        None if c.granted == 0 => {} // removing what is not there
                        None => {
                            let mut binding = Binding {
                                uri: String::new(),
                                contact: String::new(),
                                q: None,
                                expires_at: self.now,
                                call_id: String::new(),
                                cseq: 0,
                                path: Vec::new(),
                                source: None,
                            };
                            self.fill(&mut binding, c);
                            entries.push(Entry {
                                binding,
                                existed: false,
                                touched: true,
                                removed: false,
                            });
                        }
                    }
                }
            }
        }
        let kept = entries.iter().filter(|e| !e.removed).count();
        let added = entries.iter().any(|e| !e.existed && !e.removed);
        if added && self.max_bindings.is_some_and(|max| kept > max) {
            return Err(Refusal::TooManyBindings);
        }
        let mut list = Vec::with_capacity(kept);
        for e in entries {
            match (e.existed, e.removed, e.touched) {
                (true, true, _) => {
                    // Report the binding as it was before this request.
                    let before = current.iter().find(|b| b.matches_uri(&e.binding.uri));
                    events.push((EventKind::Removed, before.cloned().unwrap_or(e.binding)));
                }
                (false, true, _) => {}
                (true, false, true) => {
                    events.push((EventKind::Refreshed, e.binding.clone()));
                    list.push(e.binding);
                }
                (false, false, _) => {
                    events.push((EventKind::Added, e.binding.clone()));
                    list.push(e.binding);
                }
                (true, false, false) => list.push(e.binding),
            }
        }
        Ok(Planned { list, events })
    }

    /// Writes what the request says about contact `c` into `b` (§10.3 step 7: "Each binding
    /// record records the Call-ID and CSeq values from the request").
    fn fill(&self, b: &mut Binding, c: &NewContact) {
        b.uri.clone_from(&c.uri);
        b.contact.clone_from(&c.contact);
        b.q = c.q;
        b.expires_at = add_secs(self.now, c.granted);
        self.call_id.clone_into(&mut b.call_id);
        b.cseq = self.cseq;
        b.path.clone_from(&self.path);
        b.source.clone_from(&self.source);
    }
}

// ----- responses -------------------------------------------------------------------------------

enum Reply {
    Ok { bindings: Vec<Binding>, path: Vec<String> },
    Reject(Rejection),
}

/// An error response still to be built.
struct Rejection {
    status: u16,
    reason: Option<String>,
    headers: Vec<(HeaderName, String)>,
}

impl Rejection {
    fn new(status: u16, reason: Option<&str>) -> Rejection {
        Rejection { status, reason: reason.map(str::to_owned), headers: Vec::new() }
    }

    /// 400 with what was wrong in the reason phrase.
    fn bad(what: &str) -> Rejection {
        Rejection {
            status: 400,
            reason: Some(format!("Bad Request ({what})")),
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: HeaderName, value: impl Into<String>) -> Rejection {
        self.headers.push((name, value.into()));
        self
    }
}

/// A response to `request` (§8.2.6): its Via, From, Call-ID and CSeq, its To with `tag` unless
/// it had one, then `headers`.
pub(crate) fn build_response(
    request: &Message,
    status: u16,
    reason: Option<&str>,
    tag: &str,
    headers: &[(HeaderName, String)],
) -> Result<Message, BuildError> {
    let mut builder = MessageBuilder::response_to(request, status, reason);
    if request.has(HeaderName::To) {
        builder = builder.to_tag(tag);
    }
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_seconds_are_read_leniently() {
        // RFC 3261 §10.2.1.
        assert_eq!(parse_delta("3600"), Delta::Seconds(3600));
        assert_eq!(parse_delta(" 0 "), Delta::Seconds(0));
        assert_eq!(parse_delta("99999999999999999999"), Delta::Seconds(u32::MAX));
        assert_eq!(parse_delta("Thu, 01 Dec 1994 16:00:00 GMT").seconds(), 3600);
        assert_eq!(parse_delta("").seconds(), 3600);
        assert_eq!(parse_delta("-1").seconds(), 3600);
    }

    #[test]
    fn contacts_are_stored_without_expires_and_unfolded() {
        let c = parse_contact("\"Mr. Watson\" <sip:watson@worcester.example.com>\r\n ;q=0.7; expires=3600;+sip.instance=\"<urn:uuid:1>\"")
            .unwrap();
        assert_eq!(c.uri, "sip:watson@worcester.example.com");
        assert_eq!(
            c.contact,
            "\"Mr. Watson\" <sip:watson@worcester.example.com>;q=0.7;+sip.instance=\"<urn:uuid:1>\""
        );
        assert_eq!(c.q.map(Q::thousandths), Some(700));
        assert_eq!(c.expires, Some(Delta::Seconds(3600)));
        // addr-spec form: parameters are header parameters; a bad q is dropped.
        let c = parse_contact("sip:a@b;q=7;expires=soon").unwrap();
        assert_eq!(c.contact, "<sip:a@b>");
        assert_eq!(c.q, None);
        assert_eq!(c.expires, Some(Delta::Malformed));
        assert!(parse_contact("<sip:a@b").is_none());
    }
}
