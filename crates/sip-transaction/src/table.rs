//! [`TransactionTable`]: creates, matches, drives and frees every transaction of one endpoint.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sip_message::{HeaderName, Message, Method};
use smallvec::SmallVec;

use crate::client::{ClientInvite, ClientNonInvite};
use crate::keys::{LegacyHash, LegacyKey, build_cancel, has_cookie, new_branch, top_sent_by};
use crate::machine::{Ctx, Next, Stimulus, TimerQueue, Timers};
use crate::server::{ServerInvite, ServerNonInvite};
use crate::{
    CancelError, Event, MergeKey, Output, ResponseError, SendError, Stats, Target,
    TransactionConfig, TransactionId, TransactionKind, TransactionState, Transmit,
};

/// An input to [`TransactionTable::handle`].
// A `Message` is an inline index (~800 bytes); inputs are moved once, so no box.
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
    now: Option<Instant>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Client transactions by branch; the INVITE and its CANCEL share one (§9.1).
    clients: HashMap<Box<str>, SmallVec<[TransactionId; 2]>>,
    /// Server transactions with an RFC 3261 branch, by branch.
    servers: HashMap<Box<str>, SmallVec<[TransactionId; 2]>>,
    /// Server transactions created by RFC 2543 requests, by Call-ID and CSeq number.
    legacy: HashMap<LegacyHash, SmallVec<[TransactionId; 2]>>,
    /// Server transactions by §8.2.2.2 merge key.
    merges: HashMap<MergeKey, SmallVec<[TransactionId; 2]>>,
    queue: TimerQueue,
    out: VecDeque<Output>,
    stats: Stats,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

#[derive(Debug)]
struct Entry {
    machine: Machine,
    timers: Timers,
    branch: Box<str>,
    method: Method,
    /// Server transactions with a cookie branch: the top Via sent-by (§17.2.3 rule 2).
    sent_by: Option<Box<str>>,
    /// Server transactions from RFC 2543 requests.
    legacy: Option<LegacyKey>,
    /// Server transactions: the §8.2.2.2 key, if the request had one.
    merge: Option<MergeKey>,
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

    fn request(&self) -> &Message {
        match self {
            Machine::ClientInvite(m) => m.request(),
            Machine::ClientNonInvite(m) => m.request(),
            Machine::ServerInvite(m) => m.request(),
            Machine::ServerNonInvite(m) => m.request(),
        }
    }

    fn handle(&mut self, cx: &mut Ctx<'_>, input: Stimulus) -> Result<Next, ResponseError> {
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

impl TransactionTable {
    /// An empty table.
    #[must_use]
    pub fn new(config: TransactionConfig) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            config,
            now: None,
            slots: Vec::new(),
            free: Vec::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            legacy: HashMap::new(),
            merges: HashMap::new(),
            queue: TimerQueue::default(),
            out: VecDeque::new(),
            stats: Stats::default(),
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
        let now = self.handle_due(now);
        if message.is_request() {
            self.on_request(now, message, source);
        } else {
            self.on_response(now, message, source);
        }
        self.prune();
    }

    /// Bytes arrived from `source`: parsed, then as [`handle_message`](Self::handle_message).
    /// Bytes that are no SIP message are dropped and counted in [`Stats::malformed`] (answering
    /// 400 needs the headers the parse could not find, so that is the runtime's choice).
    pub fn handle_datagram(&mut self, now: Instant, payload: Bytes, source: Target) {
        match Message::parse(payload) {
            Ok(message) => self.handle_message(now, message, source),
            Err(_) => {
                self.handle_timeout(now);
                self.stats.malformed += 1;
            }
        }
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
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` when no timer is armed.
    /// It changes after every call that takes `now`, so read it afresh after draining.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|(at, _, _)| at)
    }

    // ----- commands ---------------------------------------------------------------------------

    /// Starts a client transaction for `request` towards `target` (RFC 3261 §17.1): INVITE
    /// (Figure 5) or any other method but ACK (Figure 6). If the top Via has no branch the table
    /// adds a fresh one (`z9hG4bK` and 16 random characters); a CANCEL built with
    /// [`cancel_request`](Self::cancel_request) keeps its INVITE's. The request is serialised
    /// once; the first [`Transmit`] is queued at once.
    ///
    /// # Errors
    /// [`SendError`] says what the request lacks; nothing was sent.
    pub fn send_request(
        &mut self,
        now: Instant,
        mut request: Message,
        target: Target,
    ) -> Result<TransactionId, SendError> {
        let now = self.handle_due(now);
        let method = request.method().cloned().ok_or(SendError::NotARequest)?;
        if method == Method::Ack {
            return Err(SendError::AckIsNotATransaction);
        }
        let top_via = request.top_via().ok_or(SendError::MissingVia)?;
        let cseq_method = request.cseq_method().ok_or(SendError::MissingCSeq)?;
        if *cseq_method != method {
            return Err(SendError::CSeqMethodMismatch);
        }
        if request.call_id().is_none() {
            return Err(SendError::MissingCallId);
        }
        let branch: Box<str> = match request.via_branch() {
            Some(b) if has_cookie(b) => b.into(),
            Some(_) => return Err(SendError::BadBranch),
            None => {
                let branch = self.fresh_branch();
                let mut via = Vec::with_capacity(top_via.len() + 9 + branch.len());
                via.extend_from_slice(top_via);
                via.extend_from_slice(b";branch=");
                via.extend_from_slice(branch.as_bytes());
                request.pop_front(HeaderName::Via);
                request.push_front(HeaderName::Via, via).map_err(|_| SendError::BadVia)?;
                branch.into()
            }
        };
        if self.find_client(&branch, &method).is_some() {
            return Err(SendError::DuplicateBranch);
        }
        let bytes = request.to_bytes();
        let id = self.next_id();
        let (machine, timers) = self.start(now, id, |cx| {
            if method == Method::Invite {
                Machine::ClientInvite(ClientInvite::start(cx, request, bytes, target))
            } else {
                Machine::ClientNonInvite(ClientNonInvite::start(cx, request, bytes, target))
            }
        });
        self.alloc(Entry {
            machine,
            timers,
            branch: branch.clone(),
            method,
            sent_by: None,
            legacy: None,
            merge: None,
        });
        self.clients.entry(branch).or_default().push(id);
        self.count_new(id);
        self.prune();
        Ok(id)
    }

    /// Passes the TU's response for server transaction `id` to the transport (RFC 3261 §17.2):
    /// provisional responses while no final was sent; one final; and for an INVITE answered 2xx,
    /// the TU's 2xx retransmissions while Accepted (RFC 6026 §8.7). Build it with
    /// `MessageBuilder::response_to(&request, status, None)`.
    ///
    /// # Errors
    /// [`ResponseError`] says why the response does not belong; nothing was sent.
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Message,
    ) -> Result<(), ResponseError> {
        let now = self.handle_due(now);
        if response.is_request() {
            return Err(ResponseError::NotAResponse);
        }
        let entry = self.entry(id).ok_or(ResponseError::UnknownTransaction)?;
        if entry.machine.kind().is_client() {
            return Err(ResponseError::NotAServerTransaction);
        }
        let request = entry.machine.request();
        if response.cseq_method() != request.cseq_method()
            || response.via_branch() != request.via_branch()
        {
            return Err(ResponseError::Mismatch);
        }
        let result = self.dispatch(now, id, Stimulus::Respond(response));
        self.prune();
        result
    }

    /// Queues `message` for `target` outside any transaction: an ACK for a 2xx (RFC 3261
    /// §13.2.2.4) or a stateless response. Its [`Transmit::transaction`] is `None`.
    pub fn send_stateless(&mut self, target: Target, message: &Message) {
        self.out.push_back(Output::Transmit(Transmit {
            target,
            payload: message.to_bytes(),
            transaction: None,
        }));
    }

    /// Builds the CANCEL for client INVITE `id` (RFC 3261 §9.1): Request-URI, Call-ID, To, From
    /// and top Via of the INVITE (so its branch), its Route headers, CSeq number with method
    /// CANCEL. Send it with [`send_request`](Self::send_request); §9.1 asks to wait for a
    /// provisional response first.
    ///
    /// # Errors
    /// [`CancelError::NotAClientInvite`] if `id` is no live client INVITE.
    pub fn cancel_request(&self, id: TransactionId) -> Result<Message, CancelError> {
        match self.entry(id).map(|e| &e.machine) {
            Some(Machine::ClientInvite(m)) => Ok(build_cancel(m.request())?),
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

    /// A fresh branch (`z9hG4bK` plus 16 characters from the seeded generator), for a TU that
    /// sends requests outside transactions, such as the ACK for a 2xx.
    pub fn new_branch(&mut self) -> String {
        new_branch(&mut self.rng)
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
        match cancel.via_branch() {
            Some(branch) if has_cookie(branch) => {
                let sent = top_sent_by(cancel)?;
                self.find_server(branch, &sent, &Method::Invite)
            }
            _ => {
                let key = LegacyKey::of(cancel)?;
                self.legacy.get(&key.hash_key())?.iter().copied().find(|&id| {
                    self.entry(id)
                        .and_then(|e| e.legacy.as_ref())
                        .is_some_and(|k| k.matches_cancel(&key))
                })
            }
        }
    }

    /// Another live server transaction whose request shares the From tag, Call-ID and CSeq of
    /// server transaction `id`'s request, when that request had no To tag: RFC 3261 §8.2.2.2
    /// says answer `id` with 482 (Loop Detected). `None` when there is none.
    #[must_use]
    pub fn find_merged(&self, id: TransactionId) -> Option<TransactionId> {
        let entry = self.entry(id)?;
        if entry.machine.request().to_tag().is_some() {
            return None;
        }
        let key = entry.merge.as_ref()?;
        self.merges.get(key)?.iter().copied().find(|&other| other != id)
    }

    /// The §8.2.2.2 merge key of server transaction `id`'s request.
    #[must_use]
    pub fn merge_key(&self, id: TransactionId) -> Option<&MergeKey> {
        self.entry(id)?.merge.as_ref()
    }

    /// The request that created transaction `id` (for a client, as sent, branch included).
    #[must_use]
    pub fn request(&self, id: TransactionId) -> Option<&Message> {
        Some(self.entry(id)?.machine.request())
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
        Some(&self.entry(id)?.branch)
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

    /// Moves the clock (never backwards) and fires every due timer; returns the clock.
    fn handle_due(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |last| last.max(now));
        self.now = Some(now);
        while let Some((at, id, timer)) = self.queue.peek() {
            if at > now {
                break;
            }
            self.queue.pop();
            let armed = self.entry_mut(id).is_some_and(|entry| entry.timers.take_if_due(timer, at));
            if armed {
                let _ = self.dispatch(now, id, Stimulus::Timer(timer));
            }
        }
        now
    }

    /// Drops stale entries from the top of the timer queue so that `poll_timeout` is exact.
    fn prune(&mut self) {
        while let Some((at, id, timer)) = self.queue.peek() {
            if self.entry(id).is_some_and(|e| e.timers.get(timer) == Some(at)) {
                break;
            }
            self.queue.pop();
        }
    }

    fn on_response(&mut self, now: Instant, response: Message, source: Target) {
        let found = match (response.via_branch(), response.cseq_method()) {
            (Some(branch), Some(method)) => self.find_client(branch, method),
            _ => None,
        };
        match found {
            Some(id) => {
                let _ = self.dispatch(now, id, Stimulus::Response(response));
            }
            None => {
                self.stats.stray_responses += 1;
                self.out.push_back(Output::Event(Event::StrayResponse { response, source }));
            }
        }
    }

    fn on_request(&mut self, now: Instant, request: Message, source: Target) {
        let Some(method) = request.method().cloned() else { return };
        let is_ack = method == Method::Ack;
        let (Some(_), Some(_), Some(_)) =
            (request.top_via(), request.cseq_number(), request.call_id())
        else {
            self.stats.malformed += 1;
            return;
        };
        let cookie = request.via_branch().filter(|b| has_cookie(b)).map(Box::<str>::from);
        let (found, sent, legacy) = match &cookie {
            Some(branch) => {
                let Some(sent) = top_sent_by(&request) else {
                    self.stats.malformed += 1;
                    return;
                };
                let wanted = if is_ack { &Method::Invite } else { &method };
                (self.find_server(branch, &sent, wanted), Some(sent), None)
            }
            None => {
                let Some(key) = LegacyKey::of(&request) else {
                    self.stats.malformed += 1;
                    return;
                };
                (self.find_legacy(&key, is_ack), None, Some(key))
            }
        };
        match (found, is_ack) {
            (Some(id), true) => {
                let _ = self.dispatch(now, id, Stimulus::Ack(request, source));
            }
            (Some(id), false) => {
                let _ = self.dispatch(now, id, Stimulus::Request);
            }
            (None, true) => {
                self.stats.stray_acks += 1;
                self.out.push_back(Output::Event(Event::Ack { id: None, request, source }));
            }
            (None, false) => self.create_server(now, request, source, method, cookie, sent, legacy),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_server(
        &mut self,
        now: Instant,
        request: Message,
        source: Target,
        method: Method,
        cookie: Option<Box<str>>,
        sent: Option<Box<str>>,
        legacy: Option<LegacyKey>,
    ) {
        let merge = MergeKey::of(&request);
        let legacy_hash = legacy.as_ref().map(LegacyKey::hash_key);
        let id = self.next_id();
        // The TU hears of the request before anything the transaction does.
        self.out.push_back(Output::Event(Event::Request { id, request: request.clone(), source }));
        let (machine, timers) = self.start(now, id, |cx| {
            if method == Method::Invite {
                Machine::ServerInvite(ServerInvite::start(cx, request, source))
            } else {
                Machine::ServerNonInvite(ServerNonInvite::start(request, source))
            }
        });
        self.alloc(Entry {
            machine,
            timers,
            branch: cookie.clone().unwrap_or_default(),
            method,
            sent_by: sent,
            legacy,
            merge: merge.clone(),
        });
        match (cookie, legacy_hash) {
            (Some(branch), _) => self.servers.entry(branch).or_default().push(id),
            (None, Some(hash)) => self.legacy.entry(hash).or_default().push(id),
            (None, None) => {}
        }
        if let Some(key) = merge {
            self.merges.entry(key).or_default().push(id);
        }
        self.count_new(id);
    }

    fn find_client(&self, branch: &str, method: &Method) -> Option<TransactionId> {
        self.clients
            .get(branch)?
            .iter()
            .copied()
            .find(|&id| self.entry(id).is_some_and(|e| e.method == *method))
    }

    fn find_server(&self, branch: &str, sent: &str, method: &Method) -> Option<TransactionId> {
        self.servers.get(branch)?.iter().copied().find(|&id| {
            self.entry(id)
                .is_some_and(|e| e.method == *method && e.sent_by.as_deref() == Some(sent))
        })
    }

    fn find_legacy(&self, key: &LegacyKey, is_ack: bool) -> Option<TransactionId> {
        self.legacy.get(&key.hash_key())?.iter().copied().find(|&id| {
            let Some(entry) = self.entry(id) else { return false };
            let Some(own) = entry.legacy.as_ref() else { return false };
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
        })
    }

    fn fresh_branch(&mut self) -> String {
        let mut branch = new_branch(&mut self.rng);
        for _ in 1..BRANCH_ATTEMPTS {
            if !self.clients.contains_key(branch.as_str()) {
                break;
            }
            branch = new_branch(&mut self.rng);
        }
        branch
    }

    fn entry(&self, id: TransactionId) -> Option<&Entry> {
        self.slots.get(id.index as usize).filter(|s| s.generation == id.generation)?.entry.as_ref()
    }

    fn entry_mut(&mut self, id: TransactionId) -> Option<&mut Entry> {
        self.slots
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation)?
            .entry
            .as_mut()
    }

    /// The id the next [`alloc`](Self::alloc) returns.
    fn next_id(&self) -> TransactionId {
        match self.free.last() {
            Some(&index) => TransactionId {
                index,
                generation: self.slots.get(index as usize).map_or(0, |s| s.generation),
            },
            None => TransactionId {
                index: u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
                generation: 0,
            },
        }
    }

    fn alloc(&mut self, entry: Entry) -> TransactionId {
        if let Some(index) = self.free.pop() {
            if let Some(slot) = self.slots.get_mut(index as usize) {
                slot.entry = Some(entry);
                return TransactionId { index, generation: slot.generation };
            }
        }
        let index = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(Slot { generation: 0, entry: Some(entry) });
        TransactionId { index, generation: 0 }
    }

    /// Runs a machine's `start` for the transaction about to get `id`, returning what it built
    /// and the timers it armed.
    fn start<R>(
        &mut self,
        now: Instant,
        id: TransactionId,
        f: impl FnOnce(&mut Ctx<'_>) -> R,
    ) -> (R, Timers) {
        let mut timers = Timers::default();
        let Self { out, queue, stats, config, .. } = self;
        let mut cx = Ctx { now, id, config, out, queue, timers: &mut timers, stats };
        let built = f(&mut cx);
        (built, timers)
    }

    fn count_new(&mut self, id: TransactionId) {
        if let Some(kind) = self.entry(id).map(|e| e.machine.kind()) {
            self.stats.created += 1;
            *self.stats.live_mut(kind) += 1;
        }
    }

    /// Runs `f` with the entry and a context for it.
    fn with_ctx<R>(
        &mut self,
        now: Instant,
        id: TransactionId,
        f: impl FnOnce(&mut Entry, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let Self { slots, out, queue, stats, config, .. } = self;
        let entry = slots
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation)?
            .entry
            .as_mut()?;
        let mut timers = entry.timers;
        let mut cx = Ctx { now, id, config, out, queue, timers: &mut timers, stats };
        let result = f(entry, &mut cx);
        entry.timers = timers;
        Some(result)
    }

    /// Delivers `input` to transaction `id` and frees it if it terminates.
    fn dispatch(
        &mut self,
        now: Instant,
        id: TransactionId,
        input: Stimulus,
    ) -> Result<(), ResponseError> {
        let result = self
            .with_ctx(now, id, |entry, cx| entry.machine.handle(cx, input))
            .unwrap_or(Err(ResponseError::UnknownTransaction));
        match result {
            Ok(Next::Stay) => Ok(()),
            Ok(Next::Terminate) => {
                self.release(id);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Frees transaction `id`: out of the slab and every index; its queued timers go stale.
    fn release(&mut self, id: TransactionId) {
        let Some(slot) = self.slots.get_mut(id.index as usize) else { return };
        if slot.generation != id.generation {
            return;
        }
        let Some(entry) = slot.entry.take() else { return };
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        let kind = entry.machine.kind();
        let index = if kind.is_client() {
            Some(&mut self.clients)
        } else if entry.sent_by.is_some() {
            Some(&mut self.servers)
        } else {
            None
        };
        if let Some(index) = index {
            remove_id(index, &entry.branch, id);
        }
        if let Some(key) = &entry.legacy {
            remove_id(&mut self.legacy, &key.hash_key(), id);
        }
        if let Some(key) = &entry.merge {
            remove_id(&mut self.merges, key, id);
        }
        let live = self.stats.live_mut(kind);
        *live = live.saturating_sub(1);
        self.stats.terminated += 1;
        self.out.push_back(Output::Event(Event::Terminated { id }));
    }

    /// Queued timer entries, stale ones included (for tests of the lazy queue).
    #[cfg(test)]
    pub(crate) fn queued_timers(&self) -> usize {
        self.queue.len()
    }
}

/// Removes `id` from the list under `key`, and the list when it empties.
fn remove_id<K, Q>(map: &mut HashMap<K, SmallVec<[TransactionId; 2]>>, key: &Q, id: TransactionId)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(ids) = map.get_mut(key) {
        ids.retain(|other| *other != id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
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

    #[test]
    fn cleared_timers_stay_queued_until_they_surface_then_are_dropped() {
        // One queue with lazy invalidation: a final clears Timers E and F in their slots; their
        // entries are skipped when they reach the top and never reported by poll_timeout.
        let mut table = TransactionTable::default();
        let t0 = Instant::now();
        let target = Target::udp("192.0.2.2:5060".parse().unwrap());
        let id = table.send_request(t0, options(), target).unwrap();
        assert_eq!(table.queued_timers(), 2, "E and F");
        let sent = table.request(id).unwrap().clone();
        let ok = MessageBuilder::response_to(&sent, 200, None).build().unwrap();
        table.handle_message(t0, ok, target);
        // E (top) went stale and was pruned; F is stale below K.
        assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(table.queued_timers(), 2, "K, and the stale F underneath");
        table.handle_timeout(t0 + Duration::from_secs(5));
        assert_eq!((table.queued_timers(), table.poll_timeout()), (0, None));
        assert!(table.is_empty());
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
