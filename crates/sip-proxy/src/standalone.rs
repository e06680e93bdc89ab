//! [`StandaloneProxy`]: a [`Proxy`] that owns its [`TransactionTable`], for users who only
//! want a proxy.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use sip_message::{Message, Method};
use sip_transaction::{
    Direct, Event, Input, LightOutput, Target, TransactionConfig, TransactionId, TransactionTable,
    Transmit,
};

use crate::{LocationService, Proxy, ProxyConfig, ProxyEvent, Resolver};

/// The next thing to do, from [`StandaloneProxy::poll_output`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Output {
    /// Send bytes.
    Transmit(Transmit),
    /// Something the application may want to know.
    Event(ProxyEvent),
}

/// A [`Proxy`] and the [`TransactionTable`] it runs on, with the four verbs of every machine
/// in this workspace: [`handle`](Self::handle) (or [`handle_message`](Self::handle_message),
/// [`handle_datagram`](Self::handle_datagram)), [`handle_timeout`](Self::handle_timeout),
/// [`poll_output`](Self::poll_output) and [`poll_timeout`](Self::poll_timeout). Every request
/// that creates a server transaction is proxied.
#[derive(Debug)]
pub struct StandaloneProxy<L, R> {
    proxy: Proxy<L, R>,
    txns: TransactionTable,
    out: VecDeque<Output>,
}

impl<L: LocationService, R: Resolver> StandaloneProxy<L, R> {
    /// A proxy with its own table.
    #[must_use]
    pub fn new(
        config: ProxyConfig,
        transactions: TransactionConfig,
        locations: L,
        resolver: R,
    ) -> Self {
        Self {
            proxy: Proxy::new(config, locations, resolver),
            txns: TransactionTable::new(transactions),
            out: VecDeque::new(),
        }
    }

    /// Feeds an input of the transaction layer (a message, a datagram, a transport error), then
    /// lets the proxy act. Drain [`poll_output`](Self::poll_output) afterwards.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.txns.handle(now, input);
        self.pump(now);
    }

    /// A parsed message arrived from `source`.
    pub fn handle_message(&mut self, now: Instant, message: Message, source: Target) {
        let direct = self.txns.handle_message_direct(now, message, source);
        self.take_direct(now, direct);
    }

    /// Bytes arrived from `source` (dropped and counted by the table if they do not parse).
    pub fn handle_datagram(&mut self, now: Instant, payload: Bytes, source: Target) {
        let direct = self.txns.handle_datagram_direct(now, payload, source);
        self.take_direct(now, direct);
    }

    /// Drains the table around the event it handed back: the outputs queued before it, the
    /// event, then the rest. That is the order [`pump`](Self::pump) would have met them in had
    /// the event been queued (the proxy's own outputs go to the end of the table's queue
    /// either way), without moving the received message through the table's queue.
    #[inline(always)]
    fn take_direct(&mut self, now: Instant, direct: Option<Direct>) {
        if let Some(direct) = direct {
            let event = direct.after_queued(|| self.pump_one(now));
            self.take_event(now, event);
        }
        self.pump(now);
    }

    /// Sending a [`Transmit`] of transaction `id` failed.
    pub fn handle_transport_error(&mut self, now: Instant, id: TransactionId) {
        self.txns.handle_transport_error(now, id);
        self.pump(now);
    }

    /// Time passed: the table's timers, then the proxy's (Timer C, CANCEL guards).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txns.handle_timeout(now);
        self.pump(now);
        self.proxy.handle_timeout(now, &mut self.txns);
        self.pump(now);
    }

    /// The next transmit or event; call until `None`, then read
    /// [`poll_timeout`](Self::poll_timeout).
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earlier of the table's and the proxy's next deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.txns.poll_timeout(), self.proxy.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The proxy core.
    #[must_use]
    pub fn proxy(&self) -> &Proxy<L, R> {
        &self.proxy
    }

    /// The proxy core, mutably (to update its location service).
    pub fn proxy_mut(&mut self) -> &mut Proxy<L, R> {
        &mut self.proxy
    }

    /// The transaction table.
    #[must_use]
    pub fn transactions(&self) -> &TransactionTable {
        &self.txns
    }

    /// Whether nothing is left: no response context, no proxy timer, no transaction, no
    /// undelivered output.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.proxy.is_idle() && self.txns.is_empty() && self.out.is_empty()
    }

    /// Moves the table's outputs out, giving every event to the proxy first.
    fn pump(&mut self, now: Instant) {
        while self.pump_one(now) {}
        // The proxy's events after the transmits they caused.
        while let Some(event) = self.proxy.poll_event() {
            self.out.push_back(Output::Event(event));
        }
    }

    /// Takes the table's next output, if any: a transmit is queued, an event goes to the
    /// proxy. One that carries no message is taken without moving a message-sized output.
    #[inline(always)]
    fn pump_one(&mut self, now: Instant) -> bool {
        if let Some(light) = self.txns.poll_light_output() {
            match light {
                LightOutput::Transmit(t) => self.out.push_back(Output::Transmit(t)),
                light => {
                    if let sip_transaction::Output::Event(event) = light.into() {
                        self.take_event(now, event);
                    }
                }
            }
            return true;
        }
        match self.txns.poll_output() {
            Some(sip_transaction::Output::Transmit(t)) => self.out.push_back(Output::Transmit(t)),
            Some(sip_transaction::Output::Event(event)) => self.take_event(now, event),
            None => return false,
        }
        true
    }

    /// An event of the table, for the proxy.
    #[inline(always)]
    fn take_event(&mut self, now: Instant, event: Event) {
        match event {
            // A new request other than a CANCEL is one `handle_event` hands straight back: it
            // goes to `handle_request` at once, moved once less.
            Event::Request { id, request, source } if request.method() != Some(&Method::Cancel) => {
                self.proxy.handle_request(now, &mut self.txns, id, request, source);
            }
            event => {
                if let Some(Event::Request { id, request, source }) =
                    self.proxy.handle_event(now, &mut self.txns, event)
                {
                    self.proxy.handle_request(now, &mut self.txns, id, request, source);
                }
            }
        }
    }
}
