//! [`Proxy`]: the proxy core of RFC 3261 §16 on top of a borrowed
//! [`TransactionTable`]: validation, route preprocessing, targets, forwarding, response
//! contexts, CANCEL, Timer C, and the stateless mode of §16.11.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use foldhash::fast::FixedState;
use sip_message::{
    Contact, Decimal, ForwardedRequest, HeaderName, Message, MessageBuilder, Method, ProxyRequire,
    SipUri, TypedHeader, Uri, UriError, Via,
};
use sip_transaction::{
    BRANCH_COOKIE, Event, Target, TransactionId, TransactionTable, Transport, TxnMap,
};
use smallvec::SmallVec;

use crate::context::{
    BranchState, CancelState, Candidate, Context, ContextId, TargetSlot, TargetView, UriFacts, rank,
};
use crate::location::{Location, LocationService, Resolver};
use crate::routing::{
    Fields, Hex16, TopVia, bracketed, hex_str, local_tag, loop_hash, loop_hash_read_in,
    loop_part_of, pop_last_route, postprocess_strict_route, rebuild_sip, replace_top_via,
    request_uri_form_of, route_uri, stateless_unique_in, via_target,
};
#[cfg(test)]
use crate::routing::{loop_hash_read, stateless_unique};
use crate::{ProxyConfig, ProxyEvent, ProxyStats};

/// The fixed foldhash seed of the id maps' spill (a [`TxnMap`] is a vector indexed by the
/// id's slot; ids, the table's slab index and generation, are chosen by no peer, so foldhash
/// with a fixed seed serves where it hashes).
const ID_MAP_SEED: u64 = 0x5e1d_9a3c_71b4_0f27;

/// Which proxy timer a queue entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// §16.6 step 11, §16.8.
    C,
    /// §9.1: a cancelled INVITE branch still without a final 64*T1 after its CANCEL ended.
    CancelGuard,
}

/// What one of the proxy's client transactions is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Request,
    Cancel,
}

#[derive(Clone, Copy, Debug)]
struct ClientRef {
    context: ContextId,
    branch: u16,
    role: Role,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    context: Option<Context>,
}

/// Why a branch ended without a response of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// Timer B or F, or Timer C before any provisional (§16.8): as if 408.
    Timeout,
    /// A transport failure or an unresolvable next hop (§16.9): as if 503.
    Transport,
}

/// The proxy core of RFC 3261 §16. It does not own the [`TransactionTable`]: every method that
/// needs it borrows it, so one table can serve a registrar, a proxy and a UA together (see the
/// [crate docs](crate) for the dispatch loop, and [`StandaloneProxy`](crate::StandaloneProxy)
/// for a proxy that owns its table).
///
/// - [`handle_request`](Self::handle_request): a new server transaction the application decided
///   to proxy;
/// - [`handle_event`](Self::handle_event): every [`Event`] of the table; the proxy keeps those
///   of its own transactions (and ACKs and strays it must forward or drop) and returns the rest;
/// - [`handle_timeout`](Self::handle_timeout) / [`poll_timeout`](Self::poll_timeout): Timer C
///   and the CANCEL guards, in one ordered queue;
/// - [`poll_event`](Self::poll_event): what the application may want to know.
#[derive(Debug)]
pub struct Proxy<L, R> {
    config: ProxyConfig,
    locations: L,
    resolver: R,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    servers: TxnMap<ContextId>,
    clients: TxnMap<ClientRef>,
    timers: BinaryHeap<Reverse<(Instant, ContextId, u16, TimerKind)>>,
    events: VecDeque<ProxyEvent>,
    stats: ProxyStats,
    /// [`route_is_self`] of the proxy's own SIP and SIPS Record-Route values.
    own_routes_are_self: (bool, bool),
    /// Whether the proxy's own SIP and SIPS Record-Route values hold no comma (a line equal
    /// to one is then one value).
    own_routes_are_one_value: (bool, bool),
    /// The last other Route value [`route_is_self`] was asked about, and its answer (UAs
    /// configured with this proxy as their outbound proxy send the same one every time).
    route_memo: Option<(Bytes, bool)>,
    /// What §16.5 and §16.6 read of each location URI met, from its one parse (the location
    /// service answers with the same bindings call after call); emptied when it reaches
    /// [`LOCATION_FACTS_LIMIT`] entries. Its text is shared with the targets made of it (no
    /// copy of the URI per request).
    location_facts: HashMap<Arc<str>, UriFacts, FixedState>,
    /// Emptied target lists and stamped-Via buffers of freed contexts, reused by the next ones
    /// (at most [`SPARES`] of each): a call's contexts then allocate neither.
    spares: Spares,
    /// What §16.4 and §16.5 read of the Request-URIs met that need no location lookup to be
    /// routed (in-dialog requests and ACKs come with the same Contact URI call after call), by
    /// their text: a direct-mapped table of [`URI_MEMO_SLOTS`] entries, a newcomer replacing
    /// whatever held its slot (no peer can make a lookup cost more than one comparison).
    uri_memo: Vec<Option<(Arc<str>, UriMemo)>>,
    /// The start of the proxy's Via value for each transport: `SIP/2.0/<transport>
    /// <sent-by>;branch=z9hG4bK` ([`via_value`](Self::via_value) adds the rest of the branch).
    via_heads: Vec<(Transport, Box<[u8]>)>,
    /// The buffer the loop part's and stateless branches' fields are gathered in, kept (its
    /// 512 bytes are zeroed once, not for every request).
    fields: Fields,
}

/// How many Request-URIs [`Proxy`] remembers (a power of two).
const URI_MEMO_SLOTS: usize = 64;

/// The fixed foldhash seed of the Request-URI memo.
const URI_MEMO_SEED: u64 = 0x2f6b_83d1_c4e9_0a57;

/// A Request-URI for the location service (§16.5): parsed, or as written.
#[derive(Clone, Copy)]
enum Located<'u, 'a> {
    /// Parsed: [`LocationService::lookup_each`].
    Parsed(&'u Uri<'a>),
    /// As written: [`LocationService::lookup_each_str`].
    Text(&'u str),
}

/// What the proxy reads of a SIP or SIPS Request-URI without `maddr` (§16.4, §16.5), from
/// its parse: the same answers [`Proxy::request_uri_facts`] and
/// [`Proxy::determine_targets`] work out from the parsed URI.
#[derive(Clone, Copy, Debug)]
struct UriMemo {
    /// A URI of the proxy itself (no user part, one of its addresses).
    for_proxy: bool,
    /// Its host is one of the proxy's domains (a location lookup decides the targets).
    local_domain: bool,
    /// SIPS.
    secure: bool,
    /// [`UriFacts::of`] it.
    facts: UriFacts,
}

/// The most location URIs whose facts the proxy keeps.
const LOCATION_FACTS_LIMIT: usize = 4096;

/// How many emptied buffers of each kind [`Spares`] keeps.
const SPARES: usize = 16;

/// The largest target list (in targets) [`Spares`] keeps.
const SPARE_TARGETS_MAX: usize = 16;

/// The largest stamped-Via buffer (in bytes) [`Spares`] keeps.
const SPARE_VIA_MAX: usize = 512;

/// Buffers of freed response contexts, kept for the next ones.
#[derive(Debug, Default)]
struct Spares {
    /// Empty target lists, with their capacity.
    targets: Vec<Vec<TargetSlot>>,
    /// Stamped-Via buffers (their text is overwritten before use).
    vias: Vec<Vec<u8>>,
}

impl Spares {
    /// An empty target list, reused when one is kept.
    fn targets(&mut self) -> Vec<TargetSlot> {
        self.targets.pop().unwrap_or_default()
    }

    /// A buffer for a stamped Via, reused when one is kept.
    fn via(&mut self) -> Vec<u8> {
        self.vias.pop().unwrap_or_default()
    }

    /// Keeps `targets`, emptied, unless enough are kept, it never allocated or it is larger
    /// than a usual request needs (a big fork's list is not held on to).
    fn keep_targets(&mut self, mut targets: Vec<TargetSlot>) {
        if self.targets.len() < SPARES && (1..=SPARE_TARGETS_MAX).contains(&targets.capacity()) {
            targets.clear();
            self.targets.push(targets);
        }
    }

    /// Keeps `via` unless enough are kept, it never allocated or it is unusually long.
    fn keep_via(&mut self, mut via: Vec<u8>) {
        if self.vias.len() < SPARES && (1..=SPARE_VIA_MAX).contains(&via.capacity()) {
            via.clear();
            self.vias.push(via);
        }
    }
}

impl<L: LocationService, R: Resolver> Proxy<L, R> {
    /// A proxy with `config`, finding targets in `locations` and next hops with `resolver`.
    #[must_use]
    pub fn new(config: ProxyConfig, locations: L, resolver: R) -> Self {
        let own_routes_are_self = (
            route_is_self(&config, &config.record_route_sip),
            route_is_self(&config, &config.record_route_sips),
        );
        let own_routes_are_one_value =
            (!config.record_route_sip.contains(&b','), !config.record_route_sips.contains(&b','));
        Self {
            own_routes_are_self,
            own_routes_are_one_value,
            route_memo: None,
            location_facts: HashMap::default(),
            spares: Spares::default(),
            uri_memo: vec![None; URI_MEMO_SLOTS],
            via_heads: Transport::ALL
                .into_iter()
                .map(|t| (t, via_head(t, &config.sent_by)))
                .collect(),
            fields: Fields::scratch(),
            config,
            locations,
            resolver,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            servers: TxnMap::with_seed(ID_MAP_SEED),
            clients: TxnMap::with_seed(ID_MAP_SEED),
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            stats: ProxyStats::default(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The location service.
    #[must_use]
    pub fn locations(&self) -> &L {
        &self.locations
    }

    /// The location service, to update (new registrations take effect for new requests).
    pub fn locations_mut(&mut self) -> &mut L {
        &mut self.locations
    }

    /// The resolver, to update.
    pub fn resolver_mut(&mut self) -> &mut R {
        &mut self.resolver
    }

    // ----- inputs -------------------------------------------------------------------------

    /// Proxies the request of new server transaction `id` (from [`Event::Request`]), received
    /// from `source` (RFC 3261 §16.2): validation (§16.3), Route preprocessing (§16.4),
    /// targets (§16.5), forwarding (§16.6) through new client transactions, or one stateless
    /// forward (§16.11). Requests the proxy cannot forward are answered on `id` as a UAS
    /// would. A CANCEL cancels the context of its INVITE (§16.10). Then drain the table.
    pub fn handle_request(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        request: Message,
        source: Target,
    ) {
        self.stats.requests += 1;
        self.on_request(now, txns, id, request, source);
        self.prune();
    }

    /// Forwards an ACK that matched no transaction (an ACK for a 2xx, [`Event::Ack`]) along its
    /// Route or Request-URI, statelessly (§16.11 rules for the branch). One addressed to the
    /// proxy itself is dropped.
    pub fn handle_ack(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        mut ack: Message,
        source: Target,
    ) {
        self.stats.requests += 1;
        self.forward_ack(now, txns, &mut ack, source);
        self.prune();
    }

    /// Offers an event of the table to the proxy. Events of the proxy's transactions, CANCELs
    /// for its server transactions, ACKs it must forward and stray responses carrying its Via
    /// are consumed (`None`); anything else is handed back (`Some`) for the next transaction
    /// user. A new [`Event::Request`] is always handed back: decide, then call
    /// [`handle_request`](Self::handle_request).
    pub fn handle_event(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        event: Event,
    ) -> Option<Event> {
        // Pruned inside, where the event was consumed: the handed-back event then goes straight
        // into the return value instead of being held across the prune (a copy of a whole
        // `Event` per call).
        self.on_event(now, txns, event)
    }

    /// Whether [`handle_event`](Self::handle_event) would hand `event` straight back and change
    /// nothing: no request is being proxied (no server or client transaction of the proxy, no
    /// timer armed) and `event` is none the proxy claims by its content alone (an ACK, a
    /// stray response, a CANCEL). A dispatcher that sees `true` may skip the call (a server
    /// that mostly answers calls itself moves each event once instead of three times).
    #[must_use]
    pub fn passes_through(&self, event: &Event) -> bool {
        let idle = self.servers.is_empty() && self.clients.is_empty() && self.timers.is_empty();
        idle && match event {
            Event::Request { request, .. } => request.method() != Some(&Method::Cancel),
            Event::Ack { .. } | Event::StrayResponse { .. } => false,
            _ => true,
        }
    }

    /// Time passed: fires Timer C and CANCEL guards due at `now` (§16.8, §9.1). Early calls do
    /// nothing. Then drain the table.
    pub fn handle_timeout(&mut self, now: Instant, txns: &mut TransactionTable) {
        while let Some(Reverse((at, cid, bi, kind))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let armed = self.branch_mut(cid, bi).is_some_and(|b| {
                let slot = match kind {
                    TimerKind::C => &mut b.timer_c,
                    TimerKind::CancelGuard => &mut b.guard,
                };
                slot.take_if(|t| *t == at).is_some()
            });
            if armed {
                match kind {
                    TimerKind::C => self.on_timer_c(now, txns, cid, bi),
                    TimerKind::CancelGuard => self.on_cancel_guard(now, txns, cid, bi),
                }
            }
        }
        self.prune();
    }

    // ----- outputs ------------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` when no proxy timer
    /// is armed. Combine it with the table's own.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, ..))| *at)
    }

    /// The next [`ProxyEvent`]; drain after every call.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ProxyEvent> {
        self.events.pop_front()
    }

    // ----- queries ------------------------------------------------------------------------

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> ProxyStats {
        let mut stats = self.stats;
        stats.contexts = self.live;
        stats.timers = self
            .slots
            .iter()
            .filter_map(|s| s.context.as_ref())
            .flat_map(|c| c.branches.iter())
            .map(|b| usize::from(b.timer_c.is_some()) + usize::from(b.guard.is_some()))
            .sum();
        stats
    }

    /// Live response contexts.
    #[must_use]
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no response context is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Whether the proxy holds nothing at all: no context, no transaction reference, no timer
    /// and no undelivered event.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.live == 0
            && self.servers.is_empty()
            && self.clients.is_empty()
            && self.timers.is_empty()
            && self.events.is_empty()
    }

    /// Whether transaction `id` belongs to one of the proxy's response contexts.
    #[must_use]
    pub fn owns(&self, id: TransactionId) -> bool {
        self.servers.contains_key(&id) || self.clients.contains_key(&id)
    }

    // ----- requests -----------------------------------------------------------------------

    fn on_request(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        mut request: Message,
        source: Target,
    ) {
        let Some(method) = request.method().cloned() else { return };
        if self.servers.contains_key(&id) {
            return; // already proxied
        }
        if method == Method::Ack {
            self.forward_ack(now, txns, &mut request, source);
            return;
        }
        if method == Method::Cancel && !self.config.stateless {
            let invite = txns.find_invite_for_cancel(&request);
            self.on_cancel(now, txns, id, invite);
            return;
        }
        // §16.3 step 1 (and step 2: the scheme gets 416).
        if let Err(rejection) = request.validate_for_forwarding() {
            let reason = rejection.reason_phrase();
            self.answer(now, txns, id, rejection.status(), Some(&reason), &[]);
            return;
        }
        // §16.3 step 3.
        if request.max_forwards() == Some(0) {
            if method == Method::Options && self.is_for_proxy(&request) {
                self.answer_options(now, txns, id);
            } else {
                self.answer(now, txns, id, 483, None, &[]);
            }
            return;
        }
        // §16.3 step 4, with the hash of §16.6 step 8. The top Via is parsed once, for the hash
        // (when it is the only one) and for the `received` stamp below.
        let top_via = TopVia::of(&request);
        let (loop_part, read) =
            loop_hash_read_in(&mut self.fields, &request, self.config.stateless, Some(&top_via));
        let route_lines = read.route_lines;
        if method != Method::Cancel && self.has_looped(&request, &loop_part, read.lone_branch) {
            self.stats.loops += 1;
            self.events.push_back(ProxyEvent::LoopDetected { server: id });
            self.answer(now, txns, id, 482, None, &[]);
            return;
        }
        // §16.3 step 5 (nothing to check without a Proxy-Require line, which the pass above
        // would have met).
        if let Some(unsupported) = read.proxy_lines.then(|| self.unsupported(&request)).flatten() {
            self.answer(now, txns, id, 420, None, &[(HeaderName::Unsupported, unsupported)]);
            return;
        }
        // The 100 (Trying) below answers the request as received, not the one §16.4 and the
        // `received` stamp will have changed: it is built now, from the request as it is (no
        // clone kept, no parse of the table's stored bytes), and sent once targets are found.
        let invite = method == Method::Invite;
        let trying = (invite && self.config.send_trying && !self.config.stateless)
            .then(|| request.trying().ok())
            .flatten();
        // §18.2.1: worked out now from the parsed top Via, which §16.4 does not touch; applied
        // once targets are found.
        let mut stamp = self.spares.via();
        let stamped = match source {
            Target::Addr(_, addr) => top_via.stamped_into(addr, &mut stamp),
            _ => false,
        };
        let stamp = if stamped {
            Some(stamp)
        } else {
            self.spares.keep_via(stamp);
            None
        };
        // §16.4.
        // The Request-URI is parsed once from a copy, for §16.4 and (unless §16.4 changed it)
        // §16.5.
        // One met before and routed without a lookup is not parsed again (nor copied, nor
        // checked for UTF-8: the remembered text is).
        let uri = self.received_uri(&request);
        let (received_uri, memo, parsed_uri) = self.read_received_uri(&uri);
        let (for_proxy, uri_kept, routes_left) =
            self.preprocess_routes(&mut request, parsed_uri.as_ref(), memo.as_ref(), route_lines);
        let routed = || match routes_left {
            Some(left) => left > 0,
            None => request.has(HeaderName::Route),
        };
        if for_proxy && !routed() {
            // The proxy is the final recipient: OPTIONS per §11, nothing else is served here.
            if method == Method::Options {
                self.answer_options(now, txns, id);
            } else {
                let allow = Bytes::from_static(b"OPTIONS");
                self.answer(now, txns, id, 405, None, &[(HeaderName::Allow, allow)]);
            }
            return;
        }
        // §16.5.
        let known_uri = match (uri_kept, received_uri, parsed_uri.as_ref()) {
            (true, Some(raw), Some(parsed)) => Some((raw, parsed)),
            _ => None,
        };
        let remembered = uri.remembered.as_ref().filter(|_| uri_kept);
        let found = match remembered {
            Some((raw, memo)) => self.remembered_targets(now, &request, raw, *memo),
            None => self.determine_targets(now, &request, known_uri, true),
        };
        let (targets, local, secure) = match found {
            Ok(found) => found,
            Err(status) => {
                self.answer(now, txns, id, status, None, &[]);
                return;
            }
        };
        if self.config.stateless {
            if let Some(via) = stamp {
                replace_top_via(&mut request, via);
            }
            self.forward_one_stateless(txns, request, &targets, &loop_part);
            self.spares.keep_targets(targets);
            // Nothing of the request is kept (§16.11): the table's server transaction goes too.
            txns.terminate(now, id);
            return;
        }
        // §16.2: an immediate 100 (Trying) for an INVITE (§8.2.6.1).
        if let Some(response) = trying {
            let _ = txns.send_response(now, id, response);
        }
        let count = targets.len();
        // Built where it is stored (a `Context` is large: made first, it was copied in).
        let cid = self.alloc_with(|| {
            let mut context = Context::new(id, request, invite, local, secure, loop_part, targets);
            // The stamped top Via goes into each copy as it is written (the request is not
            // edited).
            context.top_via = stamp;
            context
        });
        // Set where it lies (an assignment in the closure above made it build the context
        // aside and copy it in).
        if let Some(ctx) = self.context_mut(cid) {
            ctx.routeless = routes_left == Some(0);
        }
        self.servers.insert(id, cid);
        self.events.push_back(ProxyEvent::Proxied { server: id, targets: count });
        self.advance(now, txns, cid);
    }

    /// §16.10 (and §9.2 as a UAS): 200 for a CANCEL whose INVITE this proxy is forwarding, and a
    /// CANCEL on every pending branch; 481 when there is no such INVITE.
    ///
    /// Deviation: §16.10 asks a proxy to forward an unmatched CANCEL statelessly, because it
    /// "may have statelessly forwarded the associated request". A stateful proxy never does,
    /// and RFC 6026 §7.3 forbids it to relay the stray response such a CANCEL would draw, so it
    /// answers 481 (Call/Transaction Does Not Exist) as a UAS would. In stateless mode every
    /// CANCEL is forwarded like any request.
    fn on_cancel(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        cancel: TransactionId,
        invite: Option<TransactionId>,
    ) {
        match invite.and_then(|i| self.servers.get(&i).copied()) {
            Some(cid) => {
                self.answer(now, txns, cancel, 200, None, &[]);
                if let Some(ctx) = self.context_mut(cid) {
                    ctx.cancelled = true;
                    ctx.stop = true;
                }
                self.cancel_pending(now, txns, cid);
                self.advance(now, txns, cid);
            }
            None => self.answer(now, txns, cancel, 481, None, &[]),
        }
    }

    /// §16.5: the target set, whether the Request-URI is one of the proxy's resources, and
    /// whether it is a SIPS URI. `known` is the Request-URI as written and parsed, if the
    /// caller has it. With `tag_is_dialog`, a request with a To tag is taken to be inside a
    /// dialog and goes to its Request-URI (§16.12); the stateless ACK path clears it, since a
    /// non-2xx ACK carries a To tag too.
    fn determine_targets(
        &mut self,
        now: Instant,
        request: &Message,
        known: Option<(&str, &Result<Uri<'_>, UriError>)>,
        tag_is_dialog: bool,
    ) -> Result<(Vec<TargetSlot>, bool, bool), u16> {
        let fresh;
        let (raw, uri) = match known {
            Some((raw, known)) => (raw, known.as_ref().map_err(|_| 400_u16)?),
            None => {
                let raw = request.request_uri_str().ok_or(400_u16)?;
                fresh = Uri::parse(raw).map_err(|_| 400_u16)?;
                (raw, &fresh)
            }
        };
        let predetermined = match uri {
            // An in-dialog request (To tag) is loose-routed on its Request-URI (§16.12).
            Uri::Sip(sip) => {
                sip.maddr().is_some()
                    || (tag_is_dialog && request.to_tag_bytes().is_some())
                    || !self.config.is_local_domain(sip.host())
            }
            Uri::Tel(_) => false,
            Uri::Other(_) => return Err(416),
        };
        let secure = uri.as_sip().is_some_and(SipUri::is_secure);
        if predetermined {
            let mut slot = TargetSlot::new(raw, 1000, false);
            slot.facts = Some(UriFacts::of(&Ok(*uri)));
            let mut targets = self.spares.targets();
            targets.push(slot);
            return Ok((targets, false, secure));
        }
        self.located_targets(now, uri, secure)
    }

    /// The second half of [`determine_targets`](Self::determine_targets): the targets the
    /// location service gives Request-URI `uri` (one of the proxy's resources; SIPS when
    /// `secure`).
    fn located_targets(
        &mut self,
        now: Instant,
        uri: &Uri<'_>,
        secure: bool,
    ) -> Result<(Vec<TargetSlot>, bool, bool), u16> {
        self.located_targets_of(now, Located::Parsed(uri), secure)
    }

    /// [`located_targets`](Self::located_targets) of the Request-URI parsed or as written
    /// (for a location service that can look that up as it is: no parse); a written one that
    /// is not a URI gets 400, as its parse would.
    fn located_targets_of(
        &mut self,
        now: Instant,
        uri: Located<'_, '_>,
        secure: bool,
    ) -> Result<(Vec<TargetSlot>, bool, bool), u16> {
        let mut targets = self.spares.targets();
        let max_targets = self.config.max_targets;
        let location_facts = &mut self.location_facts;
        // Each target as it is lent (a table's, no copy of the list) or given (moved in).
        let mut visit = |location: Cow<'_, Location>| {
            if targets.len() >= max_targets {
                return;
            }
            let (uri, facts) = match location_facts.get_key_value(&*location.uri) {
                Some((uri, facts)) => (Arc::clone(uri), *facts),
                None => {
                    let facts = UriFacts::of(&Uri::parse(&location.uri));
                    if location_facts.len() >= LOCATION_FACTS_LIMIT {
                        location_facts.clear();
                    }
                    let uri: Arc<str> = location.uri.as_str().into();
                    location_facts.insert(Arc::clone(&uri), facts);
                    (uri, facts)
                }
            };
            // A SIP or SIPS URI; SIPS only when the Request-URI is SIPS (§16.5).
            let acceptable = match facts {
                UriFacts::Sip { secure: sips, .. } => !secure || sips,
                UriFacts::NotSip => false,
            };
            if !acceptable || contains_uri(&targets, &location.uri) {
                return;
            }
            let (q, flow) = (location.q.thousandths(), location.flow);
            let path: Vec<Box<str>> = match location {
                _ if location.path.is_empty() => Vec::new(),
                Cow::Owned(location) => {
                    location.path.into_iter().map(String::into_boxed_str).collect()
                }
                Cow::Borrowed(location) => {
                    location.path.iter().map(|p| p.as_str().into()).collect()
                }
            };
            let mut slot = TargetSlot::new_shared(uri, q, true);
            slot.facts = Some(facts);
            slot.path = path;
            slot.flow = flow;
            targets.push(slot);
        };
        let found = match uri {
            Located::Parsed(uri) => Some(self.locations.lookup_each(uri, now, &mut visit)),
            Located::Text(raw) => self.locations.lookup_each_str(raw, now, &mut visit),
        };
        let Some(found) = found else {
            self.spares.keep_targets(targets);
            return Err(400);
        };
        if !found {
            self.spares.keep_targets(targets);
            return Err(404);
        }
        if targets.is_empty() {
            self.spares.keep_targets(targets);
            Err(480)
        } else {
            Ok((targets, true, secure))
        }
    }

    /// §16.11: one target (the first of the highest q, a choice that depends only on the
    /// request and the configuration), one stateless send.
    fn forward_one_stateless(
        &mut self,
        txns: &mut TransactionTable,
        request: Message,
        targets: &[TargetSlot],
        loop_part: &Hex16,
    ) {
        let best_q = targets.iter().map(|t| t.q).max().unwrap_or(0);
        let Some(target) = targets.iter().find(|t| t.q == best_q) else { return };
        let unique = stateless_unique_in(&mut self.fields, &request);
        let Some((copy, hops)) = self.build_copy_of(
            Cow::Owned(request),
            None,
            target.view(),
            self.config.record_route,
            false,
        ) else {
            return;
        };
        let Some(&hop) = hops.first() else { return };
        let via = self.via_value(hop, &unique, Some(loop_part));
        if let Some(copy) = copy.finish_bytes(&via) {
            send_stateless_bytes(txns, hop, copy);
            self.stats.forwarded += 1;
            self.stats.forwarded_stateless += 1;
        }
    }

    /// An ACK for a 2xx (or, in stateless mode, any ACK) goes on statelessly (§16.11 branch).
    ///
    /// A stateful proxy gives it a branch without the loop part of §16.6 step 8: an ACK is
    /// never checked for a loop (§16.3 step 4 would answer 482, and an ACK gets no response;
    /// one that loops runs out of Max-Forwards), so the digest would be read by no one. In
    /// stateless mode a non-2xx ACK must carry its INVITE's branch, loop part included.
    fn forward_ack(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        ack: &mut Message,
        _source: Target,
    ) {
        if ack.max_forwards() == Some(0) || ack.validate_for_forwarding().is_err() {
            return;
        }
        let loop_part = self.config.stateless.then(|| loop_hash(ack, true));
        let uri = self.received_uri(ack);
        let (received_uri, memo, parsed_uri) = self.read_received_uri(&uri);
        let (for_proxy, uri_kept, _) =
            self.preprocess_routes(ack, parsed_uri.as_ref(), memo.as_ref(), None);
        if for_proxy && !ack.has(HeaderName::Route) {
            return; // for the proxy itself: nothing to do
        }
        // The Request-URI as read above while §16.4 kept it (no second UTF-8 check).
        let request_uri = if uri_kept { received_uri } else { ack.request_uri_str() };
        // The target read as a view: the Request-URI borrowed, not copied into a slot.
        let chosen;
        let target = match request_uri {
            // Stateless mode: an ACK with no Route left is routed as §16.5 routes any request,
            // so a non-2xx ACK makes the same choice as its INVITE (§16.11) and reaches the
            // server transaction that sent the final response. It carries the To tag of that
            // response, so the tag cannot tell it from a 2xx ACK; one whose Request-URI the
            // location service does not know (a 2xx ACK to a Contact) goes to that URI.
            Some(uri) if self.config.stateless && !ack.has(HeaderName::Route) => {
                match self.determine_targets(now, ack, None, false) {
                    Ok((targets, ..)) => {
                        let best_q = targets.iter().map(|t| t.q).max().unwrap_or(0);
                        match targets.into_iter().find(|t| t.q == best_q) {
                            Some(t) => {
                                chosen = t;
                                chosen.view()
                            }
                            None => return,
                        }
                    }
                    Err(_) => TargetView::of_uri(uri, None),
                }
            }
            Some(uri) => {
                let facts = match (uri_kept, memo) {
                    (false, _) => None,
                    (true, Some(memo)) => Some(memo.facts),
                    (true, None) => parsed_uri.as_ref().map(UriFacts::of),
                };
                TargetView::of_uri(uri, facts)
            }
            None => return,
        };
        let unique = stateless_unique_in(&mut self.fields, ack);
        // Borrowed: only a copy that needs edits beyond the one-pass write (pushed Routes, a
        // strict route) clones it.
        let Some((copy, hops)) =
            self.build_copy_of(Cow::Borrowed(&*ack), None, target, false, false)
        else {
            return;
        };
        let Some(&hop) = hops.first() else { return };
        let via = self.via_value(hop, &unique, loop_part.as_ref());
        if let Some(copy) = copy.finish_bytes(&via) {
            send_stateless_bytes(txns, hop, copy);
            self.stats.forwarded += 1;
            self.stats.forwarded_stateless += 1;
        }
    }

    // ----- events -------------------------------------------------------------------------

    /// The return of [`on_event`](Self::on_event) for an event the proxy consumed: the proxy
    /// changed, so its timer queue is pruned. An event handed back changed nothing (the queue's
    /// top is still live, every entry point having pruned), so it needs no prune.
    fn consumed(&mut self) -> Option<Event> {
        self.prune();
        None
    }

    fn on_event(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        event: Event,
    ) -> Option<Event> {
        match event {
            Event::Request { id, request, source } => {
                if request.method() == Some(&Method::Cancel) && !self.config.stateless {
                    let invite = txns.find_invite_for_cancel(&request);
                    if invite.is_some_and(|i| self.servers.contains_key(&i)) {
                        self.stats.requests += 1;
                        self.on_cancel(now, txns, id, invite);
                        return self.consumed();
                    }
                }
                Some(Event::Request { id, request, source })
            }
            Event::Provisional { id, mut response } => match self.clients.get(&id).copied() {
                Some(client) => {
                    // Lent where the event holds it: a provisional is only relayed.
                    self.on_provisional(now, txns, id, client, &mut response);
                    self.consumed()
                }
                None => Some(Event::Provisional { id, response }),
            },
            Event::Final { id, response } => match self.clients.get(&id).copied() {
                Some(client) => {
                    self.on_final(now, txns, id, client, response);
                    self.consumed()
                }
                None => Some(Event::Final { id, response }),
            },
            Event::Additional2xx { id, mut response } => match self.clients.get(&id).copied() {
                Some(client) => {
                    // RFC 6026 §7.2, §16.7 step 5: every 2xx goes upstream, while the server
                    // transaction lives (RFC 6026 §8.3: otherwise it is discarded).
                    if client.role == Role::Request {
                        self.relay(now, txns, client.context, &mut response);
                    }
                    self.consumed()
                }
                None => Some(Event::Additional2xx { id, response }),
            },
            Event::Ack { id, mut request, source } => {
                let ours = match id {
                    Some(server) => self.servers.contains_key(&server),
                    None => self.owns_ack(&request),
                };
                if ours {
                    self.stats.requests += 1;
                    self.forward_ack(now, txns, &mut request, source);
                    self.consumed()
                } else {
                    Some(Event::Ack { id, request, source })
                }
            }
            Event::StrayResponse { response, source } => {
                if self.on_stray(txns, &response) {
                    self.consumed()
                } else {
                    Some(Event::StrayResponse { response, source })
                }
            }
            Event::TimedOut { id, timer } => {
                if let Some(client) = self.clients.get(&id).copied() {
                    self.on_client_failure(now, txns, id, client, Failure::Timeout);
                    self.consumed()
                } else if self.servers.contains_key(&id) {
                    self.consumed() // Timer H: the ACK never came; nothing to do (§16.7 step 9)
                } else {
                    Some(Event::TimedOut { id, timer })
                }
            }
            Event::TransportFailed { id } => {
                if let Some(client) = self.clients.get(&id).copied() {
                    self.on_client_failure(now, txns, id, client, Failure::Transport);
                    self.consumed()
                } else if self.servers.contains_key(&id) {
                    self.consumed() // §16.9: the response is dropped; branches go on
                } else {
                    Some(Event::TransportFailed { id })
                }
            }
            Event::Terminated { id } => {
                if let Some(client) = self.clients.remove(&id) {
                    self.on_client_terminated(now, txns, id, client);
                    self.consumed()
                } else if let Some(cid) = self.servers.get(&id).copied() {
                    if let Some(ctx) = self.context_mut(cid) {
                        ctx.server_live = false;
                    }
                    self.maybe_free(cid);
                    self.consumed()
                } else {
                    Some(Event::Terminated { id })
                }
            }
            other => Some(other),
        }
    }

    fn on_provisional(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        client: ClientRef,
        response: &mut Message,
    ) {
        if client.role == Role::Cancel {
            return;
        }
        let (cid, bi) = (client.context, client.branch);
        let timer_c = self.config.timer_c;
        let status = response.status().unwrap_or(100);
        let Some(ctx) = self.context_mut(cid) else { return };
        let invite = ctx.invite;
        let final_sent = ctx.final_sent;
        let Some(branch) = ctx.branches.get_mut(usize::from(bi)) else { return };
        if branch.client != Some(id) || branch.state == BranchState::Done {
            return;
        }
        branch.state = BranchState::Proceeding;
        branch.responded = true;
        let want_cancel = branch.cancel == CancelState::Pending;
        // §16.7 step 2: 101-199 refresh Timer C.
        let mut rearm = None;
        if invite && status > 100 {
            let at = now + timer_c;
            branch.timer_c = Some(at);
            rearm = Some(at);
        }
        if let Some(at) = rearm {
            self.timers.push(Reverse((at, cid, bi, TimerKind::C)));
        }
        // §9.1: the CANCEL held back until a provisional arrived goes now.
        if want_cancel {
            self.send_cancel(now, txns, cid, bi);
        }
        // §16.7 step 5: every provisional but 100, until a final was sent.
        if status > 100 && !final_sent {
            self.relay(now, txns, cid, response);
        }
    }

    fn on_final(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        client: ClientRef,
        mut response: Message,
    ) {
        let (cid, bi) = (client.context, client.branch);
        if client.role == Role::Cancel {
            self.arm_guard(now, txns, cid, bi);
            return;
        }
        let status = response.status().unwrap_or(500);
        let Some(ctx) = self.context_mut(cid) else { return };
        let invite = ctx.invite;
        let Some(branch) = ctx.branches.get_mut(usize::from(bi)) else { return };
        if branch.client != Some(id) || branch.state == BranchState::Done {
            return;
        }
        branch.responded = true;
        let can_fail_over = !branch.failover.is_empty();
        match status {
            200..=299 => {
                branch.finish();
                let first = !ctx.final_sent;
                let (server, server_live) = (ctx.server, ctx.server_live);
                if first || invite {
                    let relayed = self.relay(now, txns, cid, &mut response);
                    if relayed || !server_live {
                        if let Some(ctx) = self.context_mut(cid) {
                            ctx.final_sent = true;
                            ctx.stop = true;
                        }
                        if relayed && first {
                            self.events.push_back(ProxyEvent::Finished { server, status });
                        }
                        // §16.7 step 10: a forwarded final cancels the pending branches.
                        self.cancel_pending(now, txns, cid);
                    } else if first {
                        // A 2xx that cannot go upstream (its Via no longer matches the server
                        // transaction): the branch failed, as with 502 (Bad Gateway).
                        self.record(cid, bi, 502, None);
                    }
                }
            }
            // RFC 3263 §4.3: a 503 moves on to the next address of the same target.
            503 if can_fail_over && !ctx.stop => {
                if !self.retry_branch(now, txns, cid, bi) {
                    self.finish_branch(cid, bi, 503, Some(response));
                }
            }
            300..=399 => {
                if let Some(ctx) = self.context_mut(cid) {
                    if let Some(b) = ctx.branches.get_mut(usize::from(bi)) {
                        b.finish();
                    }
                }
                let kept = self.recurse(cid, response);
                if let Some(response) = kept {
                    self.record(cid, bi, status, Some(response));
                }
            }
            600..=699 => {
                self.finish_branch(cid, bi, status, Some(response));
                // §16.7 step 5: no new branches; CANCEL the pending ones.
                if let Some(ctx) = self.context_mut(cid) {
                    ctx.stop = true;
                }
                self.cancel_pending(now, txns, cid);
            }
            _ => self.finish_branch(cid, bi, status, Some(response)),
        }
        self.advance(now, txns, cid);
    }

    fn on_client_failure(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        client: ClientRef,
        failure: Failure,
    ) {
        let (cid, bi) = (client.context, client.branch);
        if client.role == Role::Cancel {
            self.arm_guard(now, txns, cid, bi);
            return;
        }
        let Some(branch) = self.branch_mut(cid, bi) else { return };
        if branch.client != Some(id) || branch.state == BranchState::Done {
            return;
        }
        // RFC 3263 §4.3, §16.6 step 7: a transport failure, or a timeout without any response,
        // moves on to the next address.
        let fail_over =
            !branch.failover.is_empty() && (failure == Failure::Transport || !branch.responded);
        if fail_over && self.retry_branch(now, txns, cid, bi) {
            return;
        }
        let status = match failure {
            Failure::Timeout => 408,
            Failure::Transport => 503,
        };
        self.finish_branch(cid, bi, status, None);
        self.advance(now, txns, cid);
    }

    fn on_client_terminated(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        client: ClientRef,
    ) {
        let cid = client.context;
        match client.role {
            Role::Cancel => {
                if let Some(ctx) = self.context_mut(cid) {
                    ctx.cancels_live = ctx.cancels_live.saturating_sub(1);
                }
                self.maybe_free(cid);
            }
            Role::Request => {
                let Some(branch) = self.branch_mut(cid, client.branch) else { return };
                if branch.client != Some(id) {
                    self.maybe_free(cid);
                    return;
                }
                branch.client = None;
                if branch.state == BranchState::Done {
                    self.maybe_free(cid);
                } else {
                    // Ended without a final (should not happen: a timeout or failure comes
                    // first); as if 408 (§16.7 step 6).
                    self.finish_branch(cid, client.branch, 408, None);
                    self.advance(now, txns, cid);
                }
            }
        }
    }

    /// §16.8: Timer C fired: CANCEL a branch that had a provisional, else treat it as 408.
    fn on_timer_c(&mut self, now: Instant, txns: &mut TransactionTable, cid: ContextId, bi: u16) {
        self.stats.timer_c_fired += 1;
        let Some(branch) = self.branch_mut(cid, bi) else { return };
        match branch.state {
            BranchState::Done => {}
            BranchState::Proceeding => {
                if branch.cancel != CancelState::Sent {
                    self.send_cancel(now, txns, cid, bi);
                }
            }
            BranchState::Trying => {
                if let Some(client) = branch.client {
                    txns.terminate(now, client);
                }
                self.finish_branch(cid, bi, 408, None);
                self.advance(now, txns, cid);
            }
        }
    }

    /// §9.1: no final 64*T1 after the CANCEL ended: the INVITE branch is given up (487).
    fn on_cancel_guard(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        cid: ContextId,
        bi: u16,
    ) {
        let Some(branch) = self.branch_mut(cid, bi) else { return };
        if branch.state == BranchState::Done {
            return;
        }
        if let Some(client) = branch.client {
            txns.terminate(now, client);
        }
        self.finish_branch(cid, bi, 487, None);
        self.advance(now, txns, cid);
    }

    fn arm_guard(&mut self, now: Instant, txns: &TransactionTable, cid: ContextId, bi: u16) {
        let at = now + txns.config().timer_b();
        let Some(branch) = self.branch_mut(cid, bi) else { return };
        if branch.state == BranchState::Done || branch.guard.is_some() {
            return;
        }
        branch.guard = Some(at);
        self.timers.push(Reverse((at, cid, bi, TimerKind::CancelGuard)));
    }

    /// Stray responses (no client transaction). Stateless mode relays those carrying the
    /// proxy's Via (§16.11); a stateful proxy drops them (RFC 6026 §7.3). Responses whose top
    /// Via is not the proxy's, or that carry no other Via (meant for a co-located UA), are not
    /// the proxy's business.
    fn on_stray(&mut self, txns: &mut TransactionTable, response: &Message) -> bool {
        let ours = match response.typed::<Via<'_>>() {
            Some(Ok(via)) => self.is_own_via(&via),
            _ => false,
        };
        if !ours || response.values(HeaderName::Via).nth(1).is_none() {
            return false;
        }
        if !self.config.stateless {
            self.stats.strays_dropped += 1;
            return true;
        }
        let mut response = response.clone();
        response.remove_relayed_via();
        let target = match response.typed::<Via<'_>>() {
            Some(Ok(via)) => via_target(&via).or_else(|| {
                let uri = format!("sip:{}", via.sent_by());
                SipUri::parse(&uri)
                    .ok()
                    .and_then(|sip| self.resolver.resolve(&sip).first().copied())
            }),
            _ => None,
        };
        if let Some(target) = target {
            txns.send_stateless(target, &response);
            self.stats.responses += 1;
        }
        true
    }

    // ----- the response context ---------------------------------------------------------

    /// Starts groups of targets until one is running, or sends the best response once nothing
    /// is left (§16.6 sequential groups, §16.7 step 6), then frees what can be freed.
    fn advance(&mut self, now: Instant, txns: &mut TransactionTable, cid: ContextId) {
        loop {
            let Some(ctx) = self.context(cid) else { return };
            if ctx.active() > 0 {
                return;
            }
            if ctx.stop || !self.start_next_group(now, txns, cid) {
                break;
            }
        }
        if self.context(cid).is_some_and(|c| !c.final_sent) {
            self.send_best(now, txns, cid);
        }
        self.maybe_free(cid);
    }

    /// Starts every untried target of the highest q left (§16.6: "Targets are processed from
    /// highest qvalue to lowest. Targets with equal qvalues may be processed in parallel").
    fn start_next_group(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        cid: ContextId,
    ) -> bool {
        let (best_q, count) = {
            let Some(ctx) = self.context(cid) else { return false };
            let Some(best_q) = ctx.targets.iter().filter(|t| !t.started).map(|t| t.q).max() else {
                return false;
            };
            (best_q, ctx.targets.len())
        };
        // The group is the targets untried at `best_q` now: starting one marks only itself,
        // and nothing it does adds a target (the list only grows on a 3xx, from an event), so
        // each is picked as it comes, with no list of them first.
        for ti in 0..count {
            let pick = self
                .context(cid)
                .and_then(|c| c.targets.get(ti))
                .is_some_and(|t| !t.started && t.q == best_q);
            if pick {
                self.start_target(now, txns, cid, ti);
            }
        }
        true
    }

    /// §16.6 steps 1-11 for one target: a new branch of the context.
    fn start_target(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        cid: ContextId,
        ti: usize,
    ) {
        // The copy is written from the context's request as it is borrowed (no clone), with
        // its Via and branch, and handed to the table there (not moved out first), before the
        // branch is recorded (which draws nothing and tells the table nothing).
        let built = {
            let Some(ctx) = self.context(cid) else { return };
            let Some(target) = ctx.targets.get(ti) else { return };
            self.build_copy(ctx, target, self.config.record_route).map(|(copy, hops)| {
                let first = hops.first().copied();
                let sent = first.and_then(|hop| {
                    let copy = self.forward_copy(txns, copy, hop, &ctx.loop_part)?;
                    Some((copy.send(now, txns, hop).ok(), hop))
                });
                (first.is_some(), sent, hops)
            })
        };
        let Some(ctx) = self.context_mut(cid) else { return };
        if let Some(target) = ctx.targets.get_mut(ti) {
            target.started = true;
        }
        let Ok(bi) = u16::try_from(ctx.branches.len()) else { return };
        ctx.branches.push(crate::context::Branch::new(u16::try_from(ti).unwrap_or(u16::MAX)));
        let Some((resolved, sent, hops)) = built else {
            self.finish_branch(cid, bi, 503, None);
            return;
        };
        if !resolved {
            // Unresolvable (§16.9 via RFC 3263 §4.3): as if the branch had received a 503.
            self.finish_branch(cid, bi, 503, None);
            return;
        }
        if hops.len() > 1 {
            if let Some(branch) = self.branch_mut(cid, bi) {
                branch.failover = hops.into_iter().skip(1).collect();
            }
        }
        let sent = match sent {
            Some((Some(client), hop)) => {
                self.attempt_sent(now, cid, bi, client, hop);
                true
            }
            Some((None, _)) | None => false,
        };
        if !sent && !self.retry_branch(now, txns, cid, bi) {
            self.finish_branch(cid, bi, 503, None);
        }
    }

    /// Sends the next attempt of branch `bi` to its next failover address; `false` when none
    /// is left (or none could be sent).
    fn retry_branch(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        cid: ContextId,
        bi: u16,
    ) -> bool {
        loop {
            let next = {
                let Some(ctx) = self.context_mut(cid) else { return false };
                let Some(branch) = ctx.branches.get_mut(usize::from(bi)) else { return false };
                if branch.failover.is_empty() {
                    return false;
                }
                let hop = branch.failover.remove(0);
                let ti = usize::from(branch.target);
                let Some(ctx) = self.context(cid) else { return false };
                let Some(target) = ctx.targets.get(ti) else { return false };
                let Some((copy, _)) = self.build_copy(ctx, target, self.config.record_route) else {
                    return false;
                };
                (self.forward_copy(txns, copy, hop, &ctx.loop_part), hop)
            };
            let (Some(copy), hop) = next else { continue };
            if self.send_attempt(now, txns, cid, bi, copy, hop) {
                return true;
            }
        }
    }

    /// §16.6 step 8: `copy` with our Via on top, its branch fresh (random part from the
    /// table's seeded generator) with the context's `loop_part`; `None` (the branch given back)
    /// if it cannot be written.
    fn forward_copy(
        &self,
        txns: &mut TransactionTable,
        copy: ForwardCopy<'_>,
        hop: Target,
        loop_part: &Hex16,
    ) -> Option<Written> {
        let branch = txns.draw_branch();
        let via = self.via_value(hop, branch.as_bytes(), Some(loop_part));
        let copy = copy.finish_request(&via);
        if copy.is_none() {
            txns.return_branch(branch);
        }
        copy
    }

    /// §16.6 steps 9-11 for `copy` (with our Via, [`forward_copy`](Self::forward_copy)): a
    /// new client transaction, Timer C.
    fn send_attempt(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        cid: ContextId,
        bi: u16,
        copy: Written,
        hop: Target,
    ) -> bool {
        if self.context(cid).is_none() {
            return false;
        }
        let Ok(client) = copy.send(now, txns, hop) else { return false };
        self.attempt_sent(now, cid, bi, client, hop);
        true
    }

    /// The bookkeeping of [`send_attempt`](Self::send_attempt) once client transaction
    /// `client` carries branch `bi`'s copy to `hop`: the client map, the branch, Timer C.
    fn attempt_sent(
        &mut self,
        now: Instant,
        cid: ContextId,
        bi: u16,
        client: TransactionId,
        hop: Target,
    ) {
        let invite = self.context(cid).is_some_and(|c| c.invite);
        self.stats.forwarded += 1;
        self.clients.insert(client, ClientRef { context: cid, branch: bi, role: Role::Request });
        let timer_c = invite.then(|| now + self.config.timer_c);
        if let Some(branch) = self.branch_mut(cid, bi) {
            branch.client = Some(client);
            branch.hop = Some(hop);
            branch.state = BranchState::Trying;
            branch.responded = false;
            branch.timer_c = timer_c;
        }
        if let Some(at) = timer_c {
            self.timers.push(Reverse((at, cid, bi, TimerKind::C)));
        }
    }

    /// Ends branch `bi` with `status` (received, or synthesised when `response` is `None`) and
    /// stores it as a candidate for the best response (§16.7 step 4).
    fn finish_branch(&mut self, cid: ContextId, bi: u16, status: u16, response: Option<Message>) {
        if let Some(branch) = self.branch_mut(cid, bi) {
            branch.finish();
        }
        self.record(cid, bi, status, response);
    }

    /// §16.7 steps 4 and 6: keeps the better of the stored and the new final response, and
    /// the challenges of every 401 and 407 (step 7).
    fn record(&mut self, cid: ContextId, bi: u16, status: u16, response: Option<Message>) {
        let Some(ctx) = self.context_mut(cid) else { return };
        // A branch given up after the caller cancelled ends as 487, not 408.
        let status =
            if response.is_none() && ctx.cancelled && status == 408 { 487 } else { status };
        if let (401 | 407, Some(r)) = (status, &response) {
            for name in [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate] {
                for line in r.header_lines(name) {
                    ctx.challenges.push((name, Bytes::copy_from_slice(line), bi));
                }
            }
        }
        let better = ctx.best.as_ref().is_none_or(|best| rank(status) < rank(best.status));
        if better {
            ctx.best = Some(Candidate { status, response: response.map(Box::new), branch: bi });
        }
    }

    /// §16.5, §16.7 step 4: the SIP and SIPS contacts of a 3xx join the target set when the
    /// proxy may recurse; returns the response to keep as a candidate, without the contacts it
    /// recursed on (`None` when it recursed on all).
    fn recurse(&mut self, cid: ContextId, response: Message) -> Option<Message> {
        let (recursion, max_rounds, max_targets) =
            (self.config.recursion, self.config.max_recursions, self.config.max_targets);
        let Some(ctx) = self.context_mut(cid) else { return Some(response) };
        if !recursion || !ctx.local || ctx.stop || ctx.recursions >= max_rounds {
            return Some(response);
        }
        let mut kept: Vec<Bytes> = Vec::new();
        let mut added = 0_usize;
        for value in response.values(HeaderName::Contact) {
            let parsed = std::str::from_utf8(value).ok().and_then(|v| Contact::parse(v).ok());
            let candidate = parsed.as_ref().and_then(|c| {
                let uri = c.uri_str()?;
                match Uri::parse(uri) {
                    Ok(Uri::Sip(sip)) if !ctx.secure || sip.is_secure() => {
                        Some((uri, c.q().map_or(1000, |q| q.thousandths())))
                    }
                    _ => None,
                }
            });
            match candidate {
                Some((uri, q)) => {
                    // Each URI once (§16.5); beyond the cap, contacts are dropped, not kept.
                    if !contains_uri(&ctx.targets, uri) && ctx.targets.len() < max_targets {
                        ctx.targets.push(TargetSlot::new(uri, q, true));
                        added += 1;
                    }
                }
                None => kept.push(Bytes::copy_from_slice(value)),
            }
        }
        if added > 0 {
            ctx.recursions += 1;
        }
        if kept.is_empty() {
            return None;
        }
        let mut response = response;
        response.remove_all(HeaderName::Contact);
        for value in kept {
            let _ = response.push_back(HeaderName::Contact, value);
        }
        Some(response)
    }

    /// §16.7 step 6: the best response (or 408 if none), 503 turned into 500, challenges
    /// merged (step 7), sent on the server transaction.
    fn send_best(&mut self, now: Instant, txns: &mut TransactionTable, cid: ContextId) {
        let Some(ctx) = self.context_mut(cid) else { return };
        ctx.final_sent = true;
        let best = ctx.best.take();
        let challenges = std::mem::take(&mut ctx.challenges);
        let (server, server_live, cancelled) = (ctx.server, ctx.server_live, ctx.cancelled);
        if !server_live {
            return;
        }
        let response = match best {
            Some(Candidate { status: 503, .. }) => self.build_answer(txns, server, 500, None, &[]),
            Some(Candidate { response: Some(response), status, branch }) => {
                let mut response = *response;
                response.remove_relayed_via();
                if matches!(status, 401 | 407) {
                    for (name, value, from) in challenges {
                        if from != branch {
                            let _ = response.push_back(name, value);
                        }
                    }
                }
                Some(response)
            }
            Some(Candidate { response: None, status, .. }) => {
                self.build_answer(txns, server, status, None, &[])
            }
            None => self.build_answer(txns, server, if cancelled { 487 } else { 408 }, None, &[]),
        };
        let mut status = response.as_ref().and_then(Message::status).unwrap_or(500);
        let mut sent = response.is_some_and(|r| txns.send_response(now, server, r).is_ok());
        if !sent {
            // The stored response does not fit the server transaction (a downstream element
            // mangled its Via): answer with the same status ourselves.
            let own = self.build_answer(txns, server, status, None, &[]).or_else(|| {
                status = 500;
                self.build_answer(txns, server, 500, None, &[])
            });
            sent = own.is_some_and(|r| txns.send_response(now, server, r).is_ok());
        }
        if sent {
            self.stats.responses += 1;
            self.events.push_back(ProxyEvent::Finished { server, status });
        } else {
            // Nothing can be sent on it: free it rather than leave it waiting forever.
            txns.terminate(now, server);
        }
    }

    /// §16.7 step 10, §16.10: CANCEL every pending INVITE branch: at once if it had a
    /// provisional, else as soon as one arrives (§9.1). Non-INVITE branches are left to finish.
    fn cancel_pending(&mut self, now: Instant, txns: &mut TransactionTable, cid: ContextId) {
        let ready: SmallVec<[u16; 4]> = {
            let Some(ctx) = self.context_mut(cid) else { return };
            if !ctx.invite {
                return;
            }
            let mut ready = SmallVec::new();
            for (i, branch) in ctx.branches.iter_mut().enumerate() {
                if branch.state == BranchState::Done
                    || branch.client.is_none()
                    || branch.cancel != CancelState::None
                {
                    continue;
                }
                match branch.state {
                    BranchState::Proceeding => ready.push(u16::try_from(i).unwrap_or(u16::MAX)),
                    BranchState::Trying => branch.cancel = CancelState::Pending,
                    BranchState::Done => {}
                }
            }
            ready
        };
        for bi in ready {
            self.send_cancel(now, txns, cid, bi);
        }
    }

    fn send_cancel(&mut self, now: Instant, txns: &mut TransactionTable, cid: ContextId, bi: u16) {
        let Some(branch) = self.branch_mut(cid, bi) else { return };
        let (Some(client), Some(hop)) = (branch.client, branch.hop) else { return };
        branch.cancel = CancelState::Sent;
        let sent =
            txns.cancel_request(client).ok().and_then(|c| txns.send_request(now, c, hop).ok());
        match sent {
            Some(cancel) => {
                self.stats.cancels += 1;
                self.clients
                    .insert(cancel, ClientRef { context: cid, branch: bi, role: Role::Cancel });
                if let Some(ctx) = self.context_mut(cid) {
                    ctx.cancels_live = ctx.cancels_live.saturating_add(1);
                }
            }
            None => self.arm_guard(now, txns, cid, bi),
        }
    }

    /// Pops the proxy's Via and passes a response to the context's server transaction (§16.7
    /// steps 3 and 9). Returns whether it was sent.
    fn relay(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        cid: ContextId,
        response: &mut Message,
    ) -> bool {
        let Some((server, live)) = self.context(cid).map(|c| (c.server, c.server_live)) else {
            return false;
        };
        // §16.7 step 3, written once: the table sends the result as it is.
        response.remove_relayed_via();
        if !live || !response.has(HeaderName::Via) {
            return false;
        }
        // Borrowed, not moved: a `Message` is a few hundred bytes.
        let sent = txns.send_response_ref(now, server, response).is_ok();
        if sent {
            self.stats.responses += 1;
        }
        sent
    }

    fn maybe_free(&mut self, cid: ContextId) {
        let done = self.context(cid).is_some_and(|c| {
            !c.server_live && c.cancels_live == 0 && c.branches.iter().all(|b| b.client.is_none())
        });
        if !done {
            return;
        }
        let Some(slot) = self.slots.get_mut(cid.index as usize) else { return };
        if slot.generation != cid.generation {
            return;
        }
        // What is kept is taken out of the context where it lies, which is then dropped in
        // place: moving a whole `Context` out of its slot first copied it.
        let Some(ctx) = slot.context.as_mut() else { return };
        let server = ctx.server;
        let targets = std::mem::take(&mut ctx.targets);
        let top_via = ctx.top_via.take();
        slot.context = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(cid.index);
        self.live = self.live.saturating_sub(1);
        self.servers.remove(&server);
        self.events.push_back(ProxyEvent::ContextFreed { server });
        self.spares.keep_targets(targets);
        if let Some(via) = top_via {
            self.spares.keep_via(via);
        }
    }

    // ----- building ----------------------------------------------------------------------

    /// §16.6 steps 1-7 for `target`: the copy (Request-URI, Max-Forwards, Path and outbound
    /// Routes, strict-route reformatting, Record-Route) and the next-hop addresses in order.
    fn build_copy<'a>(
        &'a self,
        ctx: &'a Context,
        target: &'a TargetSlot,
        record_route: bool,
    ) -> Option<(ForwardCopy<'a>, SmallVec<[Target; 2]>)> {
        let top_via = ctx.top_via.as_deref();
        let routeless = ctx.routeless;
        self.build_copy_of(
            Cow::Borrowed(&ctx.request),
            top_via,
            target.view(),
            record_route,
            routeless,
        )
    }

    /// [`build_copy`](Self::build_copy) of a request borrowed or owned (a request that is
    /// forwarded once and then dropped is edited, when it is, without a clone), whose top Via
    /// value is replaced by `top_via` when given (the `received` stamp of §18.2.1). With
    /// `routeless`, the request is known to hold no Route line.
    ///
    /// Unless Routes are pushed or a strict route reformats the copy (which read the copy as
    /// they change it), nothing is edited here: the copy is written in one pass once its Via
    /// is known ([`ForwardCopy::finish`]), the same bytes the edits would give.
    fn build_copy_of<'a>(
        &'a self,
        mut copy: Cow<'a, Message>,
        top_via: Option<&'a [u8]>,
        target: TargetView<'a>,
        record_route: bool,
        routeless: bool,
    ) -> Option<(ForwardCopy<'a>, SmallVec<[Target; 2]>)> {
        // Step 2. The target URI is parsed once: it is also the Request-URI whose scheme step 4
        // reads and, without Route, the next hop of step 7.
        // Facts the target's maker already read serve unless the URI needs rewriting or a
        // resolver lookup (which wants the parsed URI).
        let facts = target.facts.filter(|f| match f {
            UriFacts::NotSip => true,
            UriFacts::Sip { direct, rebuild, .. } => direct.is_some() && !rebuild,
        });
        let target_uri = if facts.is_none() { Some(Uri::parse(target.uri)) } else { None };
        let uri = match &target_uri {
            Some(parsed) => request_uri_form_of(target.uri, parsed),
            None => Cow::Borrowed(target.uri),
        };
        let new_uri = copy.request_uri_raw() != Some(uri.as_bytes());
        // Step 3 (a malformed Max-Forwards, or one at 0, is not forwarded).
        // The key first: only without one is the request searched for a malformed line.
        let max_forwards = match copy.max_forwards() {
            Some(n) => n.checked_sub(1)?,
            None if copy.has(HeaderName::MaxForwards) => return None,
            None => self.config.max_forwards,
        };
        // The stamp, and steps 2 and 3, as edits, for a copy that is edited further.
        let edit = |copy: &mut Message| -> Option<()> {
            if let Some(via) = top_via {
                replace_top_via(copy, Bytes::copy_from_slice(via));
            }
            if new_uri {
                copy.set_request_uri(Bytes::copy_from_slice(uri.as_bytes())).ok()?;
            }
            let digits = Decimal::new(u64::from(max_forwards));
            copy.set(HeaderName::MaxForwards, Bytes::copy_from_slice(digits.as_bytes())).ok()
        };
        // Step 6: Routes the policy mandates, ahead of existing ones.
        let outbound = match &self.config.outbound_proxy {
            Some(outbound) if !target.from_location && target.flow.is_none() => Some(outbound),
            _ => None,
        };
        let mut edited = false;
        if !target.path.is_empty() || outbound.is_some() {
            let copy = copy.to_mut();
            edit(copy)?;
            edited = true;
            for path in target.path.iter().rev() {
                copy.push_front(HeaderName::Route, bracketed(path)).ok()?;
            }
            if let Some(outbound) = outbound {
                copy.push_front(HeaderName::Route, outbound.clone()).ok()?;
            }
        }
        // The top Route, read once: strict or not (no `lr`), SIPS or not, the next hop. A
        // request known to have none left after §16.4 (`routeless`) is not searched, unless
        // Routes were pushed above.
        debug_assert!(!routeless || edited || !copy.has(HeaderName::Route));
        let mut top_route = if routeless && !edited {
            None
        } else {
            copy.header(HeaderName::Route).and_then(route_uri).map(str::to_owned)
        };
        let mut top_sip = top_route.as_deref().and_then(|u| SipUri::parse(u).ok());
        // The test postprocess_strict_route makes first; when it passes, the copy may change,
        // and its Request-URI and top Route are read again.
        let looked_strict = top_sip.as_ref().is_some_and(|sip| !sip.lr());
        if looked_strict && !edited {
            edit(copy.to_mut())?;
            edited = true;
        }
        let strict = looked_strict && postprocess_strict_route(copy.to_mut());
        let request_uri_now =
            if looked_strict { copy.request_uri_str().map(str::to_owned) } else { None };
        if looked_strict {
            top_route = copy.header(HeaderName::Route).and_then(route_uri).map(str::to_owned);
            top_sip = top_route.as_deref().and_then(|u| SipUri::parse(u).ok());
        }
        // The Request-URI as the copy now has it, parsed: `uri` unless the strict-route
        // reformatting replaced it.
        let reparsed;
        let request_sip = match (looked_strict, &uri, facts) {
            (false, Cow::Borrowed(_), Some(facts)) => RequestUri::Known(facts),
            (false, Cow::Borrowed(_), None) => RequestUri::Parsed(
                target_uri.as_ref().and_then(|p| p.as_ref().ok()).and_then(Uri::as_sip),
            ),
            (false, Cow::Owned(owned), _) => {
                reparsed = SipUri::parse(owned).ok();
                RequestUri::Parsed(reparsed.as_ref())
            }
            (true, ..) => {
                reparsed = request_uri_now.as_deref().and_then(|u| SipUri::parse(u).ok());
                RequestUri::Parsed(reparsed.as_ref())
            }
        };
        // Step 4, after step 6 so that a SIPS top Route is seen.
        let mut rr_line = None;
        if record_route && copy.method() != Some(&Method::Register) {
            let secure = request_sip.is_secure() || top_sip.as_ref().is_some_and(SipUri::is_secure);
            let rr =
                if secure { &self.config.record_route_sips } else { &self.config.record_route_sip };
            if edited {
                copy.to_mut().push_front(HeaderName::RecordRoute, rr.clone()).ok()?;
            } else {
                // Lent from the configuration: the one-pass write copies it.
                rr_line = Some(&rr[..]);
            }
        }
        // Step 7.
        let hops = match target.flow {
            Some(flow) => SmallVec::from_elem(flow, 1),
            None => {
                let next = match (strict, top_route.is_some()) {
                    (false, true) => RequestUri::Parsed(top_sip.as_ref()),
                    _ => {
                        // The copy is a request (its Request-URI was written from a `str`).
                        if !copy.is_request() {
                            return None;
                        }
                        request_sip
                    }
                };
                match next {
                    RequestUri::Parsed(Some(sip)) => self.resolve(sip),
                    RequestUri::Known(UriFacts::Sip { direct: Some(hop), .. }) => {
                        SmallVec::from_elem(hop, 1)
                    }
                    RequestUri::Parsed(None) | RequestUri::Known(_) => SmallVec::new(),
                }
            }
        };
        let copy = if edited {
            ForwardCopy::Edited(Box::new(copy.into_owned()))
        } else {
            let uri = new_uri.then_some(uri);
            let base = match copy {
                Cow::Borrowed(request) => Base::Lent(request),
                Cow::Owned(request) => Base::Kept(Box::new(request)),
            };
            ForwardCopy::Planned { base, top_via, uri, max_forwards, record_route: rr_line }
        };
        Some((copy, hops))
    }

    /// RFC 3263 without DNS: an IP literal or `maddr` directly, a name through the resolver.
    fn resolve(&self, sip: &SipUri<'_>) -> SmallVec<[Target; 2]> {
        match Target::from_uri(sip) {
            Some(target) => SmallVec::from_elem(target, 1),
            None => self.resolver.resolve(sip).into_iter().collect(),
        }
    }

    /// Our Via (§16.6 step 8): `SIP/2.0/<transport> <sent-by>;branch=` and the branch, the
    /// magic cookie (unless `unique` starts with it), `unique`, and `.` + the loop part when
    /// there is one. Written on the stack (it is copied into the forwarded request).
    fn via_value(&self, hop: Target, unique: &[u8], loop_part: Option<&Hex16>) -> ViaText {
        let transport = hop.transport();
        // The head ends in the cookie: a `unique` that starts with it goes on after it.
        let rest = unique.strip_prefix(BRANCH_COOKIE.as_bytes()).unwrap_or(unique);
        match self.via_heads.iter().find(|(t, _)| *t == transport) {
            Some((_, head)) => ViaText::of(head, rest, loop_part),
            None => ViaText::of(&via_head(transport, &self.config.sent_by), rest, loop_part),
        }
    }

    /// Answers server transaction `id` as a UAS (§16.3, §8.2.6): To tag derived from the
    /// request, extra header lines appended.
    fn answer(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        status: u16,
        reason: Option<&str>,
        extra: &[(HeaderName, Bytes)],
    ) {
        let response = self.build_answer(txns, id, status, reason, extra);
        if response.is_some_and(|r| txns.send_response(now, id, r).is_ok()) {
            self.stats.answered += 1;
            self.events.push_back(ProxyEvent::Answered { server: id, status });
        } else {
            // A request too broken to answer (§16.3 step 1: "well-formed enough to be handled
            // with a server transaction" it is not): dropped, its transaction freed.
            txns.terminate(now, id);
        }
    }

    /// §11.2: the proxy's own answer to an OPTIONS addressed to it.
    fn answer_options(&mut self, now: Instant, txns: &mut TransactionTable, id: TransactionId) {
        let mut extra =
            vec![(HeaderName::Allow, Bytes::from_static(b"INVITE, ACK, CANCEL, BYE, OPTIONS"))];
        if !self.config.supported.is_empty() {
            let tags: Vec<&str> = self.config.supported.iter().map(|t| &**t).collect();
            extra.push((HeaderName::Supported, Bytes::from(tags.join(", "))));
        }
        self.answer(now, txns, id, 200, None, &extra);
    }

    fn build_answer(
        &self,
        txns: &TransactionTable,
        id: TransactionId,
        status: u16,
        reason: Option<&str>,
        extra: &[(HeaderName, Bytes)],
    ) -> Option<Message> {
        build_answer_to(txns.request(id)?, status, reason, extra)
    }

    // ----- §16.3, §16.4 ------------------------------------------------------------------

    /// §16.3 step 4: one of the proxy's own Vias carries the loop part this request hashes to.
    ///
    /// `lone_branch` is the branch of the request's only Via value, when it has one and the
    /// caller read it ([`loop_hash_read`]): unless its loop part is this one, no Via is an own
    /// one with it, and nothing more is read.
    fn has_looped(&self, request: &Message, loop_part: &Hex16, lone_branch: Option<&[u8]>) -> bool {
        if lone_branch.is_some_and(|branch| !ends_in_loop_part(branch, loop_part)) {
            return false;
        }
        // An own branch with this loop part ends in `.` + the 16 digits, verbatim in its Via
        // line (the typed branch is a slice of the value): without them in any line, no Via
        // needs its typed parse.
        if !request.header_lines(HeaderName::Via).any(|line| mentions_loop_part(line, loop_part)) {
            return false;
        }
        let wanted = hex_str(loop_part);
        request
            .typed_all::<Via<'_>>()
            .filter_map(Result::ok)
            .any(|via| self.is_own_via(&via) && via.branch().and_then(loop_part_of) == Some(wanted))
    }

    fn is_own_via(&self, via: &Via<'_>) -> bool {
        let secure = via.transport().eq_ignore_ascii_case("TLS");
        self.config.is_self(via.host(), via.port(), secure)
    }

    /// §16.3 step 5: the Proxy-Require option tags the proxy does not support, comma-joined.
    fn unsupported(&self, request: &Message) -> Option<Bytes> {
        if !request.has(HeaderName::ProxyRequire) {
            return None; // the usual case: one scan of the names, no value split
        }
        let mut out = String::new();
        for tag in request.typed_all::<ProxyRequire<'_>>().filter_map(Result::ok) {
            if !self.config.supports(tag.as_str()) {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(tag.as_str());
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }

    /// Whether the Request-URI names the proxy itself rather than a user (no user part).
    fn is_for_proxy(&self, request: &Message) -> bool {
        match request.request_uri() {
            Some(Ok(Uri::Sip(sip))) => sip.user_raw().is_none() && self.config.is_self_uri(&sip),
            _ => false,
        }
    }

    /// §16.4: restore a Request-URI a strict router replaced with our Record-Route URI, strip
    /// a `maddr` naming us, and remove our own Route values from the top.
    ///
    /// The proxy cannot see on which local port a request arrived, so a `maddr` naming it is
    /// stripped whatever the URI's port and transport say.
    ///
    /// Returns [`is_for_proxy`](Self::is_for_proxy) of the request as it leaves (the
    /// Request-URI is read once unless this changed it).
    ///
    /// `uri` is the request's Request-URI, parsed (from a copy, so that the caller can keep
    /// the parse); the second answer is whether it is still the request's.
    ///
    /// `route_lines` is [`LoopRead::route_lines`](crate::routing::LoopRead) of the request as
    /// received, if the caller read it: with it, the third answer is how many Route lines are
    /// left (each holding one value), found without a look for more.
    fn preprocess_routes(
        &mut self,
        request: &mut Message,
        uri: Option<&Result<Uri<'_>, UriError>>,
        memo: Option<&UriMemo>,
        route_lines: Option<usize>,
    ) -> (bool, bool, Option<usize>) {
        let mut known = route_lines;
        // A remembered URI has no `maddr`: nothing to strip.
        let (mut for_proxy, mut stripped) = match memo {
            Some(memo) => (memo.for_proxy, None),
            None => self.request_uri_facts(uri),
        };
        let mut kept = true;
        if for_proxy && request.has(HeaderName::Route) {
            if let Some(uri) = pop_last_route(request) {
                known = None;
                let _ = request.set_request_uri(uri);
                kept = false;
                (for_proxy, stripped) = self.request_uri_facts(request.request_uri().as_ref());
            }
        }
        if let Some(uri) = stripped {
            let _ = request.set_request_uri(uri);
            kept = false;
            for_proxy = self.is_for_proxy(request);
        }
        // Each pop takes one value off (a line's first, or the line), so the loop ends: no
        // count of the values first. With lines of one value each counted, a pop takes a
        // line, and the loop stops once none is left rather than looking for another.
        match &mut known {
            Some(left) => {
                while *left > 0
                    && request.remove_front_if(HeaderName::Route, |v| self.route_is_self(v))
                {
                    *left -= 1;
                }
            }
            None => while request.remove_front_if(HeaderName::Route, |v| self.route_is_self(v)) {},
        }
        (for_proxy, kept, known)
    }

    /// `request`'s Request-URI as §16.4 and §16.5 read it ([`ReceivedUri`]): the text and
    /// memo of one met before, or else a copy of the request's own bytes (the request is
    /// edited before the URI's last use).
    #[inline(always)]
    fn received_uri(&self, request: &Message) -> ReceivedUri {
        let remembered = request.request_uri_raw().and_then(|u| self.uri_memo(u));
        let fresh = if remembered.is_none() { request.request_uri_bytes() } else { None };
        ReceivedUri { remembered, fresh }
    }

    /// The text, the memo and (for a URI not met before: parsed once, for §16.4 and, unless
    /// §16.4 changes it, §16.5) the parse of a received Request-URI; a fresh SIP URI is
    /// remembered ([`remember_uri`](Self::remember_uri)). A remembered one is not parsed again
    /// (nor checked for UTF-8: the remembered text is).
    #[allow(clippy::type_complexity)] // three readings of one URI, each used on its own
    #[inline(always)]
    fn read_received_uri<'u>(
        &mut self,
        uri: &'u ReceivedUri,
    ) -> (Option<&'u str>, Option<UriMemo>, Option<Result<Uri<'u>, UriError>>) {
        let text = match &uri.remembered {
            Some((text, _)) => Some(&**text),
            None => uri.fresh.as_deref().and_then(|u| std::str::from_utf8(u).ok()),
        };
        let memo = uri.remembered.as_ref().map(|(_, memo)| *memo);
        let parsed = if memo.is_some() { None } else { text.map(Uri::parse) };
        if let (Some(raw), Some(Ok(Uri::Sip(sip)))) = (text, &parsed) {
            self.remember_uri(raw, sip);
        }
        (text, memo, parsed)
    }

    /// The remembered facts of Request-URI `raw`, if it was met before ([`remember_uri`]).
    ///
    /// [`remember_uri`]: Self::remember_uri
    /// Its text is handed back shared: the caller reads the Request-URI from it (a copy that
    /// outlives edits of the request, known to be UTF-8) and may make it a target.
    fn uri_memo(&self, raw: &[u8]) -> Option<(Arc<str>, UriMemo)> {
        match self.uri_memo.get(uri_memo_slot(raw))? {
            Some((seen, memo)) if seen.as_bytes() == raw => Some((Arc::clone(seen), *memo)),
            _ => None,
        }
    }

    /// Remembers what §16.4 and §16.5 read of Request-URI `raw`, parsed as `sip`, when they
    /// can be read without the parse: no `maddr` (which §16.4 may strip). A host outside the
    /// proxy's domains has targets with no location lookup; one of its domains is looked up
    /// (which wants the parsed URI) unless the request is inside a dialog (a To tag: the
    /// target is the Request-URI, §16.12), as for the ACK and BYE to a contact at the proxy's
    /// own address.
    fn remember_uri(&mut self, raw: &str, sip: &SipUri<'_>) {
        if sip.maddr().is_some() {
            return;
        }
        let local_domain = self.config.is_local_domain(sip.host());
        let memo = UriMemo {
            for_proxy: sip.user_raw().is_none() && self.config.is_self_uri(sip),
            local_domain,
            secure: sip.is_secure(),
            facts: UriFacts::of(&Ok(Uri::Sip(*sip))),
        };
        if let Some(slot) = self.uri_memo.get_mut(uri_memo_slot(raw.as_bytes())) {
            *slot = Some((raw.into(), memo));
        }
    }

    /// [`determine_targets`](Self::determine_targets) of a request whose Request-URI `raw` is
    /// remembered: a SIP URI without `maddr`, so predetermined (§16.5: the one target is the
    /// Request-URI) when it is outside the proxy's domains or the request has a To tag.
    fn remembered_targets(
        &mut self,
        now: Instant,
        request: &Message,
        raw: &Arc<str>,
        memo: UriMemo,
    ) -> Result<(Vec<TargetSlot>, bool, bool), u16> {
        if memo.local_domain && request.to_tag_bytes().is_none() {
            // A SIP URI without `maddr` in the proxy's domains, outside any dialog: what
            // `determine_targets` would find not predetermined and look up, as it is.
            // (A remembered URI parsed when it was remembered; one that did not would get
            // 400 from `determine_targets`, as `located_targets_of` answers.)
            return self.located_targets_of(now, Located::Text(raw), memo.secure);
        }
        let mut slot = TargetSlot::new_shared(Arc::clone(raw), 1000, false);
        slot.facts = Some(memo.facts);
        let mut targets = self.spares.targets();
        targets.push(slot);
        Ok((targets, false, memo.secure))
    }

    /// From one read of the Request-URI: [`is_for_proxy`](Self::is_for_proxy), and the URI
    /// without `maddr` and `transport` when its `maddr` names the proxy (§16.4).
    fn request_uri_facts(&self, uri: Option<&Result<Uri<'_>, UriError>>) -> (bool, Option<String>) {
        match uri {
            Some(Ok(Uri::Sip(sip))) => {
                let for_proxy = sip.user_raw().is_none() && self.config.is_self_uri(sip);
                let stripped = sip.maddr().filter(|m| self.names_proxy(m)).map(|_| {
                    rebuild_sip(sip, false, true, |n| {
                        n.eq_ignore_ascii_case("maddr") || n.eq_ignore_ascii_case("transport")
                    })
                });
                (for_proxy, stripped)
            }
            _ => (false, None),
        }
    }

    /// Whether a Route value names the proxy (§16.4). The proxy's own Record-Route values,
    /// which come back as Routes in every dialog it record-routed, are recognised by their
    /// bytes, with the answer worked out once in [`Proxy::new`].
    fn route_is_self(&mut self, value: &[u8]) -> bool {
        if value == self.config.record_route_sip {
            return self.own_routes_are_self.0;
        }
        if value == self.config.record_route_sips {
            return self.own_routes_are_self.1;
        }
        match &self.route_memo {
            Some((seen, answer)) if seen == value => *answer,
            _ => {
                let answer = route_is_self(&self.config, value);
                self.route_memo = Some((Bytes::copy_from_slice(value), answer));
                answer
            }
        }
    }

    /// Whether a `maddr` value names one of the proxy's hosts (any port).
    fn names_proxy(&self, maddr: &str) -> bool {
        let uri = format!("sip:{maddr}");
        SipUri::parse(&uri).is_ok_and(|sip| {
            let host = sip.host();
            self.config.names.iter().any(|n| n.host_matches(host))
        })
    }

    /// An ACK matching no transaction is the proxy's to forward unless it is addressed to this
    /// host itself (a co-located UA's dialog) without a Route naming the proxy.
    fn owns_ack(&mut self, ack: &Message) -> bool {
        if self.config.stateless {
            return true;
        }
        // The top Route value: the first line when it is one of the proxy's own Record-Route
        // values, as the dialog's peers echo them (read without splitting the line: one value
        // with no comma is the whole line); otherwise as `header` reads it.
        let first_line = ack.header_lines(HeaderName::Route).next();
        // (A line equal to one of them holds a comma when that value does, which is known.)
        let own = first_line.and_then(|line| {
            let (own, one_value) = if line == self.config.record_route_sip.as_ref() {
                (self.own_routes_are_self.0, self.own_routes_are_one_value.0)
            } else if line == self.config.record_route_sips.as_ref() {
                (self.own_routes_are_self.1, self.own_routes_are_one_value.1)
            } else {
                return None;
            };
            one_value.then_some(own)
        });
        let route_is_ours = match own {
            Some(own) => own,
            None => ack.header(HeaderName::Route).is_some_and(|v| self.route_is_self(v)),
        };
        if route_is_ours {
            return true;
        }
        match ack.request_uri() {
            Some(Ok(Uri::Sip(sip))) => !self.config.is_self_uri(&sip),
            _ => false,
        }
    }

    // ----- slab -----------------------------------------------------------------------------

    /// Stores the context `make` builds in a free slot (or a new one).
    #[inline(always)]
    fn alloc_with(&mut self, make: impl FnOnce() -> Context) -> ContextId {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            if let Some(slot) = self.slots.get_mut(index as usize) {
                slot.context = Some(make());
                return ContextId { index, generation: slot.generation };
            }
        }
        let index = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(Slot { generation: 0, context: Some(make()) });
        ContextId { index, generation: 0 }
    }

    fn context(&self, cid: ContextId) -> Option<&Context> {
        self.slots
            .get(cid.index as usize)
            .filter(|s| s.generation == cid.generation)?
            .context
            .as_ref()
    }

    fn context_mut(&mut self, cid: ContextId) -> Option<&mut Context> {
        self.slots
            .get_mut(cid.index as usize)
            .filter(|s| s.generation == cid.generation)?
            .context
            .as_mut()
    }

    fn branch_mut(&mut self, cid: ContextId, bi: u16) -> Option<&mut crate::context::Branch> {
        self.context_mut(cid)?.branches.get_mut(usize::from(bi))
    }

    /// Drops stale timer entries from the top so that `poll_timeout` is exact.
    fn prune(&mut self) {
        while let Some(Reverse((at, cid, bi, kind))) = self.timers.peek().copied() {
            let live =
                self.context(cid).and_then(|c| c.branches.get(usize::from(bi))).is_some_and(|b| {
                    match kind {
                        TimerKind::C => b.timer_c == Some(at),
                        TimerKind::CancelGuard => b.guard == Some(at),
                    }
                });
            if live {
                break;
            }
            self.timers.pop();
        }
    }
}

/// Whether the URI of Route value `value` names the proxy `config` describes (§16.4).
fn route_is_self(config: &ProxyConfig, value: &[u8]) -> bool {
    route_uri(value).and_then(|u| SipUri::parse(u).ok()).is_some_and(|sip| config.is_self_uri(&sip))
}

/// The proxy's own response to `request` (§8.2.6): To tag derived from the request (none on a
/// 100), extra header lines appended.
fn build_answer_to(
    request: &Message,
    status: u16,
    reason: Option<&str>,
    extra: &[(HeaderName, Bytes)],
) -> Option<Message> {
    let mut builder = MessageBuilder::response_to(request, status, reason);
    if status > 100 {
        let tag = local_tag(request);
        builder = builder.to_tag(hex_str(&tag));
    }
    for (name, value) in extra {
        builder = builder.header(*name, value);
    }
    builder.build().ok()
}

/// `SIP/2.0/<transport> <sent_by>;branch=z9hG4bK`: the proxy's Via value up to its branch
/// and the branch's magic cookie (§8.1.1.7).
fn via_head(transport: Transport, sent_by: &str) -> Box<[u8]> {
    let cookie = BRANCH_COOKIE.as_bytes();
    [b"SIP/2.0/", transport.as_str().as_bytes(), b" ", sent_by.as_bytes(), b";branch=", cookie]
        .concat()
        .into_boxed_slice()
}

/// Whether `loop_part_of(branch)` is `part`: the cookie, then anything, then `.` and the 16
/// digits of `part` at the end (they hold no `.`, so that `.` is the last one), read from the
/// end with no search.
fn ends_in_loop_part(branch: &[u8], part: &Hex16) -> bool {
    let b = branch;
    let Some(tail_at) = b.len().checked_sub(part.len() + 1) else { return false };
    b.starts_with(BRANCH_COOKIE.as_bytes())
        && tail_at >= BRANCH_COOKIE.len()
        && b.get(tail_at) == Some(&b'.')
        && b.get(tail_at + 1..) == Some(&part[..])
}

/// Whether `line` holds `.` followed by the loop part `part`, as a branch of ours carrying that
/// loop part must (`z9hG4bK<unique>.<part>`).
fn mentions_loop_part(line: &[u8], part: &Hex16) -> bool {
    // The `.`s are found eight bytes at a time (a byte of `w ^ DOTS` is zero exactly where
    // `w` has a `.`: the zero-byte test flags every such byte, and perhaps a byte above one,
    // so each flag is checked), and the part after each compared.
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const DOTS: u64 = u64::from_ne_bytes([b'.'; 8]);
    let part_at = |dot: usize| line.get(dot + 1..dot + 1 + part.len()) == Some(&part[..]);
    let mut chunks = line.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let x = u64::from_le_bytes(bytes) ^ DOTS;
        let mut flags = x.wrapping_sub(ONES) & !x & HIGH;
        while flags != 0 {
            let at = (flags.trailing_zeros() / 8) as usize;
            if chunk.get(at) == Some(&b'.') && part_at(base + at) {
                return true;
            }
            flags &= flags - 1;
        }
        base += 8;
    }
    let rest = chunks.remainder();
    rest.iter().enumerate().any(|(i, &c)| c == b'.' && part_at(base + i))
}

/// A received request's Request-URI ([`Proxy::received_uri`]).
struct ReceivedUri {
    /// Its text and memo, when the proxy met it before ([`Proxy::uri_memo`]).
    remembered: Option<(Arc<str>, UriMemo)>,
    /// Otherwise a copy of the request's bytes.
    fresh: Option<Bytes>,
}

/// The slot of Request-URI `raw` in [`Proxy`]'s memo.
fn uri_memo_slot(raw: &[u8]) -> usize {
    use std::hash::BuildHasher as _;
    FixedState::with_seed(URI_MEMO_SEED).hash_one(raw) as usize & (URI_MEMO_SLOTS - 1)
}

/// The proxy's Via value, built on the stack (it fits unless the sent-by is very long): its
/// pieces copied into a fixed buffer, one copy each (the loop part's fixed 16 bytes inline).
struct ViaText {
    inline: [u8; VIA_INLINE],
    len: usize,
    /// The value when it does not fit `inline`.
    spill: Vec<u8>,
}

/// How many bytes of a Via value [`ViaText`] keeps on the stack.
const VIA_INLINE: usize = 128;

impl ViaText {
    /// `head`, `rest`, then `.` and `loop_part` when there is one.
    fn of(head: &[u8], rest: &[u8], loop_part: Option<&Hex16>) -> ViaText {
        let mut via = ViaText { inline: [0; VIA_INLINE], len: 0, spill: Vec::new() };
        let tail = loop_part.map_or(0, |part| part.len() + 1);
        let total = head.len() + rest.len() + tail;
        if total > VIA_INLINE {
            let mut spill = Vec::with_capacity(total);
            spill.extend_from_slice(head);
            spill.extend_from_slice(rest);
            if let Some(part) = loop_part {
                spill.push(b'.');
                spill.extend_from_slice(part);
            }
            via.spill = spill;
            return via;
        }
        let (front, back) = via.inline.split_at_mut(head.len().min(VIA_INLINE));
        front.copy_from_slice(head.get(..front.len()).unwrap_or_default());
        if let Some(room) = back.get_mut(..rest.len()) {
            room.copy_from_slice(rest);
        }
        if let Some(part) = loop_part {
            let at = head.len() + rest.len();
            if let Some(dot) = via.inline.get_mut(at) {
                *dot = b'.';
            }
            if let Some(room) = via.inline.get_mut(at + 1..at + 1 + 16) {
                room.copy_from_slice(part);
            }
        }
        via.len = total;
        via
    }

    /// Whether the value did not fit on the stack.
    #[cfg(test)]
    fn spilled(&self) -> bool {
        !self.spill.is_empty()
    }
}

impl std::ops::Deref for ViaText {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spill
        }
    }
}

/// Sends the bytes of a forwarded copy outside any transaction (§16.11). A copy over the UDP
/// size limit, which goes over TCP with its top Via rewritten (RFC 3261 §18.1.1), is parsed
/// back into the message [`TransactionTable::send_stateless`] rewrites: the bytes are those
/// of a message this proxy wrote, which parse as the message written would have been indexed.
fn send_stateless_bytes(txns: &mut TransactionTable, hop: Target, copy: Bytes) {
    if let Err(copy) = txns.send_stateless_bytes(hop, copy) {
        if let Ok(copy) = Message::parse(copy) {
            txns.send_stateless(hop, &copy);
        }
    }
}

/// The copy of a request for one target (§16.6 steps 1-7), made into the request sent once
/// its Via (step 8) is known. A few words, whichever it is (a message is boxed), so that
/// handing it from step to step moves no message-sized value.
enum ForwardCopy<'a> {
    /// A copy edited already (Routes pushed, or a strict route reformatted).
    Edited(Box<Message>),
    /// The request itself and what steps 2-4 change in it, written in one pass.
    Planned {
        /// The request as the copies start from it (the context's, borrowed, for a stateful
        /// branch: no clone).
        base: Base<'a>,
        /// The top Via value stamped with `received` (§18.2.1), in place of the request's.
        top_via: Option<&'a [u8]>,
        /// The new Request-URI (step 2), when it differs (the target's, borrowed, unless it
        /// was rewritten).
        uri: Option<Cow<'a, str>>,
        /// Max-Forwards (step 3).
        max_forwards: u8,
        /// The Record-Route value (step 4).
        record_route: Option<&'a [u8]>,
    },
}

/// A forwarded copy with our Via (§16.6 step 8), ready for its client transaction.
enum Written {
    /// An edited copy, indexed.
    Edited(Box<Message>),
    /// A planned copy written as bytes, with what the table reads of it.
    Planned(ForwardedRequest),
}

impl Written {
    /// §16.6 step 10: a new client transaction sends the copy to `hop`.
    fn send(
        self,
        now: Instant,
        txns: &mut TransactionTable,
        hop: Target,
    ) -> Result<TransactionId, sip_transaction::SendError> {
        match self {
            Written::Edited(copy) => txns.send_request(now, *copy, hop),
            Written::Planned(copy) => txns.send_request_bytes(now, copy, hop),
        }
    }
}

/// The request a [`ForwardCopy::Planned`] is written from.
enum Base<'a> {
    /// Borrowed: the context's request (a stateful branch), an ACK.
    Lent(&'a Message),
    /// The request itself, forwarded once and then dropped (a stateless forward).
    Kept(Box<Message>),
}

impl Base<'_> {
    fn get(&self) -> &Message {
        match self {
            Base::Lent(request) => request,
            Base::Kept(request) => request,
        }
    }

    /// The request owned (what debug builds check the one-pass copy against).
    fn into_owned(self) -> Message {
        match self {
            Base::Lent(request) => request.clone(),
            Base::Kept(request) => *request,
        }
    }
}

impl ForwardCopy<'_> {
    /// The request with `via` on top (§16.6 step 8); `None` if a value cannot be written.
    fn finish(self, via: &[u8]) -> Option<Message> {
        match self {
            ForwardCopy::Edited(mut copy) => {
                copy.push_front(HeaderName::Via, Bytes::copy_from_slice(via)).ok()?;
                Some(*copy)
            }
            planned => planned.write(via, Message::forwarded_restamped, Message::to_bytes),
        }
    }

    /// [`finish`](Self::finish) for a copy sent on a client transaction (§16.6 steps 8-10):
    /// a planned copy is written as bytes with what the table reads of it
    /// ([`Message::forwarded_request_bytes`]), without indexing its lines; an edited one is
    /// the message.
    fn finish_request(self, via: &[u8]) -> Option<Written> {
        match self {
            edited @ ForwardCopy::Edited(_) => {
                edited.finish(via).map(Box::new).map(Written::Edited)
            }
            planned => planned
                .write(via, Message::forwarded_request_bytes, |c| c.bytes().clone())
                .map(Written::Planned),
        }
    }

    /// The bytes of [`finish`](Self::finish), for a copy that is only sent (an ACK for a
    /// 2xx, a stateless forward): a planned copy is written without indexing its lines.
    fn finish_bytes(self, via: &[u8]) -> Option<Bytes> {
        match self {
            edited @ ForwardCopy::Edited(_) => edited.finish(via).map(|m| m.to_bytes()),
            planned => planned.write(via, Message::forwarded_restamped_bytes, Bytes::clone),
        }
    }

    /// A [`ForwardCopy::Planned`] with `via` on top, written in one pass by `write` (one of
    /// [`Message::forwarded_restamped`] and its bytes-only twin); `bytes` gives what is sent.
    /// `None` for an edited copy or a value that cannot be written.
    #[inline(always)]
    fn write<T>(
        self,
        via: &[u8],
        write: impl FnOnce(
            &Message,
            Option<&str>,
            &[(HeaderName, &[u8])],
            Option<&[u8]>,
            Option<u8>,
        ) -> Result<T, sip_message::EditError>,
        bytes: impl FnOnce(&T) -> Bytes,
    ) -> Option<T> {
        let ForwardCopy::Planned { base, top_via, uri, max_forwards, record_route } = self else {
            return None;
        };
        let via = (HeaderName::Via, via);
        let mut front = [via, via];
        let lines = match record_route {
            Some(rr) => {
                front[1] = (HeaderName::RecordRoute, rr);
                &front[..]
            }
            None => &front[..1],
        };
        let copy = write(base.get(), uri.as_deref(), lines, top_via, Some(max_forwards)).ok()?;
        // The same bytes as the edits of §16.6 steps 2-4 and 8 give (checked in every
        // debug build: the unit and flow tests of this crate and its dependents).
        debug_assert_eq!(
            Some(bytes(&copy)),
            ForwardCopy::by_edits(base.into_owned(), top_via, uri, max_forwards, record_route, via)
                .map(|m| m.to_bytes())
        );
        Some(copy)
    }
}

impl ForwardCopy<'_> {
    /// [`ForwardCopy::Planned`] made by successive edits, as before the one-pass copy (what
    /// debug builds check the one-pass copy against).
    fn by_edits(
        mut copy: Message,
        top_via: Option<&[u8]>,
        uri: Option<Cow<'_, str>>,
        max_forwards: u8,
        record_route: Option<&[u8]>,
        via: (HeaderName, &[u8]),
    ) -> Option<Message> {
        if let Some(via) = top_via {
            replace_top_via(&mut copy, Bytes::copy_from_slice(via));
        }
        if let Some(uri) = uri {
            copy.set_request_uri(uri.into_owned()).ok()?;
        }
        copy.set(HeaderName::MaxForwards, max_forwards.to_string()).ok()?;
        if let Some(rr) = record_route {
            copy.push_front(HeaderName::RecordRoute, Bytes::copy_from_slice(rr)).ok()?;
        }
        copy.push_front(via.0, Bytes::copy_from_slice(via.1)).ok()?;
        Some(copy)
    }
}

/// A URI as `build_copy` reads it: parsed, or the facts of an earlier parse.
#[derive(Clone, Copy)]
enum RequestUri<'a> {
    Parsed(Option<&'a SipUri<'a>>),
    Known(UriFacts),
}

impl RequestUri<'_> {
    fn is_secure(self) -> bool {
        match self {
            RequestUri::Parsed(sip) => sip.is_some_and(SipUri::is_secure),
            RequestUri::Known(UriFacts::Sip { secure, .. }) => secure,
            RequestUri::Known(UriFacts::NotSip) => false,
        }
    }
}

/// Whether `uri` equals (§19.1.4) a target already in the set (§16.5: each URI once).
fn contains_uri(targets: &[TargetSlot], uri: &str) -> bool {
    if targets.is_empty() {
        return false; // nothing to compare with: no parse needed
    }
    let Ok(new) = Uri::parse(uri) else { return false };
    targets.iter().any(|t| Uri::parse(&t.uri).is_ok_and(|old| old == new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::tests::request as test_invite;
    use crate::{StaticLocations, StaticResolver};

    #[test]
    fn spares_come_back_empty_and_bounded() {
        let mut spares = Spares::default();
        let mut targets = spares.targets();
        targets.push(TargetSlot::new("sip:a@192.0.2.1", 1000, false));
        spares.keep_targets(targets);
        let reused = spares.targets();
        assert!(reused.is_empty() && reused.capacity() >= 1, "emptied, capacity kept");
        // A list that never allocated or a big fork's is not kept.
        spares.keep_targets(Vec::new());
        spares.keep_targets(Vec::with_capacity(SPARE_TARGETS_MAX + 1));
        assert!(spares.targets.is_empty());
        // Nor more than `SPARES` of them.
        for _ in 0..SPARES + 3 {
            spares.keep_targets(Vec::with_capacity(1));
            spares.keep_via(Vec::with_capacity(8));
        }
        assert_eq!((spares.targets.len(), spares.vias.len()), (SPARES, SPARES));
        spares.vias.clear();
        spares.keep_via(Vec::with_capacity(SPARE_VIA_MAX + 1));
        assert!(spares.vias.is_empty());
    }

    #[test]
    fn our_via_carries_the_branch_the_routing_helpers_spell() {
        // §16.6 step 8 and §16.11: the Via written in one pass holds the branch of
        // branch_from / stateless_branch / stateless_branch_without_loop_part.
        use crate::routing::{branch_from, stateless_branch, stateless_branch_without_loop_part};
        let config = ProxyConfig::new("sip:192.0.2.10:5060").unwrap();
        let proxy = Proxy::new(config, StaticLocations::new(), StaticResolver::new());
        let request =
            test_invite("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
        let loop_part = loop_hash(&request, true);
        for hop in [
            Target::udp("192.0.2.44:5060".parse().unwrap()),
            Target::tcp("192.0.2.44:5060".parse().unwrap()),
        ] {
            let head = format!("SIP/2.0/{} 192.0.2.10:5060;branch=", hop.transport().as_str());
            for unique in ["z9hG4bKabc", "abc"] {
                let via = proxy.via_value(hop, unique.as_bytes(), Some(&loop_part));
                let expected = format!("{head}{}", branch_from(unique, &loop_part));
                assert_eq!(&via[..], expected.as_bytes());
                assert!(!via.spilled());
            }
            let unique = stateless_unique(&request);
            let via = proxy.via_value(hop, &unique, Some(&loop_part));
            let expected = format!("{head}{}", stateless_branch(&request, &loop_part));
            assert_eq!(&via[..], expected.as_bytes());
            let via = proxy.via_value(hop, &unique, None);
            let expected = format!("{head}{}", stateless_branch_without_loop_part(&request));
            assert_eq!(&via[..], expected.as_bytes());
        }
    }

    /// A remembered Request-URI gives what its parse gives: §16.4's reading of it and §16.5's
    /// target, secure flag and facts. Those a lookup or `maddr` decides are not remembered,
    /// and a URI sharing another's slot replaces it.
    #[test]
    fn remembered_request_uris_read_as_parsed() {
        let config = ProxyConfig::new("sip:192.0.2.10:5060").unwrap().domain("example.com");
        let mut proxy = Proxy::new(config, StaticLocations::new(), StaticResolver::new());
        let now = Instant::now();
        let remembered = [
            "sip:bob@192.0.2.2:5060",
            "sips:bob@192.0.2.2",
            "sip:192.0.2.77;lr",
            "sip:carol@biloxi.example.org;transport=tcp",
            "sip:bob@192.0.2.2:5060;x?Subject=hi",
            // The proxy's own addresses are among its domains, as `example.com` is: looked up
            // out of a dialog, the target inside one.
            "sip:bob@example.com",
            "sip:192.0.2.10:5060",
            "sip:alice@192.0.2.10:5062;transport=udp",
        ];
        let not_remembered = ["sip:bob@192.0.2.2;maddr=192.0.2.10", "tel:+15551234"];
        for raw in remembered.iter().chain(&not_remembered) {
            let parsed = Uri::parse(raw);
            if let Ok(Uri::Sip(sip)) = &parsed {
                proxy.remember_uri(raw, sip);
            }
            let memo = proxy.uri_memo(raw.as_bytes());
            assert_eq!(memo.is_some(), remembered.contains(raw), "{raw}");
            let Some((text, memo)) = memo else { continue };
            assert_eq!(&*text, *raw);
            let (for_proxy, stripped) = proxy.request_uri_facts(Some(&parsed));
            assert_eq!((memo.for_proxy, None), (for_proxy, stripped), "{raw}");
            let request = test_invite(raw, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
            let mut in_dialog = request.clone();
            in_dialog.set(HeaderName::To, "<sip:bob@example.com>;tag=t1").unwrap();
            for request in [request, in_dialog] {
                let fresh = proxy.determine_targets(now, &request, Some((raw, &parsed)), true);
                let known = proxy.remembered_targets(now, &request, &text, memo);
                let read = |r: Result<(Vec<TargetSlot>, bool, bool), u16>| {
                    r.map(|(t, local, secure)| {
                        let t: Vec<_> = t.iter().map(|t| (t.uri.clone(), t.q, t.facts)).collect();
                        (t, local, secure)
                    })
                };
                assert_eq!(read(known), read(fresh), "{raw}");
            }
        }
        // Slots are shared: every URI is found, or the one that took its slot is.
        for i in 0..4 * URI_MEMO_SLOTS {
            let raw = format!("sip:u{i}@192.0.2.2");
            if let Ok(Uri::Sip(sip)) = Uri::parse(&raw) {
                proxy.remember_uri(&raw, &sip);
            }
            assert!(proxy.uri_memo(raw.as_bytes()).is_some());
        }
        assert!(proxy.uri_memo.iter().flatten().count() <= URI_MEMO_SLOTS);
    }

    #[test]
    fn a_via_too_long_for_the_stack_is_written_whole() {
        // §16.6 step 8 with a sent-by that does not fit the inline buffer: the same value,
        // spilled to the heap; one that just fits stays inline.
        let loop_part: Hex16 = *b"0123456789abcdef";
        let hop = Target::udp("192.0.2.44:5060".parse().unwrap());
        for (len, spills) in [(60, false), (69, false), (70, true), (200, true)] {
            let host = format!("{}.example.com", "h".repeat(len));
            let config = ProxyConfig::new(&format!("sip:{host}")).unwrap();
            let proxy = Proxy::new(config, StaticLocations::new(), StaticResolver::new());
            let via = proxy.via_value(hop, b"z9hG4bKabc", Some(&loop_part));
            let expected = format!("SIP/2.0/UDP {host};branch=z9hG4bKabc.0123456789abcdef");
            assert_eq!(&via[..], expected.as_bytes());
            assert_eq!(via.spilled(), spills, "{}", expected.len());
        }
    }

    #[test]
    fn stateless_bytes_over_the_udp_limit_go_over_tcp_with_their_via_changed() {
        // RFC 3261 §18.1.1: a forwarded ACK written as bytes that is over the limit for UDP
        // is sent as the message would be (over TCP, its top Via saying so); one within it
        // goes as it is.
        use sip_transaction::{Output, TransactionConfig, Transport};
        let addr = "192.0.2.44:5060".parse().unwrap();
        let ack = |pad: usize| {
            Bytes::from(format!(
                "ACK sip:b@192.0.2.44 SIP/2.0\r\n\
                 Via: SIP/2.0/UDP p.example.com;branch=z9hG4bKp1\r\n\
                 Max-Forwards: 69\r\nCSeq: 1 ACK\r\nX-Pad: {}\r\nContent-Length: 0\r\n\r\n",
                "x".repeat(pad)
            ))
        };
        for (pad, tcp) in [(10, false), (1400, true)] {
            let mut txns = TransactionTable::new(TransactionConfig::default());
            let bytes = ack(pad);
            send_stateless_bytes(&mut txns, Target::udp(addr), bytes.clone());
            let Some(Output::Transmit(sent)) = txns.poll_output() else {
                panic!("nothing sent for {pad}")
            };
            assert!(txns.poll_output().is_none());
            assert_eq!(sent.transaction, None);
            if tcp {
                assert_eq!(sent.target, Target::Addr(Transport::Tcp, addr));
                let via = Message::parse(sent.payload).unwrap();
                assert_eq!(via.top_via(), Some(&b"SIP/2.0/TCP p.example.com;branch=z9hG4bKp1"[..]));
            } else {
                assert_eq!((sent.target, sent.payload), (Target::udp(addr), bytes));
            }
        }
    }

    #[test]
    fn the_loop_part_is_found_after_any_dot() {
        let part: Hex16 = *b"0123456789abcdef";
        for (line, found) in [
            (&b"SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx.0123456789abcdef"[..], true),
            (b"SIP/2.0/UDP h;branch=z9hG4bKx.0123456789abcdef;received=192.0.2.1", true),
            (b"SIP/2.0/UDP h;branch=z9hG4bKx.0123456789abcde", false),
            (b"SIP/2.0/UDP h;branch=z9hG4bKx0123456789abcdef", false),
            (b"..0123456789abcdef", true),
            (b".", false),
            (b"", false),
        ] {
            assert_eq!(mentions_loop_part(line, &part), found, "{}", String::from_utf8_lossy(line));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The eight-bytes-at-a-time scan finds the loop part exactly where a byte-by-byte
        /// one does: after any `.`, at any offset, across the eight-byte chunks.
        #[test]
        fn the_loop_part_scan_is_the_bytewise_one(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                ".", "..", "0123456789abcdef", "0123456789abcde", "f", "z9hG4bKx", ";", "\x01",
                "\x2f", "\x2d", " ", "a.b",
            ]), 0..12),
        ) {
            let part: Hex16 = *b"0123456789abcdef";
            let line = pieces.concat();
            let line = line.as_bytes();
            let bytewise = line
                .windows(part.len() + 1)
                .any(|w| w.split_first().is_some_and(|(dot, rest)| *dot == b'.' && rest == part));
            proptest::prop_assert_eq!(mentions_loop_part(line, &part), bytewise);
        }

        /// The read from the end answers what `loop_part_of` compared with the part does.
        #[test]
        fn the_loop_part_read_from_the_end_is_the_searched_one(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                ".", "..", "0123456789abcdef", "0123456789abcde", "f", "z9hG4bK", "z9hG4b", "x",
                "0", ".0123456789abcdef",
            ]), 0..8),
        ) {
            let part: Hex16 = *b"0123456789abcdef";
            let branch = pieces.concat();
            let searched = loop_part_of(&branch) == Some(hex_str(&part));
            proptest::prop_assert_eq!(ends_in_loop_part(branch.as_bytes(), &part), searched, "{}", branch);
        }
    }

    #[test]
    fn lent_and_given_locations_make_the_same_targets() {
        // §16.5 from a service that lends its targets (StaticLocations::lookup_each) and from
        // one that only answers `lookup` (the default lookup_each, targets moved in): the same
        // target set, in the same order, with the same q, Path, flow and facts; the same 404
        // and 480; and max_targets holds for both.
        struct Given(StaticLocations);
        impl LocationService for Given {
            fn lookup(&self, uri: &Uri<'_>, now: Instant) -> crate::Lookup {
                self.0.lookup(uri, now)
            }
        }
        let mut locations = StaticLocations::new();
        let flow = Target::tcp("192.0.2.40:5070".parse().unwrap());
        let q = |n: u16| sip_message::Q::from_thousandths(n).unwrap();
        for location in [
            crate::Location::new("sip:bob@192.0.2.20").q(q(500)),
            crate::Location::new("sip:bob@192.0.2.20"),
            crate::Location::new("tel:+15551234"),
            crate::Location::new("sip:bob@b.example.net").path("sip:edge.example.com;lr"),
            crate::Location::new("sips:bob@192.0.2.21").flow(flow).q(q(700)),
            crate::Location::new("sip:bob@192.0.2.22"),
        ] {
            locations.add("sip:bob@example.com", location);
        }
        locations.add_user("sip:carol@example.com");
        let now = Instant::now();
        for max in [10, 2] {
            let config = ProxyConfig::new("sip:192.0.2.10:5060")
                .unwrap()
                .domain("example.com")
                .max_targets(max);
            let mut lent = Proxy::new(config.clone(), locations.clone(), StaticResolver::new());
            let mut given = Proxy::new(config, Given(locations.clone()), StaticResolver::new());
            for uri in ["sip:bob@example.com", "sip:carol@example.com", "sip:dave@example.com"] {
                let request = test_invite(uri, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
                let read = |found: Result<(Vec<TargetSlot>, bool, bool), u16>| {
                    found.map(|(targets, local, secure)| {
                        let targets: Vec<_> = targets
                            .iter()
                            .map(|t| (t.uri.clone(), t.q, t.path.clone(), t.flow, t.facts))
                            .collect();
                        (targets, local, secure)
                    })
                };
                let a = read(lent.determine_targets(now, &request, None, true));
                let b = read(given.determine_targets(now, &request, None, true));
                assert_eq!(a, b, "{uri}");
                let expected = match uri {
                    "sip:bob@example.com" => Ok(max.min(4)),
                    "sip:carol@example.com" => Err(480),
                    _ => Err(404),
                };
                assert_eq!(a.map(|(t, ..)| t.len()), expected, "{uri}");
            }
        }
    }

    #[test]
    fn remembered_location_facts_choose_the_targets_a_fresh_parse_chooses() {
        // §16.5: SIP and SIPS bindings only, SIPS alone for a SIPS Request-URI; the second
        // lookup of each binding reads the facts the first one kept.
        let mut locations = StaticLocations::new();
        for aor in ["sip:bob@example.com", "sips:bob@example.com"] {
            for uri in ["sip:bob@192.0.2.20", "tel:+15551234", "sips:bob@192.0.2.21", "sip:"] {
                locations.add(aor, crate::Location::new(uri));
            }
        }
        let config = ProxyConfig::new("sip:192.0.2.10:5060").unwrap().domain("example.com");
        let mut proxy = Proxy::new(config, locations, StaticResolver::new());
        let now = Instant::now();
        for (uri, expected) in [
            ("sip:bob@example.com", &["sip:bob@192.0.2.20", "sips:bob@192.0.2.21"][..]),
            ("sips:bob@example.com", &["sips:bob@192.0.2.21"][..]),
        ] {
            let request = test_invite(uri, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
            for _ in 0..2 {
                let (targets, local, _) =
                    proxy.determine_targets(now, &request, None, true).unwrap();
                assert!(local);
                let uris: Vec<&str> = targets.iter().map(|t| &*t.uri).collect();
                assert_eq!(uris, expected);
                for t in &targets {
                    assert_eq!(t.facts, Some(UriFacts::of(&Uri::parse(&t.uri))));
                }
            }
        }
    }

    #[test]
    fn owns_ack_reads_the_top_route_as_header_reads_it() {
        // An ACK whose top Route is one of the proxy's own Record-Route values, alone on its
        // line, is read without splitting the line; every other Route line as `header` reads
        // it: the same answer as reading the top value with `header` always.
        let config = ProxyConfig::new("sip:192.0.2.10:5060").unwrap().domain("example.com");
        let own = String::from_utf8(config.record_route_sip.to_vec()).unwrap();
        let own_sips = String::from_utf8(config.record_route_sips.to_vec()).unwrap();
        let mut proxy = Proxy::new(config, StaticLocations::new(), StaticResolver::new());
        let routes = [
            None,
            Some(own.clone()),
            Some(own_sips),
            Some(format!("{own}, <sip:192.0.2.30;lr>")),
            Some(format!("<sip:192.0.2.30;lr>, {own}")),
            Some("<sip:192.0.2.30;lr>".to_owned()),
            Some("<sip:192.0.2.10:5060;lr>".to_owned()),
            Some("<sip:192.0.2.10:5070;lr>".to_owned()),
        ];
        for uri in ["sip:bob@192.0.2.20:5060", "sip:192.0.2.10:5060", "sip:bob@example.com"] {
            for route in &routes {
                let mut ack = test_invite(uri, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
                ack.set_request_uri(Bytes::copy_from_slice(uri.as_bytes())).unwrap();
                if let Some(route) = route {
                    ack.push_front(HeaderName::Route, route.clone()).unwrap();
                }
                let ack = Message::parse(ack.to_bytes()).unwrap();
                let reference =
                    ack.header(HeaderName::Route).is_some_and(|v| route_is_self(&proxy.config, v))
                        || match ack.request_uri() {
                            Some(Ok(Uri::Sip(sip))) => !proxy.config.is_self_uri(&sip),
                            _ => false,
                        };
                assert_eq!(proxy.owns_ack(&ack), reference, "{uri} {route:?}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// §16.4 with the Route lines counted by the loop hash's pass stops where the search
        /// for one more stops: the same request, the same answers, and the count left is the
        /// Route lines left.
        #[test]
        fn counted_routes_preprocess_as_searched_ones(
            routes in proptest::collection::vec(proptest::sample::select(vec![
                "own", "own_sips", "own, <sip:192.0.2.30;lr>", "<sip:192.0.2.30;lr>, own",
                "<sip:192.0.2.30;lr>", "<sip:192.0.2.10:5060;lr>", "<sip:192.0.2.10:5070;lr>",
                "<sip:192.0.2.10:5060>",
            ]), 0..4),
            uri in proptest::sample::select(vec![
                "sip:bob@192.0.2.20:5060", "sip:192.0.2.10:5060", "sip:bob@example.com",
                "sip:bob@192.0.2.20;maddr=192.0.2.10",
            ]),
        ) {
            let config = ProxyConfig::new("sip:192.0.2.10:5060").unwrap().domain("example.com");
            let own = String::from_utf8(config.record_route_sip.to_vec()).unwrap();
            let own_sips = String::from_utf8(config.record_route_sips.to_vec()).unwrap();
            let mut proxy = Proxy::new(config, StaticLocations::new(), StaticResolver::new());
            let mut request = test_invite(uri, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
            for route in &routes {
                let value = route.replace("own_sips", &own_sips).replace("own", &own);
                request.push_back(HeaderName::Route, value).unwrap();
            }
            let request = Message::parse(request.to_bytes()).unwrap();
            let top = TopVia::of(&request);
            let (_, read) = loop_hash_read(&request, false, Some(&top));
            let parsed = request.request_uri_str().map(Uri::parse);
            let (mut counted, mut searched) = (request.clone(), request.clone());
            let a = proxy.preprocess_routes(&mut counted, parsed.as_ref(), None, read.route_lines);
            let b = proxy.preprocess_routes(&mut searched, parsed.as_ref(), None, None);
            proptest::prop_assert_eq!((a.0, a.1), (b.0, b.1));
            proptest::prop_assert_eq!(b.2, None);
            proptest::prop_assert_eq!(counted.to_bytes(), searched.to_bytes());
            if let Some(left) = a.2 {
                proptest::prop_assert_eq!(left, counted.header_lines(HeaderName::Route).count());
            }
            // Each line holding one value is counted.
            let single = routes.iter().all(|r| !r.contains(','));
            proptest::prop_assert_eq!(read.route_lines.is_some(), single);
        }
    }

    #[test]
    fn a_target_with_facts_builds_the_copy_a_parsed_one_builds() {
        // §16.6 steps 2-7 from the facts of an earlier parse, or from parsing the target here:
        // the same copy and the same next hops.
        let mut resolver = StaticResolver::new();
        resolver.add("bob.example.com", Target::udp("192.0.2.44:5060".parse().unwrap()));
        let config = ProxyConfig::new("sip:192.0.2.10:5060").unwrap().domain("example.com");
        let proxy = Proxy::new(config, StaticLocations::new(), resolver);
        let base = test_invite("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
        let mut routed = base.clone();
        routed.push_front(HeaderName::Route, "<sip:192.0.2.30;lr>").unwrap();
        let mut strict = base.clone();
        strict.push_front(HeaderName::Route, "<sip:192.0.2.31>").unwrap();
        for uri in [
            "sip:bob@192.0.2.20:5060",
            "sips:bob@192.0.2.20",
            "sip:bob@192.0.2.20;transport=tcp",
            "sip:bob@bob.example.com;maddr=192.0.2.21",
            "sip:bob@bob.example.com",
            "sip:bob@unknown.example.com",
            "sip:bob@192.0.2.20;method=INVITE?subject=x",
            "sip:[2001:db8::2]:5070",
            "tel:+15551234",
            "mailto:bob@example.com",
            "sip:",
        ] {
            // With and without a stamped top Via (debug builds check each copy against the
            // edits, the stamp among them).
            let stamps =
                [None, Some("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;received=192.0.2.9")];
            let requests = [&base, &routed, &strict];
            for (request, top_via) in
                requests.iter().flat_map(|r| stamps.iter().map(move |s| (r, s)))
            {
                for record_route in [false, true] {
                    let plain = TargetSlot::new(uri, 1000, true);
                    let mut known = TargetSlot::new(uri, 1000, true);
                    known.facts = Some(UriFacts::of(&Uri::parse(uri)));
                    let a = proxy.build_copy_of(
                        Cow::Borrowed(request),
                        top_via.map(str::as_bytes),
                        plain.view(),
                        record_route,
                        false,
                    );
                    let b = proxy.build_copy_of(
                        Cow::Borrowed(request),
                        top_via.map(str::as_bytes),
                        known.view(),
                        record_route,
                        false,
                    );
                    let show = |r: Option<(ForwardCopy, SmallVec<[Target; 2]>)>| {
                        r.map(|(m, hops)| {
                            let via = b"SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx";
                            (m.finish(via).map(|m| m.to_bytes()), hops.to_vec())
                        })
                    };
                    assert_eq!(show(a), show(b), "{uri}");
                }
            }
        }
    }
}
