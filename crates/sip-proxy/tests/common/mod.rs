//! Scripted user agents and a proxy node for scenario tests on sip-testkit's wire.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method, SipUri, Uri};
use sip_proxy::{
    Location, Output, ProxyConfig, ProxyEvent, StandaloneProxy, StaticLocations, StaticResolver,
};
use sip_testkit::{Party, Sim, Wire};
use sip_transaction::{Event, Target, TransactionConfig, TransactionId, TransactionTable};

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub const ALICE: &str = "192.0.2.101:5060";
pub const BOB: &str = "192.0.2.201:5060";
pub const CAROL: &str = "192.0.2.202:5060";
pub const DAVE: &str = "192.0.2.203:5060";
pub const P1: &str = "192.0.2.10:5060";
pub const P2: &str = "192.0.2.20:5060";

/// What a UAS does with an INVITE: responses after delays from its arrival.
#[derive(Clone, Debug)]
pub struct Script(pub Vec<(Duration, u16)>);

impl Script {
    pub fn answer() -> Script {
        Script(vec![(ms(5), 180), (ms(30), 200)])
    }
    pub fn busy() -> Script {
        Script(vec![(ms(5), 486)])
    }
    pub fn ring() -> Script {
        Script(vec![(ms(5), 180)])
    }
    pub fn status(status: u16) -> Script {
        Script(vec![(ms(5), status)])
    }
    pub fn silent() -> Script {
        Script(vec![])
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Debug)]
struct Scheduled {
    at: Instant,
    server: TransactionId,
    status: u16,
}

#[derive(Debug)]
struct Retransmit {
    next: Instant,
    interval: Duration,
    until: Instant,
    server: TransactionId,
    response: Message,
    call_id: String,
    cseq: u32,
}

/// A scripted user agent over its own transaction table.
#[derive(Debug)]
pub struct Ua {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub table: TransactionTable,
    pub script: Script,
    /// Extra headers for responses (e.g. a challenge), by status.
    pub response_headers: Vec<(u16, H, String)>,
    out: VecDeque<(SocketAddr, Bytes)>,
    scheduled: Vec<Scheduled>,
    retransmits: Vec<Retransmit>,
    /// Requests received (new server transactions and ACKs), in order.
    pub received: Vec<Message>,
    /// Responses received by client transactions (provisional, final, additional 2xx).
    pub responses: Vec<Message>,
    /// Final statuses per client transaction.
    pub finals: Vec<(TransactionId, u16)>,
    /// Client transactions that timed out.
    pub timeouts: Vec<TransactionId>,
    /// ACKs this UA sent for 2xx responses.
    pub acks_sent: usize,
    pub invite_servers: Vec<TransactionId>,
    tag: String,
}

impl Ua {
    pub fn new(name: &'static str, at: &str, script: Script) -> Ua {
        Ua::with_config(name, at, script, TransactionConfig::default())
    }

    pub fn with_config(
        name: &'static str,
        at: &str,
        script: Script,
        config: TransactionConfig,
    ) -> Ua {
        let seed = u64::from(addr(at).port())
            ^ u64::from(u32::from_be_bytes(match addr(at).ip() {
                std::net::IpAddr::V4(v) => v.octets(),
                std::net::IpAddr::V6(_) => [0; 4],
            }));
        Ua {
            name,
            addr: addr(at),
            table: TransactionTable::new(config.rng_seed(seed)),
            script,
            response_headers: Vec::new(),
            out: VecDeque::new(),
            scheduled: Vec::new(),
            retransmits: Vec::new(),
            received: Vec::new(),
            responses: Vec::new(),
            finals: Vec::new(),
            timeouts: Vec::new(),
            acks_sent: 0,
            invite_servers: Vec::new(),
            tag: format!("{name}-tag"),
        }
    }

    pub fn contact(&self) -> String {
        format!("<sip:{}@{}>", self.name, self.addr)
    }

    /// A request from this UA, ready for `send`.
    pub fn request(&self, method: &Method, uri: &str, call_id: &str, cseq: u32) -> MessageBuilder {
        MessageBuilder::request(method, uri)
            .header(H::Via, format!("SIP/2.0/UDP {}", self.addr))
            .header(H::MaxForwards, "70")
            .header(H::To, format!("<{uri}>"))
            .header(H::From, format!("<sip:{}@example.com>;tag={}", self.name, self.tag))
            .header(H::CallId, call_id)
            .header(H::CSeq, format!("{cseq} {method}"))
            .header(H::Contact, self.contact())
    }

    pub fn invite(&mut self, now: Instant, uri: &str, call_id: &str, to: &str) -> TransactionId {
        let msg = self.request(&Method::Invite, uri, call_id, 1).build().unwrap();
        self.send(now, msg, to)
    }

    pub fn send(&mut self, now: Instant, msg: Message, to: &str) -> TransactionId {
        let id = self.table.send_request(now, msg, Target::udp(addr(to))).unwrap();
        self.drain(now);
        id
    }

    pub fn cancel(&mut self, now: Instant, invite: TransactionId, to: &str) {
        let cancel = self.table.cancel_request(invite).unwrap();
        self.table.send_request(now, cancel, Target::udp(addr(to))).unwrap();
        self.drain(now);
    }

    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().filter_map(Message::status).collect()
    }

    pub fn final_of(&self, id: TransactionId) -> Option<u16> {
        self.finals.iter().find(|(i, _)| *i == id).map(|(_, s)| *s)
    }

    pub fn received_methods(&self) -> Vec<String> {
        self.received.iter().filter_map(|m| m.method().map(ToString::to_string)).collect()
    }

    pub fn is_idle(&self) -> bool {
        self.table.is_empty() && self.scheduled.is_empty() && self.retransmits.is_empty()
    }

    fn respond(&mut self, now: Instant, server: TransactionId, status: u16) {
        let Some(request) = self.table.request(server).cloned() else { return };
        let mut b = MessageBuilder::response_to(&request, status, None);
        if status > 100 {
            b = b.to_tag(&self.tag);
        }
        if status < 300 {
            for rr in request.header_lines(H::RecordRoute) {
                b = b.header(H::RecordRoute, rr);
            }
            b = b.header(H::Contact, self.contact());
        }
        for (s, name, value) in &self.response_headers {
            if *s == status {
                b = b.header(*name, value);
            }
        }
        let response = b.build().unwrap();
        let invite = request.method() == Some(&Method::Invite);
        if self.table.send_response(now, server, response.clone()).is_ok()
            && invite
            && (200..300).contains(&status)
        {
            // RFC 6026 §8.1: the UAS core retransmits its 2xx until the ACK.
            let t1 = self.table.config().timer_t1();
            self.retransmits.push(Retransmit {
                next: now + t1,
                interval: t1,
                until: now + self.table.config().timer_b(),
                server,
                response,
                call_id: request.call_id().unwrap_or_default().to_owned(),
                cseq: request.cseq_number().unwrap_or_default(),
            });
        }
        if status >= 200 {
            self.scheduled.retain(|s| s.server != server);
        }
    }

    fn ack_2xx(&mut self, response: &Message) {
        // RFC 3261 §13.2.2.4: Request-URI from the Contact, Route from the reversed Record-Route.
        let contact = response
            .header_str(H::Contact)
            .and_then(|c| <sip_message::Contact as sip_message::TypedHeader>::parse(c).ok())
            .and_then(|c| c.uri_str().map(str::to_owned))
            .unwrap_or_default();
        let routes: Vec<String> = response
            .values(H::RecordRoute)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let branch = self.table.new_branch();
        let mut b = MessageBuilder::request(&Method::Ack, &contact)
            .header(H::Via, format!("SIP/2.0/UDP {};branch={branch}", self.addr))
            .header(H::MaxForwards, "70");
        for r in routes.iter().rev() {
            b = b.header(H::Route, r);
        }
        let cseq = response.cseq_number().unwrap_or(1);
        let ack = b
            .header(H::To, response.to_header().unwrap())
            .header(H::From, response.from_header().unwrap())
            .header(H::CallId, response.call_id().unwrap())
            .header(H::CSeq, format!("{cseq} ACK"))
            .build()
            .unwrap();
        let next = routes
            .last()
            .map(|r| r.trim_start_matches('<').split(['>', ';']).next().unwrap_or("").to_owned())
            .unwrap_or(contact);
        let target = Target::from_uri(&SipUri::parse(&next).unwrap()).unwrap();
        self.table.send_stateless(target, &ack);
        self.acks_sent += 1;
    }

    fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Request { id, request, .. } => {
                self.received.push(request.clone());
                match request.method() {
                    Some(Method::Invite) => {
                        self.invite_servers.push(id);
                        for (delay, status) in self.script.0.clone() {
                            self.scheduled.push(Scheduled { at: now + delay, server: id, status });
                        }
                    }
                    Some(Method::Cancel) => {
                        let invite = self.table.find_invite_for_cancel(&request);
                        self.respond(now, id, if invite.is_some() { 200 } else { 481 });
                        if let Some(invite) = invite {
                            if self.scheduled.iter().any(|s| s.server == invite)
                                || self.table.state(invite)
                                    == Some(sip_transaction::TransactionState::Proceeding)
                            {
                                self.respond(now, invite, 487);
                            }
                        }
                    }
                    _ => self.respond(now, id, 200),
                }
            }
            Event::Ack { request, .. } => {
                let (call_id, cseq) =
                    (request.call_id().unwrap_or_default().to_owned(), request.cseq_number());
                self.retransmits.retain(|r| !(r.call_id == call_id && Some(r.cseq) == cseq));
                self.received.push(request);
            }
            Event::Provisional { response, .. } => self.responses.push(response),
            Event::Final { id, response } => {
                let status = response.status().unwrap();
                self.finals.push((id, status));
                if (200..300).contains(&status) && response.cseq_method() == Some(&Method::Invite) {
                    self.ack_2xx(&response);
                }
                self.responses.push(response);
            }
            Event::Additional2xx { response, .. } => {
                self.ack_2xx(&response);
                self.responses.push(response);
            }
            Event::TimedOut { id, .. } => self.timeouts.push(id),
            _ => {}
        }
    }

    pub fn drain(&mut self, now: Instant) {
        while let Some(output) = self.table.poll_output() {
            match output {
                sip_transaction::Output::Transmit(t) => {
                    if let Target::Addr(_, to) = t.target {
                        self.out.push_back((to, t.payload));
                    }
                }
                sip_transaction::Output::Event(e) => self.on_event(now, e),
            }
        }
    }
}

impl Party<SocketAddr, Bytes> for Ua {
    fn address(&self) -> SocketAddr {
        self.addr
    }
    fn receive(&mut self, now: Instant, from: SocketAddr, payload: Bytes) {
        self.table.handle_datagram(now, payload, Target::udp(from));
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
        self.drain(now);
        let due: Vec<(TransactionId, u16)> =
            self.scheduled.iter().filter(|s| s.at <= now).map(|s| (s.server, s.status)).collect();
        self.scheduled.retain(|s| s.at > now);
        for (server, status) in due {
            self.respond(now, server, status);
        }
        let t2 = self.table.config().timer_t2();
        let mut resend = Vec::new();
        self.retransmits.retain(|r| r.until > now);
        for r in &mut self.retransmits {
            if r.next <= now {
                resend.push((r.server, r.response.clone()));
                r.interval = (r.interval * 2).min(t2);
                r.next = now + r.interval;
            }
        }
        for (server, response) in resend {
            let _ = self.table.send_response(now, server, response);
        }
        self.drain(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.table.poll_timeout(),
            self.scheduled.iter().map(|s| s.at).min(),
            self.retransmits.iter().map(|r| r.next.min(r.until)).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.out.pop_front()
    }
}

/// A proxy on the wire.
pub struct Node {
    pub addr: SocketAddr,
    pub proxy: StandaloneProxy<StaticLocations, StaticResolver>,
    pub events: Vec<ProxyEvent>,
    /// Feed datagrams through `StandaloneProxy::handle` (the table's queued entry point)
    /// instead of `handle_datagram` (the direct one).
    pub queued: bool,
    out: VecDeque<(SocketAddr, Bytes)>,
}

impl Node {
    pub fn new(config: ProxyConfig, locations: StaticLocations, resolver: StaticResolver) -> Node {
        Node::with_transactions(config, locations, resolver, TransactionConfig::default())
    }

    pub fn with_transactions(
        config: ProxyConfig,
        locations: StaticLocations,
        resolver: StaticResolver,
        transactions: TransactionConfig,
    ) -> Node {
        let sent_by = config.sent_by().to_owned();
        Node {
            addr: addr(&sent_by),
            proxy: StandaloneProxy::new(config, transactions, locations, resolver),
            events: Vec::new(),
            queued: false,
            out: VecDeque::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.proxy.poll_output() {
            match output {
                Output::Transmit(t) => {
                    if let Target::Addr(_, to) = t.target {
                        self.out.push_back((to, t.payload));
                    }
                }
                Output::Event(e) => self.events.push(e),
                _ => {}
            }
        }
    }

    pub fn is_idle(&self) -> bool {
        self.proxy.is_idle()
    }
}

impl Party<SocketAddr, Bytes> for Node {
    fn address(&self) -> SocketAddr {
        self.addr
    }
    fn receive(&mut self, now: Instant, from: SocketAddr, payload: Bytes) {
        if self.queued {
            let input = sip_transaction::Input::Datagram { payload, source: Target::udp(from) };
            self.proxy.handle(now, input);
        } else {
            self.proxy.handle_datagram(now, payload, Target::udp(from));
        }
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.proxy.handle_timeout(now);
        self.drain();
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.proxy.poll_timeout()
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.out.pop_front()
    }
}

/// A proxy for `example.com` at P1 with `bindings` (AOR, contact, q).
pub fn proxy_at(at: &str, domain: &str, bindings: &[(&str, &str, u16)]) -> Node {
    let mut locations = StaticLocations::new();
    for (aor, contact, q) in bindings {
        let q = sip_message::Q::from_thousandths(*q).unwrap();
        locations.add(aor, Location::new(contact).q(q));
    }
    let config = ProxyConfig::new(&format!("sip:{at}")).unwrap().domain(domain);
    Node::new(config, locations, StaticResolver::new())
}

pub fn wire() -> Wire<SocketAddr, Bytes> {
    Wire::seeded(1).latency(ms(10)).record(true)
}

/// Every message sent from `from` to `to`, parsed.
pub fn sent<P>(sim: &Sim<SocketAddr, Bytes, P>, from: &str, to: &str) -> Vec<Message> {
    sim.wire
        .log()
        .iter()
        .filter(|s| s.from == addr(from) && s.to == addr(to))
        .map(|s| Message::parse(s.payload.clone()).unwrap())
        .collect()
}

/// The first line of each message: `INVITE sip:...` or `200 OK`.
pub fn summary(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match m.method() {
            Some(method) => format!("{method} {}", m.request_uri_str().unwrap()),
            None => m.status().unwrap().to_string(),
        })
        .collect()
}

pub fn vias(m: &Message) -> Vec<String> {
    m.values(H::Via).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

pub fn values(m: &Message, name: H) -> Vec<String> {
    m.values(name).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

pub fn uri_str(s: &str) -> &str {
    s
}

pub fn parse_uri(s: &str) -> Uri<'_> {
    Uri::parse(s).unwrap()
}
