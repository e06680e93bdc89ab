//! A user agent that owns its transaction table: the four sans-IO verbs in one object.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use sip_message::{HeaderName as H, Message, Method};
use sip_transaction::{
    Direct, Event, LightOutput, Output, Target, TransactionConfig, TransactionId, TransactionTable,
    Transmit,
};

use crate::config::{Body, UaConfig};
use crate::core::{Invite, Register, RegistrationState, UaCore};
use crate::event::{CallId, RegistrationId, RequestId, UaError, UaEvent};

/// The next thing to do, from [`UserAgent::poll_output`].
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum UaOutput {
    /// Send bytes.
    Transmit(Transmit),
    /// Tell the application.
    Event(UaEvent),
}

/// A [`UaCore`] with its own [`TransactionTable`]: a complete sans-IO user agent.
///
/// | verb | meaning |
/// | --- | --- |
/// | [`handle`](Self::handle) / [`handle_datagram`](Self::handle_datagram) | a message arrived |
/// | [`handle_transport_error`](Self::handle_transport_error) | a send failed |
/// | [`handle_timeout`](Self::handle_timeout) | time passed |
/// | [`poll_output`](Self::poll_output) | next [`UaOutput`] |
/// | [`poll_timeout`](Self::poll_timeout) | when to call `handle_timeout` |
///
/// Commands ([`invite`](Self::invite), [`answer`](Self::answer), [`bye`](Self::bye), ...)
/// forward to the core. The drain contract is the transaction table's: after any input or
/// command, call `poll_output` until `None`, then read `poll_timeout`.
#[derive(Debug)]
pub struct UserAgent {
    table: TransactionTable,
    core: UaCore,
    /// What [`poll_output`](Self::poll_output) hands out next, in order: a transmit, or the
    /// next event of the core's queue. Events stay in the core's queue until then (a
    /// `UaEvent` is some 350 bytes: it is moved once, not through a second queue); transmits
    /// wait here, in the one queue that orders them, so that queueing and handing out one
    /// costs one queue operation each.
    order: VecDeque<Next>,
    /// How many of the core's queued events `order` already names.
    marked: usize,
    unclaimed: u64,
}

/// The next output: a transmit, or a turn of the core's event queue.
#[derive(Debug)]
enum Next {
    Transmit(Transmit),
    Event,
}

impl UserAgent {
    /// A user agent with `config` over a transaction table with `transactions`.
    #[must_use]
    pub fn new(config: UaConfig, transactions: TransactionConfig) -> Self {
        UserAgent {
            table: TransactionTable::new(transactions),
            core: UaCore::new(config),
            order: VecDeque::new(),
            marked: 0,
            unclaimed: 0,
        }
    }

    /// The core.
    #[must_use]
    pub fn core(&self) -> &UaCore {
        &self.core
    }

    /// The core, to call [`UaCore::add_host`] and the like.
    pub fn core_mut(&mut self) -> &mut UaCore {
        &mut self.core
    }

    /// The transaction table (for its [`stats`](TransactionTable::stats)).
    #[must_use]
    pub fn transactions(&self) -> &TransactionTable {
        &self.table
    }

    /// Transaction events no part of the core claimed (stray responses and ACKs that match
    /// nothing, which RFC 3261 says to drop).
    #[must_use]
    pub fn unclaimed_events(&self) -> u64 {
        self.unclaimed
    }

    /// Whether nothing is live: no call, request, transaction or timer.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.core.is_idle() && self.table.is_empty()
    }

    /// A parsed message arrived from `source`.
    pub fn handle(&mut self, now: Instant, message: Message, source: Target) {
        let direct = self.table.handle_message_direct(now, message, source);
        self.take_direct(now, direct);
    }

    /// A datagram arrived from `source`; it is parsed, and dropped if it does not parse.
    pub fn handle_datagram(&mut self, now: Instant, payload: Bytes, source: Target) {
        let direct = self.table.handle_datagram_direct(now, payload, source);
        self.take_direct(now, direct);
    }

    /// Drains the table around the event it handed back: the outputs queued before it, the
    /// event, then the rest (the order [`pump`](Self::pump) would have seen had it been queued;
    /// the received message is not moved through the table's queue).
    #[inline(always)]
    fn take_direct(&mut self, now: Instant, direct: Option<Direct>) {
        if let Some(direct) = direct {
            let event = direct.after_queued(|| self.pump_one(now));
            if self.core.handle_event(now, &mut self.table, event).is_some() {
                self.unclaimed += 1;
            }
            self.mark_events();
        }
        self.pump(now);
    }

    /// Sending a transmit of transaction `id` failed (§17.1.4, §17.2.4).
    pub fn handle_transport_error(&mut self, now: Instant, id: TransactionId) {
        self.table.handle_transport_error(now, id);
        self.pump(now);
    }

    /// Fires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
        self.pump(now);
        self.core.handle_timeout(now, &mut self.table);
        self.pump(now);
    }

    /// The next transmit or event.
    #[inline]
    pub fn poll_output(&mut self) -> Option<UaOutput> {
        loop {
            match self.order.pop_front()? {
                Next::Transmit(t) => return Some(UaOutput::Transmit(t)),
                Next::Event => {
                    self.marked = self.marked.saturating_sub(1);
                    if let Some(event) = self.core.poll_event() {
                        return Some(UaOutput::Event(event));
                    }
                }
            }
        }
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.table.poll_timeout(), self.core.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drains the table: transmits are queued in order, events go through the core, whose own
    /// events are queued after them.
    #[inline(always)]
    fn pump(&mut self, now: Instant) {
        // Often there is nothing to take (the event that came back direct was the only
        // output): then only the core's own events are marked, without the loop's call.
        if self.table.has_output() {
            self.pump_all(now);
        }
        self.mark_events();
    }

    /// [`pump`](Self::pump)'s loop.
    #[inline(never)]
    fn pump_all(&mut self, now: Instant) {
        while self.pump_one(now) {}
    }

    /// Takes one output of the table, if there is one; whether there was.
    #[inline(always)]
    fn pump_one(&mut self, now: Instant) -> bool {
        // Transmits and `Terminated` come without the message-sized `Output` around them.
        let claimed = match self.table.poll_light_output() {
            Some(LightOutput::Transmit(t)) => {
                self.order.push_back(Next::Transmit(t));
                true
            }
            Some(LightOutput::Terminated { id }) => self.core.on_terminated(id),
            Some(LightOutput::TimedOut { id, timer }) => {
                self.handle_event(now, Event::TimedOut { id, timer })
            }
            Some(LightOutput::TransportFailed { id }) => {
                self.handle_event(now, Event::TransportFailed { id })
            }
            Some(other) => self.pump_output(now, other.into()),
            None => match self.table.poll_output() {
                Some(output) => self.pump_output(now, output),
                None => return false,
            },
        };
        if !claimed {
            self.unclaimed += 1;
        }
        self.mark_events();
        true
    }

    /// Takes `output`: whether it was claimed.
    fn pump_output(&mut self, now: Instant, output: Output) -> bool {
        match output {
            Output::Transmit(t) => {
                self.order.push_back(Next::Transmit(t));
                true
            }
            Output::Event(event) => self.handle_event(now, event),
        }
    }

    /// Passes `event` to the core: whether it was claimed.
    #[inline(always)]
    fn handle_event(&mut self, now: Instant, event: Event) -> bool {
        self.core.handle_event(now, &mut self.table, event).is_none()
    }

    /// Queues a turn for each event the core queued since the last call.
    fn mark_events(&mut self) {
        let queued = self.core.queued_events();
        for _ in self.marked..queued {
            self.order.push_back(Next::Event);
        }
        self.marked = queued;
    }

    fn done<T>(&mut self, now: Instant, result: T) -> T {
        self.pump(now);
        result
    }

    // ----- commands ---------------------------------------------------------------------------

    /// See [`UaCore::invite`].
    ///
    /// # Errors
    /// As [`UaCore::invite`].
    pub fn invite(&mut self, now: Instant, invite: Invite) -> Result<CallId, UaError> {
        let result = self.core.invite(now, &mut self.table, invite);
        self.done(now, result)
    }

    /// See [`UaCore::ring`].
    ///
    /// # Errors
    /// As [`UaCore::ring`].
    pub fn ring(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let result = self.core.ring(now, &mut self.table, call, status, body);
        self.done(now, result)
    }

    /// See [`UaCore::answer`].
    ///
    /// # Errors
    /// As [`UaCore::answer`].
    pub fn answer(
        &mut self,
        now: Instant,
        call: CallId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let result = self.core.answer(now, &mut self.table, call, body);
        self.done(now, result)
    }

    /// See [`UaCore::reject`].
    ///
    /// # Errors
    /// As [`UaCore::reject`].
    pub fn reject(&mut self, now: Instant, call: CallId, status: u16) -> Result<(), UaError> {
        let result = self.core.reject(now, &mut self.table, call, status);
        self.done(now, result)
    }

    /// See [`UaCore::cancel`].
    ///
    /// # Errors
    /// As [`UaCore::cancel`].
    pub fn cancel(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        let result = self.core.cancel(now, &mut self.table, call);
        self.done(now, result)
    }

    /// See [`UaCore::ack`].
    ///
    /// # Errors
    /// As [`UaCore::ack`].
    pub fn ack(&mut self, now: Instant, call: CallId, body: Option<Body>) -> Result<(), UaError> {
        let result = self.core.ack(now, &mut self.table, call, body);
        self.done(now, result)
    }

    /// See [`UaCore::bye`].
    ///
    /// # Errors
    /// As [`UaCore::bye`].
    pub fn bye(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        let result = self.core.bye(now, &mut self.table, call);
        self.done(now, result)
    }

    /// See [`UaCore::hangup`].
    ///
    /// # Errors
    /// As [`UaCore::hangup`].
    pub fn hangup(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        let result = self.core.hangup(now, &mut self.table, call);
        self.done(now, result)
    }

    /// See [`UaCore::reinvite`].
    ///
    /// # Errors
    /// As [`UaCore::reinvite`].
    pub fn reinvite(
        &mut self,
        now: Instant,
        call: CallId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let result = self.core.reinvite(now, &mut self.table, call, body);
        self.done(now, result)
    }

    /// See [`UaCore::accept_reinvite`].
    ///
    /// # Errors
    /// As [`UaCore::accept_reinvite`].
    pub fn accept_reinvite(
        &mut self,
        now: Instant,
        call: CallId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let result = self.core.accept_reinvite(now, &mut self.table, call, body);
        self.done(now, result)
    }

    /// See [`UaCore::reject_reinvite`].
    ///
    /// # Errors
    /// As [`UaCore::reject_reinvite`].
    pub fn reject_reinvite(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
    ) -> Result<(), UaError> {
        let result = self.core.reject_reinvite(now, &mut self.table, call, status);
        self.done(now, result)
    }

    /// See [`UaCore::set_credentials`].
    pub fn set_credentials(
        &mut self,
        provider: impl sip_auth::CredentialProvider + Send + 'static,
    ) {
        self.core.set_credentials(provider);
    }

    /// See [`UaCore::register`].
    ///
    /// # Errors
    /// As [`UaCore::register`].
    pub fn register(
        &mut self,
        now: Instant,
        register: Register,
    ) -> Result<RegistrationId, UaError> {
        let result = self.core.register(now, &mut self.table, register);
        self.done(now, result)
    }

    /// See [`UaCore::unregister`].
    ///
    /// # Errors
    /// As [`UaCore::unregister`].
    pub fn unregister(
        &mut self,
        now: Instant,
        registration: RegistrationId,
    ) -> Result<(), UaError> {
        let result = self.core.unregister(now, &mut self.table, registration);
        self.done(now, result)
    }

    /// See [`UaCore::registration`].
    #[must_use]
    pub fn registration(&self, registration: RegistrationId) -> Option<RegistrationState> {
        self.core.registration(registration)
    }

    /// See [`UaCore::options`].
    ///
    /// # Errors
    /// As [`UaCore::options`].
    pub fn options(&mut self, now: Instant, uri: &str) -> Result<RequestId, UaError> {
        let result = self.core.options(now, &mut self.table, uri);
        self.done(now, result)
    }

    /// See [`UaCore::request`].
    ///
    /// # Errors
    /// As [`UaCore::request`].
    pub fn request(
        &mut self,
        now: Instant,
        method: &Method,
        uri: &str,
        body: Option<&Body>,
        headers: &[(H, String)],
    ) -> Result<RequestId, UaError> {
        let result = self.core.request(now, &mut self.table, method, uri, body, headers);
        self.done(now, result)
    }

    /// See [`UaCore::respond`].
    ///
    /// # Errors
    /// As [`UaCore::respond`].
    pub fn respond(
        &mut self,
        now: Instant,
        transaction: TransactionId,
        status: u16,
        headers: &[(H, String)],
        body: Option<&Body>,
    ) -> Result<(), UaError> {
        let result = self.core.respond(now, &mut self.table, transaction, status, headers, body);
        self.done(now, result)
    }
}
