//! [`TransactionTable`]: creates, matches, drives and frees every transaction of one endpoint.
//!
//! Memory: a transaction is one slot of a paged slab (an [`Entry`], 280 bytes: the machine, its
//! armed timers, the serialised request as a shared [`Bytes`], where the branch and method lie in
//! those bytes, the target), a 4-byte slab index in one matching index, and one 24-byte entry in
//! the timer queue for its earliest timer. It keeps no parsed [`Message`] (its index and keys
//! would add several hundred bytes): [`TransactionTable::request`] parses the kept bytes on first use and caches
//! the result in the slot. Server transactions add one boxed [`ServerKeys`] (sent-by, §8.2.2.2
//! merge key and its index entry, and the RFC 2543 key when there is no cookie).
//!
//! Time: matching hashes the branch once (foldhash, keyed per table) and compares bytes; a
//! received message is matched and handled by reference and moved once, into the event that
//! carries it; outputs wait in a queue of small items, so a transmit or a `Terminated` never
//! copies a whole [`Output`].

use std::borrow::Cow;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sip_message::{ForwardedRequest, HeaderName, Message, Method};

use crate::client::{ClientInvite, ClientNonInvite};
use crate::keys::{
    BRANCH_LEN, KeyBytes, LegacyKey, SentByMemo, branch_slot, build_cancel, has_cookie, locate,
    locate_borrowed, name_slot, new_branch, new_branch_bytes, reparse, top_sent_by,
    with_via_transport,
};
use crate::machine::{Ctx, Next, Outbox, Step, Stimulus, TimerQueue, Timers, Up as Pass, nanos};
use crate::server::{ServerInvite, ServerNonInvite};
use crate::slab::Slab;
use crate::{
    CancelError, Direct, Event, LightOutput, MergeKey, Output, ResponseError, SendError, Stats,
    Target, Timer, TransactionConfig, TransactionId, TransactionKind, TransactionState, Transmit,
    Transport,
};

/// A branch from [`TransactionTable::draw_branch`]: `z9hG4bK` and 16 alphanumerics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrawnBranch {
    bytes: [u8; BRANCH_LEN],
    /// The generator's position before the draw.
    mark: u128,
}

impl DrawnBranch {
    /// The branch.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Always ASCII: the cookie and base-62 digits.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }

    /// The branch's bytes (ASCII: [`as_str`](Self::as_str) without the UTF-8 check), for a TU
    /// that writes it into a header value.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// An input to [`TransactionTable::handle`].
// Inputs are moved once, so no box (a `Message` is 40 bytes, a `Transmit` a few words).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Input {
    /// A parsed message received from `source`.
    Message {
        /// The message.
        message: Message,
        /// Where it came from (for a connection, its flow).
        source: Target,
    },
    /// A datagram or stream frame received from `source`, not yet parsed. One that does not
    /// parse is dropped and counted in [`Stats::malformed`].
    Datagram {
        /// The bytes.
        payload: Bytes,
        /// Where they came from.
        source: Target,
    },
    /// The transport failed to send a [`Transmit`] of transaction `id`.
    TransportError {
        /// [`Transmit::transaction`] of what failed.
        id: TransactionId,
    },
}

/// Every transaction of one endpoint: it creates them, matches messages to them (RFC 3261
/// §17.1.3, §17.2.3), runs their timers from one ordered queue, and frees each one the instant it
/// terminates. See the [crate docs](crate) for the driving loop.
#[derive(Debug)]
pub struct TransactionTable {
    config: TransactionConfig,
    rng: ChaCha8Rng,
    /// Keys the matching indexes' hash; drawn from a stream of its own so that branches stay
    /// what the seed alone makes them.
    hasher: FixedState,
    slots: Slab<Entry>,
    /// Client transactions by branch, those whose branch does not name their slot (see
    /// [`Entry::named`]: the usual ones are found by that slot, without a hash); the INVITE and
    /// its CANCEL share one (§9.1).
    clients: HashTable<u32>,
    /// Server transactions with an RFC 3261 branch, by branch.
    servers: HashTable<u32>,
    /// Server transactions created by RFC 2543 requests, by Call-ID and CSeq number.
    legacy: HashTable<u32>,
    /// Server transactions by §8.2.2.2 merge key.
    merges: HashTable<u32>,
    queue: TimerQueue,
    out: Outbox,
    stats: Stats,
    /// Transactions in the order they began to linger (Completed, Confirmed, Accepted), for
    /// [`evict_lingering`](Self::evict_lingering); ids of freed ones are dropped from the front
    /// as the clock moves.
    lingering: VecDeque<TransactionId>,
    /// Boxes of freed server transactions' [`ServerKeys`], emptied, for the next ones (at most
    /// [`SPARE_KEYS`]): a server transaction then costs no allocation of its own.
    // Boxes, not values: the point is to hand the allocation itself to the next transaction.
    #[allow(clippy::vec_box)]
    spare_keys: Vec<Box<ServerKeys>>,
    /// The sent-by of the last request's top Via, for the next one from the same peer.
    sent_by: SentByMemo,
    /// INVITE server transactions created at clock `trying_tick` whose 100 (Trying) timer
    /// (§17.2.1) is not armed yet, with its deadline and arming number: a TU that answers
    /// before the clock moves (as most do, in the turn that brought the INVITE) never costs a
    /// queue entry. When the clock moves, [`handle_due`](Self::handle_due) arms those still
    /// unanswered, with the deadline and arming number they were given, so the timer fires
    /// exactly when and in the order it would have; [`poll_timeout`](Self::poll_timeout)
    /// counts them until then.
    trying: Vec<(TransactionId, (u64, u64))>,
    trying_tick: u64,
    /// Client transactions begun so far, to date `drawn`.
    clients_started: u64,
    /// The branch [`fresh_branch`](Self::fresh_branch) last drew and the number of client
    /// transactions begun when it found no client transaction using it: a request sent with
    /// that branch before another client transaction begins needs no search again.
    drawn: Option<Drawn>,
    /// Whether the timer queue's earliest entry or the front of `lingering` may be spent, so
    /// that [`prune`](Self::prune) has work: set by whatever can make them so (a step of the
    /// transaction whose entry is earliest, a release, a pop outside `prune`). Between such
    /// events both stay as the last `prune` left them: live.
    stale: bool,
}

/// A branch [`TransactionTable::fresh_branch`] drew: see [`TransactionTable::drawn`].
#[derive(Clone, Copy, Debug)]
struct Drawn {
    branch: [u8; BRANCH_LEN],
    started: u64,
}

/// The [`Direct`] event that carries a received message as `up` says, built in place as the
/// returned value, after the matching's other work; `$message` (evaluated in the arm that
/// needs it, so that the message moves once, straight into the event) yields the message.
/// A macro rather than a function: passing the message to one, even inlined, copied it into
/// a local first.
macro_rules! direct {
    ($up:expr, $after:expr, $source:expr, $message:expr) => {{
        let (after, source) = ($after, $source);
        match $up {
            Up::Nothing => None,
            Up::Request(id) => {
                Some(Direct { after, event: Event::Request { id, request: $message, source } })
            }
            Up::Provisional(id) => {
                Some(Direct { after, event: Event::Provisional { id, response: $message } })
            }
            Up::Final(id) => Some(Direct { after, event: Event::Final { id, response: $message } }),
            Up::Additional2xx(id) => {
                Some(Direct { after, event: Event::Additional2xx { id, response: $message } })
            }
            Up::Ack(id) => {
                Some(Direct { after, event: Event::Ack { id, request: $message, source } })
            }
            Up::Stray => {
                Some(Direct { after, event: Event::StrayResponse { response: $message, source } })
            }
        }
    }};
}

/// Queues on `$out` the event that carries a received message as `up` says, built where it
/// is queued; `$message` is evaluated in the arm that needs it (see [`direct!`]).
macro_rules! queue_event {
    ($out:expr, $up:expr, $source:expr, $message:expr) => {{
        let source = $source;
        match $up {
            Up::Nothing => {}
            Up::Request(id) => {
                let request = $message;
                $out.push_event(Output::Event(Event::Request { id, request, source }));
            }
            Up::Provisional(id) => {
                let response = $message;
                $out.push_event(Output::Event(Event::Provisional { id, response }));
            }
            Up::Final(id) => {
                let response = $message;
                $out.push_event(Output::Event(Event::Final { id, response }));
            }
            Up::Additional2xx(id) => {
                let response = $message;
                $out.push_event(Output::Event(Event::Additional2xx { id, response }));
            }
            Up::Ack(id) => {
                let request = $message;
                $out.push_event(Output::Event(Event::Ack { id, request, source }));
            }
            Up::Stray => {
                let response = $message;
                $out.push_event(Output::Event(Event::StrayResponse { response, source }));
            }
        }
    }};
}

/// How many emptied [`ServerKeys`] boxes the table keeps for reuse.
const SPARE_KEYS: usize = 64;

/// One live transaction.
#[derive(Debug)]
struct Entry {
    machine: Machine,
    timers: Timers,
    /// The request, serialised: as sent (client; every retransmission is a reference-count
    /// clone) or as received (server).
    request: Bytes,
    /// Target (client) or source (server).
    peer: Target,
    /// Where the top Via branch is (empty for an RFC 2543 request without one).
    branch: Branch,
    /// Its hash in the matching index it is in (`clients`, `servers` or `legacy`).
    hash: u64,
    /// A client transaction whose branch names its slot ([`name_slot`], [`branch_slot`]), as
    /// the branches the table draws do, alone or with a `.`-suffix (a proxy's loop part): found
    /// by that slot, it is in no hash index.
    named: bool,
    /// What only server transactions need.
    server: Option<Box<ServerKeys>>,
    /// [`TransactionTable::request`]'s parse of `request`, made on first use.
    parsed: OnceLock<Option<Box<Message>>>,
}

/// Where an entry's branch is: a range of its request bytes (always, in practice: the bytes are
/// the request it was read from, or the same request serialised), else a copy.
#[derive(Debug)]
enum Branch {
    In(u32, u32),
    Copy(Box<[u8]>),
}

impl Branch {
    /// The branch of `request` in its bytes, `hint` being the address it was read from.
    fn of(request: &Bytes, hint: usize, branch: &[u8]) -> Branch {
        match locate(request, hint, branch) {
            Some((start, end)) => Branch::In(start, end),
            None => Branch::Copy(branch.into()),
        }
    }

    /// [`of`](Self::of) for a `branch` borrowed from where it was read (the request's own
    /// bytes, when they are the ones kept): found by its address alone.
    fn borrowed(request: &Bytes, branch: &[u8]) -> Branch {
        match locate_borrowed(request, branch) {
            Some((start, end)) => Branch::In(start, end),
            None => Branch::Copy(branch.into()),
        }
    }
}

impl Entry {
    fn branch(&self) -> &[u8] {
        match &self.branch {
            Branch::In(start, end) => {
                self.request.get(*start as usize..*end as usize).unwrap_or_default()
            }
            Branch::Copy(branch) => branch,
        }
    }

    /// Whether the request's method is `method`: the bytes start with it, then a space (the
    /// request line; both serialisation and the parser's pristine range begin there).
    fn method_is(&self, method: &Method) -> bool {
        // An INVITE machine's request is an INVITE (the table picks the machine by that
        // method), so its bytes start `INVITE `: the answer needs no bytes unless `method` is
        // an extension, which might be spelled `INVITE` too.
        if let Machine::ClientInvite(_) | Machine::ServerInvite(_) = self.machine {
            match method {
                Method::Invite => return true,
                Method::Extension(_) => {}
                _ => return false,
            }
        }
        let token = method.as_bytes();
        self.request.get(..token.len()) == Some(token)
            && self.request.get(token.len()) == Some(&b' ')
    }
}

/// Matching state of a server transaction.
#[derive(Debug)]
struct ServerKeys {
    /// With an RFC 3261 branch: the top Via sent-by (§17.2.3 rule 2).
    sent_by: Option<KeyBytes>,
    /// Without one: what RFC 2543 matching compares (rare, so boxed).
    legacy: Option<Box<LegacyKey>>,
    /// The §8.2.2.2 key, if the request had one, and its hash in `merges`. Only a request
    /// without a To tag can be merged, so only its key is read (and indexed) when the
    /// transaction begins; that of a request with one (most are: BYE, re-INVITE, ...) is read
    /// from the kept bytes if [`TransactionTable::merge_key`] asks for it.
    merge: Option<MergeKey>,
    merge_hash: u64,
    /// The key of a request with a To tag, read when asked for.
    late_merge: OnceLock<Option<MergeKey>>,
    /// The request's CSeq method, which a response must carry.
    cseq_method: Method,
    /// Whether the request had a To tag (then it cannot be a merged request).
    to_tag: bool,
}

// Named after RFC 3261's four machines.
#[allow(clippy::enum_variant_names)]
#[derive(Debug)]
enum Machine {
    ClientInvite(ClientInvite),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(ServerInvite),
    ServerNonInvite(ServerNonInvite),
}

impl Machine {
    /// Whether this is an INVITE server transaction whose TU has not answered, so its
    /// 100 (Trying) timer (§17.2.1) is still due to be armed.
    fn awaits_trying(&self) -> bool {
        matches!(self, Machine::ServerInvite(m) if m.unanswered())
    }

    fn kind(&self) -> TransactionKind {
        match self {
            Machine::ClientInvite(_) => TransactionKind::ClientInvite,
            Machine::ClientNonInvite(_) => TransactionKind::ClientNonInvite,
            Machine::ServerInvite(_) => TransactionKind::ServerInvite,
            Machine::ServerNonInvite(_) => TransactionKind::ServerNonInvite,
        }
    }

    fn state(&self) -> TransactionState {
        match self {
            Machine::ClientInvite(m) => m.state(),
            Machine::ClientNonInvite(m) => m.state(),
            Machine::ServerInvite(m) => m.state(),
            Machine::ServerNonInvite(m) => m.state(),
        }
    }

    fn handle(&mut self, cx: &mut Ctx<'_>, input: Stimulus<'_>) -> Step {
        match self {
            Machine::ClientInvite(m) => m.handle(cx, input),
            Machine::ClientNonInvite(m) => m.handle(cx, input),
            Machine::ServerInvite(m) => m.handle(cx, input),
            Machine::ServerNonInvite(m) => m.handle(cx, input),
        }
    }
}

/// How many fresh branches to try before giving up on uniqueness (one always suffices unless
/// the generator repeats itself).
const BRANCH_ATTEMPTS: usize = 8;

/// The live entry in slot `index`.
fn live(slots: &Slab<Entry>, index: u32) -> Option<&Entry> {
    slots.at(index)
}

/// The id of the transaction in slot `index`.
fn id_of(slots: &Slab<Entry>, index: u32) -> TransactionId {
    slots.id_of(index)
}

/// The hash under which slot `index` sits in its matching index (for rehashing).
fn index_hash(slots: &Slab<Entry>, index: u32) -> u64 {
    live(slots, index).map_or(0, |e| e.hash)
}

/// The hash under which slot `index` sits in `merges` (for rehashing).
fn merge_hash_of(slots: &Slab<Entry>, index: u32) -> u64 {
    live(slots, index).and_then(|e| e.server.as_ref()).map_or(0, |s| s.merge_hash)
}

/// Removes slot `index` from `table`, where it sits under `hash`.
fn unindex(table: &mut HashTable<u32>, hash: u64, index: u32) {
    if let Ok(found) = table.find_entry(hash, |&i| i == index) {
        found.remove();
    }
}

impl TransactionTable {
    /// An empty table.
    #[must_use]
    pub fn new(config: TransactionConfig) -> Self {
        let mut keys = ChaCha8Rng::seed_from_u64(config.rng_seed);
        keys.set_stream(1);
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            hasher: FixedState::with_seed(keys.next_u64()),
            config,
            slots: Slab::default(),
            clients: HashTable::new(),
            clients_started: 0,
            drawn: None,
            servers: HashTable::new(),
            legacy: HashTable::new(),
            merges: HashTable::new(),
            queue: TimerQueue::default(),
            out: Outbox::default(),
            stats: Stats::default(),
            lingering: VecDeque::new(),
            spare_keys: Vec::new(),
            sent_by: SentByMemo::default(),
            trying: Vec::new(),
            trying_tick: 0,
            stale: false,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TransactionConfig {
        &self.config
    }

    // ----- the four verbs ---------------------------------------------------------------------

    /// Feeds an input: a received message or datagram, or a transport error. Fires whatever
    /// timers are already due first. Then drain [`poll_output`](Self::poll_output).
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Message { message, source } => self.handle_message(now, message, source),
            Input::Datagram { payload, source } => self.handle_datagram(now, payload, source),
            Input::TransportError { id } => self.handle_transport_error(now, id),
        }
    }

    /// A message arrived from `source`. A response goes to the client transaction it matches
    /// (§17.1.3) or up as [`Event::StrayResponse`]. A request goes to the server transaction it
    /// matches (§17.2.3, with RFC 2543 fallback); an ACK that matches none goes up as
    /// [`Event::Ack`]; any other request creates a server transaction and goes up as
    /// [`Event::Request`]. Requests without a Via, CSeq or Call-ID are dropped and counted in
    /// [`Stats::malformed`].
    pub fn handle_message(&mut self, now: Instant, message: Message, source: Target) {
        self.receive(now, message, source);
    }

    /// [`handle_message`](Self::handle_message)'s body: fires what is due, matches `message`
    /// by reference, queues the event that carries it (built where it is queued: an
    /// intermediate `Event` would be one more copy of the message), then frees the
    /// transaction that ended.
    #[inline(always)]
    fn receive(&mut self, now: Instant, message: Message, source: Target) {
        let (up, release) = self.match_queued(now, &message, source);
        queue_event!(self.out, up, source, message);
        self.finish_queued(release);
    }

    /// The matching half of [`receive`](Self::receive): fires what is due and matches
    /// `message`; returns where it goes and the transaction to free after its event.
    #[inline(always)]
    fn match_queued(&mut self, now: Instant, message: &Message, source: Target) -> Delivery {
        let now = self.handle_due(now);
        if message.is_request() {
            self.on_request(now, message, source)
        } else {
            self.on_response(now, message)
        }
    }

    /// The end of [`receive`](Self::receive): frees `release`, if set, after the event.
    #[inline(always)]
    fn finish_queued(&mut self, release: Option<TransactionId>) {
        if let Some(id) = release {
            self.release(id);
        }
        self.prune();
    }

    /// [`handle_message`](Self::handle_message), handing the event that carries `message` (if
    /// any) straight back instead of queueing it; see [`Direct`] for where it goes in the order
    /// of [`poll_output`](Self::poll_output). Every other output is queued as usual.
    #[must_use]
    pub fn handle_message_direct(
        &mut self,
        now: Instant,
        message: Message,
        source: Target,
    ) -> Option<Direct> {
        self.receive_direct(now, message, source)
    }

    /// [`handle_datagram`](Self::handle_datagram), handing the event that carries the parsed
    /// message (if any) straight back instead of queueing it, as
    /// [`handle_message_direct`](Self::handle_message_direct).
    #[must_use]
    pub fn handle_datagram_direct(
        &mut self,
        now: Instant,
        payload: Bytes,
        source: Target,
    ) -> Option<Direct> {
        // The message is matched by reference where the parse left it, and taken out of the
        // `Ok` only for the returned event, after the matching: taking it out first, and
        // keeping the built event in a local across the matching's clean-up, each cost one
        // more copy of a message-sized value.
        let parsed = Message::parse(payload);
        let Ok(message) = &parsed else {
            self.handle_timeout(now);
            self.stats.malformed += 1;
            return None;
        };
        let (up, after) = self.match_direct(now, message, source);
        // Taken out of the `Ok` inside each arm: taking it out before the match on `up`, or
        // passing `parsed` to a function, made the compiler copy it into a local first.
        direct!(
            up,
            after,
            source,
            match parsed {
                Ok(message) => message,
                Err(_) => return None,
            }
        )
    }

    /// [`receive`](Self::receive), building the event in the returned [`Direct`].
    #[inline(always)]
    fn receive_direct(&mut self, now: Instant, message: Message, source: Target) -> Option<Direct> {
        let (up, after) = self.match_direct(now, &message, source);
        direct!(up, after, source, message)
    }

    /// The matching half of [`receive_direct`](Self::receive_direct): fires what is due,
    /// matches `message`, frees the transaction that ended; returns where the message goes
    /// and how many queued outputs come before its event.
    #[inline(always)]
    fn match_direct(&mut self, now: Instant, message: &Message, source: Target) -> (Up, usize) {
        let now = self.handle_due(now);
        let (up, release) = if message.is_request() {
            self.on_request(now, message, source)
        } else {
            self.on_response(now, message)
        };
        let after = self.out.len();
        if let Some(id) = release {
            self.release(id);
        }
        self.prune();
        (up, after)
    }

    /// Bytes arrived from `source`: parsed, then as [`handle_message`](Self::handle_message).
    /// Bytes that are no SIP message are dropped and counted in [`Stats::malformed`] (answering
    /// 400 needs the headers the parse could not find, so that is the runtime's choice).
    pub fn handle_datagram(&mut self, now: Instant, payload: Bytes, source: Target) {
        // As in `handle_datagram_direct`: matched where the parse left it, and taken out of
        // the `Ok` only where its event is built.
        let parsed = Message::parse(payload);
        let Ok(message) = &parsed else {
            self.handle_timeout(now);
            self.stats.malformed += 1;
            return;
        };
        let (up, release) = self.match_queued(now, message, source);
        'event: {
            queue_event!(
                self.out,
                up,
                source,
                match parsed {
                    Ok(message) => message,
                    Err(_) => break 'event,
                }
            );
        }
        self.finish_queued(release);
    }

    /// The transport could not send a [`Transmit`] of transaction `id` (RFC 3261 §17.1.4,
    /// §17.2.4): the TU hears [`Event::TransportFailed`]; a client or non-INVITE server
    /// transaction terminates, an INVITE server transaction stays (RFC 6026 §8.8). An unknown
    /// or terminated id is ignored.
    pub fn handle_transport_error(&mut self, now: Instant, id: TransactionId) {
        let now = self.handle_due(now);
        if self.entry(id).is_some() {
            self.stats.transport_errors += 1;
            let _ = self.dispatch(now, id, Stimulus::TransportError);
        }
        self.prune();
    }

    /// Time passed: fires every timer due at or before `now`, in deadline order. Early calls do
    /// nothing. Then drain [`poll_output`](Self::poll_output).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_due(now);
        self.prune();
    }

    /// The next thing to do: bytes to send or an event for the TU. Call until `None` after every
    /// input, command and timeout, before reading [`poll_timeout`](Self::poll_timeout).
    #[must_use]
    #[inline]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// Whether [`poll_output`](Self::poll_output) has an output to hand out: a driver that
    /// polls after every call can skip the poll (and its loop) when there is none.
    #[must_use]
    #[inline]
    pub fn has_output(&self) -> bool {
        self.out.len() != 0
    }

    /// [`poll_output`](Self::poll_output) when the next output carries no message (a transmit
    /// or an event that only names a transaction): it, without moving a message-sized
    /// [`Output`]. `None` when nothing is queued or the next output carries a message: take
    /// that one with `poll_output`.
    #[must_use]
    #[inline]
    pub fn poll_light_output(&mut self) -> Option<LightOutput> {
        self.out.pop_light()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` when no timer is armed.
    /// It changes after every call that takes `now`, so read it afresh after draining.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queued = self.queue.peek().map(|(at, _, _)| at);
        let trying = self.trying.iter().filter(|(id, _)| self.awaits_trying(*id));
        let at = trying.map(|(_, (at, _))| *at).chain(queued).min()?;
        self.queue.instant(at)
    }

    /// Whether `id` is a live INVITE server transaction that has not answered yet: its
    /// 100 (Trying) timer is still to be armed.
    fn awaits_trying(&self, id: TransactionId) -> bool {
        self.entry(id).is_some_and(|e| e.machine.awaits_trying())
    }

    // ----- commands ---------------------------------------------------------------------------

    /// Starts a client transaction for `request` towards `target` (RFC 3261 §17.1): INVITE
    /// (Figure 5) or any other method but ACK (Figure 6). If the top Via has no branch the table
    /// adds a fresh one (`z9hG4bK` and 16 random characters); a CANCEL built with
    /// [`cancel_request`](Self::cancel_request) keeps its INVITE's. The request is serialised
    /// once; the first [`Transmit`] is queued at once.
    ///
    /// RFC 3261 §18.1.1: a request larger than
    /// [`TransactionConfig::udp_request_limit`] (1300 bytes by default) whose target is
    /// `Target::Addr(Transport::Udp, addr)` goes to `Target::Addr(Transport::Tcp, addr)`
    /// instead, its top Via saying TCP, and the transaction runs the timers of a reliable
    /// transport. If that connection cannot be made the TU hears [`Event::TransportFailed`]
    /// and may send the request again over UDP with the limit disabled (§18.1.1 asks for that
    /// retry after an ICMP "protocol not supported" or a TCP reset). A CANCEL goes where its
    /// INVITE went (§9.1), so it follows an INVITE moved to TCP.
    ///
    /// # Errors
    /// [`SendError`] says what the request lacks; nothing was sent.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        target: Target,
    ) -> Result<TransactionId, SendError> {
        self.start_client(now, request, target)
    }

    /// [`send_request`](Self::send_request) of a request the caller keeps (a UA keeps its
    /// INVITE, to build the ACK and CANCEL from it): the table reads it, and copies it only
    /// when it must change it (a top Via without a branch, or §18.1.1's move to TCP), so the
    /// caller need not clone it to send it.
    ///
    /// # Errors
    /// As [`send_request`](Self::send_request).
    pub fn send_request_ref(
        &mut self,
        now: Instant,
        request: &Message,
        target: Target,
    ) -> Result<TransactionId, SendError> {
        self.start_client(now, Cow::Borrowed(request), target)
    }

    /// [`send_request`](Self::send_request)'s body, for an owned or a borrowed request.
    #[inline(always)]
    fn start_client<R: RequestSlot>(
        &mut self,
        now: Instant,
        mut request: R,
        target: Target,
    ) -> Result<TransactionId, SendError> {
        let now = self.handle_due(now);
        let request_ref = request.get();
        let method = request_ref.method().cloned().ok_or(SendError::NotARequest)?;
        if method == Method::Ack {
            return Err(SendError::AckIsNotATransaction);
        }
        let given = request_ref.via_branch_bytes();
        if given.is_none() && request_ref.top_via().is_none() {
            return Err(SendError::MissingVia);
        }
        let cseq_method = request_ref.cseq_method().ok_or(SendError::MissingCSeq)?;
        if *cseq_method != method {
            return Err(SendError::CSeqMethodMismatch);
        }
        if request_ref.call_id_bytes().is_none() {
            return Err(SendError::MissingCallId);
        }
        let hint = given.map_or(0, |b| b.as_ptr() as usize);
        // The branch is read where it lies (the request's own bytes, or the fresh one here),
        // not copied: only a request that §18.1.1 moves to TCP, whose Via changes, needs a copy.
        let fresh = match given {
            Some(b) if has_cookie(b) => None,
            Some(_) => return Err(SendError::BadBranch),
            None => {
                let branch = self.fresh_branch();
                let top_via = request_ref.top_via().ok_or(SendError::MissingVia)?;
                let mut via = Vec::with_capacity(top_via.len() + 8 + branch.len());
                via.extend_from_slice(top_via);
                via.extend_from_slice(b";branch=");
                via.extend_from_slice(&branch);
                let request = request.get_mut();
                request.pop_front(HeaderName::Via);
                request.push_front(HeaderName::Via, via).map_err(|_| SendError::BadVia)?;
                Some(branch)
            }
        };
        let branch: &[u8] = match &fresh {
            Some(fresh) => fresh,
            // Unchanged since `given` was read from it.
            None => request.get().via_branch_bytes().ok_or(SendError::MissingVia)?,
        };
        let (hash, named, target) = self.client_slot(branch, &method, target)?;
        let bytes = request.get().to_bytes();
        let (bytes, target, branch) = if self.too_large(&bytes, target) {
            let branch = KeyBytes::from_slice(branch);
            let (bytes, target) = self.move_to_tcp(&mut request, bytes, target);
            let branch = Branch::of(&bytes, hint, &branch);
            (bytes, target, branch)
        } else {
            let branch = Branch::borrowed(&bytes, branch);
            (bytes, target, branch)
        };
        Ok(self.begin_client(now, &method, bytes, target, branch, hash, named))
    }

    /// [`send_request`](Self::send_request) of a request a proxy wrote as bytes
    /// ([`Message::forwarded_request_bytes`]): the table reads what it needs (the method, the
    /// top Via's branch, the CSeq method, a Call-ID) from what the writer reports, and keeps
    /// the bytes as they are, with nothing parsed. A request the writer could not report all
    /// of (its top Via not written in front, say), or one over the UDP size limit that
    /// §18.1.1 moves to TCP (its top Via rewritten), is parsed and sent as `send_request`
    /// sends it, with the same errors.
    ///
    /// # Errors
    /// As [`send_request`](Self::send_request); [`SendError::NotARequest`] if the bytes do
    /// not parse (which bytes the writer wrote from a parsed request do).
    pub fn send_request_bytes(
        &mut self,
        now: Instant,
        request: ForwardedRequest,
        target: Target,
    ) -> Result<TransactionId, SendError> {
        let method = request.method();
        let ready = *method != Method::Ack
            && request.branch().is_some_and(has_cookie)
            && request.cseq_method() == Some(method)
            && request.has_call_id()
            && !self.too_large(request.bytes(), target);
        let branch = match request.branch() {
            Some(branch) if ready => branch,
            _ => {
                let request = reparse(request.bytes()).ok_or(SendError::NotARequest)?;
                return self.start_client(now, request, target);
            }
        };
        let now = self.handle_due(now);
        let method = method.clone();
        let (hash, named, target) = self.client_slot(branch, &method, target)?;
        let branch = Branch::borrowed(request.bytes(), branch);
        Ok(self.begin_client(now, &method, request.into_bytes(), target, branch, hash, named))
    }

    /// The checks and lookups of a new client transaction with `branch` and `method`
    /// ([`start_client`](Self::start_client)): whether the branch names the slot it takes,
    /// else its hash; no live one with the same branch and method; and where a CANCEL goes.
    #[inline(always)]
    fn client_slot(
        &self,
        branch: &[u8],
        method: &Method,
        target: Target,
    ) -> Result<(u64, bool, Target), SendError> {
        // A branch that names the slot the transaction takes (as `draw_branch` and the fresh
        // one draw it) is found by that slot: no hash, no index entry.
        let named = branch_slot(branch) == Some(self.next_id().index);
        // The branch `draw_branch` just drew (as a TU that writes its own Via does) is known
        // unused if no client transaction began since.
        let unused = self
            .drawn
            .is_some_and(|d| d.branch[..] == *branch && d.started == self.clients_started);
        if !unused && self.find_client(branch, method).is_some() {
            return Err(SendError::DuplicateBranch);
        }
        let hash = if named { 0 } else { self.hasher.hash_one(branch) };
        let mut target = target;
        if *method == Method::Cancel {
            // §9.1: "The destination address, port, and transport of the CANCEL MUST be
            // identical to those used to send the original request": an INVITE this table moved
            // to TCP (§18.1.1) takes its CANCEL with it.
            let invite = self.find_client(branch, &Method::Invite);
            if let (Some(Target::Addr(Transport::Tcp, to)), Target::Addr(Transport::Udp, given)) =
                (invite.and_then(|id| self.entry(id)).map(|e| e.peer), target)
            {
                if to == given {
                    target = Target::Addr(Transport::Tcp, to);
                }
            }
        }
        Ok((hash, named, target))
    }

    /// Starts the client transaction for `bytes` (the request as kept and sent) once
    /// [`client_slot`](Self::client_slot) has passed it: its machine, its slot, its index entry.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn begin_client(
        &mut self,
        now: u64,
        method: &Method,
        bytes: Bytes,
        target: Target,
        branch: Branch,
        hash: u64,
        named: bool,
    ) -> TransactionId {
        let id = self.next_id();
        let (machine, timers) = self.start(now, id, &bytes, target, |cx| {
            if *method == Method::Invite {
                Machine::ClientInvite(ClientInvite::start(cx))
            } else {
                Machine::ClientNonInvite(ClientNonInvite::start(cx))
            }
        });
        let kind = machine.kind();
        let index = self.alloc(Entry {
            machine,
            timers,
            request: bytes,
            peer: target,
            branch,
            hash,
            named,
            server: None,
            parsed: OnceLock::new(),
        });
        if !named {
            let Self { clients, slots, .. } = self;
            clients.insert_unique(hash, index, |&i| index_hash(slots, i));
        }
        self.clients_started = self.clients_started.wrapping_add(1);
        self.count_new(kind);
        self.prune();
        id
    }

    /// Serialises a request for `target`, applying RFC 3261 §18.1.1: over the UDP size limit, a
    /// UDP address target becomes the same address over TCP and the top Via says so. A top Via
    /// without a transport token to change keeps the request on UDP.
    fn serialise<R: RequestSlot>(&self, request: &mut R, target: Target) -> (Bytes, Target) {
        let bytes = request.get().to_bytes();
        self.move_to_tcp(request, bytes, target)
    }

    /// Whether a request serialised as `bytes` is over the UDP size limit for `target`, a UDP
    /// address (RFC 3261 §18.1.1).
    fn too_large(&self, bytes: &Bytes, target: Target) -> bool {
        matches!(
            (self.config.udp_request_limit, target),
            (Some(limit), Target::Addr(Transport::Udp, _)) if bytes.len() > limit
        )
    }

    /// [`serialise`](Self::serialise) once `request` is serialised as `bytes`.
    fn move_to_tcp<R: RequestSlot>(
        &self,
        request: &mut R,
        bytes: Bytes,
        target: Target,
    ) -> (Bytes, Target) {
        let (Some(limit), Target::Addr(Transport::Udp, addr)) =
            (self.config.udp_request_limit, target)
        else {
            return (bytes, target);
        };
        if bytes.len() <= limit {
            return (bytes, target);
        }
        let tcp = Target::Addr(Transport::Tcp, addr);
        let Some(via) = request.get().top_via().and_then(|via| with_via_transport(via, "TCP"))
        else {
            return (bytes, target);
        };
        if request.get().top_via() == Some(&via[..]) {
            return (bytes, tcp);
        }
        let request = request.get_mut();
        request.pop_front(HeaderName::Via);
        match request.push_front(HeaderName::Via, via) {
            Ok(()) => (request.to_bytes(), tcp),
            // Unreachable: the value is the old one with a token changed. Send as given.
            Err(_) => (bytes, target),
        }
    }

    /// Passes the TU's response for server transaction `id` to the transport (RFC 3261 §17.2):
    /// provisional responses while no final was sent; one final; and for an INVITE answered 2xx,
    /// the TU's 2xx retransmissions while Accepted (RFC 6026 §8.7). Build it with
    /// `MessageBuilder::response_to(&request, status, None)`.
    ///
    /// # Errors
    /// [`ResponseError`] says why the response does not belong; nothing was sent.
    #[inline]
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Message,
    ) -> Result<(), ResponseError> {
        self.send_response_ref(now, id, &response)
    }

    /// [`send_response`](Self::send_response) of a response the caller keeps: the table only
    /// reads it (it sends the response's serialised bytes), so a TU that relays or stores
    /// responses need not move one in.
    ///
    /// # Errors
    /// As [`send_response`](Self::send_response).
    pub fn send_response_ref(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: &Message,
    ) -> Result<(), ResponseError> {
        let now = self.handle_due(now);
        if response.is_request() {
            return Err(ResponseError::NotAResponse);
        }
        // One slab lookup checks the transaction and steps it (see `step`).
        if self.queue.peek().is_some_and(|(_, _, top)| top == id) {
            self.stale = true;
        }
        let check = |entry: &Entry| {
            let Some(server) = &entry.server else {
                return Err(ResponseError::NotAServerTransaction);
            };
            if response.cseq_method() != Some(&server.cseq_method)
                || response.via_branch_bytes().unwrap_or_default() != entry.branch()
            {
                return Err(ResponseError::Mismatch);
            }
            Ok(())
        };
        let input = |_: &mut Timers, _: &mut TimerQueue| Some(Stimulus::Respond(response));
        let step = self.step_with(now, id, check, input);
        let result = match step.unwrap_or(Err(ResponseError::UnknownTransaction)) {
            Ok((Next::Terminate, _)) => {
                self.release(id);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        self.prune();
        result
    }

    /// Queues `message` for `target` outside any transaction: an ACK for a 2xx (RFC 3261
    /// §13.2.2.4) or a stateless response. Its [`Transmit::transaction`] is `None`. A request
    /// over the UDP size limit goes over TCP as in [`send_request`](Self::send_request)
    /// (§18.1.1).
    pub fn send_stateless(&mut self, target: Target, message: &Message) {
        let (payload, target) = if message.is_request() {
            let payload = message.to_bytes();
            match (self.config.udp_request_limit, target) {
                (Some(limit), Target::Addr(Transport::Udp, _)) if payload.len() > limit => {
                    self.serialise(&mut message.clone(), target)
                }
                _ => (payload, target),
            }
        } else {
            (message.to_bytes(), target)
        };
        self.out.transmit(Transmit { target, payload, transaction: None });
    }

    /// [`send_stateless`](Self::send_stateless) of a message already serialised as
    /// `payload`: queued as it is for `target`, outside any transaction, with nothing parsed
    /// or copied. A request over the UDP size limit for a UDP `target` goes over TCP with its
    /// top Via rewritten (RFC 3261 §18.1.1), which needs the message: such a `payload` is
    /// handed back untouched, as `Err`, to be sent with [`send_stateless`](Self::send_stateless).
    ///
    /// # Errors
    /// `payload` itself when it is over the UDP size limit for `target`.
    pub fn send_stateless_bytes(&mut self, target: Target, payload: Bytes) -> Result<(), Bytes> {
        if self.too_large(&payload, target) {
            return Err(payload);
        }
        self.out.transmit(Transmit { target, payload, transaction: None });
        Ok(())
    }

    /// Builds the CANCEL for client INVITE `id` (RFC 3261 §9.1): Request-URI, Call-ID, To, From
    /// and top Via of the INVITE (so its branch), its Route headers, CSeq number with method
    /// CANCEL. Send it with [`send_request`](Self::send_request); §9.1 asks to wait for a
    /// provisional response first.
    ///
    /// # Errors
    /// [`CancelError::NotAClientInvite`] if `id` is no live client INVITE.
    pub fn cancel_request(&self, id: TransactionId) -> Result<Message, CancelError> {
        match self.entry(id) {
            Some(entry @ Entry { machine: Machine::ClientInvite(_), .. }) => {
                let invite = reparse(&entry.request).ok_or(CancelError::NotAClientInvite)?;
                Ok(build_cancel(&invite)?)
            }
            _ => Err(CancelError::NotAClientInvite),
        }
    }

    /// Destroys transaction `id` at the TU's request, emitting [`Event::Terminated`]. RFC 3261
    /// §9.1: a client INVITE still without a final response 64*T1 after its CANCEL was answered
    /// is destroyed this way (Figure 5 gives Proceeding no timer). Returns whether `id` was live.
    pub fn terminate(&mut self, now: Instant, id: TransactionId) -> bool {
        self.handle_due(now);
        let live = self.entry(id).is_some();
        if live {
            self.release(id);
        }
        self.prune();
        live
    }

    /// Frees up to `count` transactions that only linger (Completed, Confirmed, Accepted:
    /// [`TransactionState::is_lingering`]) before their timers would, those that began to
    /// linger first going first, each with [`Event::Terminated`]; returns how many it freed
    /// (counted in [`Stats::evicted`]).
    ///
    /// For a server at its transaction limit: lingering transactions only absorb
    /// retransmissions for up to 64*T1 after their final response, so refusing new requests
    /// while they fill the limit turns a burst into half a minute of refusals. Evicting them
    /// instead costs what their timers protect against: a retransmitted request arriving after
    /// its transaction was evicted is new again to the TU, a retransmitted final response is
    /// stray (RFC 3261 §17.1.1.2, §17.2.2), and an INVITE server transaction that was waiting
    /// for the ACK of a non-2xx stops retransmitting it (§17.2.1).
    pub fn evict_lingering(&mut self, now: Instant, count: usize) -> usize {
        self.handle_due(now);
        let mut evicted = 0;
        while evicted < count {
            let Some(id) = self.lingering.pop_front() else { break };
            // The id behind it may be freed.
            self.stale = true;
            if self.entry(id).is_some_and(|e| e.machine.state().is_lingering()) {
                self.release(id);
                evicted += 1;
            }
        }
        self.stats.evicted += evicted as u64;
        self.prune();
        evicted
    }

    /// A fresh branch (`z9hG4bK` plus 16 characters from the seeded generator), for a TU that
    /// sends requests outside transactions, such as the ACK for a 2xx.
    pub fn new_branch(&mut self) -> String {
        new_branch(&mut self.rng)
    }

    /// The branch [`send_request`](Self::send_request) would add to a request without one,
    /// drawn now, so that the TU can write it into the request's top Via itself: the table
    /// then sends the request's bytes as built instead of editing the Via and serialising the
    /// request again. The draws from the seeded generator are the same as `send_request`'s
    /// (a branch no live client transaction uses), so a simulation sends the same bytes either
    /// way, provided the Via ends where `send_request` would append `;branch=`.
    ///
    /// A request that is not sent after all (it failed to build) should give the branch back
    /// with [`return_branch`](Self::return_branch) before anything else uses the table, which
    /// leaves the generator as if it had never been drawn.
    pub fn draw_branch(&mut self) -> DrawnBranch {
        let mark = self.rng.get_word_pos();
        DrawnBranch { bytes: self.fresh_branch(), mark }
    }

    /// [`draw_branch`](Self::draw_branch) for a request sent outside any transaction with
    /// [`send_stateless`](Self::send_stateless), the ACK for a 2xx (RFC 3261 §13.2.2.4): the
    /// same draw from the seeded generator, so the same bytes, without the search of live
    /// client transactions that a branch for a transaction gets (`draw_branch` hashes the
    /// branch and looks it up, for the transaction about to begin; no transaction begins with
    /// this one). A draw repeating a live branch, which the search would redraw, has odds of
    /// 62^-16 against it.
    pub fn draw_stateless_branch(&mut self) -> DrawnBranch {
        let mark = self.rng.get_word_pos();
        let mut bytes = new_branch_bytes(&mut self.rng);
        name_slot(&mut bytes, self.next_id().index);
        DrawnBranch { bytes, mark }
    }

    /// Undoes [`draw_branch`](Self::draw_branch): the generator goes back to where it was
    /// before that draw. Call it before any other use of the table.
    pub fn return_branch(&mut self, branch: DrawnBranch) {
        self.rng.set_word_pos(branch.mark);
    }

    // ----- queries ----------------------------------------------------------------------------

    /// The INVITE server transaction a received CANCEL cancels (RFC 3261 §9.2): the one the
    /// CANCEL would match by §17.2.3 were its method INVITE. `None` if there is none (answer the
    /// CANCEL 481) or `cancel` is no CANCEL.
    #[must_use]
    pub fn find_invite_for_cancel(&self, cancel: &Message) -> Option<TransactionId> {
        if cancel.method() != Some(&Method::Cancel) {
            return None;
        }
        match cancel.via_branch_bytes() {
            Some(branch) if has_cookie(branch) => {
                let sent = top_sent_by(cancel)?;
                let hash = self.hasher.hash_one(branch);
                self.find_server(hash, branch, &sent, &Method::Invite)
            }
            _ => {
                let key = LegacyKey::of(cancel)?;
                let slots = &self.slots;
                let found = self.legacy.find(self.hasher.hash_one(key.hash_key()), |&i| {
                    live(slots, i)
                        .and_then(|e| e.server.as_ref()?.legacy.as_ref())
                        .is_some_and(|k| k.matches_cancel(&key))
                })?;
                Some(id_of(slots, *found))
            }
        }
    }

    /// Another live server transaction whose request shares the From tag, Call-ID and CSeq of
    /// server transaction `id`'s request, when that request had no To tag: RFC 3261 §8.2.2.2
    /// says answer `id` with 482 (Loop Detected). `None` when there is none.
    #[must_use]
    pub fn find_merged(&self, id: TransactionId) -> Option<TransactionId> {
        let server = self.entry(id)?.server.as_ref()?;
        if server.to_tag {
            return None;
        }
        let key = server.merge.as_ref()?;
        let slots = &self.slots;
        self.merges
            .iter_hash(server.merge_hash)
            .filter(|&&i| i != id.index)
            .find(|&&i| live(slots, i).and_then(|e| e.server.as_ref()?.merge.as_ref()) == Some(key))
            .map(|&i| id_of(slots, i))
    }

    /// The §8.2.2.2 merge key of server transaction `id`'s request.
    #[must_use]
    pub fn merge_key(&self, id: TransactionId) -> Option<&MergeKey> {
        let entry = self.entry(id)?;
        let server = entry.server.as_ref()?;
        if !server.to_tag {
            return server.merge.as_ref();
        }
        server
            .late_merge
            .get_or_init(|| reparse(&entry.request).and_then(|request| MergeKey::of(&request)))
            .as_ref()
    }

    /// The request that created transaction `id` (for a client, as sent, branch included).
    ///
    /// The table keeps the request's bytes, not its parsed form: the first call for a
    /// transaction parses them (about as costly as receiving the request) and keeps the result
    /// until the transaction begins to linger ([`TransactionState::is_lingering`]; a call after
    /// that parses them again). A server transaction's request is the one the TU received in
    /// [`Event::Request`], as [`Message::to_bytes`] writes it (a request received without
    /// Content-Length gains one).
    #[must_use]
    pub fn request(&self, id: TransactionId) -> Option<&Message> {
        let entry = self.entry(id)?;
        entry.parsed.get_or_init(|| reparse(&entry.request).map(Box::new)).as_deref()
    }

    /// The state of transaction `id`; `None` once it terminated.
    #[must_use]
    pub fn state(&self, id: TransactionId) -> Option<TransactionState> {
        Some(self.entry(id)?.machine.state())
    }

    /// The kind of transaction `id`; `None` once it terminated.
    #[must_use]
    pub fn kind(&self, id: TransactionId) -> Option<TransactionKind> {
        Some(self.entry(id)?.machine.kind())
    }

    /// The top Via branch of transaction `id`'s request (empty for an RFC 2543 request without
    /// one).
    #[must_use]
    pub fn branch(&self, id: TransactionId) -> Option<&str> {
        std::str::from_utf8(self.entry(id)?.branch()).ok()
    }

    /// Where transaction `id` sends: the target of a client transaction (after RFC 3261
    /// §18.1.1 may have moved it from UDP to TCP), the source of a server transaction's request.
    #[must_use]
    pub fn target(&self, id: TransactionId) -> Option<Target> {
        Some(self.entry(id)?.peer)
    }

    /// Whether transaction `id` is live.
    #[must_use]
    pub fn contains(&self, id: TransactionId) -> bool {
        self.entry(id).is_some()
    }

    /// Live transactions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.stats.live()
    }

    /// Whether no transaction is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    // ----- internals --------------------------------------------------------------------------

    /// Moves the clock (never backwards) and fires every due timer; returns the clock in the
    /// timer queue's ticks. Inlined into every entry point: most calls find nothing due.
    #[inline(always)]
    fn handle_due(&mut self, now: Instant) -> u64 {
        let now = self.queue.advance(now);
        if !self.trying.is_empty() && now > self.trying_tick {
            self.arm_trying();
        }
        if self.queue.due(now) {
            self.fire_due(now);
        }
        now
    }

    /// Arms the 100 (Trying) timers of the INVITE server transactions in `trying` that have
    /// not answered (the clock moved on since they began).
    #[inline(never)]
    fn arm_trying(&mut self) {
        let Self { trying, slots, queue, .. } = self;
        for &(id, drawn) in trying.iter() {
            if let Some(entry) = slots.get_mut(id) {
                if entry.machine.awaits_trying() {
                    entry.timers.arm_drawn(queue, id, drawn, Timer::Trying);
                }
            }
        }
        trying.clear();
    }

    /// [`handle_due`](Self::handle_due)'s work when a timer is due.
    #[inline(never)]
    fn fire_due(&mut self, now: u64) {
        while let Some((at, seq, id)) = self.queue.peek() {
            if at > now {
                break;
            }
            self.queue.pop();
            // The entry behind it may be spent.
            self.stale = true;
            // One slab lookup checks the entry, steps the machine, queues its next timer or,
            // if it terminated, frees it.
            let fire = |timers: &mut Timers, queue: &mut TimerQueue| {
                if !timers.is_queued(seq) {
                    return None;
                }
                let timer = timers.surface(seq);
                if timer.is_none() {
                    timers.requeue(queue, id);
                }
                Some(Stimulus::Timer(timer?))
            };
            let Self {
                slots,
                out,
                queue,
                stats,
                config,
                lingering,
                clients,
                servers,
                legacy,
                merges,
                spare_keys,
                stale,
                ..
            } = self;
            let freed = slots.update_or_remove(id, |entry| {
                let Some(input) = fire(&mut entry.timers, queue) else { return (None, false) };
                let Entry { machine, timers, request, peer, parsed, .. } = &mut *entry;
                let mut cx = Ctx { now, id, request, peer, config, out, queue, timers, stats };
                let step = run(machine, &mut cx, parsed, input, lingering);
                if !matches!(step, Ok((Next::Terminate, _))) {
                    timers.requeue(queue, id);
                    return (None, false);
                }
                let indexes = Indexes { clients, servers, legacy, merges, spare_keys };
                (Some(unlink(entry, id.index, indexes, stats)), true)
            });
            if let Some(Some(kind)) = freed {
                released(id, kind, stale, stats, out);
            }
        }
    }

    /// Drops spent entries from the top of the timer queue (their transaction ended, or the
    /// timer they name was cleared, its successor taking its place) so that `poll_timeout` is
    /// exact.
    ///
    /// Nothing to do unless something marked them [`stale`](Self::stale) since the last
    /// prune.
    #[inline]
    fn prune(&mut self) {
        if self.stale {
            self.stale = false;
            self.prune_spent();
        }
        // Debug builds (every test) check that nothing left unmarked needed the work.
        #[cfg(debug_assertions)]
        assert!(!self.front_spent(), "the timer queue or the lingering list starts spent");
    }

    /// Whether the timer queue's earliest entry or the front of `lingering` is spent (what
    /// [`prune`](Self::prune) drops), for the debug check.
    #[cfg(debug_assertions)]
    fn front_spent(&self) -> bool {
        let lingering = self.lingering.front().is_some_and(|&id| self.slots.get(id).is_none());
        let queue = self.queue.peek().is_some_and(|(_, seq, id)| {
            !self.slots.get(id).is_some_and(|e| e.timers.is_current(seq))
        });
        lingering || queue
    }

    /// [`prune`](Self::prune)'s work.
    fn prune_spent(&mut self) {
        while let Some(&id) = self.lingering.front() {
            if self.slots.get(id).is_some() {
                break;
            }
            self.lingering.pop_front();
        }
        while let Some((_, seq, id)) = self.queue.peek() {
            let Self { slots, queue, .. } = self;
            let entry = slots.get_mut(id);
            if entry.as_ref().is_some_and(|e| e.timers.is_current(seq)) {
                break;
            }
            queue.pop();
            if let Some(entry) = entry.filter(|e| e.timers.is_queued(seq)) {
                let _ = entry.timers.surface(seq);
                entry.timers.requeue(queue, id);
            }
        }
    }

    /// Matches a response (§17.1.3); returns which event carries it, and the transaction to
    /// free after that event, if it terminated.
    #[inline(always)]
    fn on_response(&mut self, now: u64, response: &Message) -> Delivery {
        let found = match (response.via_branch_bytes(), response.cseq_method()) {
            (Some(branch), Some(method)) => self.find_client(branch, method),
            _ => None,
        };
        match found {
            Some(id) => self.deliver(now, id, response),
            None => {
                self.stats.stray_responses += 1;
                (Up::Stray, None)
            }
        }
    }

    /// Matches a request (§17.2.3); returns as [`on_response`](Self::on_response).
    fn on_request(&mut self, now: u64, request: &Message, source: Target) -> Delivery {
        let Some(method) = request.method().cloned() else { return (Up::Nothing, None) };
        let is_ack = method == Method::Ack;
        let branch = request.via_branch_bytes();
        if (branch.is_none() && request.top_via().is_none())
            || request.cseq_number().is_none()
            || request.call_id_bytes().is_none()
        {
            self.stats.malformed += 1;
            return (Up::Nothing, None);
        }
        let (found, matching) = match branch.filter(|b| has_cookie(b)) {
            Some(branch) => {
                if !self.sent_by.read(request) {
                    self.stats.malformed += 1;
                    return (Up::Nothing, None);
                }
                let wanted = if is_ack { &Method::Invite } else { &method };
                let hash = self.hasher.hash_one(branch);
                let found = self.find_server(hash, branch, self.sent_by.current(), wanted);
                (found, Matching::Branch { hash })
            }
            None => {
                let Some(key) = LegacyKey::of(request) else {
                    self.stats.malformed += 1;
                    return (Up::Nothing, None);
                };
                let hash = self.hasher.hash_one(key.hash_key());
                (self.find_legacy(hash, &key, is_ack), Matching::Legacy { hash, key })
            }
        };
        match (found, is_ack) {
            (Some(id), true) => self.deliver(now, id, request),
            (Some(id), false) => {
                let _ = self.dispatch(now, id, Stimulus::Request);
                (Up::Nothing, None)
            }
            (None, true) => {
                self.stats.stray_acks += 1;
                (Up::Ack(None), None)
            }
            (None, false) => {
                let id = self.create_server(now, request, source, method, matching);
                (Up::Request(id), None)
            }
        }
    }

    fn create_server(
        &mut self,
        now: u64,
        request: &Message,
        source: Target,
        method: Method,
        matching: Matching,
    ) -> TransactionId {
        let to_tag = request.to_tag_bytes().is_some();
        // §8.2.2.2: only a request without a To tag can be merged, so only its key is read
        // and indexed now; `merge_key` reads that of any other from the kept bytes.
        let merge = if to_tag { None } else { MergeKey::of(request) };
        let merged = merge.is_some();
        let merge_hash = merge.as_ref().map_or(0, |key| self.hasher.hash_one(key));
        let bytes = request.to_bytes();
        let given = request.via_branch_bytes().unwrap_or_default();
        let branch = Branch::borrowed(&bytes, given);
        let cseq_method = request.cseq_method().cloned().unwrap_or_else(|| method.clone());
        let id = self.next_id();
        // The TU hears of the request before anything the transaction does (which starts with
        // no output: at most a timer).
        let legacy = matches!(matching, Matching::Legacy { .. });
        let invite = method == Method::Invite;
        let (machine, timers) = self.start(now, id, &bytes, source, |cx| {
            if invite {
                Machine::ServerInvite(ServerInvite::start(cx, legacy))
            } else {
                Machine::ServerNonInvite(ServerNonInvite::start())
            }
        });
        let kind = machine.kind();
        let (hash, sent_by, legacy) = match matching {
            // The sent-by `on_request` just read: copied now that it is kept.
            Matching::Branch { hash } => {
                (hash, Some(KeyBytes::from_slice(self.sent_by.current())), None)
            }
            Matching::Legacy { hash, key } => (hash, None, Some(Box::new(key))),
        };
        let cookie = sent_by.is_some();
        let server = match self.spare_keys.pop() {
            // Filled field by field: the kept box was emptied, so nothing is dropped, and no
            // whole `ServerKeys` is built on the stack first.
            Some(mut spare) => {
                spare.sent_by = sent_by;
                spare.legacy = legacy;
                spare.merge = merge;
                spare.merge_hash = merge_hash;
                spare.cseq_method = cseq_method;
                spare.to_tag = to_tag;
                spare
            }
            None => {
                let late_merge = OnceLock::new();
                Box::new(ServerKeys {
                    sent_by,
                    legacy,
                    merge,
                    merge_hash,
                    late_merge,
                    cseq_method,
                    to_tag,
                })
            }
        };
        let index = self.alloc(Entry {
            machine,
            timers,
            request: bytes,
            peer: source,
            branch,
            hash,
            named: false,
            server: Some(server),
            parsed: OnceLock::new(),
        });
        if let (true, Some(delay)) = (invite, self.config.trying_delay) {
            // §17.2.1: the 100 (Trying) timer, armed now as far as its deadline and arming
            // number go, queued only if the TU has not answered by the time the clock moves.
            let at = now.saturating_add(nanos(delay));
            let seq = self.queue.next_seq();
            if at > now {
                self.trying.push((id, (at, seq)));
                self.trying_tick = now;
            } else if let Some(entry) = self.slots.get_mut(id) {
                // No delay: due now, so armed now.
                entry.timers.arm_drawn(&mut self.queue, id, (at, seq), Timer::Trying);
            }
        }
        let Self { servers, legacy, merges, slots, .. } = self;
        let by_branch = if cookie { servers } else { legacy };
        by_branch.insert_unique(hash, index, |&i| index_hash(slots, i));
        if merged {
            merges.insert_unique(merge_hash, index, |&i| merge_hash_of(slots, i));
        }
        self.count_new(kind);
        id
    }

    /// The client transaction with `branch` whose request's method is `method` (§17.1.3): at
    /// the slot the branch names, if its transaction is [named](Entry::named) by it, else in
    /// `clients`.
    #[inline(always)]
    fn find_client(&self, branch: &[u8], method: &Method) -> Option<TransactionId> {
        let slots = &self.slots;
        if let Some(index) = branch_slot(branch)
            && let Some((id, e)) = slots.live_at(index)
            && e.named
            && same_branch(e.branch(), branch)
            // A branch is one transaction's, but for its CANCEL's (which is not named).
            && e.method_is(method)
        {
            return Some(id);
        }
        if self.clients.is_empty() {
            return None;
        }
        let found = self.clients.find(self.hasher.hash_one(branch), |&i| {
            live(slots, i).is_some_and(|e| e.branch() == branch && e.method_is(method))
        })?;
        Some(id_of(slots, *found))
    }

    /// Whether a live client transaction not [named](Entry::named) by its branch has `branch`,
    /// whatever its method (a branch naming a free slot is no named transaction's).
    fn unnamed_uses(&self, branch: &[u8]) -> bool {
        let slots = &self.slots;
        !self.clients.is_empty()
            && self
                .clients
                .find(self.hasher.hash_one(branch), |&i| {
                    live(slots, i).is_some_and(|e| e.branch() == branch)
                })
                .is_some()
    }

    fn find_server(
        &self,
        hash: u64,
        branch: &[u8],
        sent: &[u8],
        method: &Method,
    ) -> Option<TransactionId> {
        let slots = &self.slots;
        let found = self.servers.find(hash, |&i| {
            live(slots, i).is_some_and(|e| {
                e.branch() == branch
                    && e.method_is(method)
                    && e.server.as_ref().and_then(|s| s.sent_by.as_deref()) == Some(sent)
            })
        })?;
        Some(id_of(slots, *found))
    }

    fn find_legacy(&self, hash: u64, key: &LegacyKey, is_ack: bool) -> Option<TransactionId> {
        let slots = &self.slots;
        let found = self.legacy.find(hash, |&i| {
            let Some(entry) = live(slots, i) else { return false };
            let Some(own) = entry.server.as_ref().and_then(|s| s.legacy.as_ref()) else {
                return false;
            };
            if is_ack {
                let to_tag = match &entry.machine {
                    Machine::ServerInvite(m) => m.final_to_tag(),
                    Machine::ClientInvite(_)
                    | Machine::ClientNonInvite(_)
                    | Machine::ServerNonInvite(_) => None,
                };
                own.matches_ack(key, to_tag)
            } else {
                own.matches_request(key)
            }
        })?;
        Some(id_of(slots, *found))
    }

    /// A branch no live client transaction uses, naming the slot the next transaction takes
    /// ([`name_slot`]). The generator is drawn as many times as it always was: once, and again
    /// for each of up to `BRANCH_ATTEMPTS - 1` branches found taken.
    fn fresh_branch(&mut self) -> [u8; BRANCH_LEN] {
        let slot = self.next_id().index;
        let mut attempts = 1;
        loop {
            let mut branch = new_branch_bytes(&mut self.rng);
            // Named after the free slot, the branch is no named transaction's; else (a slab
            // too large to name its slots) a named one's by odds of 62^-16.
            name_slot(&mut branch, slot);
            if !self.unnamed_uses(&branch) {
                self.drawn = Some(Drawn { branch, started: self.clients_started });
                return branch;
            }
            if attempts == BRANCH_ATTEMPTS {
                self.drawn = None;
                return branch;
            }
            attempts += 1;
        }
    }

    fn entry(&self, id: TransactionId) -> Option<&Entry> {
        self.slots.get(id)
    }

    /// The id the next [`alloc`](Self::alloc) returns.
    #[inline]
    fn next_id(&self) -> TransactionId {
        self.slots.next_id()
    }

    /// Puts `entry` in the slab; returns its slot's index.
    #[inline(always)]
    fn alloc(&mut self, entry: Entry) -> u32 {
        self.slots.insert(entry)
    }

    /// Runs a machine's `start` for the transaction about to get `id`, returning what it built
    /// and the timers it armed.
    fn start<R>(
        &mut self,
        now: u64,
        id: TransactionId,
        request: &Bytes,
        peer: Target,
        f: impl FnOnce(&mut Ctx<'_>) -> R,
    ) -> (R, Timers) {
        let mut timers = Timers::default();
        let Self { out, queue, stats, config, .. } = self;
        let mut cx =
            Ctx { now, id, request, peer: &peer, config, out, queue, timers: &mut timers, stats };
        let built = f(&mut cx);
        (built, timers)
    }

    fn count_new(&mut self, kind: TransactionKind) {
        self.stats.created += 1;
        self.stats.pending += 1;
        *self.stats.live_mut(kind) += 1;
    }

    /// Runs transaction `id`'s machine on `input`.
    fn step(&mut self, now: u64, id: TransactionId, input: Stimulus<'_>) -> Step {
        // The step may clear or re-arm this transaction's timers: that spends its queue entry,
        // which matters only when the entry is the earliest (a timer the step arms is queued
        // current, and other transactions' entries stay as they were).
        if self.queue.peek().is_some_and(|(_, _, top)| top == id) {
            self.stale = true;
        }
        self.step_with(now, id, |_| Ok(()), |_, _| Some(input))
            .unwrap_or(Err(ResponseError::UnknownTransaction))
    }

    /// Runs transaction `id`'s machine, once `check` accepts it (else its error), on the
    /// stimulus `pick` draws from its timers (`None`: no step). `None` if `id` is not live or
    /// `pick` declined. (A fired timer's step, which also requeues and frees, is
    /// [`fire_due`](Self::fire_due)'s.)
    #[inline(always)]
    fn step_with<'m>(
        &mut self,
        now: u64,
        id: TransactionId,
        check: impl FnOnce(&Entry) -> Result<(), ResponseError>,
        pick: impl FnOnce(&mut Timers, &mut TimerQueue) -> Option<Stimulus<'m>>,
    ) -> Option<Step> {
        let Self { slots, out, queue, stats, config, lingering, .. } = self;
        let entry = slots.get_mut(id)?;
        if let Err(e) = check(entry) {
            return Some(Err(e));
        }
        let input = pick(&mut entry.timers, queue)?;
        let mut cx = Ctx {
            now,
            id,
            request: &entry.request,
            peer: &entry.peer,
            config,
            out,
            queue,
            timers: &mut entry.timers,
            stats,
        };
        Some(run(&mut entry.machine, &mut cx, &mut entry.parsed, input, lingering))
    }

    /// Delivers `input` to transaction `id` and frees it if it terminates.
    fn dispatch(
        &mut self,
        now: u64,
        id: TransactionId,
        input: Stimulus<'_>,
    ) -> Result<(), ResponseError> {
        let (next, _) = self.step(now, id, input)?;
        if next == Next::Terminate {
            self.release(id);
        }
        Ok(())
    }

    /// Delivers a received response (client) or ACK (INVITE server) to transaction `id`: which
    /// event passes it up, and the transaction to free once that event is queued.
    #[inline(always)]
    fn deliver(&mut self, now: u64, id: TransactionId, message: &Message) -> Delivery {
        let input = if message.is_request() { Stimulus::Ack } else { Stimulus::Response(message) };
        let Ok((next, up)) = self.step(now, id, input) else { return (Up::Nothing, None) };
        let up = match up {
            Pass::Nothing => Up::Nothing,
            Pass::Provisional => Up::Provisional(id),
            Pass::Final => Up::Final(id),
            Pass::Additional2xx => Up::Additional2xx(id),
            Pass::Ack => Up::Ack(Some(id)),
        };
        (up, (next == Next::Terminate).then_some(id))
    }

    /// Frees transaction `id`: out of the slab and every index; its queued timers go stale.
    fn release(&mut self, id: TransactionId) {
        let Self { slots, clients, servers, legacy, merges, spare_keys, stats, out, stale, .. } =
            self;
        // One lookup serves the whole release.
        let kind = slots.remove_with(id, |entry| {
            let indexes = Indexes { clients, servers, legacy, merges, spare_keys };
            unlink(entry, id.index, indexes, stats)
        });
        if let Some(kind) = kind {
            released(id, kind, stale, stats, out);
        }
    }

    /// Queued timer entries, stale ones included (for tests of the lazy queue).
    #[cfg(test)]
    pub(crate) fn queued_timers(&self) -> usize {
        self.queue.len()
    }
}

/// Whether two branches are equal, the common generated length compared as one of a known
/// length (inline, no `memcmp` call).
#[inline(always)]
fn same_branch(a: &[u8], b: &[u8]) -> bool {
    if b.len() == BRANCH_LEN { a.len() == BRANCH_LEN && a == b } else { a == b }
}

/// Steps `machine` on `input` and, if that makes it linger, counts it so, queues it on
/// `lingering` and drops its cached parse: the work every step shares.
#[inline(always)]
fn run(
    machine: &mut Machine,
    cx: &mut Ctx<'_>,
    parsed: &mut OnceLock<Option<Box<Message>>>,
    input: Stimulus<'_>,
    lingering: &mut VecDeque<TransactionId>,
) -> Step {
    let was_pending = !machine.state().is_lingering();
    let step = machine.handle(cx, input);
    if was_pending && machine.state().is_lingering() {
        cx.stats.pending = cx.stats.pending.saturating_sub(1);
        lingering.push_back(cx.id);
        // The cached parse, if the TU asked for one, is dropped now, while its memory is still
        // in cache, rather than when the lingering timer frees the transaction (up to 64*T1
        // later, cold); `request` parses the kept bytes again if asked.
        drop(parsed.take());
    }
    step
}

/// The table's matching indexes and spare key boxes, which freeing a transaction updates.
struct Indexes<'a> {
    clients: &'a mut HashTable<u32>,
    servers: &'a mut HashTable<u32>,
    legacy: &'a mut HashTable<u32>,
    merges: &'a mut HashTable<u32>,
    // The table's own list (see `TransactionTable::spare_keys`).
    #[allow(clippy::vec_box)]
    spare_keys: &'a mut Vec<Box<ServerKeys>>,
}

/// [`TransactionTable::release`]'s work on the entry in slot `index`, about to be freed: out of
/// every index, its key box kept for the next server transaction; returns its kind.
#[inline(always)]
fn unlink(entry: &mut Entry, index: u32, ix: Indexes<'_>, stats: &mut Stats) -> TransactionKind {
    let Indexes { clients, servers, legacy, merges, spare_keys } = ix;
    let kind = entry.machine.kind();
    if !entry.machine.state().is_lingering() {
        stats.pending = stats.pending.saturating_sub(1);
    }
    match &entry.server {
        None if entry.named => {}
        None => unindex(clients, entry.hash, index),
        Some(server) => {
            let by_branch = if server.sent_by.is_some() { servers } else { legacy };
            unindex(by_branch, entry.hash, index);
            // Indexed only if read when the transaction began (see `create_server`).
            if server.merge.is_some() {
                unindex(merges, server.merge_hash, index);
            }
        }
    }
    if spare_keys.len() < SPARE_KEYS
        && let Some(mut keys) = entry.server.take()
    {
        // Emptied: a kept box must not keep the request's buffer alive.
        keys.merge = None;
        keys.late_merge.take();
        keys.legacy = None;
        keys.sent_by = None;
        spare_keys.push(keys);
    }
    kind
}

/// [`TransactionTable::release`]'s work once transaction `id`, of `kind`, is out of the slab.
#[inline(always)]
fn released(
    id: TransactionId,
    kind: TransactionKind,
    stale: &mut bool,
    stats: &mut Stats,
    out: &mut Outbox,
) {
    // Its queue entries and its place in `lingering` are spent.
    *stale = true;
    let live = stats.live_mut(kind);
    *live = live.saturating_sub(1);
    stats.terminated += 1;
    out.push(LightOutput::Terminated { id });
}

/// A request being sent: owned (changed in place) or borrowed (copied on the first change).
trait RequestSlot {
    fn get(&self) -> &Message;
    fn get_mut(&mut self) -> &mut Message;
}

impl RequestSlot for Message {
    fn get(&self) -> &Message {
        self
    }

    fn get_mut(&mut self) -> &mut Message {
        self
    }
}

impl RequestSlot for Cow<'_, Message> {
    fn get(&self) -> &Message {
        self
    }

    fn get_mut(&mut self) -> &mut Message {
        self.to_mut()
    }
}

/// Which event carries a received message up to the TU.
enum Up {
    Nothing,
    Request(TransactionId),
    Provisional(TransactionId),
    Final(TransactionId),
    Additional2xx(TransactionId),
    Ack(Option<TransactionId>),
    Stray,
}

/// What became of a received message: its event, and a transaction to free after it.
type Delivery = (Up, Option<TransactionId>);

/// How a new server transaction will be found again.
enum Matching {
    /// RFC 3261: by branch (hashed), sent-by (the table's [`SentByMemo`] holds it) and method.
    Branch { hash: u64 },
    /// RFC 2543: by the whole key, hashed on Call-ID and CSeq number.
    Legacy { hash: u64, key: LegacyKey },
}

impl Default for TransactionTable {
    fn default() -> Self {
        Self::new(TransactionConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sip_message::{HeaderName as H, MessageBuilder};

    use super::*;
    use crate::keys::BRANCH_COOKIE;

    fn options() -> Message {
        MessageBuilder::request(&Method::Options, "sip:bob@example.com")
            .header(H::Via, "SIP/2.0/UDP 192.0.2.1")
            .header(H::To, "<sip:bob@example.com>")
            .header(H::From, "<sip:alice@example.com>;tag=1")
            .header(H::CallId, "c")
            .header(H::CSeq, "1 OPTIONS")
            .build()
            .unwrap()
    }

    /// OPTIONS with `branch` in its top Via.
    fn options_with(branch: &str) -> Message {
        let mut request = options();
        request.set(H::Via, format!("SIP/2.0/UDP 192.0.2.1;branch={branch}")).unwrap();
        request
    }

    #[test]
    fn a_drawn_branch_is_searched_for_again_once_a_client_transaction_began() {
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let target = Target::udp("192.0.2.2:5060".parse().unwrap());
        let drawn = table.draw_branch();
        assert!(!table.has_output());
        // Sent as drawn: the hash kept with it is the one responses are matched by.
        let id = table.send_request(t0, options_with(drawn.as_str()), target).unwrap();
        let sent = table.request(id).unwrap().clone();
        assert!(table.has_output(), "the first transmit");
        while table.poll_output().is_some() {}
        assert!(!table.has_output());
        let ok = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        table.handle_message(t0, ok, target);
        assert!(matches!(
            table.poll_output(),
            Some(crate::Output::Event(crate::Event::Final { id: got, .. })) if got == id
        ));
        // The same branch again: a client transaction began since the draw, so it is found.
        assert_eq!(
            table.send_request(t0, options_with(drawn.as_str()), target),
            Err(SendError::DuplicateBranch)
        );
        // A branch drawn after another client transaction began is new, and still checked
        // when one with that branch began in between.
        let next = table.draw_branch();
        assert_ne!(next, drawn);
        let other = options_with(next.as_str());
        table.send_request(t0, other.clone(), target).unwrap();
        assert_eq!(table.send_request(t0, other, target), Err(SendError::DuplicateBranch));
    }

    #[test]
    fn the_queue_holds_each_transaction_s_earliest_timer_only() {
        // Timer F waits behind Timer E in its slot; a final clears both and arms K, and the
        // spent E entry is dropped as soon as it surfaces, K taking its place, so poll_timeout
        // is exact.
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let target = Target::udp("192.0.2.2:5060".parse().unwrap());
        let id = table.send_request(t0, options(), target).unwrap();
        assert_eq!(table.queued_timers(), 1, "E only");
        assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_millis(500)));
        // E fires and re-arms at 2*T1; F is still not queued.
        table.handle_timeout(t0 + Duration::from_millis(500));
        assert_eq!(table.queued_timers(), 1);
        assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_millis(1500)));
        let sent = table.request(id).unwrap().clone();
        let ok = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        table.handle_message(t0 + Duration::from_millis(600), ok, target);
        assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_millis(5600)));
        assert_eq!(table.queued_timers(), 1, "K; the spent E entry was dropped");
        table.handle_timeout(t0 + Duration::from_millis(5600));
        assert_eq!((table.queued_timers(), table.poll_timeout()), (0, None));
        assert!(table.is_empty());
    }

    #[test]
    fn a_later_timer_behind_a_cleared_one_still_fires_on_time() {
        // Server INVITE over UDP answered 486: G (T1) and H (64*T1) are armed, only G queued.
        // No ACK comes: G keeps retransmitting, and H, queued only when G's entries surface,
        // still fires at exactly 64*T1.
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let source = Target::udp("192.0.2.2:5060".parse().unwrap());
        let invite = MessageBuilder::request(&Method::Invite, "sip:bob@example.com")
            .header(H::Via, "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKg1")
            .header(H::To, "<sip:bob@example.com>")
            .header(H::From, "<sip:alice@example.com>;tag=1")
            .header(H::CallId, "g")
            .header(H::CSeq, "1 INVITE")
            .build()
            .unwrap();
        table.handle_message(t0, invite.clone(), source);
        let id = match table.poll_output() {
            Some(crate::Output::Event(crate::Event::Request { id, .. })) => id,
            other => panic!("{other:?}"),
        };
        let busy = MessageBuilder::response_to(&invite, 486, None).to_tag("b").build().unwrap();
        table.send_response(t0, id, busy).unwrap();
        while table.poll_output().is_some() {}
        let mut fired = Vec::new();
        while let Some(at) = table.poll_timeout() {
            table.handle_timeout(at);
            while let Some(output) = table.poll_output() {
                fired.push((at - t0, output));
            }
        }
        let retransmits = fired.iter().filter(|(_, o)| matches!(o, crate::Output::Transmit(_)));
        // G at 0.5, 1.5, 3.5, 7.5 s, then every T2 (4 s) up to 31.5 s: 10 retransmissions.
        assert_eq!(retransmits.count(), 10);
        let timed_out = fired.iter().find_map(|(at, o)| match o {
            crate::Output::Event(crate::Event::TimedOut { timer, .. }) => Some((*at, *timer)),
            _ => None,
        });
        assert_eq!(timed_out, Some((Duration::from_secs(32), crate::Timer::H)));
        assert!(table.is_empty() && table.queued_timers() == 0);
    }

    #[test]
    fn the_request_is_still_given_once_the_transaction_lingers() {
        // The cached parse is dropped on entering Completed; the request is parsed again.
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let source = Target::udp("192.0.2.2:5060".parse().unwrap());
        let request = MessageBuilder::request(&Method::Options, "sip:bob@example.com")
            .header(H::Via, "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKlinger")
            .header(H::To, "<sip:bob@example.com>")
            .header(H::From, "<sip:alice@example.com>;tag=1")
            .header(H::CallId, "l")
            .header(H::CSeq, "1 OPTIONS")
            .build()
            .unwrap();
        table.handle_message(t0, request.clone(), source);
        let id = match table.poll_output() {
            Some(crate::Output::Event(crate::Event::Request { id, .. })) => id,
            other => panic!("{other:?}"),
        };
        let before = table.request(id).unwrap().to_bytes();
        assert!(table.entry(id).unwrap().parsed.get().is_some());
        let ok = MessageBuilder::response_to(&request, 200, None).to_tag("t").build().unwrap();
        table.send_response(t0, id, ok).unwrap();
        assert_eq!(table.state(id), Some(TransactionState::Completed));
        assert!(table.entry(id).unwrap().parsed.get().is_none(), "dropped on lingering");
        assert_eq!(table.request(id).unwrap().to_bytes(), before);
        // The client side: K's Completed keeps the request too.
        let sent = table.send_request(t0, options(), source).unwrap();
        let request = table.request(sent).unwrap().clone();
        let ok = MessageBuilder::response_to(&request, 200, None).build().unwrap();
        table.handle_message(t0, ok, source);
        assert_eq!(table.state(sent), Some(TransactionState::Completed));
        assert!(table.entry(sent).unwrap().parsed.get().is_none());
        assert_eq!(table.request(sent).unwrap().to_bytes(), request.to_bytes());
    }

    #[test]
    fn method_is_answers_as_the_request_bytes_do() {
        // The INVITE machines' shortcut gives what comparing the request line gives, for every
        // method, an extension spelled INVITE included.
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let peer = Target::udp("192.0.2.2:5060".parse().unwrap());
        let request = |method: &Method, branch: &str| {
            MessageBuilder::request(method, "sip:bob@example.com")
                .header(H::Via, format!("SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK{branch}"))
                .header(H::To, "<sip:bob@example.com>")
                .header(H::From, "<sip:alice@example.com>;tag=1")
                .header(H::CallId, "m")
                .cseq(1, method)
                .build()
                .unwrap()
        };
        let mut ids = vec![
            table.send_request(t0, request(&Method::Invite, "ci"), peer).unwrap(),
            table.send_request(t0, request(&Method::Bye, "cn"), peer).unwrap(),
        ];
        for (method, branch) in [(Method::Invite, "si"), (Method::Options, "sn")] {
            table.handle_message(t0, request(&method, branch), peer);
        }
        while let Some(output) = table.poll_output() {
            if let Output::Event(Event::Request { id, .. }) = output {
                ids.push(id);
            }
        }
        assert_eq!(ids.len(), 4);
        let methods = [
            Method::Invite,
            Method::Ack,
            Method::Bye,
            Method::Cancel,
            Method::Options,
            Method::Register,
            Method::Extension(Bytes::from_static(b"INVITE")),
            Method::Extension(Bytes::from_static(b"INVIT")),
            Method::Extension(Bytes::from_static(b"FOO")),
        ];
        let mut matched = 0;
        for id in ids {
            let entry = table.entry(id).unwrap();
            for method in &methods {
                let token = method.as_bytes();
                let by_bytes = entry.request.get(..token.len()) == Some(token)
                    && entry.request.get(token.len()) == Some(&b' ');
                assert_eq!(entry.method_is(method), by_bytes, "{:?} {method:?}", entry.machine);
                matched += usize::from(by_bytes);
            }
        }
        // INVITE and its extension spelling for the two INVITE machines; BYE and OPTIONS.
        assert_eq!(matched, 6);
    }

    #[test]
    fn a_client_branch_is_a_range_of_the_request_bytes_sent() {
        // Given or fresh, kept on UDP or moved to TCP (§18.1.1, the Via rewritten): the entry
        // finds its branch in the bytes it sends, and names the branch the request carries.
        let given = MessageBuilder::request(&Method::Options, "sip:bob@example.com")
            .header(H::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKgiven")
            .header(H::To, "<sip:bob@example.com>")
            .header(H::From, "<sip:alice@example.com>;tag=1")
            .header(H::CallId, "c")
            .header(H::CSeq, "1 OPTIONS")
            .build()
            .unwrap();
        for (limit, tcp) in [(None, false), (Some(100), true)] {
            let config = TransactionConfig::default().udp_request_limit(limit);
            let mut table = TransactionTable::new(config);
            let t0 = Instant::now();
            let peer = Target::udp("192.0.2.2:5060".parse().unwrap());
            let ids = [
                table.send_request_ref(t0, &given, peer).unwrap(),
                table.send_request(t0, options(), peer).unwrap(),
            ];
            let mut sent = Vec::new();
            while let Some(output) = table.poll_output() {
                if let Output::Transmit(t) = output {
                    sent.push(t);
                }
            }
            assert_eq!(sent.len(), 2);
            for (id, transmit) in ids.into_iter().zip(&sent) {
                let entry = table.entry(id).unwrap();
                assert!(matches!(entry.branch, Branch::In(..)), "{:?}", entry.branch);
                let message = Message::parse(transmit.payload.clone()).unwrap();
                assert_eq!(message.via_branch_bytes(), Some(entry.branch()));
                assert_eq!(message.top_via().unwrap().starts_with(b"SIP/2.0/TCP"), tcp);
                assert_eq!(table.target(id).map(|t| t.is_reliable()), Some(tcp));
            }
            assert_eq!(table.branch(ids[0]), Some("z9hG4bKgiven"));
        }
    }

    fn invite(branch: &str) -> Message {
        MessageBuilder::request(&Method::Invite, "sip:bob@example.com")
            .header(H::Via, format!("SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK{branch}"))
            .header(H::To, "<sip:bob@example.com>")
            .header(H::From, "<sip:alice@example.com>;tag=1")
            .header(H::CallId, format!("t-{branch}"))
            .header(H::CSeq, "1 INVITE")
            .build()
            .unwrap()
    }

    /// Every output until `table` is idle, each with when it came out, firing timers as
    /// `poll_timeout` says.
    fn run_out(table: &mut TransactionTable, t0: Instant) -> Vec<(Duration, Output)> {
        let mut seen = Vec::new();
        while let Some(output) = table.poll_output() {
            seen.push((Duration::ZERO, output));
        }
        while let Some(at) = table.poll_timeout() {
            table.handle_timeout(at);
            while let Some(output) = table.poll_output() {
                seen.push((at - t0, output));
            }
        }
        seen
    }

    fn status_sent(output: &Output) -> Option<u16> {
        match output {
            Output::Transmit(t) => Message::parse(t.payload.clone()).ok()?.status(),
            _ => None,
        }
    }

    #[test]
    fn an_invite_answered_before_the_clock_moves_never_queues_its_trying_timer() {
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let source = Target::udp("192.0.2.2:5060".parse().unwrap());
        let request = invite("a1");
        table.handle_message(t0, request.clone(), source);
        let Some(Output::Event(Event::Request { id, .. })) = table.poll_output() else { panic!() };
        // Counted by poll_timeout before it is queued.
        assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_millis(200)));
        assert_eq!(table.queued_timers(), 0);
        let ringing = MessageBuilder::response_to(&request, 180, None).to_tag("b").build().unwrap();
        table.send_response(t0, id, ringing).unwrap();
        assert_eq!(table.poll_timeout(), None, "answered: no Trying timer");
        // The clock moves: nothing is armed, no 100 goes out.
        table.handle_timeout(t0 + Duration::from_secs(1));
        let seen = run_out(&mut table, t0);
        assert_eq!(seen.iter().filter_map(|(_, o)| status_sent(o)).collect::<Vec<_>>(), [180]);
        assert_eq!(table.queued_timers(), 0);
        assert_eq!(table.state(id), Some(TransactionState::Proceeding));
    }

    #[test]
    fn an_invite_unanswered_when_the_clock_moves_gets_its_trying_timer_on_time() {
        // Unanswered at 100 ms: the timer is queued then and fires at 200 ms; answered at
        // 100 ms instead: no 100. And with no delay the 100 goes at once.
        for answer in [false, true] {
            let mut table = TransactionTable::default();
            let t0 = Instant::now();
            let source = Target::udp("192.0.2.2:5060".parse().unwrap());
            let request = invite("u1");
            table.handle_message(t0, request.clone(), source);
            let Some(Output::Event(Event::Request { id, .. })) = table.poll_output() else {
                panic!()
            };
            let t100 = t0 + Duration::from_millis(100);
            table.handle_timeout(t100);
            assert_eq!(table.queued_timers(), 1);
            if answer {
                let ringing =
                    MessageBuilder::response_to(&request, 180, None).to_tag("b").build().unwrap();
                table.send_response(t100, id, ringing).unwrap();
            }
            let sent: Vec<_> = run_out(&mut table, t0)
                .iter()
                .filter_map(|(at, o)| Some((*at, status_sent(o)?)))
                .collect();
            let expected =
                if answer { (Duration::ZERO, 180) } else { (Duration::from_millis(200), 100) };
            assert_eq!(sent, [expected]);
        }
        let mut table =
            TransactionTable::new(TransactionConfig::default().trying_delay(Some(Duration::ZERO)));
        let t0 = Instant::now();
        table.handle_message(t0, invite("z1"), Target::udp("192.0.2.2:5060".parse().unwrap()));
        assert_eq!(table.poll_timeout(), Some(t0));
        let sent: Vec<_> =
            run_out(&mut table, t0).iter().filter_map(|(_, o)| status_sent(o)).collect();
        assert_eq!(sent, [100]);
    }

    #[test]
    fn a_trying_timer_armed_late_keeps_its_place_among_equal_deadlines() {
        // T1 = 200 ms: the server's Trying timer and a client's Timer A, armed after it in the
        // same instant, share a deadline; the 100 goes out first, as it did when the timer was
        // queued at once.
        let config = TransactionConfig::default().t1(Duration::from_millis(200));
        let mut table = TransactionTable::new(config);
        let t0 = Instant::now();
        let peer = Target::udp("192.0.2.2:5060".parse().unwrap());
        table.handle_message(t0, invite("o1"), peer);
        table.send_request(t0, options(), peer).unwrap();
        let at = t0 + Duration::from_millis(200);
        assert_eq!(table.poll_timeout(), Some(at));
        while table.poll_output().is_some() {}
        table.handle_timeout(at);
        let mut order = Vec::new();
        while let Some(output) = table.poll_output() {
            if let Output::Transmit(t) = output {
                let message = Message::parse(t.payload).unwrap();
                order.push(message.status().map_or("request", |_| "100"));
            }
        }
        assert_eq!(order, ["100", "request"]);
    }

    /// The final response event `table` gives for `response`, if any: its transaction.
    fn final_for(
        table: &mut TransactionTable,
        t0: Instant,
        response: Message,
    ) -> Option<TransactionId> {
        let target = Target::udp("192.0.2.2:5060".parse().unwrap());
        while table.poll_output().is_some() {}
        table.handle_message(t0, response, target);
        let mut got = None;
        while let Some(output) = table.poll_output() {
            if let crate::Output::Event(crate::Event::Final { id, .. }) = output {
                got = Some(id);
            }
        }
        got
    }

    #[test]
    fn responses_find_transactions_named_by_their_branch_and_no_others() {
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let target = Target::udp("192.0.2.2:5060".parse().unwrap());
        // Drawn by the table: the branch names the slot, which finds the transaction.
        let first = table.send_request(t0, options(), target).unwrap();
        let sent = table.request(first).unwrap().clone();
        let branch = sent.via_branch_bytes().unwrap().to_vec();
        assert_eq!(branch_slot(&branch), Some(first.index));
        let live = table.entry(first).unwrap();
        assert!(live.named);
        // The same slot named with other random characters: no transaction's.
        let mut other = branch.clone();
        other[BRANCH_COOKIE.len()] = if other[BRANCH_COOKIE.len()] == b'a' { b'b' } else { b'a' };
        let mut stray = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        let via = format!("SIP/2.0/UDP 192.0.2.1;branch={}", std::str::from_utf8(&other).unwrap());
        stray.set(H::Via, via).unwrap();
        assert_eq!(final_for(&mut table, t0, stray), None);
        let ok = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        assert_eq!(final_for(&mut table, t0, ok.clone()), Some(first));
        // The slot freed and reused: the old branch finds nothing, the new one its own.
        assert!(table.terminate(t0, first));
        let second = table.send_request(t0, options(), target).unwrap();
        assert_eq!(second.index, first.index);
        assert_eq!(final_for(&mut table, t0, ok), None);
        let sent = table.request(second).unwrap().clone();
        let ok = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        assert_eq!(final_for(&mut table, t0, ok), Some(second));
        // A branch the TU wrote that names another slot is indexed by its hash, and found.
        let named_elsewhere = {
            let mut b = [b'x'; BRANCH_LEN];
            b[..BRANCH_COOKIE.len()].copy_from_slice(BRANCH_COOKIE.as_bytes());
            assert!(name_slot(&mut b, 40));
            String::from_utf8(b.to_vec()).unwrap()
        };
        let third = table.send_request(t0, options_with(&named_elsewhere), target).unwrap();
        assert!(!table.entry(third).unwrap().named);
        let sent = table.request(third).unwrap().clone();
        let ok = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        assert_eq!(final_for(&mut table, t0, ok), Some(third));
        assert_eq!(
            table.send_request(t0, options_with(&named_elsewhere), target),
            Err(SendError::DuplicateBranch)
        );
        // A drawn branch with a `.`-suffix (a proxy's loop part) names its slot too: found by
        // it, and a second send of it is refused.
        let dotted = format!("{}.0123456789abcdef", table.draw_branch().as_str());
        let fourth = table.send_request(t0, options_with(&dotted), target).unwrap();
        assert!(table.entry(fourth).unwrap().named);
        assert_eq!(branch_slot(dotted.as_bytes()), Some(fourth.index));
        assert_eq!(
            table.send_request(t0, options_with(&dotted), target),
            Err(SendError::DuplicateBranch)
        );
        let sent = table.request(fourth).unwrap().clone();
        let ok = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        assert_eq!(final_for(&mut table, t0, ok.clone()), Some(fourth));
        // Another suffix on the same drawn part: no transaction's.
        let mut stray = ok;
        let via = format!("SIP/2.0/UDP 192.0.2.1;branch={}", dotted.replace(".0123", ".9999"));
        stray.set(H::Via, via).unwrap();
        assert_eq!(final_for(&mut table, t0, stray), None);
    }

    #[test]
    fn a_stateless_branch_is_the_draw_a_transaction_branch_would_be() {
        let config = TransactionConfig::default().rng_seed(9);
        let (mut searched, mut stateless) =
            (TransactionTable::new(config.clone()), TransactionTable::new(config));
        for _ in 0..50 {
            assert_eq!(
                searched.draw_branch().as_bytes(),
                stateless.draw_stateless_branch().as_bytes()
            );
        }
        // Given back, it leaves the generator where it was.
        let drawn = stateless.draw_stateless_branch();
        stateless.return_branch(drawn);
        assert_eq!(searched.draw_branch().as_bytes(), stateless.draw_stateless_branch().as_bytes());
    }

    #[test]
    fn slots_are_reused_with_a_new_generation() {
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let target = Target::tcp("192.0.2.2:5060".parse().unwrap());
        let first = table.send_request(t0, options(), target).unwrap();
        table.handle_transport_error(t0, first);
        let second = table.send_request(t0, options(), target).unwrap();
        assert_eq!(first.index, second.index);
        assert_ne!(first.generation, second.generation);
        assert!(table.entry(first).is_none() && table.entry(second).is_some());
    }
}
