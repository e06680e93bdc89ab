//! A ready-made [`Stack`]: a bare [`TransactionTable`] plus a [`TransactionUser`] that answers
//! its events. Enough for tests, examples and small tools (an OPTIONS responder, a probe);
//! a UA or proxy brings its own `Stack`.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use sip_message::Message;
use sip_transaction::{
    Event, FlowId, Output, Target, TransactionConfig, TransactionTable, Transmit, Transport,
};

use crate::{ListenAddr, ReceiveError, Stack, TransportError};

/// The transaction user (RFC 3261 §17: the layer above the transactions) of a
/// [`TransactionStack`]: it hears the table's events and the application's commands and acts
/// through a [`TuContext`] (sending requests and responses on the table, emitting events to the
/// application). Only the first two methods are required.
pub trait TransactionUser {
    /// Commands from the application (see [`Stack::Command`]).
    type Command: Send + 'static;
    /// Events for the application (see [`Stack::Event`]).
    type Event;

    /// The table reported `event`: a new request to answer, a final response, a timeout.
    fn handle_event(&mut self, cx: &mut TuContext<'_, Self::Event>, event: Event);

    /// The application sent `command`.
    fn handle_command(&mut self, cx: &mut TuContext<'_, Self::Event>, command: Self::Command);

    /// Bytes that did not parse or frame (see [`Stack::handle_parse_error`]). The default
    /// answers a request that can be read far enough with 400 (505, 513) naming the problem,
    /// once and outside any transaction ([`reject_unparsable`](crate::reject_unparsable),
    /// RFC 3261 §8.2, §18.3), and drops everything else.
    fn handle_parse_error(
        &mut self,
        cx: &mut TuContext<'_, Self::Event>,
        error: ReceiveError,
        payload: Bytes,
        source: Target,
    ) {
        let from = match source {
            Target::Addr(_, addr) => Some(addr),
            Target::Flow(..) => None,
        };
        if let Some(response) = crate::reject_unparsable(&error, &payload, from) {
            cx.table().send_stateless(source, &response);
        }
    }

    /// A transmit failed. The table has already been told (its transaction reports
    /// [`Event::TransportFailed`]); this is for transmits outside transactions. The default
    /// ignores it.
    fn handle_transport_error(
        &mut self,
        cx: &mut TuContext<'_, Self::Event>,
        transmit: &Transmit,
        error: TransportError,
    ) {
        let _ = (cx, transmit, error);
    }

    /// A connection closed (see [`Stack::handle_connection_closed`]). The default ignores it.
    fn handle_connection_closed(
        &mut self,
        cx: &mut TuContext<'_, Self::Event>,
        flow: FlowId,
        remote: SocketAddr,
    ) {
        let _ = (cx, flow, remote);
    }

    /// The runtime is shutting down (see [`Stack::handle_shutdown`]). The default does nothing.
    fn handle_shutdown(&mut self, cx: &mut TuContext<'_, Self::Event>) {
        let _ = cx;
    }

    /// The TU's own timer is due (see [`poll_timeout`](Self::poll_timeout)). The default does
    /// nothing.
    fn handle_timeout(&mut self, cx: &mut TuContext<'_, Self::Event>) {
        let _ = cx;
    }

    /// When the TU wants [`handle_timeout`](Self::handle_timeout); `None` (the default) for
    /// never.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// What a [`TransactionUser`] acts through: the time, the table, the bound addresses and the
/// application's event queue.
pub struct TuContext<'a, E> {
    now: Instant,
    table: &'a mut TransactionTable,
    local: &'a [ListenAddr],
    events: &'a mut VecDeque<E>,
}

impl<E> fmt::Debug for TuContext<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TuContext").field("now", &self.now).field("local", &self.local).finish()
    }
}

impl<E> TuContext<'_, E> {
    /// The time of the input being handled.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The transaction table: send requests and responses on it.
    pub fn table(&mut self) -> &mut TransactionTable {
        self.table
    }

    /// The runtime's bound sockets (empty until [`Stack::handle_bound`] ran).
    #[must_use]
    pub fn local_addrs(&self) -> &[ListenAddr] {
        self.local
    }

    /// Reports `event` to the application.
    pub fn emit(&mut self, event: E) {
        self.events.push_back(event);
    }

    /// A top Via value without branch for a request to `target` (RFC 3261 §18.1.1): the
    /// target's transport and the bound address of that transport and the target's family,
    /// e.g. `SIP/2.0/UDP 127.0.0.1:5060;rport` (RFC 3581 §3 asks for `rport`). `None` when no
    /// such socket is bound, or for a flow. A wildcard address (`0.0.0.0`) is no usable
    /// sent-by: bind a specific address, or write the Via yourself.
    #[must_use]
    pub fn via(&self, target: &Target) -> Option<String> {
        let Target::Addr(transport, remote) = *target else { return None };
        via_for(self.local, transport, remote)
    }
}

/// The sent-by of `local` for `transport` towards `remote`'s family.
fn via_for(local: &[ListenAddr], transport: Transport, remote: SocketAddr) -> Option<String> {
    let bound =
        local.iter().find(|l| l.transport == transport && l.addr.is_ipv4() == remote.is_ipv4())?;
    Some(format!("SIP/2.0/{} {};rport", transport.as_str(), bound.addr))
}

/// A [`Stack`] made of a [`TransactionTable`] and a [`TransactionUser`]: messages go to the
/// table, the table's transmits to the runtime, its events to the TU, and what the TU emits to
/// the application.
pub struct TransactionStack<U: TransactionUser> {
    table: TransactionTable,
    user: U,
    local: Vec<ListenAddr>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<U::Event>,
}

impl<U: TransactionUser> fmt::Debug for TransactionStack<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionStack")
            .field("transactions", &self.table.len())
            .field("local", &self.local)
            .field("queued_transmits", &self.transmits.len())
            .finish_non_exhaustive()
    }
}

impl<U: TransactionUser> TransactionStack<U> {
    /// A table with `config` and the TU `user`.
    #[must_use]
    pub fn new(config: TransactionConfig, user: U) -> Self {
        TransactionStack {
            table: TransactionTable::new(config),
            user,
            local: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The transaction table.
    #[must_use]
    pub fn table(&self) -> &TransactionTable {
        &self.table
    }

    /// The TU.
    #[must_use]
    pub fn user(&self) -> &U {
        &self.user
    }

    /// The TU, mutably.
    pub fn user_mut(&mut self) -> &mut U {
        &mut self.user
    }

    /// Runs `f` as the TU would run: with a context at `now`, draining the table afterwards.
    /// For driving the stack before the loop starts (through
    /// [`Runtime::stack_mut`](crate::Runtime::stack_mut)) or without a runtime.
    pub fn with_context<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut U, &mut TuContext<'_, U::Event>) -> R,
    ) -> R {
        let mut cx =
            TuContext { now, table: &mut self.table, local: &self.local, events: &mut self.events };
        let result = f(&mut self.user, &mut cx);
        self.pump(now);
        result
    }

    /// Moves the table's outputs: transmits to the runtime's queue, events to the TU (which
    /// may act on the table again, so this loops until the table is empty).
    fn pump(&mut self, now: Instant) {
        while let Some(output) = self.table.poll_output() {
            match output {
                Output::Transmit(t) => self.transmits.push_back(t),
                Output::Event(event) => {
                    let mut cx = TuContext {
                        now,
                        table: &mut self.table,
                        local: &self.local,
                        events: &mut self.events,
                    };
                    self.user.handle_event(&mut cx, event);
                }
            }
        }
    }
}

impl<U: TransactionUser> Stack for TransactionStack<U> {
    type Command = U::Command;
    type Event = U::Event;

    fn handle_bound(&mut self, local: &[ListenAddr]) {
        self.local = local.to_vec();
    }

    fn handle_message(&mut self, now: Instant, message: Message, source: Target, _: SocketAddr) {
        self.table.handle_message(now, message, source);
        self.pump(now);
    }

    fn handle_parse_error(
        &mut self,
        now: Instant,
        error: ReceiveError,
        payload: Bytes,
        source: Target,
        _: SocketAddr,
    ) {
        self.with_context(now, |user, cx| user.handle_parse_error(cx, error, payload, source));
    }

    fn handle_transport_error(&mut self, now: Instant, transmit: &Transmit, error: TransportError) {
        // RFC 3261 §17.1.4, §17.2.4: the transaction learns of the failure.
        if let Some(id) = transmit.transaction {
            self.table.handle_transport_error(now, id);
            self.pump(now);
        }
        self.with_context(now, |user, cx| user.handle_transport_error(cx, transmit, error));
    }

    fn handle_connection_closed(&mut self, now: Instant, flow: FlowId, remote: SocketAddr) {
        self.with_context(now, |user, cx| user.handle_connection_closed(cx, flow, remote));
    }

    fn handle_command(&mut self, now: Instant, command: U::Command) {
        self.with_context(now, |user, cx| user.handle_command(cx, command));
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
        self.pump(now);
        if self.user.poll_timeout().is_some_and(|at| at <= now) {
            self.with_context(now, |user, cx| user.handle_timeout(cx));
        }
    }

    fn handle_shutdown(&mut self, now: Instant) {
        self.with_context(now, |user, cx| user.handle_shutdown(cx));
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<U::Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.table.poll_timeout(), self.user.poll_timeout()].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sip_message::{HeaderName as H, MessageBuilder, Method};

    use super::*;

    /// Answers every request 200 and emits the status of every final response.
    struct Echo;

    impl TransactionUser for Echo {
        type Command = Message;
        type Event = u16;

        fn handle_event(&mut self, cx: &mut TuContext<'_, u16>, event: Event) {
            match event {
                Event::Request { id, request, .. } => {
                    let ok = MessageBuilder::response_to(&request, 200, None).build().unwrap();
                    let now = cx.now();
                    cx.table().send_response(now, id, ok).unwrap();
                }
                Event::Final { response, .. } => cx.emit(response.status().unwrap_or(0)),
                _ => {}
            }
        }

        fn handle_command(&mut self, cx: &mut TuContext<'_, u16>, request: Message) {
            let target = Target::udp("192.0.2.9:5060".parse().unwrap());
            let now = cx.now();
            cx.table().send_request(now, request, target).unwrap();
        }
    }

    fn options(via: &str) -> Message {
        MessageBuilder::request(&Method::Options, "sip:b@192.0.2.9")
            .header(H::Via, via)
            .header(H::MaxForwards, "70")
            .header(H::To, "<sip:b@192.0.2.9>")
            .header(H::From, "<sip:a@192.0.2.1>;tag=1")
            .header(H::CallId, "c1")
            .header(H::CSeq, "1 OPTIONS")
            .build()
            .unwrap()
    }

    #[test]
    fn requests_are_answered_through_the_table() {
        let mut stack = TransactionStack::new(TransactionConfig::default().rng_seed(1), Echo);
        let now = Instant::now();
        let source = Target::udp("192.0.2.1:5060".parse().unwrap());
        let local = "192.0.2.9:5060".parse().unwrap();
        stack.handle_message(now, options("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"), source, local);
        let t = stack.poll_transmit().unwrap();
        assert_eq!(t.target, source);
        assert!(t.payload.starts_with(b"SIP/2.0 200 OK"));
        assert!(stack.poll_transmit().is_none());
    }

    #[test]
    fn commands_send_and_finals_become_events() {
        let mut stack = TransactionStack::new(TransactionConfig::default().rng_seed(1), Echo);
        stack.handle_bound(&[ListenAddr::udp("192.0.2.1:5060".parse().unwrap())]);
        let now = Instant::now();
        stack.handle_command(now, options("SIP/2.0/UDP 192.0.2.1:5060"));
        let sent = Message::parse(stack.poll_transmit().unwrap().payload).unwrap();
        assert!(stack.poll_timeout().is_some());
        let ok = MessageBuilder::response_to(&sent, 200, None).to_tag("b").build().unwrap();
        let source = Target::udp("192.0.2.9:5060".parse().unwrap());
        stack.handle_message(
            now + Duration::from_millis(5),
            ok,
            source,
            "0.0.0.0:0".parse().unwrap(),
        );
        assert_eq!(stack.poll_event(), Some(200));
    }

    #[test]
    fn transport_errors_reach_the_transaction() {
        // RFC 3261 §17.1.4: a client transaction told of a transport failure terminates.
        let mut stack = TransactionStack::new(TransactionConfig::default().rng_seed(1), Echo);
        let now = Instant::now();
        stack.handle_command(now, options("SIP/2.0/UDP 192.0.2.1:5060"));
        let t = stack.poll_transmit().unwrap();
        assert_eq!(stack.table().len(), 1);
        stack.handle_transport_error(now, &t, TransportError::NoSocket);
        assert!(stack.table().is_empty());
    }

    #[test]
    fn via_names_the_bound_address_of_the_family() {
        let local = [
            ListenAddr::udp("192.0.2.1:5070".parse().unwrap()),
            ListenAddr::tcp("[2001:db8::1]:5080".parse().unwrap()),
        ];
        let v4 = "192.0.2.9:5060".parse().unwrap();
        let v6 = "[2001:db8::9]:5060".parse().unwrap();
        assert_eq!(
            via_for(&local, Transport::Udp, v4).as_deref(),
            Some("SIP/2.0/UDP 192.0.2.1:5070;rport")
        );
        assert_eq!(
            via_for(&local, Transport::Tcp, v6).as_deref(),
            Some("SIP/2.0/TCP [2001:db8::1]:5080;rport")
        );
        assert_eq!(via_for(&local, Transport::Udp, v6), None);
    }
}
