//! The authenticated side: answering challenges (RFC 3261 §22.2, §22.3; RFC 7616 §3.4; RFC 8760
//! §2.5), caching them for preemptive use (RFC 7616 §3.6), and not looping on bad credentials
//! (RFC 3261 §22.1).

use std::fmt;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sip_message::{
    AuthenticationInfo, Authorization, Challenge, EditError, HeaderName, Message,
    ProxyAuthenticate, ProxyAuthorization, TypedHeader, WwwAuthenticate,
};

use crate::algorithm::{Algorithm, Qop, ct_eq_ignore_ascii_case, to_hex};
use crate::digest::{
    AuthRole, DigestInput, DigestRequest, Ha1, Unquotable, format_nc, is_quotable,
    push_quoted_param, push_token_param, response, session_ha1,
};

/// A username and password for one realm. `Debug` does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCredentials {
    username: String,
    password: String,
}

/// Where a [`DigestClient`] gets credentials for a realm it is challenged in: a keyring, a
/// configuration file, a prompt.
///
/// It is asked once per realm: the client keeps what it got for later requests and for
/// `stale=true` retries, and forgets it when the server rejects it.
pub trait CredentialProvider {
    /// Credentials for `realm` as a UAS/registrar (`role` [`AuthRole::Uas`]) or proxy
    /// ([`AuthRole::Proxy`]) asks for them; `None` when there are none. RFC 3261 §22.2 allows
    /// answering with [`UserCredentials::anonymous`].
    fn credentials(&mut self, realm: &str, role: AuthRole) -> Option<UserCredentials>;
}

/// A fixed [`CredentialProvider`]: credentials per realm, and optionally one set for any
/// other realm.
///
/// ```
/// use sip_auth::{AuthRole, CredentialProvider, StaticCredentials};
/// let mut creds = StaticCredentials::new()
///     .realm("example.com", "alice", "secret")
///     .fallback("anonymous", "");
/// assert_eq!(creds.credentials("example.com", AuthRole::Uas).unwrap().username(), "alice");
/// assert_eq!(creds.credentials("other.org", AuthRole::Proxy).unwrap().username(), "anonymous");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StaticCredentials {
    realms: Vec<(String, UserCredentials)>,
    fallback: Option<UserCredentials>,
}

/// How a [`DigestClient`] picks among several challenges for one realm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlgorithmSelection {
    /// The strongest supported hash (SHA-512-256 > SHA-256 > MD5), the server's order breaking
    /// ties. RFC 7616 §3.7 allows this as local policy; it stops a server or an attacker that
    /// lists MD5 first from choosing the weakest.
    #[default]
    Strongest,
    /// The topmost supported challenge (RFC 8760 §2.5, RFC 7616 §3.7 without local policy).
    ServerOrder,
}

/// Settings of a [`DigestClient`].
///
/// ```
/// use sip_auth::{Algorithm, ClientConfig};
/// // Refuse MD5 altogether.
/// let config = ClientConfig::default()
///     .rng_seed(42)
///     .algorithms([Algorithm::Sha512_256, Algorithm::Sha256, Algorithm::Sha256Sess]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    rng_seed: u64,
    algorithms: Vec<Algorithm>,
    selection: AlgorithmSelection,
    max_realms: usize,
}

/// The client side of digest authentication for one UA or one dialog: answers 401/407
/// challenges, remembers them per realm to authorize later requests preemptively with an
/// increasing nonce count, and decides when retrying is pointless.
///
/// RFC 3261 §22.3 recommends keeping proxy credentials per Call-ID (one client per dialog) and
/// caching across dialogs only for the outbound proxy's realm; the caller picks the scope by
/// choosing which client to use. See the [crate documentation](crate) for the flow.
pub struct DigestClient {
    config: ClientConfig,
    rng: ChaCha8Rng,
    cache: Vec<Entry>,
    tick: u64,
}

/// A header to add to a request: `Authorization` or `Proxy-Authorization` with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthHeader {
    name: HeaderName,
    value: String,
}

/// What to do after a 401 or 407; see [`DigestClient::on_challenge`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// Send the request again (with a new CSeq, RFC 3261 §22.2), with these headers in place
    /// of any `Authorization` and `Proxy-Authorization` it had.
    Retry(Vec<AuthHeader>),
    /// Do not retry: report the failure to the user.
    Fail(AuthFailure),
}

/// Why a [`Decision`] is [`Fail`](Decision::Fail).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The server challenged again, not stale, after credentials for this realm were sent:
    /// they are wrong (RFC 3261 §22.1: "A UAC MUST NOT re-attempt requests with the credentials
    /// that have just been rejected"). The cached credentials are forgotten.
    Rejected {
        /// Who rejected them.
        role: AuthRole,
        /// The realm.
        realm: String,
    },
    /// `stale=true` again for the nonce that the previous `stale=true` challenge supplied: the
    /// server is not accepting fresh nonces either, so one stale retry is all it gets.
    StaleAgain {
        /// Who challenged.
        role: AuthRole,
        /// The realm.
        realm: String,
    },
    /// The [`CredentialProvider`] has nothing for this realm.
    NoCredentials {
        /// Who challenged.
        role: AuthRole,
        /// The realm.
        realm: String,
    },
    /// No challenge in the response can be answered: none is Digest, or all use unknown
    /// algorithms or qop values, or lack a realm or nonce.
    NoUsableChallenge,
    /// A challenge was understood but no credentials could be written for it.
    Unusable(ClientError),
}

/// The result of checking `Authentication-Info` (RFC 7616 §3.5); see
/// [`DigestClient::on_success`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum MutualAuth {
    /// No `Authentication-Info`, or no `rspauth` in it.
    Absent,
    /// `rspauth` proves the server knows the credentials.
    Verified,
    /// `rspauth` is wrong: the response did not come from a server that knows them.
    Mismatch,
    /// There is an `rspauth` but the request carried no credentials this client made.
    Unverifiable,
}

/// Why credentials cannot be written for a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The challenge is not `Digest`.
    NotDigest,
    /// The challenge lacks `realm` or `nonce`.
    MissingParameter(&'static str),
    /// The algorithm is unknown or not allowed by [`ClientConfig::algorithms`].
    UnsupportedAlgorithm,
    /// A `qop` is offered but neither `auth` nor `auth-int` (RFC 3261 §22.4 item 8: the
    /// client must then send one it cannot).
    UnsupportedQop,
    /// A `-sess` algorithm without `qop`, which would need a cnonce that cannot be sent.
    SessionWithoutQop,
    /// The username, Request-URI or cnonce holds CR or LF, which no quoted-string can carry.
    Unquotable(&'static str),
    /// The nonce count is zero (counts start at 1) or would pass `ffffffff`.
    NonceCount,
}

/// One challenge, decoded, with the choices made for it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Offer {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// Whether the challenge named the algorithm; if not (MD5 by default) it is not echoed,
    /// for RFC 2069 servers.
    algorithm_named: bool,
    qop: Option<Qop>,
    userhash: bool,
    stale: bool,
}

/// A cached challenge with the credentials that answer it.
#[derive(Clone, Debug)]
struct Entry {
    role: AuthRole,
    offer: Offer,
    credentials: UserCredentials,
    /// The last nonce count used with `offer.nonce`.
    nc: u32,
    /// Whether `offer` came from a `stale=true` challenge to credentials we sent.
    from_stale: bool,
    last_used: u64,
}

/// Credentials a request carried: whose, for which realm, with which nonce.
struct Sent {
    role: AuthRole,
    realm: String,
    nonce: Option<String>,
}

/// Answers one challenge for `request`, with a given `cnonce` and nonce count `nc`: the value
/// of the `Authorization` (for `WWW-Authenticate`) or `Proxy-Authorization` (for
/// `Proxy-Authenticate`) header. Deterministic; [`DigestClient`] builds on it and draws the
/// cnonce from its seeded generator.
///
/// The qop is `auth` when offered, else `auth-int`, else none (RFC 2069 form, without cnonce
/// and nc); with `userhash=true` the username is sent hashed (RFC 7616 §3.4.4).
///
/// ```
/// use sip_auth::{DigestRequest, UserCredentials, answer_challenge};
/// use sip_message::{TypedHeader, WwwAuthenticate};
/// // RFC 2617 §3.5.
/// let challenge = WwwAuthenticate::parse(
///     "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
///      nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
/// )?;
/// let request = DigestRequest::new("GET", "/dir/index.html", b"");
/// let creds = UserCredentials::new("Mufasa", "Circle Of Life");
/// let value = answer_challenge(&challenge, &request, &creds, "0a4f113b", 1).unwrap();
/// assert!(value.contains("response=\"6629fae49393a05397450978507c4ef1\""));
/// assert!(value.contains("qop=auth, nc=00000001"));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
///
/// # Errors
/// [`ClientError`] when the challenge cannot be answered.
pub fn answer_challenge(
    challenge: &Challenge<'_>,
    request: &DigestRequest<'_>,
    credentials: &UserCredentials,
    cnonce: &str,
    nc: u32,
) -> Result<String, ClientError> {
    Offer::from_challenge(challenge, &Algorithm::ALL)?.authorization(
        request,
        credentials,
        cnonce,
        nc,
    )
}

impl UserCredentials {
    /// A username and password.
    #[must_use]
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> UserCredentials {
        UserCredentials { username: username.into(), password: password.into() }
    }

    /// `anonymous` with an empty password (RFC 3261 §22.2, §22.3).
    #[must_use]
    pub fn anonymous() -> UserCredentials {
        UserCredentials::new("anonymous", "")
    }

    /// The username.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials").field("username", &self.username).finish_non_exhaustive()
    }
}

impl StaticCredentials {
    /// No credentials.
    #[must_use]
    pub fn new() -> StaticCredentials {
        StaticCredentials::default()
    }

    /// Adds (or replaces) the credentials for `realm`.
    #[must_use]
    pub fn realm(mut self, realm: &str, username: &str, password: &str) -> Self {
        self.realms.retain(|(r, _)| r != realm);
        self.realms.push((realm.to_owned(), UserCredentials::new(username, password)));
        self
    }

    /// Credentials for any realm not added with [`realm`](Self::realm).
    #[must_use]
    pub fn fallback(mut self, username: &str, password: &str) -> Self {
        self.fallback = Some(UserCredentials::new(username, password));
        self
    }
}

impl CredentialProvider for StaticCredentials {
    fn credentials(&mut self, realm: &str, _role: AuthRole) -> Option<UserCredentials> {
        self.realms
            .iter()
            .find(|(r, _)| r == realm)
            .map(|(_, c)| c.clone())
            .or_else(|| self.fallback.clone())
    }
}

impl<P: CredentialProvider + ?Sized> CredentialProvider for &mut P {
    fn credentials(&mut self, realm: &str, role: AuthRole) -> Option<UserCredentials> {
        (**self).credentials(realm, role)
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            rng_seed: 0,
            algorithms: Algorithm::ALL.to_vec(),
            selection: AlgorithmSelection::Strongest,
            max_realms: 16,
        }
    }
}

impl ClientConfig {
    /// Seed of the cnonce generator (default 0). Seed it from the OS in production: cnonces
    /// must not repeat across processes (RFC 7616 §5.12).
    #[must_use]
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// The algorithms the client will answer (default all six). Challenges with others are
    /// ignored, as RFC 7616 §3.3 says unknown ones are.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How to pick among challenges for one realm (default [`AlgorithmSelection::Strongest`]).
    #[must_use]
    pub fn selection(mut self, selection: AlgorithmSelection) -> Self {
        self.selection = selection;
        self
    }

    /// How many realms the cache keeps (default 16, at least 1); the least recently used
    /// goes first.
    #[must_use]
    pub fn max_realms(mut self, max: usize) -> Self {
        self.max_realms = max.max(1);
        self
    }
}

impl DigestClient {
    /// A client with an empty cache.
    #[must_use]
    pub fn new(config: ClientConfig) -> DigestClient {
        DigestClient {
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            config,
            cache: Vec::new(),
            tick: 0,
        }
    }

    /// Handles a 401/407 `response` to `sent`, the request as it went out: decides whether to
    /// retry and with which credentials.
    ///
    /// Every `WWW-Authenticate` and `Proxy-Authenticate` is read (a forking proxy may merge
    /// several, RFC 3261 §22.3); per realm one challenge is picked
    /// ([`AlgorithmSelection`]). For each realm challenged:
    ///
    /// - `sent` had no credentials for it: credentials come from the cache, else from
    ///   `provider` ([`AuthFailure::NoCredentials`] if it has none);
    /// - `sent` had credentials and the challenge is not `stale=true`: they were rejected, so
    ///   [`AuthFailure::Rejected`] (no loop, RFC 3261 §22.1);
    /// - `sent` had credentials and the challenge is `stale=true`: retry with the new nonce
    ///   and the cached credentials, without asking `provider`; but if the nonce sent came from
    ///   a `stale=true` challenge already, [`AuthFailure::StaleAgain`].
    ///
    /// A retry carries credentials for every cached realm, each with its next nonce count.
    pub fn on_challenge<P: CredentialProvider + ?Sized>(
        &mut self,
        provider: &mut P,
        sent: &Message,
        response: &Message,
    ) -> Decision {
        let Some(request) = DigestRequest::from_message(sent) else {
            return Decision::Fail(AuthFailure::NoUsableChallenge);
        };
        let sent_values = [AuthRole::Uas, AuthRole::Proxy].into_iter().flat_map(|role| {
            sent.header_lines(role.credentials_header())
                .filter_map(move |v| std::str::from_utf8(v).ok().map(|v| (role, v)))
        });
        let challenges = [AuthRole::Uas, AuthRole::Proxy].into_iter().flat_map(|role| {
            response
                .header_lines(role.challenge_header())
                .filter_map(move |v| std::str::from_utf8(v).ok().map(|v| (role, v)))
        });
        self.on_challenge_parts(provider, &request, sent_values, challenges)
    }

    /// [`on_challenge`](Self::on_challenge) with the request as parts, the raw values of its
    /// `Authorization` ([`AuthRole::Uas`]) and `Proxy-Authorization` ([`AuthRole::Proxy`])
    /// lines, and the raw values of the response's `WWW-Authenticate` ([`AuthRole::Uas`]) and
    /// `Proxy-Authenticate` ([`AuthRole::Proxy`]) lines.
    pub fn on_challenge_parts<'a, P: CredentialProvider + ?Sized>(
        &mut self,
        provider: &mut P,
        request: &DigestRequest<'_>,
        sent_credentials: impl IntoIterator<Item = (AuthRole, &'a str)>,
        challenges: impl IntoIterator<Item = (AuthRole, &'a str)>,
    ) -> Decision {
        let sent: Vec<Sent> =
            sent_credentials.into_iter().filter_map(|(role, v)| parse_sent(role, v)).collect();
        let groups = self.group_offers(challenges);
        if groups.is_empty() {
            return Decision::Fail(AuthFailure::NoUsableChallenge);
        }
        let mut failure = None;
        for (role, offer) in groups {
            let answered = sent.iter().find(|s| s.role == role && s.realm == offer.realm);
            let cached = self.position(role, &offer.realm);
            let (credentials, from_stale) = match answered {
                Some(_) if !offer.stale => {
                    self.remove(cached);
                    failure.get_or_insert(AuthFailure::Rejected { role, realm: offer.realm });
                    continue;
                }
                Some(s) => {
                    let entry = cached.and_then(|i| self.cache.get(i));
                    if entry
                        .is_some_and(|e| e.from_stale && Some(&e.offer.nonce) == s.nonce.as_ref())
                    {
                        self.remove(cached);
                        failure.get_or_insert(AuthFailure::StaleAgain { role, realm: offer.realm });
                        continue;
                    }
                    (entry.map(|e| e.credentials.clone()), true)
                }
                None => {
                    (cached.and_then(|i| self.cache.get(i)).map(|e| e.credentials.clone()), false)
                }
            };
            let Some(credentials) =
                credentials.or_else(|| provider.credentials(&offer.realm, role))
            else {
                failure.get_or_insert(AuthFailure::NoCredentials { role, realm: offer.realm });
                continue;
            };
            if !is_quotable(&credentials.username) {
                failure.get_or_insert(AuthFailure::Unusable(ClientError::Unquotable("username")));
                continue;
            }
            self.store(role, offer, credentials, from_stale);
        }
        if let Some(failure) = failure {
            return Decision::Fail(failure);
        }
        match self.try_authorize(request) {
            Ok(headers) if !headers.is_empty() => Decision::Retry(headers),
            Ok(_) => Decision::Fail(AuthFailure::NoUsableChallenge),
            Err(e) => Decision::Fail(AuthFailure::Unusable(e)),
        }
    }

    /// Credentials for every cached realm, to put on a new request preemptively (RFC 7616
    /// §3.6, RFC 3261 §22.2): each use takes the next nonce count and a fresh cnonce. Empty
    /// when nothing is cached. A cached entry that can no longer be used (count exhausted,
    /// unquotable URI) is dropped.
    pub fn authorize(&mut self, request: &DigestRequest<'_>) -> Vec<AuthHeader> {
        let mut out = Vec::with_capacity(self.cache.len());
        let mut i = 0;
        while i < self.cache.len() {
            match self.authorize_entry(i, request) {
                Ok(header) => {
                    out.push(header);
                    i += 1;
                }
                Err(_) => {
                    self.cache.remove(i);
                }
            }
        }
        out
    }

    /// Handles the 2xx `response` to `sent`: takes a `nextnonce` from `Authentication-Info`
    /// for the next request (RFC 7616 §3.5), and checks `rspauth` when present.
    pub fn on_success(&mut self, sent: &Message, response: &Message) -> MutualAuth {
        let Some(request) = DigestRequest::from_message(sent) else { return MutualAuth::Absent };
        let Some(info) = response.header_str(HeaderName::AuthenticationInfo) else {
            return MutualAuth::Absent;
        };
        let sent_values = sent
            .header_lines(HeaderName::Authorization)
            .filter_map(|v| std::str::from_utf8(v).ok());
        self.on_authentication_info(&request, sent_values, info, response.body())
    }

    /// [`on_success`](Self::on_success) with parts: the request, the raw values of its
    /// `Authorization` lines, the `Authentication-Info` value and the response body.
    pub fn on_authentication_info<'a>(
        &mut self,
        request: &DigestRequest<'_>,
        sent_authorization: impl IntoIterator<Item = &'a str>,
        info: &str,
        response_body: &[u8],
    ) -> MutualAuth {
        let Ok(info) = AuthenticationInfo::parse(info) else { return MutualAuth::Absent };
        // Authentication-Info carries no realm: it answers the one UAS realm we sent.
        let found = sent_authorization.into_iter().find_map(|v| {
            let creds = Authorization::parse(v).ok()?;
            let realm = creds.realm()?;
            let i = self.position(AuthRole::Uas, &realm)?;
            Some((creds, i))
        });
        let Some((creds, i)) = found else {
            return if info.rspauth().is_some() {
                MutualAuth::Unverifiable
            } else {
                MutualAuth::Absent
            };
        };
        let verdict = match info.rspauth() {
            None => MutualAuth::Absent,
            Some(rspauth) => match self
                .cache
                .get(i)
                .and_then(|e| expected_rspauth(e, &creds, request, response_body))
            {
                Some(expected)
                    if ct_eq_ignore_ascii_case(expected.as_bytes(), rspauth.as_bytes()) =>
                {
                    MutualAuth::Verified
                }
                Some(_) => MutualAuth::Mismatch,
                None => MutualAuth::Unverifiable,
            },
        };
        // A nextnonce from a response that failed mutual authentication is not trusted.
        if let (Some(next), false) = (info.next_nonce(), verdict == MutualAuth::Mismatch) {
            if let Some(entry) = self.cache.get_mut(i) {
                if is_quotable(&next) && entry.offer.nonce != *next {
                    entry.offer.nonce = next.into_owned();
                    entry.offer.stale = false;
                    entry.nc = 0;
                    entry.from_stale = false;
                }
            }
        }
        verdict
    }

    /// Forgets the cached challenge and credentials for `realm`; whether there were any.
    pub fn forget(&mut self, role: AuthRole, realm: &str) -> bool {
        let i = self.position(role, realm);
        self.remove(i)
    }

    /// Forgets everything cached.
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    /// The realms cached, with who asked for them.
    pub fn cached_realms(&self) -> impl Iterator<Item = (AuthRole, &str)> + '_ {
        self.cache.iter().map(|e| (e.role, e.offer.realm.as_str()))
    }

    /// One offer per (role, realm), in order of first appearance.
    fn group_offers<'a>(
        &self,
        challenges: impl IntoIterator<Item = (AuthRole, &'a str)>,
    ) -> Vec<(AuthRole, Offer)> {
        let mut groups: Vec<(AuthRole, Offer)> = Vec::new();
        for (role, value) in challenges {
            let parsed = match role {
                AuthRole::Uas => WwwAuthenticate::parse(value).map(|c| c.0),
                AuthRole::Proxy => ProxyAuthenticate::parse(value).map(|c| c.0),
            };
            let Ok(offer) = parsed
                .map_err(|_| ClientError::NotDigest)
                .and_then(|c| Offer::from_challenge(&c, &self.config.algorithms))
            else {
                continue;
            };
            match groups.iter_mut().find(|(r, o)| *r == role && o.realm == offer.realm) {
                None => groups.push((role, offer)),
                Some((_, best)) => {
                    if self.config.selection == AlgorithmSelection::Strongest
                        && offer.algorithm.hash().strength() > best.algorithm.hash().strength()
                    {
                        *best = offer;
                    }
                }
            }
        }
        groups
    }

    fn position(&self, role: AuthRole, realm: &str) -> Option<usize> {
        self.cache.iter().position(|e| e.role == role && e.offer.realm == realm)
    }

    fn remove(&mut self, i: Option<usize>) -> bool {
        match i {
            Some(i) if i < self.cache.len() => {
                self.cache.remove(i);
                true
            }
            _ => false,
        }
    }

    fn store(
        &mut self,
        role: AuthRole,
        offer: Offer,
        credentials: UserCredentials,
        from_stale: bool,
    ) {
        self.tick += 1;
        let entry = Entry { role, offer, credentials, nc: 0, from_stale, last_used: self.tick };
        if let Some(slot) =
            self.position(role, &entry.offer.realm).and_then(|i| self.cache.get_mut(i))
        {
            *slot = entry;
            return;
        }
        if self.cache.len() >= self.config.max_realms {
            let lru =
                self.cache.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i);
            self.remove(lru);
        }
        self.cache.push(entry);
    }

    fn try_authorize(
        &mut self,
        request: &DigestRequest<'_>,
    ) -> Result<Vec<AuthHeader>, ClientError> {
        (0..self.cache.len()).map(|i| self.authorize_entry(i, request)).collect()
    }

    fn authorize_entry(
        &mut self,
        i: usize,
        request: &DigestRequest<'_>,
    ) -> Result<AuthHeader, ClientError> {
        let mut bytes = [0_u8; 16];
        self.rng.fill_bytes(&mut bytes);
        let cnonce = to_hex(&bytes);
        self.tick += 1;
        let tick = self.tick;
        let entry = self.cache.get_mut(i).ok_or(ClientError::NonceCount)?;
        let nc = entry.nc.checked_add(1).ok_or(ClientError::NonceCount)?;
        let value = entry.offer.authorization(request, &entry.credentials, &cnonce, nc)?;
        entry.nc = nc;
        entry.last_used = tick;
        Ok(AuthHeader { name: entry.role.credentials_header(), value })
    }
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestClient")
            .field("config", &self.config)
            .field("realms", &self.cached_realms().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Offer {
    /// RFC 7616 §3.3: decodes a challenge and chooses the qop.
    fn from_challenge(c: &Challenge<'_>, accepted: &[Algorithm]) -> Result<Offer, ClientError> {
        if !c.is_digest() {
            return Err(ClientError::NotDigest);
        }
        let realm = c.realm().ok_or(ClientError::MissingParameter("realm"))?.into_owned();
        let nonce = c.nonce().ok_or(ClientError::MissingParameter("nonce"))?.into_owned();
        let (algorithm, algorithm_named) = match c.algorithm() {
            None => (Algorithm::Md5, false),
            Some(token) => {
                (Algorithm::parse(token).ok_or(ClientError::UnsupportedAlgorithm)?, true)
            }
        };
        if !accepted.contains(&algorithm) {
            return Err(ClientError::UnsupportedAlgorithm);
        }
        let offered: Vec<Qop> = c.qop().filter_map(Qop::parse).collect();
        let qop = if offered.contains(&Qop::Auth) {
            Some(Qop::Auth)
        } else if offered.contains(&Qop::AuthInt) {
            Some(Qop::AuthInt)
        } else if c.params().contains("qop") {
            return Err(ClientError::UnsupportedQop);
        } else if algorithm.is_session() {
            return Err(ClientError::SessionWithoutQop);
        } else {
            None
        };
        for (what, value) in [("realm", &realm), ("nonce", &nonce)] {
            if !is_quotable(value) {
                return Err(ClientError::Unquotable(what));
            }
        }
        let opaque = c.opaque().map(|o| o.into_owned());
        if opaque.as_deref().is_some_and(|o| !is_quotable(o)) {
            return Err(ClientError::Unquotable("opaque"));
        }
        Ok(Offer {
            realm,
            nonce,
            opaque,
            algorithm,
            algorithm_named,
            qop,
            userhash: c.userhash() == Some(true),
            stale: c.stale() == Some(true),
        })
    }

    /// RFC 7616 §3.4: the credentials value. Quoted: username, realm, nonce, uri, response,
    /// cnonce, opaque; tokens: algorithm, qop, nc, userhash.
    fn authorization(
        &self,
        request: &DigestRequest<'_>,
        credentials: &UserCredentials,
        cnonce: &str,
        nc: u32,
    ) -> Result<String, ClientError> {
        if nc == 0 {
            return Err(ClientError::NonceCount);
        }
        let hash = self.algorithm.hash();
        let base =
            Ha1::from_password(hash, &credentials.username, &self.realm, &credentials.password);
        let qop = self.qop.map(|q| (nc, cnonce, q));
        let session = session_ha1(self.algorithm, &base, &self.nonce, cnonce);
        let digest = response(
            &session,
            &DigestInput {
                algorithm: self.algorithm,
                nonce: &self.nonce,
                qop,
                method: request.method,
                uri: request.uri,
                body: request.body,
            },
        );
        let username = if self.userhash {
            hash.hex(&[credentials.username.as_bytes(), b":", self.realm.as_bytes()])
        } else {
            credentials.username.clone()
        };
        let mut v = String::from("Digest ");
        let mut first = true;
        let q = |what: &'static str| move |Unquotable| ClientError::Unquotable(what);
        push_quoted_param(&mut v, &mut first, "username", &username).map_err(q("username"))?;
        push_quoted_param(&mut v, &mut first, "realm", &self.realm).map_err(q("realm"))?;
        push_quoted_param(&mut v, &mut first, "nonce", &self.nonce).map_err(q("nonce"))?;
        push_quoted_param(&mut v, &mut first, "uri", request.uri).map_err(q("uri"))?;
        push_quoted_param(&mut v, &mut first, "response", &digest).map_err(q("response"))?;
        if self.algorithm_named {
            push_token_param(&mut v, &mut first, "algorithm", self.algorithm.as_str());
        }
        if let Some(qop) = self.qop {
            push_quoted_param(&mut v, &mut first, "cnonce", cnonce).map_err(q("cnonce"))?;
            if let Some(opaque) = &self.opaque {
                push_quoted_param(&mut v, &mut first, "opaque", opaque).map_err(q("opaque"))?;
            }
            push_token_param(&mut v, &mut first, "qop", qop.as_str());
            push_token_param(&mut v, &mut first, "nc", &format_nc(nc));
        } else if let Some(opaque) = &self.opaque {
            push_quoted_param(&mut v, &mut first, "opaque", opaque).map_err(q("opaque"))?;
        }
        if self.userhash {
            push_token_param(&mut v, &mut first, "userhash", "true");
        }
        Ok(v)
    }
}

impl AuthHeader {
    /// `Authorization` or `Proxy-Authorization`.
    #[must_use]
    pub fn name(&self) -> HeaderName {
        self.name
    }

    /// The header value.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Replaces `request`'s `Authorization` and `Proxy-Authorization` lines with `headers`.
    ///
    /// # Errors
    /// [`EditError`] if the message refuses a value (it never should: values have no CR/LF).
    pub fn apply_all(headers: &[AuthHeader], request: &mut Message) -> Result<(), EditError> {
        request.remove_all(HeaderName::Authorization);
        request.remove_all(HeaderName::ProxyAuthorization);
        for h in headers {
            request.push_back(h.name, h.value.clone())?;
        }
        Ok(())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NotDigest => f.write_str("the challenge is not Digest"),
            ClientError::MissingParameter(p) => write!(f, "the challenge lacks {p}"),
            ClientError::UnsupportedAlgorithm => f.write_str("the algorithm is not supported"),
            ClientError::UnsupportedQop => f.write_str("no supported qop is offered"),
            ClientError::SessionWithoutQop => f.write_str("a -sess algorithm needs a qop"),
            ClientError::Unquotable(what) => {
                write!(f, "the {what} holds CR or LF and cannot be sent")
            }
            ClientError::NonceCount => f.write_str("the nonce count is zero or exhausted"),
        }
    }
}

impl std::error::Error for ClientError {}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::Rejected { realm, .. } => write!(f, "credentials for {realm:?} rejected"),
            AuthFailure::StaleAgain { realm, .. } => {
                write!(f, "{realm:?} keeps answering stale; giving up")
            }
            AuthFailure::NoCredentials { realm, .. } => write!(f, "no credentials for {realm:?}"),
            AuthFailure::NoUsableChallenge => f.write_str("no challenge can be answered"),
            AuthFailure::Unusable(e) => write!(f, "cannot answer the challenge: {e}"),
        }
    }
}

impl std::error::Error for AuthFailure {}

/// The realm and nonce of one sent credentials value, if it is Digest.
fn parse_sent(role: AuthRole, value: &str) -> Option<Sent> {
    let creds = match role {
        AuthRole::Uas => Authorization::parse(value).ok()?.0,
        AuthRole::Proxy => ProxyAuthorization::parse(value).ok()?.0,
    };
    if !creds.is_digest() {
        return None;
    }
    Some(Sent {
        role,
        realm: creds.realm()?.into_owned(),
        nonce: creds.nonce().map(|n| n.into_owned()),
    })
}

/// RFC 7616 §3.5: `rspauth` as the server computes it for the credentials `sent`, with
/// `A2 = ":" uri [":" H(body)]`.
fn expected_rspauth(
    entry: &Entry,
    sent: &Authorization<'_>,
    request: &DigestRequest<'_>,
    body: &[u8],
) -> Option<String> {
    let algorithm = match sent.algorithm() {
        None => Algorithm::Md5,
        Some(token) => Algorithm::parse(token)?,
    };
    let nonce = sent.nonce()?;
    let cnonce = sent.cnonce()?;
    let qop = Qop::parse(sent.qop()?)?;
    let nc = sent.nc()?;
    let uri = sent.uri();
    let uri = uri.as_deref().unwrap_or(request.uri);
    let base = Ha1::from_password(
        algorithm.hash(),
        &entry.credentials.username,
        &entry.offer.realm,
        &entry.credentials.password,
    );
    let session = session_ha1(algorithm, &base, &nonce, &cnonce);
    Some(response(
        &session,
        &DigestInput {
            algorithm,
            nonce: &nonce,
            qop: Some((nc, &cnonce, qop)),
            method: "",
            uri,
            body,
        },
    ))
}
