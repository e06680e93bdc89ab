//! Where requests go: the abstract location service of RFC 3261 §16.5 and the next-hop
//! resolution of §16.6 step 7 (RFC 3263), both as synchronous tables the application fills.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use sip_message::{Host, Q, SipUri, Uri};
use sip_transaction::Target;

/// One target for a request to an address-of-record: a registered Contact (RFC 3261 §10,
/// §16.5) with its preference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The contact URI: the Request-URI of the forwarded copy (§16.6 step 2).
    pub uri: String,
    /// The `q` preference (§16.6): higher groups are tried first, equal ones in parallel. A
    /// contact without `q` ranks 1.
    pub q: Q,
    /// RFC 3327 Path the registration recorded: pushed as Route values, in order, ahead of
    /// any existing Route of the copy.
    pub path: Vec<String>,
    /// Where to send regardless of the URI (the connection or NAT binding the registration
    /// came over, RFC 5626); `None` resolves the URI (or the first Path value).
    pub flow: Option<Target>,
}

impl Location {
    /// A target at `uri` with q = 1, no Path and no flow.
    #[must_use]
    pub fn new(uri: &str) -> Location {
        Location { uri: uri.to_owned(), q: Q::ONE, path: Vec::new(), flow: None }
    }

    /// The same with preference `q`.
    #[must_use]
    pub fn q(mut self, q: Q) -> Location {
        self.q = q;
        self
    }

    /// The same with a Path value appended.
    #[must_use]
    pub fn path(mut self, uri: &str) -> Location {
        self.path.push(uri.to_owned());
        self
    }

    /// The same, sent to `flow` whatever the URI says.
    #[must_use]
    pub fn flow(mut self, flow: Target) -> Location {
        self.flow = Some(flow);
        self
    }
}

/// What the location service knows of a Request-URI in the proxy's domains (§16.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No such resource: the proxy answers 404 (Not Found).
    NotFound,
    /// The resource exists; its current targets (none: 480 Temporarily Unavailable).
    Targets(Vec<Location>),
}

/// The abstract location service of RFC 3261 §16.5: maps a Request-URI the proxy is
/// responsible for to its targets. Synchronous (sans-IO): the application keeps the data
/// current, from a registrar, a database or a static table. Canonicalise the URI as §10.3 says
/// before using it as a key ([`canonical_aor`] does).
pub trait LocationService {
    /// The targets of `request_uri` at `now` (bindings may expire).
    fn lookup(&self, request_uri: &Uri<'_>, now: Instant) -> Lookup;

    /// [`lookup`](Self::lookup) with the targets handed to `visit` one at a time, in the
    /// same order: lent ([`Cow::Borrowed`]) by a service that keeps them, so that the list
    /// is not copied for every request, or given ([`Cow::Owned`]) by one that builds them.
    /// Returns `false`, without calling `visit`, for [`Lookup::NotFound`].
    ///
    /// The default hands over what [`lookup`](Self::lookup) returns; a service that holds
    /// its targets may override it to lend them (the two must agree).
    fn lookup_each(
        &self,
        request_uri: &Uri<'_>,
        now: Instant,
        visit: &mut dyn FnMut(Cow<'_, Location>),
    ) -> bool {
        match self.lookup(request_uri, now) {
            Lookup::NotFound => false,
            Lookup::Targets(found) => {
                found.into_iter().for_each(|location| visit(Cow::Owned(location)));
                true
            }
        }
    }

    /// [`lookup_each`](Self::lookup_each) of the Request-URI as written, `request_uri`:
    /// `None`, without calling `visit`, when it is not a URI ([`Uri::parse`] fails).
    ///
    /// The default parses it and asks [`lookup_each`](Self::lookup_each); a service keyed by
    /// text may override it to skip the parse when the text is already its key (the two must
    /// agree).
    fn lookup_each_str(
        &self,
        request_uri: &str,
        now: Instant,
        visit: &mut dyn FnMut(Cow<'_, Location>),
    ) -> Option<bool> {
        let uri = Uri::parse(request_uri).ok()?;
        Some(self.lookup_each(&uri, now, visit))
    }
}

/// Next-hop resolution for host names (RFC 3263), synchronous: the application resolves
/// names itself (or configures them) and answers from its table. IP literals and `maddr`
/// never reach it ([`Target::from_uri`] handles them).
///
/// An empty answer means the name cannot be resolved: the branch fails as a transport failure
/// does (§16.9: as if it had received a 503), and when it is the only answer the caller gets
/// a 500 (§16.7 step 6 turns a lone 503 into 500). This is RFC 3263 §4.3's notion of failure
/// for an exhausted address list.
pub trait Resolver {
    /// Transport addresses for `uri`, in the order to try them (§16.6 step 7: the next one is
    /// tried after a transport failure, a 503, or a timeout without any response).
    fn resolve(&self, uri: &SipUri<'_>) -> Vec<Target>;
}

/// An in-memory [`LocationService`]: address-of-record to targets.
///
/// ```
/// use std::time::Instant;
/// use sip_message::Uri;
/// use sip_proxy::{Location, LocationService, Lookup, StaticLocations};
///
/// let mut locations = StaticLocations::new();
/// locations.add("sip:bob@example.com", Location::new("sip:bob@192.0.2.20:5060"));
/// locations.add_user("sip:carol@example.com"); // known, but not registered
/// let now = Instant::now();
/// let bob = Uri::parse("sip:Bob@EXAMPLE.com;transport=udp").unwrap();
/// assert!(matches!(locations.lookup(&bob, now), Lookup::NotFound)); // user parts are case-sensitive
/// let bob = Uri::parse("sip:bob@EXAMPLE.com;transport=udp").unwrap();
/// assert!(matches!(locations.lookup(&bob, now), Lookup::Targets(t) if t.len() == 1));
/// let carol = Uri::parse("sip:carol@example.com").unwrap();
/// assert_eq!(locations.lookup(&carol, now), Lookup::Targets(vec![]));
/// ```
#[derive(Clone, Debug, Default)]
pub struct StaticLocations {
    /// Keyed by canonical AOR. foldhash rather than SipHash: the application inserts every
    /// key; a peer only looks up, and a lookup of an absent key stops at the first empty group
    /// whatever it hashes to, so a flooding-resistant hash buys nothing.
    bindings: HashMap<String, Vec<Location>, foldhash::fast::FixedState>,
    /// The keys of `bindings` that are not their own key ([`canonical_aor`] of the key, parsed,
    /// is not the key; none in practice): a Request-URI found as such a key must still be
    /// canonicalized before its lookup counts. Every other key found verbatim is the answer.
    unfixed: HashSet<String, foldhash::fast::FixedState>,
}

impl StaticLocations {
    /// An empty table: every lookup is [`Lookup::NotFound`].
    #[must_use]
    pub fn new() -> StaticLocations {
        StaticLocations::default()
    }

    /// Adds a target for `aor` (any URI; keyed by [`canonical_aor`]). An `aor` that is not a
    /// URI is ignored.
    pub fn add(&mut self, aor: &str, location: Location) {
        if let Some(key) = Uri::parse(aor).ok().as_ref().and_then(canonical_aor) {
            self.note_key(&key);
            self.bindings.entry(key).or_default().push(location);
        }
    }

    /// Makes `aor` known without targets (lookups answer 480 rather than 404).
    pub fn add_user(&mut self, aor: &str) {
        if let Some(key) = Uri::parse(aor).ok().as_ref().and_then(canonical_aor) {
            self.note_key(&key);
            self.bindings.entry(key).or_default();
        }
    }

    /// Removes `aor` and its targets.
    pub fn remove(&mut self, aor: &str) {
        if let Some(key) = Uri::parse(aor).ok().as_ref().and_then(canonical_aor) {
            self.bindings.remove(&key);
            self.unfixed.remove(&key);
        }
    }

    /// Records `key` (about to be stored) in `unfixed` unless it is its own key.
    fn note_key(&mut self, key: &str) {
        if !self.bindings.contains_key(key) && !is_own_key(key) {
            self.unfixed.insert(key.to_owned());
        }
    }
}

/// Whether `key` parses as a URI whose [`canonical_aor`] is `key` itself: then a Request-URI
/// written exactly as `key` is looked up under `key` (what [`StaticLocations`]'s lookups
/// would compute from it), so finding it verbatim is the answer.
fn is_own_key(key: &str) -> bool {
    Uri::parse(key).ok().as_ref().and_then(canonical_aor).as_deref() == Some(key)
}

impl LocationService for StaticLocations {
    fn lookup(&self, request_uri: &Uri<'_>, now: Instant) -> Lookup {
        match self.targets(request_uri, now) {
            Some(targets) => Lookup::Targets(targets.clone()),
            None => Lookup::NotFound,
        }
    }

    /// The targets lent from the table, not copied.
    fn lookup_each(
        &self,
        request_uri: &Uri<'_>,
        now: Instant,
        visit: &mut dyn FnMut(Cow<'_, Location>),
    ) -> bool {
        match self.targets(request_uri, now) {
            Some(targets) => {
                targets.iter().for_each(|location| visit(Cow::Borrowed(location)));
                true
            }
            None => false,
        }
    }

    /// A Request-URI already written as its canonical AOR (`sip:user@host`, the common case)
    /// is its own key: looked up as it is, without the parse.
    fn lookup_each_str(
        &self,
        request_uri: &str,
        now: Instant,
        visit: &mut dyn FnMut(Cow<'_, Location>),
    ) -> Option<bool> {
        // Looked up verbatim first: a key found that is its own key (every key but those in
        // `unfixed`) is what canonicalizing `request_uri` would look up. On a miss, a
        // Request-URI that is its own canonical AOR is known to be absent; any other is
        // canonicalized.
        let verbatim = self.bindings.get(request_uri);
        let targets = match verbatim {
            Some(_) if self.unfixed.is_empty() || !self.unfixed.contains(request_uri) => verbatim,
            _ if is_canonical_aor(request_uri) => verbatim,
            _ => self.targets(&Uri::parse(request_uri).ok()?, now),
        };
        Some(match targets {
            Some(targets) => {
                targets.iter().for_each(|location| visit(Cow::Borrowed(location)));
                true
            }
            None => false,
        })
    }
}

/// Whether `raw` is a SIP or SIPS URI that [`Uri::parse`] accepts and whose canonical AOR (what
/// [`AorKey`] and `sip_registrar::Aor::from_sip` write) is `raw` itself: a lower-case scheme,
/// an optional user part of unreserved characters (no escapes, no password), a lower-case
/// domain name (labels of letters, digits and inner hyphens, the last starting with a letter:
/// not an IPv4 address) and an optional port without leading zeros; no parameters or headers.
/// `false` says nothing.
fn is_canonical_aor(raw: &str) -> bool {
    let b = raw.as_bytes();
    let Some(rest) = b.strip_prefix(b"sip:").or_else(|| b.strip_prefix(b"sips:")) else {
        return false;
    };
    if b.len() > AOR_KEY_ROOM {
        return false;
    }
    // RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ), here without
    // escapes and without the user-unreserved ";", "?" and "/". The user part is what comes
    // before the first `@`, all of it user characters: the run of user characters at the
    // front, when an `@` ends it (with none further on, there is no user part).
    let run = rest.iter().position(|&c| !has(c, USER)).unwrap_or(rest.len());
    let hostport = match rest.get(run) {
        Some(b'@') if run > 0 => rest.get(run + 1..).unwrap_or_default(),
        _ if rest.get(run..).is_some_and(|tail| tail.contains(&b'@')) => return false,
        _ => rest,
    };
    // A lower-case domain name: labels of at most 63 letters, digits and inner hyphens, the
    // last one starting with a letter; then the end or `:` and a port.
    let (mut label_len, mut last, mut top_first) = (0_usize, 0_u8, 0_u8);
    let mut port = None;
    for (i, &c) in hostport.iter().enumerate() {
        match c {
            b'.' | b':' => {
                if label_len == 0 || !has(last, ALNUM) {
                    return false;
                }
                if c == b':' {
                    port = hostport.get(i + 1..);
                    break;
                }
                label_len = 0;
            }
            _ if has(c, ALNUM) || (c == b'-' && label_len > 0) => {
                if label_len == 0 {
                    top_first = c;
                }
                label_len += 1;
                if label_len > 63 {
                    return false;
                }
                last = c;
            }
            _ => return false,
        }
    }
    if port.is_none() && (label_len == 0 || !has(last, ALNUM)) {
        return false;
    }
    if !top_first.is_ascii_lowercase() {
        return false;
    }
    match port {
        None => true,
        Some(port) => {
            (1..=5).contains(&port.len())
                && port.first() != Some(&b'0')
                && port.iter().all(u8::is_ascii_digit)
                && port.iter().fold(0_u32, |n, &c| n * 10 + u32::from(c - b'0')) <= 65535
        }
    }
}

/// The classes of [`CHAR_CLASS`]: a user-part character of [`is_canonical_aor`], a character
/// of a lower-case domain label other than `-` (a letter or a digit).
const USER: u8 = 1;
const ALNUM: u8 = 2;

/// Each byte's classes ([`USER`], [`ALNUM`]).
static CHAR_CLASS: [u8; 256] = char_classes();

// Runs at compile time only: every index is below 256 by construction.
#[allow(clippy::indexing_slicing)]
const fn char_classes() -> [u8; 256] {
    let mut table = [0_u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut class = 0;
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
            || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
        {
            class |= USER;
        }
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            class |= ALNUM;
        }
        table[c] = class;
        c += 1;
    }
    table
}

/// Whether byte `c` is of class `class`.
#[inline]
fn has(c: u8, class: u8) -> bool {
    CHAR_CLASS.get(usize::from(c)).is_some_and(|k| k & class != 0)
}

impl StaticLocations {
    /// The targets kept for `request_uri`, if it is known.
    fn targets(&self, request_uri: &Uri<'_>, _now: Instant) -> Option<&Vec<Location>> {
        // A SIP AOR is looked up by the registrar's canonical text as it is built (the key
        // `canonical_aor` would copy it into).
        match request_uri {
            // The canonical AOR written on the stack when that is plain; the registrar's
            // `Aor` (two allocations) otherwise.
            Uri::Sip(sip) => {
                let key = AorKey::of(sip);
                match key.as_ref().and_then(AorKey::as_str) {
                    Some(key) => self.bindings.get(key),
                    None => self.bindings.get(sip_registrar::Aor::from_sip(sip).as_str()),
                }
            }
            other => canonical_aor(other).and_then(|key| self.bindings.get(&key)),
        }
    }
}

/// Room for a canonical AOR written without allocating; longer ones take the registrar's path.
const AOR_KEY_ROOM: usize = 128;

/// A SIP or SIPS URI's canonical AOR (what `sip_registrar::Aor::from_sip` writes: scheme,
/// user, `@`, lower-cased host, port) in a stack buffer, for the common case: a user part
/// without `%` escapes (copied verbatim there too) and a domain or IPv4 host. `None` for
/// escapes, an IPv6 host or a key longer than [`AOR_KEY_ROOM`].
struct AorKey {
    bytes: [u8; AOR_KEY_ROOM],
    len: usize,
}

impl AorKey {
    fn of(uri: &SipUri<'_>) -> Option<AorKey> {
        let mut key = AorKey { bytes: [0; AOR_KEY_ROOM], len: 0 };
        key.push(if uri.is_secure() { b"sips:" } else { b"sip:" })?;
        if let Some(user) = uri.user_raw() {
            if user.contains('%') {
                return None;
            }
            key.push(user.as_bytes())?;
            key.push(b"@")?;
        }
        match uri.host() {
            Host::Domain(name) => {
                let start = key.len;
                key.push(name.as_bytes())?;
                key.bytes.get_mut(start..key.len)?.make_ascii_lowercase();
            }
            Host::Ipv4(addr) => {
                use std::fmt::Write as _;
                write!(key, "{addr}").ok()?;
            }
            Host::Ipv6(_) => return None,
        }
        if let Some(port) = uri.port() {
            use std::fmt::Write as _;
            write!(key, ":{port}").ok()?;
        }
        Some(key)
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        self.bytes.get_mut(self.len..end)?.copy_from_slice(bytes);
        self.len = end;
        Some(())
    }

    /// The key (always `Some`: only whole `&str`s are pushed, and ASCII lower-casing keeps
    /// UTF-8 valid).
    fn as_str(&self) -> Option<&str> {
        self.bytes.get(..self.len).and_then(|b| std::str::from_utf8(b).ok())
    }
}

impl std::fmt::Write for AorKey {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes()).ok_or(std::fmt::Error)
    }
}

/// An in-memory [`Resolver`]: host name to transport addresses. A URI with an explicit port
/// gets that port on every address.
#[derive(Clone, Debug, Default)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<Target>>,
}

impl StaticResolver {
    /// An empty table: nothing resolves.
    #[must_use]
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Adds an address for `host` (case-insensitive), after those already added.
    pub fn add(&mut self, host: &str, target: Target) {
        self.hosts.entry(host.trim_end_matches('.').to_ascii_lowercase()).or_default().push(target);
    }
}

impl Resolver for StaticResolver {
    fn resolve(&self, uri: &SipUri<'_>) -> Vec<Target> {
        let Host::Domain(name) = uri.host() else { return Vec::new() };
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        let Some(targets) = self.hosts.get(&key) else { return Vec::new() };
        targets
            .iter()
            .map(|t| match (*t, uri.port()) {
                (Target::Addr(transport, mut addr), Some(port)) => {
                    addr.set_port(port);
                    Target::Addr(transport, addr)
                }
                (other, _) => other,
            })
            .collect()
    }
}

/// A [`Resolver`] that resolves nothing: only IP literals and `maddr` are reachable.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn resolve(&self, _uri: &SipUri<'_>) -> Vec<Target> {
        Vec::new()
    }
}

/// The canonical form of a URI as a location-service key (RFC 3261 §10.3): for SIP and SIPS,
/// [`sip_registrar::Aor`] (`scheme:user@host[:port]` with escapes decoded, the scheme and host
/// in lower case and every parameter and header removed); for tel, `tel:` and the digits without visual separators.
/// `None` for other schemes.
///
/// ```
/// use sip_message::Uri;
/// use sip_proxy::canonical_aor;
///
/// let uri = Uri::parse("SIP:%62ob@Example.COM;user=phone;transport=tcp").unwrap();
/// assert_eq!(canonical_aor(&uri).as_deref(), Some("sip:bob@example.com"));
/// let tel = Uri::parse("tel:+1-201-555-0123").unwrap();
/// assert_eq!(canonical_aor(&tel).as_deref(), Some("tel:+12015550123"));
/// ```
#[must_use]
pub fn canonical_aor(uri: &Uri<'_>) -> Option<String> {
    match uri {
        // One canonical form for the whole stack: the registrar's (§10.3 step 5).
        Uri::Sip(sip) => Some(sip_registrar::Aor::from_sip(sip).as_str().to_owned()),
        Uri::Tel(tel) => {
            let digits: String =
                tel.number().chars().filter(|c| !matches!(c, '-' | '.' | '(' | ')')).collect();
            Some(format!("tel:{digits}"))
        }
        Uri::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{AorKey, LocationService as _};
    use proptest::prelude::*;
    use sip_message::Uri;

    fn key_of(text: &str) -> Option<(Option<String>, String)> {
        let Ok(Uri::Sip(sip)) = Uri::parse(text) else { return None };
        let fast = AorKey::of(&sip).and_then(|k| k.as_str().map(str::to_owned));
        Some((fast, sip_registrar::Aor::from_sip(&sip).as_str().to_owned()))
    }

    #[test]
    fn stack_key_is_the_registrar_aor() {
        for text in [
            "sip:bob@example.com",
            "sip:Bob@Example.COM:5070;transport=tcp",
            "sips:alice@192.0.2.1",
            "sip:192.0.2.1:5060",
            "sip:example.com.",
        ] {
            let (fast, aor) = key_of(text).expect("a SIP URI");
            assert_eq!(fast.as_deref(), Some(aor.as_str()), "{text}");
        }
        // Escapes and IPv6 hosts take the registrar's path.
        assert_eq!(key_of("sip:b%6Fb@example.com").and_then(|k| k.0), None);
        assert_eq!(key_of("sip:bob@[2001:db8::1]").and_then(|k| k.0), None);
        // So does a key too long for the stack.
        let long = format!("sip:{}@example.com", "u".repeat(200));
        assert_eq!(key_of(&long).and_then(|k| k.0), None);
    }

    proptest! {
        #[test]
        fn stack_key_matches_registrar(
            sips in any::<bool>(),
            user in proptest::option::of("[a-zA-Z0-9%._!~*'()&=+$,;?/-]{1,12}"),
            host in prop_oneof![
                "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}\\.?",
                (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
                    .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
                Just("[2001:db8::1]".to_owned()),
            ],
            port in proptest::option::of(any::<u16>()),
            params in "(;[a-z]{1,5}(=[a-zA-Z0-9]{1,5})?){0,2}",
        ) {
            let mut text = String::from(if sips { "sips:" } else { "sip:" });
            if let Some(user) = &user {
                text.push_str(user);
                text.push('@');
            }
            text.push_str(&host);
            if let Some(port) = port {
                text.push_str(&format!(":{port}"));
            }
            text.push_str(&params);
            if let Some((fast, aor)) = key_of(&text) {
                if let Some(fast) = fast {
                    prop_assert_eq!(fast, aor);
                } else {
                    prop_assert!(
                        text.contains('%') || text.contains('[') || text.len() > 100,
                        "no stack key for {}", text
                    );
                }
            }
        }

        /// A text `is_canonical_aor` takes as its own key parses, and its canonical AOR is
        /// that text; `lookup_each_str` answers as the parse and `lookup_each` do.
        #[test]
        fn text_lookup_matches_parsed_lookup(
            scheme in prop_oneof![Just("sip:"), Just("sips:"), Just("SIP:"), Just("tel:")],
            user in proptest::option::of(prop_oneof![
                "[a-zA-Z0-9%._!~*'()&=+$,:;?/-]{0,8}",
                "[a-z0-9._!~*'()&=+$,-]{1,6}",
            ]),
            host in prop_oneof![
                "[a-zA-Z0-9.-]{0,14}",
                "[a-z0-9-]{1,6}(\\.[a-z0-9-]{1,6}){0,2}",
            ],
            port in proptest::option::of("[0-9]{0,6}"),
            tail in prop_oneof![Just(""), Just(";lr"), Just("?x=1"), Just(">"), Just(" ")],
        ) {
            let mut text = String::from(scheme);
            if let Some(user) = &user {
                text.push_str(user);
                text.push('@');
            }
            text.push_str(&host);
            if let Some(port) = &port {
                text.push(':');
                text.push_str(port);
            }
            text.push_str(tail);
            if super::is_canonical_aor(&text) {
                let parsed = Uri::parse(&text);
                prop_assert!(parsed.is_ok(), "{} does not parse", text);
                let key = parsed.ok().as_ref().and_then(super::canonical_aor);
                prop_assert_eq!(key.as_deref(), Some(text.as_str()));
            }
            let mut locations = super::StaticLocations::new();
            locations.add(&text, super::Location::new("sip:c@192.0.2.1"));
            locations.add("sip:bob@example.com", super::Location::new("sip:d@192.0.2.2"));
            // The stored key itself is probed too: found verbatim, it must answer as its parse.
            let stored = Uri::parse(&text).ok().as_ref().and_then(super::canonical_aor);
            let probes = [Some(text.as_str()), Some("sip:bob@example.com"), stored.as_deref()];
            for probe in probes.into_iter().flatten() {
                let now = std::time::Instant::now();
                let (mut by_text, mut by_uri) = (Vec::new(), Vec::new());
                let found = locations.lookup_each_str(probe, now, &mut |l| by_text.push(l.into_owned()));
                let parsed = Uri::parse(probe).ok();
                let expected = parsed
                    .as_ref()
                    .map(|uri| locations.lookup_each(uri, now, &mut |l| by_uri.push(l.into_owned())));
                prop_assert_eq!(found, expected, "{}", probe);
                prop_assert_eq!(by_text, by_uri, "{}", probe);
            }
        }
    }

    /// `is_canonical_aor` as first written (the reference for the one-pass one).
    fn is_canonical_aor_reference(raw: &str) -> bool {
        let b = raw.as_bytes();
        let Some(rest) = b.strip_prefix(b"sip:").or_else(|| b.strip_prefix(b"sips:")) else {
            return false;
        };
        if b.len() > super::AOR_KEY_ROOM {
            return false;
        }
        // RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ), here without
        // escapes and without the user-unreserved ";", "?" and "/".
        let user_char = |c: &u8| {
            c.is_ascii_alphanumeric()
                || matches!(c, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
                || matches!(c, b'&' | b'=' | b'+' | b'$' | b',')
        };
        let hostport = match rest.iter().position(|&c| c == b'@') {
            Some(at) => {
                let (user, hostport) = rest.split_at(at);
                if user.is_empty() || !user.iter().all(user_char) {
                    return false;
                }
                hostport.get(1..).unwrap_or_default()
            }
            None => rest,
        };
        let (host, port) = match hostport.iter().position(|&c| c == b':') {
            Some(colon) => (hostport.get(..colon), hostport.get(colon + 1..)),
            None => (Some(hostport), None),
        };
        let Some(host) = host else { return false };
        let label_ok = |label: &[u8]| {
            let alnum =
                |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            label.len() <= 63
                && alnum(label.first())
                && alnum(label.last())
                && label.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        };
        if !host.split(|&c| c == b'.').all(label_ok) {
            return false;
        }
        let top = host.rsplit(|&c| c == b'.').next().and_then(|label| label.first());
        if !top.is_some_and(u8::is_ascii_lowercase) {
            return false;
        }
        match port {
            None => true,
            Some(port) => {
                (1..=5).contains(&port.len())
                    && port.first() != Some(&b'0')
                    && port.iter().all(u8::is_ascii_digit)
                    && std::str::from_utf8(port).ok().and_then(|p| p.parse::<u16>().ok()).is_some()
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// The one-pass check is the reference's, on AOR-like texts and near misses.
        #[test]
        fn canonical_aor_check_is_the_reference(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "sip:", "sips:", "SIP:", "bob", "B", "@", "@", "example", ".", ".", "com", "x1",
                "-", "a-b", "9", ":", "5060", "0", "65536", "%6F", ";lr", "!", "_", " ",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ]), 0..9),
        ) {
            let text: String = pieces.concat();
            prop_assert_eq!(super::is_canonical_aor(&text), is_canonical_aor_reference(&text));
            let sip = format!("sip:{text}");
            prop_assert_eq!(super::is_canonical_aor(&sip), is_canonical_aor_reference(&sip));
        }
    }

    #[test]
    fn canonical_aor_texts() {
        for text in ["sip:bob@example.com", "sips:a.b-c@x1.example.org:5061", "sip:example.com"] {
            assert!(super::is_canonical_aor(text), "{text}");
        }
        for text in [
            "sip:Bob@Example.com",
            "SIP:bob@example.com",
            "sip:bob@example.com;lr",
            "sip:bob@192.0.2.1",
            "sip:bob@example.com.",
            "sip:bob@example.com:05060",
            "sip:bob@example.com:70000",
            "sip:bob:pw@example.com",
            "sip:b%6Fb@example.com",
            "sip:@example.com",
            "sip:bob@-x.com",
        ] {
            assert!(!super::is_canonical_aor(text), "{text}");
        }
    }
}
