//! A phone: a `UserAgent` as a sip-testkit `Party`, with a scripted application.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::Message;
use sip_testkit::Party;
use sip_transaction::{Target, TransactionConfig, Transport};
use sip_ua::{Body, CallId, UaConfig, UaEvent, UaOutput, UserAgent};

pub const SDP_OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
pub const SDP_ANSWER: &str = "v=0\r\no=bob 2890844527 2890844527 IN IP4 192.0.2.201\r\ns=-\r\nc=IN IP4 192.0.2.201\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// What the phone's user does with an incoming call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Answer {
    /// 180 at once, 200 after the delay.
    RingThenAnswer(Duration),
    /// 200 at once.
    Now,
    /// 180 and nothing more.
    RingOnly,
    /// 180, then this final status after the delay.
    RingThenReject(u16, Duration),
    /// This final status at once.
    Reject(u16),
    /// Nothing at all.
    Ignore,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Answer(CallId),
    Reject(CallId, u16),
    Bye(CallId),
}

pub struct Phone {
    pub ua: UserAgent,
    pub addr: SocketAddr,
    pub transport: Transport,
    pub policy: Answer,
    /// Hang up established calls (incoming and outgoing) after this long.
    pub hangup_after: Option<Duration>,
    pub events: Vec<(Instant, UaEvent)>,
    out: VecDeque<(SocketAddr, Bytes)>,
    scheduled: Vec<(Instant, Action)>,
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Phone {
    pub fn new(user: &str, addr: SocketAddr, transport: Transport, seed: u64) -> Self {
        let mut config = UaConfig::new(user, &addr.to_string()).rng_seed(seed);
        if transport == Transport::Tcp {
            config.contact = format!("sip:{user}@{addr};transport=tcp");
        }
        Phone::with_config(config, addr, transport, seed)
    }

    pub fn with_config(
        config: UaConfig,
        addr: SocketAddr,
        transport: Transport,
        seed: u64,
    ) -> Self {
        let ua = UserAgent::new(config, TransactionConfig::default().rng_seed(seed));
        Phone {
            ua,
            addr,
            transport,
            policy: Answer::Now,
            hangup_after: None,
            events: Vec::new(),
            out: VecDeque::new(),
            scheduled: Vec::new(),
        }
    }

    /// Runs a command at `now` and drains what it produced.
    pub fn act<R>(&mut self, now: Instant, f: impl FnOnce(&mut UserAgent, Instant) -> R) -> R {
        let r = f(&mut self.ua, now);
        self.drain(now);
        r
    }

    pub fn drain(&mut self, now: Instant) {
        while let Some(output) = self.ua.poll_output() {
            match output {
                UaOutput::Transmit(t) => match t.target {
                    Target::Addr(_, to) => self.out.push_back((to, t.payload)),
                    Target::Flow(..) => panic!("no flows in this harness"),
                },
                UaOutput::Event(e) => {
                    self.react(now, &e);
                    self.events.push((now, e));
                }
            }
        }
    }

    fn react(&mut self, now: Instant, event: &UaEvent) {
        match event {
            UaEvent::IncomingCall { call, .. } => {
                let call = *call;
                match self.policy {
                    Answer::RingThenAnswer(d) => {
                        let _ = self.ua.ring(now, call, 180, None);
                        self.scheduled.push((now + d, Action::Answer(call)));
                    }
                    Answer::Now => {
                        let _ = self.ua.answer(now, call, Some(Body::sdp(SDP_ANSWER)));
                    }
                    Answer::RingOnly => {
                        let _ = self.ua.ring(now, call, 180, None);
                    }
                    Answer::RingThenReject(status, d) => {
                        let _ = self.ua.ring(now, call, 180, None);
                        self.scheduled.push((now + d, Action::Reject(call, status)));
                    }
                    Answer::Reject(status) => {
                        let _ = self.ua.reject(now, call, status);
                    }
                    Answer::Ignore => {}
                }
            }
            UaEvent::Confirmed { call, .. } | UaEvent::Answered { call, .. } => {
                if let Some(d) = self.hangup_after {
                    self.scheduled.push((now + d, Action::Bye(*call)));
                }
            }
            UaEvent::Reinvite { call, .. } => {
                let _ = self.ua.accept_reinvite(now, *call, Some(Body::sdp(SDP_ANSWER)));
            }
            _ => {}
        }
    }

    fn run_scheduled(&mut self, now: Instant) {
        let due: Vec<Action> = {
            let (due, rest): (Vec<_>, Vec<_>) =
                self.scheduled.drain(..).partition(|(at, _)| *at <= now);
            self.scheduled = rest;
            due.into_iter().map(|(_, a)| a).collect()
        };
        for action in due {
            match action {
                Action::Answer(call) => {
                    let _ = self.ua.answer(now, call, Some(Body::sdp(SDP_ANSWER)));
                }
                Action::Reject(call, status) => {
                    let _ = self.ua.reject(now, call, status);
                }
                Action::Bye(call) => {
                    let _ = self.ua.bye(now, call);
                }
            }
        }
    }

    /// The events, without times.
    pub fn event_names(&self) -> Vec<String> {
        self.events.iter().map(|(_, e)| event_name(e)).collect()
    }

    pub fn is_idle(&self) -> bool {
        self.ua.is_idle() && self.scheduled.is_empty()
    }
}

pub fn event_name(e: &UaEvent) -> String {
    match e {
        UaEvent::IncomingCall { .. } => "IncomingCall".into(),
        UaEvent::Progress { response, .. } => {
            format!("Progress({})", response.status().unwrap_or(0))
        }
        UaEvent::Answered { .. } => "Answered".into(),
        UaEvent::Confirmed { .. } => "Confirmed".into(),
        UaEvent::Failed { status, .. } => format!("Failed({status})"),
        UaEvent::Cancelled { .. } => "Cancelled".into(),
        UaEvent::Ended { reason, .. } => format!("Ended({reason:?})"),
        UaEvent::Reinvite { .. } => "Reinvite".into(),
        UaEvent::ReinviteResult { status, .. } => format!("ReinviteResult({status})"),
        UaEvent::Response { status, final_, .. } => format!("Response({status},{final_})"),
        UaEvent::Request { request, .. } => {
            format!("Request({})", request.method().map(|m| m.to_string()).unwrap_or_default())
        }
        other => format!("{other:?}"),
    }
}

impl Party<SocketAddr, Bytes> for Phone {
    fn address(&self) -> SocketAddr {
        self.addr
    }
    fn receive(&mut self, now: Instant, from: SocketAddr, payload: Bytes) {
        self.ua.handle_datagram(now, payload, Target::Addr(self.transport, from));
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.run_scheduled(now);
        self.ua.handle_timeout(now);
        self.drain(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let scheduled = self.scheduled.iter().map(|(at, _)| *at).min();
        match (self.ua.poll_timeout(), scheduled) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.out.pop_front()
    }
}

/// A one-line summary of a message on the wire: `INVITE` or `200/INVITE`.
pub fn summary(payload: &Bytes) -> String {
    match Message::parse(payload.clone()) {
        Ok(m) => match m.status() {
            Some(s) => {
                format!("{s}/{}", m.cseq_method().map(|m| m.to_string()).unwrap_or_default())
            }
            None => m.method().map(|m| m.to_string()).unwrap_or_default(),
        },
        Err(_) => "garbage".into(),
    }
}
