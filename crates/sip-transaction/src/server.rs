//! Server transactions: INVITE (RFC 3261 §17.2.1, Figure 7 as RFC 6026 amends it) and
//! non-INVITE (§17.2.2, Figure 8).
//!
//! A server machine keeps no parsed request: the TU received it in [`Event::Request`], and the
//! table holds its bytes and its source and passes both in the [`Ctx`]. The automatic 100
//! (Trying), the one thing built from the request's fields, re-reads them from those bytes.
//!
//! [`Event::Request`]: crate::Event::Request

use std::time::Duration;

use bytes::Bytes;
use sip_message::MessageBuilder;

use crate::keys::reparse;
use crate::machine::{Class, Ctx, Next, NonInviteState, Step, Stimulus, Up, class};
use crate::{ResponseError, Timer, TransactionState};

/// States of Figure 7 (RFC 6026), Terminated being the transaction's removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InviteState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
}

/// RFC 3261 §17.2.1 with RFC 6026 §7.1: the server INVITE transaction.
#[derive(Debug)]
pub(crate) struct ServerInvite {
    state: InviteState,
    /// The most recent provisional (in Proceeding) or the final (in Completed), serialised once.
    last: Option<Bytes>,
    /// To tag of the final response, for RFC 2543 ACK matching (§17.2.3); kept only for
    /// requests without an RFC 3261 branch.
    final_to_tag: Option<Box<str>>,
    /// Current Timer G interval.
    interval: Duration,
    /// Whether the ACK is matched the RFC 2543 way (and so needs `final_to_tag`).
    legacy: bool,
}

impl ServerInvite {
    /// Enters Proceeding. The table has already passed the request to the TU, and arms the
    /// 100 (Trying) timer (§17.2.1) itself once the clock moves on, unless the TU answered
    /// first ([`unanswered`](Self::unanswered)).
    pub(crate) fn start(cx: &mut Ctx<'_>, legacy: bool) -> Self {
        Self {
            state: InviteState::Proceeding,
            last: None,
            final_to_tag: None,
            interval: cx.config.t1,
            legacy,
        }
    }

    /// Whether the TU has sent no response yet (so the 100 (Trying) timer is still due to
    /// be armed).
    pub(crate) fn unanswered(&self) -> bool {
        self.state == InviteState::Proceeding && self.last.is_none()
    }

    pub(crate) fn final_to_tag(&self) -> Option<&str> {
        self.final_to_tag.as_deref()
    }

    pub(crate) fn state(&self) -> TransactionState {
        match self.state {
            InviteState::Proceeding => TransactionState::Proceeding,
            InviteState::Completed => TransactionState::Completed,
            InviteState::Confirmed => TransactionState::Confirmed,
            InviteState::Accepted => TransactionState::Accepted,
        }
    }

    fn keep_to_tag(&mut self, response: &sip_message::Message) {
        if self.legacy {
            self.final_to_tag = response.to_tag().map(Into::into);
        }
    }

    pub(crate) fn handle(&mut self, cx: &mut Ctx<'_>, input: Stimulus<'_>) -> Step {
        use InviteState::{Accepted, Completed, Confirmed, Proceeding};
        let stay = (Next::Stay, Up::Nothing);
        let next = match (self.state, input) {
            // §17.2.1: 100 (Trying) unless the TU answered within 200 ms.
            (Proceeding, Stimulus::Timer(Timer::Trying)) => {
                if self.last.is_none() {
                    let trying = reparse(cx.request).and_then(|request| {
                        MessageBuilder::response_to(&request, 100, None).build().ok()
                    });
                    if let Some(trying) = trying {
                        let bytes = trying.to_bytes();
                        cx.send(bytes.clone());
                        self.last = Some(bytes);
                    }
                }
                stay
            }
            // §17.2.1: a retransmitted INVITE gets the latest provisional again.
            (Proceeding, Stimulus::Request) => {
                cx.absorb();
                if let Some(last) = &self.last {
                    cx.resend(last.clone());
                }
                stay
            }
            (Proceeding, Stimulus::Respond(response)) => {
                cx.disarm(Timer::Trying);
                let bytes = response.to_bytes();
                match class(response) {
                    Class::Provisional => {
                        cx.send(bytes.clone());
                        self.last = Some(bytes);
                        stay
                    }
                    // RFC 6026 §8.5: 2xx is sent once and the transaction is Accepted (Timer L).
                    Class::Success => {
                        cx.send(bytes);
                        self.state = Accepted;
                        self.last = None;
                        self.keep_to_tag(response);
                        cx.arm(Timer::L, cx.config.timer_b());
                        stay
                    }
                    // §17.2.1: 300-699: Completed, Timer G (unreliable) and Timer H.
                    Class::Failure => {
                        cx.send(bytes.clone());
                        self.state = Completed;
                        self.last = Some(bytes);
                        self.keep_to_tag(response);
                        if !cx.reliable() {
                            cx.arm(Timer::G, self.interval);
                        }
                        cx.arm(Timer::H, cx.config.timer_b());
                        stay
                    }
                }
            }
            // An ACK before any final answers nothing: absorbed.
            (Proceeding, Stimulus::Ack) => {
                cx.absorb();
                stay
            }
            // §17.2.1: retransmitted INVITE or Timer G: the final again, G doubling to T2.
            (Completed, Stimulus::Request) => {
                cx.absorb();
                if let Some(last) = &self.last {
                    cx.resend(last.clone());
                }
                stay
            }
            (Completed, Stimulus::Timer(Timer::G)) => {
                if let Some(last) = &self.last {
                    cx.resend(last.clone());
                }
                self.interval = self.interval.saturating_mul(2).min(cx.config.t2);
                cx.arm(Timer::G, self.interval);
                stay
            }
            // §17.2.1: no ACK by Timer H: a transaction failure for the TU.
            (Completed, Stimulus::Timer(Timer::H)) => (cx.timed_out(Timer::H), Up::Nothing),
            // §17.2.1: the ACK confirms; Timer I absorbs its retransmissions.
            (Completed, Stimulus::Ack) => {
                self.state = Confirmed;
                cx.disarm(Timer::G);
                cx.disarm(Timer::H);
                (cx.linger(Timer::I, cx.config.t4), Up::Nothing)
            }
            (Confirmed, Stimulus::Request | Stimulus::Ack) => {
                cx.absorb();
                stay
            }
            (Confirmed, Stimulus::Timer(Timer::I)) => (Next::Terminate, Up::Nothing),
            (Completed | Confirmed, Stimulus::Respond(_)) => {
                return Err(ResponseError::AlreadyFinal(self.state()));
            }
            // RFC 6026 §7.1: retransmitted INVITEs are absorbed, ACKs go to the TU, the TU's
            // 2xx retransmissions pass through, and Timer L ends it.
            (Accepted, Stimulus::Request) => {
                cx.absorb();
                stay
            }
            (Accepted, Stimulus::Ack) => (Next::Stay, Up::Ack),
            (Accepted, Stimulus::Respond(response)) => {
                if class(response) != Class::Success {
                    return Err(ResponseError::AlreadyFinal(self.state()));
                }
                cx.send(response.to_bytes());
                stay
            }
            (Accepted, Stimulus::Timer(Timer::L)) => (Next::Terminate, Up::Nothing),
            // RFC 6026 §8.8 (amending §17.2.4): inform the TU and stay, so retransmitted INVITEs
            // are still absorbed; the timers end the transaction.
            (Proceeding | Completed | Accepted, Stimulus::TransportError) => {
                cx.transport_failed();
                stay
            }
            // Nothing is sent in Confirmed: a stale error.
            (Confirmed, Stimulus::TransportError) => stay,
            // A timer of another state: its slot was cleared on leaving that state.
            (_, Stimulus::Timer(_)) => stay,
            // Responses are matched to client transactions only.
            (_, Stimulus::Response(_)) => stay,
        };
        Ok(next)
    }
}

/// RFC 3261 §17.2.2: the server non-INVITE transaction.
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    state: NonInviteState,
    /// The most recent provisional (Proceeding) or the final (Completed), serialised once.
    last: Option<Bytes>,
}

impl ServerNonInvite {
    /// Enters Trying. The table has already passed the request to the TU.
    pub(crate) fn start() -> Self {
        Self { state: NonInviteState::Trying, last: None }
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.state.into()
    }

    pub(crate) fn handle(&mut self, cx: &mut Ctx<'_>, input: Stimulus<'_>) -> Step {
        use NonInviteState::{Completed, Proceeding, Trying};
        let stay = (Next::Stay, Up::Nothing);
        let next = match (self.state, input) {
            // §17.2.2: retransmissions in Trying are discarded.
            (Trying, Stimulus::Request) => {
                cx.absorb();
                stay
            }
            // §17.2.2: in Proceeding and Completed they get the last response again.
            (Proceeding | Completed, Stimulus::Request) => {
                cx.absorb();
                if let Some(last) = &self.last {
                    cx.resend(last.clone());
                }
                stay
            }
            (Trying | Proceeding, Stimulus::Respond(response)) => {
                let bytes = response.to_bytes();
                cx.send(bytes.clone());
                self.last = Some(bytes);
                match class(response) {
                    Class::Provisional => {
                        self.state = Proceeding;
                        stay
                    }
                    // §17.2.2: Timer J, 64*T1 on unreliable transports and zero on reliable.
                    Class::Success | Class::Failure => {
                        self.state = Completed;
                        (cx.linger(Timer::J, cx.config.timer_b()), Up::Nothing)
                    }
                }
            }
            (Completed, Stimulus::Respond(_)) => {
                return Err(ResponseError::AlreadyFinal(self.state()));
            }
            (Completed, Stimulus::Timer(Timer::J)) => (Next::Terminate, Up::Nothing),
            // Figure 8: a failure sending a response informs the TU and terminates.
            (Proceeding | Completed, Stimulus::TransportError) => {
                cx.transport_failed();
                (Next::Terminate, Up::Nothing)
            }
            // Nothing was sent in Trying: a stale error.
            (Trying, Stimulus::TransportError) => stay,
            // ACK matches INVITE transactions only (§17.2.3); never routed here.
            (_, Stimulus::Ack) => stay,
            (_, Stimulus::Timer(_)) => stay,
            (_, Stimulus::Response(_)) => stay,
        };
        Ok(next)
    }
}
