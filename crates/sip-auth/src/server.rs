//! The authenticating side: challenges (RFC 3261 §22.2, §22.3; RFC 7616 §3.3; RFC 8760 §2.4)
//! and verification of credentials (RFC 7616 §3.4, §3.6) with stateless nonces and replay
//! protection.

use std::fmt;
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sip_message::{
    Authorization, Credentials, EditError, HeaderName, Message, ProxyAuthorization, TypedHeader,
    Uri,
};

use crate::algorithm::{Algorithm, Qop, ct_eq_ignore_ascii_case, from_hex};
use crate::digest::{
    AuthRole, DigestInput, DigestRequest, format_nc, is_quotable, push_quoted_param,
    push_token_param, response, session_ha1,
};
use crate::nonce::{NonceId, NonceMint, ReplayCheck, ReplayTable};
use crate::store::CredentialStore;

/// Settings of a [`DigestServer`].
///
/// | setting | default | why |
/// | --- | --- | --- |
/// | [`role`](Self::role) | [`AuthRole::Uas`] (401) | registrars and UAS; proxies use 407 |
/// | [`algorithms`](Self::algorithms) | SHA-256, MD5 | RFC 8760 §2.4 wants SHA-256; MD5 keeps RFC 3261-only phones working |
/// | [`qop`](Self::qop) | `auth` | RFC 3261 §22.4 item 8: always send a qop |
/// | [`nonce_lifetime`](Self::nonce_lifetime) | 300 s | long enough for a retry and a few preemptive reuses, short enough to bound replays |
/// | [`allow_rfc2069`](Self::allow_rfc2069) | true | RFC 3261 §22.4: servers MUST stay compatible with RFC 2069 |
/// | [`uri_check`](Self::uri_check) | [`UriCheck::Equivalent`] | RFC 7616 §3.4.6 |
/// | [`replay_capacity`](Self::replay_capacity) | 8192 nonces | bounded memory (about 40 bytes per nonce) |
/// | [`nc_window`](Self::nc_window) | 0 (strictly increasing `nc`) | RFC 7616 §3.4 |
/// | [`userhash`](Self::userhash) | false | RFC 7616 §3.4.4, optional |
/// | [`nonce_epoch_ms`](Self::nonce_epoch_ms) | 0 | see [Time](crate#time-and-nonces) |
///
/// ```
/// use std::time::Duration;
/// use sip_auth::{Algorithm, AuthRole, DigestServerConfig, Qop};
/// let config = DigestServerConfig::new("proxy.example.com", *b"a key of at least 16 bytes")
///     .role(AuthRole::Proxy)
///     .algorithms([Algorithm::Sha512_256, Algorithm::Sha256, Algorithm::Md5])
///     .qop([Qop::Auth, Qop::AuthInt])
///     .nonce_lifetime(Duration::from_secs(60));
/// ```
#[derive(Clone)]
pub struct DigestServerConfig {
    realm: String,
    key: Vec<u8>,
    role: AuthRole,
    nonce_lifetime: Duration,
    algorithms: Vec<Algorithm>,
    qop: Vec<Qop>,
    opaque: Option<String>,
    domain: Option<String>,
    allow_rfc2069: bool,
    uri_check: UriCheck,
    userhash: bool,
    replay_capacity: usize,
    nc_window: u8,
    nonce_epoch_ms: u64,
    rng_seed: u64,
}

/// How the `uri` parameter must relate to the Request-URI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UriCheck {
    /// The same resource: equal under the URI comparison rules of RFC 3261 §19.1.4 when both
    /// parse as URIs, byte-equal otherwise (RFC 7616 §3.4.6: "MUST assure that the resource
    /// designated by the uri parameter is the same as the resource specified in the
    /// Request-Line").
    #[default]
    Equivalent,
    /// Byte-for-byte equal.
    Exact,
    /// Not checked. RFC 3261 §22.4 item 6 allows this where proxies retarget requests; the
    /// digest still covers the `uri` parameter the client sent.
    Off,
}

/// Why a [`DigestServerConfig`] cannot make a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The HMAC key is shorter than 16 bytes.
    KeyTooShort,
    /// No algorithm to offer.
    NoAlgorithms,
    /// The same algorithm twice: RFC 7616 §3.7 requires each challenge to use a different one.
    DuplicateAlgorithm(Algorithm),
    /// No qop to offer (RFC 3261 §22.4 item 8: servers MUST always send one).
    NoQop,
    /// The realm, opaque or domain holds CR or LF and cannot be a quoted-string.
    Unquotable(&'static str),
    /// The nonce lifetime is zero or longer than a day.
    NonceLifetime,
}

/// A digest authenticator for one realm: it issues challenges with stateless nonces and checks
/// credentials against a [`CredentialStore`].
///
/// See the [crate documentation](crate) for the flow and an example.
pub struct DigestServer {
    config: DigestServerConfig,
    mint: NonceMint,
    replay: ReplayTable,
    rng: ChaCha8Rng,
    started: Instant,
    last_ms: u64,
    stats: ServerStats,
}

/// The verdict on a request's credentials.
///
/// [`reply`](Outcome::reply) says what to answer. Note that [`UnknownUser`](Outcome::UnknownUser)
/// and [`WrongPassword`](Outcome::WrongPassword) lead to the same challenge, so the wire does not
/// reveal which user names exist.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The credentials are valid, fresh and not replayed.
    Authenticated(Authenticated),
    /// An ACK or CANCEL: RFC 3261 §22.1 forbids challenging them, so they pass unchecked (the
    /// ACK for a 2xx carries a copy of the INVITE's credentials, computed for INVITE).
    Exempt,
    /// No credentials at all.
    NoCredentials,
    /// Digest credentials, but none for this realm (RFC 3261 §22.3: other proxies' credentials
    /// are left alone).
    WrongRealm,
    /// Credentials for this realm that break the grammar or miss a parameter (RFC 7616 §3.4:
    /// answer with a 4xx, here 400).
    Malformed(Malformation),
    /// An `algorithm` that is unknown or was not offered.
    UnsupportedAlgorithm,
    /// A `qop` that is unknown or was not offered, or none when RFC 2069 responses are not
    /// accepted.
    UnsupportedQop,
    /// The `opaque` value is not the one this server sends.
    OpaqueMismatch,
    /// The `uri` parameter names another resource than the Request-URI (RFC 7616 §3.4.6).
    UriMismatch,
    /// The store has no `H(A1)` for this user and algorithm.
    UnknownUser,
    /// The response digest is wrong: wrong password (or tampered request).
    WrongPassword,
    /// The nonce was not minted by this server (forged, tampered or from another key) and the
    /// response does not match it either.
    InvalidNonce,
    /// The response is right but the nonce expired, is not this server's, or its use can no
    /// longer be checked: challenge again with `stale=true` (RFC 7616 §3.3).
    Stale,
    /// The nonce count was used before with this nonce (RFC 7616 §3.4 `nc`, §5.5), or an RFC
    /// 2069 response reused its nonce. Answered with a fresh `stale=true` challenge: a replayer
    /// cannot use it, and a client that reused a count by mistake recovers.
    Replay,
}

/// What a server answers after [`DigestServer::verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Go on with the request.
    Proceed,
    /// Answer 401 or 407 with [`DigestServer::challenge`]`(now, stale)`.
    Challenge {
        /// Whether to set `stale=true`.
        stale: bool,
    },
    /// Answer 400 (Bad Request).
    BadRequest,
}

/// Which rule credentials broke; see [`Outcome::Malformed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformation {
    /// The header value does not parse as credentials (RFC 3261 §25.1), or is not UTF-8.
    Unparseable,
    /// A required parameter is missing: `username`, `nonce`, `uri`, `response`, and with a
    /// `qop` also `cnonce` and `nc` (RFC 7616 §3.4).
    MissingParameter(&'static str),
    /// `username*` (RFC 7616 §3.4, RFC 5987 encoding) is not supported for SIP; a username
    /// that a quoted-string cannot carry can use `userhash` instead.
    ExtendedUsername,
    /// `nc` is not 8 hex digits, or is zero.
    BadNonceCount,
    /// `response` is not hex of the algorithm's length (RFC 7616 §3.2).
    BadResponse,
    /// A `-sess` algorithm without `qop`, so without a `cnonce` (RFC 3261 §22.4 item 8).
    SessionWithoutQop,
}

/// Who authenticated, and what the response to them needs (the `Authentication-Info`).
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticated {
    username: String,
    realm: String,
    algorithm: Algorithm,
    qop: Option<Qop>,
    nc: Option<u32>,
    cnonce: Option<String>,
    nonce: String,
    uri: String,
    userhash: bool,
    nonce_age: Duration,
    session_ha1: String,
}

/// The challenge headers for a 401 or 407, one per offered algorithm, most preferred first
/// (RFC 8760 §2.4, RFC 7616 §3.7), all with the same nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeHeaders {
    status: u16,
    name: HeaderName,
    values: Vec<String>,
}

/// Counters for operators (a protocol crate does not log).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Challenges issued.
    pub challenges: u64,
    /// Requests authenticated.
    pub authenticated: u64,
    /// Stale outcomes (expired, foreign or forgotten nonces with a right response).
    pub stale: u64,
    /// Replays refused.
    pub replays: u64,
    /// Other refusals: unknown users, wrong passwords, malformed or mismatched credentials.
    pub rejected: u64,
    /// Nonces whose nonce counts are tracked now.
    pub tracked_nonces: usize,
    /// Tracked nonces dropped early because the replay table was full.
    pub evictions: u64,
}

impl DigestServerConfig {
    /// Settings for `realm` with HMAC key `key` (at least 16 bytes; 32 random bytes are
    /// right), other values at their defaults (see the table above).
    ///
    /// RFC 3261 §22.1: the realm must be globally unique, and should contain the host or
    /// domain name.
    #[must_use]
    pub fn new(realm: impl Into<String>, key: impl Into<Vec<u8>>) -> DigestServerConfig {
        DigestServerConfig {
            realm: realm.into(),
            key: key.into(),
            role: AuthRole::Uas,
            nonce_lifetime: Duration::from_secs(300),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            qop: vec![Qop::Auth],
            opaque: None,
            domain: None,
            allow_rfc2069: true,
            uri_check: UriCheck::Equivalent,
            userhash: false,
            replay_capacity: 8192,
            nc_window: 0,
            nonce_epoch_ms: 0,
            rng_seed: 0,
        }
    }

    /// UAS/registrar (401, `WWW-Authenticate`) or proxy (407, `Proxy-Authenticate`).
    #[must_use]
    pub fn role(mut self, role: AuthRole) -> Self {
        self.role = role;
        self
    }

    /// The algorithms to offer, most preferred first: one challenge each (RFC 8760 §2.4).
    /// Only these are accepted in credentials, so a client cannot downgrade to one left out.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The qop values to offer, in the order written (`qop="auth,auth-int"`).
    #[must_use]
    pub fn qop(mut self, qop: impl IntoIterator<Item = Qop>) -> Self {
        self.qop = qop.into_iter().collect();
        self
    }

    /// How long a nonce is good for (default 300 s; 1 ms to 1 day). Older nonces with a right
    /// response get [`Outcome::Stale`].
    #[must_use]
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.nonce_lifetime = lifetime;
        self
    }

    /// An `opaque` value to send, and to require back unchanged (RFC 7616 §3.3). Default none.
    #[must_use]
    pub fn opaque(mut self, opaque: Option<String>) -> Self {
        self.opaque = opaque;
        self
    }

    /// A `domain` value to send (space-separated URIs, RFC 7616 §3.3); ignored in
    /// `Proxy-Authenticate`, where RFC 7616 makes it meaningless. Default none.
    #[must_use]
    pub fn domain(mut self, domain: Option<String>) -> Self {
        self.domain = domain;
        self
    }

    /// Whether to accept responses without `qop` (RFC 2069, required by RFC 3261 §22.4 for
    /// backward compatibility; default true). Such a nonce is good for one request: its reuse
    /// is a [`Replay`](Outcome::Replay), answered with `stale=true`.
    #[must_use]
    pub fn allow_rfc2069(mut self, allow: bool) -> Self {
        self.allow_rfc2069 = allow;
        self
    }

    /// How the `uri` parameter must match the Request-URI (default
    /// [`UriCheck::Equivalent`]).
    #[must_use]
    pub fn uri_check(mut self, check: UriCheck) -> Self {
        self.uri_check = check;
        self
    }

    /// Whether to offer `userhash=true` (RFC 7616 §3.4.4; default false). Hashed usernames are
    /// accepted either way when the store can resolve them.
    #[must_use]
    pub fn userhash(mut self, userhash: bool) -> Self {
        self.userhash = userhash;
        self
    }

    /// How many nonces the replay table tracks at most (default 8192, at least 1). When full,
    /// the oldest nonce is dropped; a later use of a dropped nonce (or of any unrecorded nonce
    /// as old) is answered [`Stale`](Outcome::Stale), so the client moves to a fresh nonce and
    /// no replay slips through.
    #[must_use]
    pub fn replay_capacity(mut self, capacity: usize) -> Self {
        self.replay_capacity = capacity.max(1);
        self
    }

    /// How far below the highest `nc` seen a count may arrive out of order and still be
    /// accepted once (0–64, default 0: counts must strictly increase). Requests sent
    /// concurrently with one nonce over UDP can arrive out of order; with 0, the late one gets
    /// a `stale=true` challenge and is retried.
    #[must_use]
    pub fn nc_window(mut self, window: u8) -> Self {
        self.nc_window = window.min(64);
        self
    }

    /// The timestamp, in milliseconds, that nonces minted at construction carry (default 0).
    /// Pass the Unix time in milliseconds to make nonces comparable across restarts and
    /// across servers sharing the key; see [Time](crate#time-and-nonces).
    #[must_use]
    pub fn nonce_epoch_ms(mut self, epoch_ms: u64) -> Self {
        self.nonce_epoch_ms = epoch_ms;
        self
    }

    /// Seed of the generator for nonce salts (default 0). Seed it from the OS in production so
    /// two processes do not mint the same salts.
    #[must_use]
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// The realm.
    #[must_use]
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.key.len() < 16 {
            return Err(ConfigError::KeyTooShort);
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        for (i, a) in self.algorithms.iter().enumerate() {
            if self.algorithms.iter().take(i).any(|b| b == a) {
                return Err(ConfigError::DuplicateAlgorithm(*a));
            }
        }
        if self.qop.is_empty() {
            return Err(ConfigError::NoQop);
        }
        if !is_quotable(&self.realm) {
            return Err(ConfigError::Unquotable("realm"));
        }
        if self.opaque.as_deref().is_some_and(|o| !is_quotable(o)) {
            return Err(ConfigError::Unquotable("opaque"));
        }
        if self.domain.as_deref().is_some_and(|d| !is_quotable(d)) {
            return Err(ConfigError::Unquotable("domain"));
        }
        if self.nonce_lifetime.is_zero() || self.nonce_lifetime > Duration::from_secs(86_400) {
            return Err(ConfigError::NonceLifetime);
        }
        Ok(())
    }
}

impl fmt::Debug for DigestServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServerConfig")
            .field("realm", &self.realm)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("role", &self.role)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .field("qop", &self.qop)
            .field("opaque", &self.opaque)
            .field("domain", &self.domain)
            .field("allow_rfc2069", &self.allow_rfc2069)
            .field("uri_check", &self.uri_check)
            .field("userhash", &self.userhash)
            .field("replay_capacity", &self.replay_capacity)
            .field("nc_window", &self.nc_window)
            .field("nonce_epoch_ms", &self.nonce_epoch_ms)
            .field("rng_seed", &self.rng_seed)
            .finish()
    }
}

impl DigestServer {
    /// A server started at `now`: nonce timestamps count milliseconds from here (plus
    /// [`nonce_epoch_ms`](DigestServerConfig::nonce_epoch_ms)).
    ///
    /// # Errors
    /// [`ConfigError`] when the key is short, nothing is offered, an algorithm repeats, a
    /// value cannot be quoted or the lifetime is out of range.
    pub fn new(config: DigestServerConfig, now: Instant) -> Result<DigestServer, ConfigError> {
        config.validate()?;
        let mint = NonceMint::new(&config.key, &config.realm).ok_or(ConfigError::KeyTooShort)?;
        Ok(DigestServer {
            mint,
            replay: ReplayTable::new(config.replay_capacity),
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            started: now,
            last_ms: config.nonce_epoch_ms,
            stats: ServerStats::default(),
            config,
        })
    }

    /// The realm this server authenticates for.
    #[must_use]
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// UAS (401) or proxy (407).
    #[must_use]
    pub fn role(&self) -> AuthRole {
        self.config.role
    }

    /// Counters since construction.
    #[must_use]
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            tracked_nonces: self.replay.len(),
            evictions: self.replay.evictions(),
            ..self.stats
        }
    }

    /// The challenge for a 401/407 ([`ChallengeHeaders::status`]): one header value per
    /// offered algorithm, all with one fresh nonce, with `stale=true` when `stale` (after an
    /// [`Outcome`] whose [`reply`](Outcome::reply) says so).
    ///
    /// Each value reads `Digest realm="…", nonce="…", algorithm=…, qop="…"`, plus `domain`,
    /// `opaque`, `stale` and `userhash` when they apply; realm, domain, nonce, opaque and qop
    /// are quoted-strings and algorithm and stale are tokens (RFC 7616 §3.3).
    pub fn challenge(&mut self, now: Instant, stale: bool) -> ChallengeHeaders {
        let nonce = self.fresh_nonce(now);
        self.stats.challenges = self.stats.challenges.saturating_add(1);
        let qop = self.config.qop.iter().map(|q| q.as_str()).collect::<Vec<_>>().join(",");
        let values = self
            .config
            .algorithms
            .iter()
            .map(|algorithm| {
                let mut v = String::from("Digest ");
                let mut first = true;
                // Validated as quotable at construction; the nonce is hex.
                let _ = push_quoted_param(&mut v, &mut first, "realm", &self.config.realm);
                if let (Some(domain), AuthRole::Uas) = (&self.config.domain, self.config.role) {
                    let _ = push_quoted_param(&mut v, &mut first, "domain", domain);
                }
                let _ = push_quoted_param(&mut v, &mut first, "nonce", &nonce);
                if let Some(opaque) = &self.config.opaque {
                    let _ = push_quoted_param(&mut v, &mut first, "opaque", opaque);
                }
                push_token_param(&mut v, &mut first, "algorithm", algorithm.as_str());
                let _ = push_quoted_param(&mut v, &mut first, "qop", &qop);
                if stale {
                    push_token_param(&mut v, &mut first, "stale", "true");
                }
                if self.config.userhash {
                    push_token_param(&mut v, &mut first, "userhash", "true");
                }
                v
            })
            .collect();
        ChallengeHeaders {
            status: self.config.role.status(),
            name: self.config.role.challenge_header(),
            values,
        }
    }

    /// The challenge `outcome` calls for, if any (see [`Outcome::reply`]).
    pub fn challenge_for(&mut self, now: Instant, outcome: &Outcome) -> Option<ChallengeHeaders> {
        match outcome.reply() {
            Reply::Challenge { stale } => Some(self.challenge(now, stale)),
            Reply::Proceed | Reply::BadRequest => None,
        }
    }

    /// Checks the credentials of request `msg` for this realm (`Authorization` for a UAS,
    /// `Proxy-Authorization` for a proxy), looking the user up in `store`.
    ///
    /// ACK and CANCEL are [`Outcome::Exempt`] (RFC 3261 §22.1). Credentials for other realms
    /// are ignored (§22.3); of several for this realm, the first is judged. A successful check
    /// records the nonce count, so the same credentials presented again are a
    /// [`Replay`](Outcome::Replay). Bad input never panics; it is an [`Outcome`].
    pub fn verify<S: CredentialStore + ?Sized>(
        &mut self,
        now: Instant,
        msg: &Message,
        store: &S,
    ) -> Outcome {
        let Some(request) = DigestRequest::from_message(msg) else {
            return Outcome::NoCredentials;
        };
        let values = msg
            .header_lines(self.config.role.credentials_header())
            .map(|v| std::str::from_utf8(v).ok());
        self.verify_values(now, &request, values, store)
    }

    /// [`verify`](Self::verify) for a request given as parts and the raw values of its
    /// `Authorization` (UAS) or `Proxy-Authorization` (proxy) header lines.
    pub fn verify_parts<'h, S: CredentialStore + ?Sized>(
        &mut self,
        now: Instant,
        request: &DigestRequest<'_>,
        credentials: impl IntoIterator<Item = &'h str>,
        store: &S,
    ) -> Outcome {
        self.verify_values(now, request, credentials.into_iter().map(Some), store)
    }

    /// The `Authentication-Info` value for a 2xx to an authenticated request (RFC 7616 §3.5,
    /// RFC 3261 §20.6): `rspauth`, `cnonce`, `nc` and `qop` when the request used a qop (mutual
    /// authentication; with `auth-int`, `body` is the response's body), and a `nextnonce` when
    /// `next_nonce` is set. `None` when there is nothing to say (RFC 2069 request, no
    /// `nextnonce`). SIP has no `Proxy-Authentication-Info`, so this is for a UAS or
    /// registrar.
    pub fn authentication_info(
        &mut self,
        now: Instant,
        auth: &Authenticated,
        body: &[u8],
        next_nonce: bool,
    ) -> Option<String> {
        let mut v = String::new();
        let mut first = true;
        if next_nonce {
            let nonce = self.fresh_nonce(now);
            let _ = push_quoted_param(&mut v, &mut first, "nextnonce", &nonce);
        }
        if let (Some(qop), Some(nc), Some(cnonce)) = (auth.qop, auth.nc, auth.cnonce.as_deref()) {
            let rspauth = response(
                &auth.session_ha1,
                &DigestInput {
                    algorithm: auth.algorithm,
                    nonce: &auth.nonce,
                    qop: Some((nc, cnonce, qop)),
                    method: "",
                    uri: &auth.uri,
                    body,
                },
            );
            push_token_param(&mut v, &mut first, "qop", qop.as_str());
            let _ = push_quoted_param(&mut v, &mut first, "rspauth", &rspauth);
            // The cnonce came out of a quoted-string, so it can go back into one.
            let _ = push_quoted_param(&mut v, &mut first, "cnonce", cnonce);
            push_token_param(&mut v, &mut first, "nc", &format_nc(nc));
        }
        (!v.is_empty()).then_some(v)
    }

    /// A nonce minted at `now` with a fresh salt.
    fn fresh_nonce(&mut self, now: Instant) -> String {
        let timestamp_ms = self.clock_ms(now);
        self.mint.issue(NonceId { timestamp_ms, salt: self.rng.next_u64() })
    }

    /// Milliseconds on the nonce clock at `now`; never goes backwards.
    fn clock_ms(&mut self, now: Instant) -> u64 {
        let elapsed = u64::try_from(now.saturating_duration_since(self.started).as_millis())
            .unwrap_or(u64::MAX);
        self.last_ms = self.last_ms.max(self.config.nonce_epoch_ms.saturating_add(elapsed));
        self.last_ms
    }

    fn lifetime_ms(&self) -> u64 {
        u64::try_from(self.config.nonce_lifetime.as_millis()).unwrap_or(u64::MAX)
    }

    fn verify_values<'h, S: CredentialStore + ?Sized>(
        &mut self,
        now: Instant,
        request: &DigestRequest<'_>,
        values: impl Iterator<Item = Option<&'h str>>,
        store: &S,
    ) -> Outcome {
        let outcome = self.judge(now, request, values, store);
        let counter = match &outcome {
            Outcome::Authenticated(_) => &mut self.stats.authenticated,
            Outcome::Stale => &mut self.stats.stale,
            Outcome::Replay => &mut self.stats.replays,
            Outcome::Exempt | Outcome::NoCredentials => return outcome,
            Outcome::WrongRealm
            | Outcome::Malformed(_)
            | Outcome::UnsupportedAlgorithm
            | Outcome::UnsupportedQop
            | Outcome::OpaqueMismatch
            | Outcome::UriMismatch
            | Outcome::UnknownUser
            | Outcome::WrongPassword
            | Outcome::InvalidNonce => &mut self.stats.rejected,
        };
        *counter = counter.saturating_add(1);
        outcome
    }

    fn judge<'h, S: CredentialStore + ?Sized>(
        &mut self,
        now: Instant,
        request: &DigestRequest<'_>,
        values: impl Iterator<Item = Option<&'h str>>,
        store: &S,
    ) -> Outcome {
        // RFC 3261 §22.1: ACK and CANCEL are never challenged.
        if matches!(request.method, "ACK" | "CANCEL") {
            return Outcome::Exempt;
        }
        let mut malformed = false;
        let mut other_realm = false;
        for value in values {
            let Some(creds) = value.and_then(|v| self.parse_credentials(v)) else {
                malformed = true;
                continue;
            };
            if !creds.is_digest() {
                continue; // Basic and other schemes: never accepted (RFC 3261 §22).
            }
            match creds.realm() {
                Some(realm) if realm == self.config.realm => {
                    let now_ms = self.clock_ms(now);
                    return self.judge_credentials(now_ms, request, &creds, store);
                }
                Some(_) => other_realm = true,
                None => malformed = true,
            }
        }
        if malformed {
            Outcome::Malformed(Malformation::Unparseable)
        } else if other_realm {
            Outcome::WrongRealm
        } else {
            Outcome::NoCredentials
        }
    }

    fn parse_credentials<'v>(&self, value: &'v str) -> Option<Credentials<'v>> {
        match self.config.role {
            AuthRole::Uas => Authorization::parse(value).ok().map(|a| a.0),
            AuthRole::Proxy => ProxyAuthorization::parse(value).ok().map(|a| a.0),
        }
    }

    /// RFC 7616 §3.4 and §3.6, checks ordered cheap-first; the digest is compared before the
    /// nonce's age and count so that `stale` is only ever said to a client that knows the
    /// password (RFC 2617 §3.2.1).
    fn judge_credentials<S: CredentialStore + ?Sized>(
        &mut self,
        now_ms: u64,
        request: &DigestRequest<'_>,
        creds: &Credentials<'_>,
        store: &S,
    ) -> Outcome {
        use Malformation::{
            BadNonceCount, BadResponse, ExtendedUsername, MissingParameter, SessionWithoutQop,
        };
        let malformed = Outcome::Malformed;
        if creds.params().contains("username*") {
            return malformed(ExtendedUsername);
        }
        let Some(username) = creds.username() else {
            return malformed(MissingParameter("username"));
        };
        let Some(nonce) = creds.nonce() else { return malformed(MissingParameter("nonce")) };
        let Some(uri) = creds.uri() else { return malformed(MissingParameter("uri")) };
        let Some(client_response) = creds.response() else {
            return malformed(MissingParameter("response"));
        };
        // RFC 7616 §3.3: no algorithm means MD5.
        let algorithm = match creds.algorithm().map(Algorithm::parse) {
            None => Algorithm::Md5,
            Some(Some(a)) if self.config.algorithms.contains(&a) => a,
            Some(_) => return Outcome::UnsupportedAlgorithm,
        };
        let hash = algorithm.hash();
        let cnonce = creds.cnonce();
        let qop = match creds.qop() {
            Some(token) => {
                let Some(qop) = Qop::parse(token).filter(|q| self.config.qop.contains(q)) else {
                    return Outcome::UnsupportedQop;
                };
                let Some(cnonce) = cnonce.as_deref() else {
                    return malformed(MissingParameter("cnonce"));
                };
                if !creds.params().contains("nc") {
                    return malformed(MissingParameter("nc"));
                }
                let Some(nc) = creds.nc().filter(|&nc| nc != 0) else {
                    return malformed(BadNonceCount);
                };
                Some((nc, cnonce, qop))
            }
            None if algorithm.is_session() => return malformed(SessionWithoutQop),
            None if !self.config.allow_rfc2069 => return Outcome::UnsupportedQop,
            None => None,
        };
        if client_response.len() != hash.hex_len() || from_hex(&client_response).is_none() {
            return malformed(BadResponse);
        }
        if let Some(expected) = &self.config.opaque {
            if creds.opaque().as_deref() != Some(expected.as_str()) {
                return Outcome::OpaqueMismatch;
            }
        }
        if !self.uri_matches(&uri, request.uri) {
            return Outcome::UriMismatch;
        }
        let nonce_id = self.mint.check(&nonce);
        let userhash = creds.userhash() == Some(true);
        let user = if userhash {
            match store.resolve_userhash(&username, &self.config.realm, hash) {
                Some(user) => user,
                None => return Outcome::UnknownUser,
            }
        } else {
            username.into_owned()
        };
        let Some(ha1) = store.ha1(&user, &self.config.realm, hash).filter(|h| h.hash() == hash)
        else {
            return Outcome::UnknownUser;
        };
        let session = session_ha1(algorithm, &ha1, &nonce, qop.map_or("", |(_, c, _)| c));
        let input = DigestInput {
            algorithm,
            nonce: &nonce,
            qop,
            method: request.method,
            uri: &uri,
            body: request.body,
        };
        let expected = response(&session, &input);
        if !ct_eq_ignore_ascii_case(expected.as_bytes(), client_response.as_bytes()) {
            return if nonce_id.is_some() { Outcome::WrongPassword } else { Outcome::InvalidNonce };
        }
        // The client knows the password from here on.
        let Some(id) = nonce_id else { return Outcome::Stale };
        let lifetime = self.lifetime_ms();
        let age_ms = now_ms.saturating_sub(id.timestamp_ms);
        if age_ms > lifetime || id.timestamp_ms.saturating_sub(now_ms) > lifetime {
            return Outcome::Stale;
        }
        self.replay.prune_older_than(now_ms.saturating_sub(lifetime));
        let nc = qop.map(|(nc, _, _)| nc);
        match self.replay.check_and_record(id, nc, self.config.nc_window) {
            ReplayCheck::Fresh => {}
            ReplayCheck::Replay => return Outcome::Replay,
            ReplayCheck::Forgotten => return Outcome::Stale,
        }
        Outcome::Authenticated(Authenticated {
            username: user,
            realm: self.config.realm.clone(),
            algorithm,
            qop: qop.map(|(_, _, q)| q),
            nc,
            cnonce: qop.map(|(_, c, _)| c.to_owned()),
            nonce: nonce.into_owned(),
            uri: uri.into_owned(),
            userhash,
            nonce_age: Duration::from_millis(age_ms),
            session_ha1: session,
        })
    }

    fn uri_matches(&self, digest_uri: &str, request_uri: &str) -> bool {
        match self.config.uri_check {
            UriCheck::Off => true,
            UriCheck::Exact => digest_uri == request_uri,
            UriCheck::Equivalent => match (Uri::parse(digest_uri), Uri::parse(request_uri)) {
                (Ok(a), Ok(b)) => a == b,
                _ => digest_uri == request_uri,
            },
        }
    }
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Outcome {
    /// Whether the request may proceed as authenticated.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Outcome::Authenticated(_))
    }

    /// The authenticated user, if any.
    #[must_use]
    pub fn authenticated(&self) -> Option<&Authenticated> {
        match self {
            Outcome::Authenticated(a) => Some(a),
            _ => None,
        }
    }

    /// What to answer: proceed, challenge (fresh, or `stale=true` for
    /// [`Stale`](Outcome::Stale) and [`Replay`](Outcome::Replay)), or 400 for
    /// [`Malformed`](Outcome::Malformed) and [`UriMismatch`](Outcome::UriMismatch) (RFC 7616
    /// §3.4, §3.4.6). A server may instead answer 403 after repeated failures (RFC 3261 §22.1).
    #[must_use]
    pub fn reply(&self) -> Reply {
        match self {
            Outcome::Authenticated(_) | Outcome::Exempt => Reply::Proceed,
            Outcome::Stale | Outcome::Replay => Reply::Challenge { stale: true },
            Outcome::Malformed(_) | Outcome::UriMismatch => Reply::BadRequest,
            Outcome::NoCredentials
            | Outcome::WrongRealm
            | Outcome::UnsupportedAlgorithm
            | Outcome::UnsupportedQop
            | Outcome::OpaqueMismatch
            | Outcome::UnknownUser
            | Outcome::WrongPassword
            | Outcome::InvalidNonce => Reply::Challenge { stale: false },
        }
    }
}

impl Authenticated {
    /// The user, by name (resolved from the hash when the client sent `userhash=true`).
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The realm.
    #[must_use]
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The algorithm the client used.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The qop the client used; `None` for an RFC 2069 response.
    #[must_use]
    pub fn qop(&self) -> Option<Qop> {
        self.qop
    }

    /// The nonce count; `None` for an RFC 2069 response.
    #[must_use]
    pub fn nc(&self) -> Option<u32> {
        self.nc
    }

    /// The `uri` parameter the digest covered.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the client hashed its username (RFC 7616 §3.4.4).
    #[must_use]
    pub fn is_userhash(&self) -> bool {
        self.userhash
    }

    /// How old the nonce was; a server can send a `nextnonce` when it nears the lifetime.
    #[must_use]
    pub fn nonce_age(&self) -> Duration {
        self.nonce_age
    }
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("algorithm", &self.algorithm)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .field("uri", &self.uri)
            .field("userhash", &self.userhash)
            .field("nonce_age", &self.nonce_age)
            .finish_non_exhaustive()
    }
}

impl ChallengeHeaders {
    /// 401 or 407.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// `WWW-Authenticate` or `Proxy-Authenticate`.
    #[must_use]
    pub fn name(&self) -> HeaderName {
        self.name
    }

    /// The header values, most preferred algorithm first.
    #[must_use]
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Appends one header line per value to `response`, in order.
    ///
    /// # Errors
    /// [`EditError`] if the message refuses a value (it never should: values have no CR/LF).
    pub fn apply_to(&self, response: &mut Message) -> Result<(), EditError> {
        for value in &self.values {
            response.push_back(self.name, value.clone())?;
        }
        Ok(())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::KeyTooShort => f.write_str("the nonce key must be at least 16 bytes"),
            ConfigError::NoAlgorithms => f.write_str("offer at least one digest algorithm"),
            ConfigError::DuplicateAlgorithm(a) => {
                write!(f, "algorithm {a} is offered twice; each challenge needs its own")
            }
            ConfigError::NoQop => f.write_str("offer at least one qop (RFC 3261 §22.4 item 8)"),
            ConfigError::Unquotable(what) => {
                write!(f, "the {what} holds CR or LF and cannot be sent as a quoted-string")
            }
            ConfigError::NonceLifetime => {
                f.write_str("the nonce lifetime must be between 1 ms and one day")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Display for Malformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformation::Unparseable => f.write_str("credentials do not parse"),
            Malformation::MissingParameter(p) => write!(f, "credentials lack the {p} parameter"),
            Malformation::ExtendedUsername => f.write_str("username* is not supported"),
            Malformation::BadNonceCount => f.write_str("nc is not 8 hex digits above zero"),
            Malformation::BadResponse => {
                f.write_str("response is not a hex digest of the right length")
            }
            Malformation::SessionWithoutQop => {
                f.write_str("a -sess algorithm needs qop and cnonce")
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Authenticated(a) => write!(f, "authenticated as {}", a.username),
            Outcome::Exempt => f.write_str("ACK and CANCEL are not challenged"),
            Outcome::NoCredentials => f.write_str("no credentials"),
            Outcome::WrongRealm => f.write_str("no credentials for this realm"),
            Outcome::Malformed(m) => write!(f, "malformed credentials: {m}"),
            Outcome::UnsupportedAlgorithm => f.write_str("algorithm not offered"),
            Outcome::UnsupportedQop => f.write_str("qop not offered"),
            Outcome::OpaqueMismatch => f.write_str("opaque does not match"),
            Outcome::UriMismatch => f.write_str("uri parameter does not match the Request-URI"),
            Outcome::UnknownUser => f.write_str("unknown user"),
            Outcome::WrongPassword => f.write_str("wrong response digest"),
            Outcome::InvalidNonce => f.write_str("nonce not issued by this server"),
            Outcome::Stale => f.write_str("stale nonce"),
            Outcome::Replay => f.write_str("replayed nonce count"),
        }
    }
}
