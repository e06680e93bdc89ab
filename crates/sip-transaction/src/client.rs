//! Client transactions: INVITE (RFC 3261 §17.1.1, Figure 5 as RFC 6026 amends it) and non-INVITE
//! (§17.1.2, Figure 6).

use std::time::Duration;

use bytes::Bytes;
use sip_message::Message;

use crate::keys::build_ack;
use crate::machine::{Class, Ctx, Next, NonInviteState, Stimulus, class};
use crate::{Event, ResponseError, Target, Timer, TransactionState};

/// States of Figure 5 (RFC 6026), Terminated being the transaction's removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InviteState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

/// RFC 3261 §17.1.1 with RFC 6026 §7.2: the client INVITE transaction.
#[derive(Debug)]
pub(crate) struct ClientInvite {
    state: InviteState,
    request: Message,
    bytes: Bytes,
    target: Target,
    /// The ACK for the non-2xx final, serialised once, resent for each retransmitted final.
    ack: Option<Bytes>,
    /// Current Timer A interval.
    interval: Duration,
}

impl ClientInvite {
    /// Enters Calling: sends the request, arms Timer A (unreliable only) and Timer B.
    pub(crate) fn start(cx: &mut Ctx<'_>, request: Message, bytes: Bytes, target: Target) -> Self {
        cx.send(target, bytes.clone());
        let t1 = cx.config.t1;
        if !target.is_reliable() {
            cx.arm(Timer::A, t1);
        }
        cx.arm(Timer::B, cx.config.timer_b());
        Self { state: InviteState::Calling, request, bytes, target, ack: None, interval: t1 }
    }

    pub(crate) fn request(&self) -> &Message {
        &self.request
    }

    pub(crate) fn state(&self) -> TransactionState {
        match self.state {
            InviteState::Calling => TransactionState::Calling,
            InviteState::Proceeding => TransactionState::Proceeding,
            InviteState::Completed => TransactionState::Completed,
            InviteState::Accepted => TransactionState::Accepted,
        }
    }

    pub(crate) fn handle(
        &mut self,
        cx: &mut Ctx<'_>,
        input: Stimulus,
    ) -> Result<Next, ResponseError> {
        use InviteState::{Accepted, Calling, Completed, Proceeding};
        let id = cx.id;
        let next = match (self.state, input) {
            // §17.1.1.2: Timer A retransmits and doubles while Calling.
            (Calling, Stimulus::Timer(Timer::A)) => {
                cx.resend(self.target, self.bytes.clone());
                self.interval = self.interval.saturating_mul(2);
                cx.arm(Timer::A, self.interval);
                Next::Stay
            }
            // §17.1.1.2: Timer B in Calling: inform the TU, no ACK.
            (Calling, Stimulus::Timer(Timer::B)) => cx.timed_out(Timer::B),
            (Calling | Proceeding, Stimulus::Response(response)) => match class(&response) {
                Class::Provisional => {
                    self.state = Proceeding;
                    cx.disarm(Timer::A);
                    cx.disarm(Timer::B);
                    cx.event(Event::Provisional { id, response });
                    Next::Stay
                }
                // RFC 6026 §7.2: 2xx goes to Accepted for Timer M; the TU sends the ACK.
                Class::Success => {
                    self.state = Accepted;
                    cx.disarm(Timer::A);
                    cx.disarm(Timer::B);
                    cx.arm(Timer::M, cx.config.timer_b());
                    cx.event(Event::Final { id, response });
                    Next::Stay
                }
                // §17.1.1.2: 300-699: ACK (even on reliable transports), to the TU, Timer D.
                Class::Failure => {
                    self.state = Completed;
                    cx.disarm(Timer::A);
                    cx.disarm(Timer::B);
                    self.ack = build_ack(&self.request, &response).ok().map(|ack| ack.to_bytes());
                    if let Some(ack) = &self.ack {
                        cx.send(self.target, ack.clone());
                    }
                    cx.event(Event::Final { id, response });
                    cx.linger(self.target.is_reliable(), Timer::D, cx.config.timer_d())
                }
            },
            // RFC 6026 §8.4: a retransmitted 300-699 re-sends the ACK and stays from the TU.
            (Completed, Stimulus::Response(response)) => {
                cx.absorb();
                if class(&response) == Class::Failure {
                    if let Some(ack) = &self.ack {
                        cx.resend(self.target, ack.clone());
                    }
                }
                Next::Stay
            }
            (Completed, Stimulus::Timer(Timer::D)) => Next::Terminate,
            // RFC 6026 §7.2: every further 2xx goes to the TU; nothing else does.
            (Accepted, Stimulus::Response(response)) => {
                if class(&response) == Class::Success {
                    cx.event(Event::Additional2xx { id, response });
                } else {
                    cx.absorb();
                }
                Next::Stay
            }
            (Accepted, Stimulus::Timer(Timer::M)) => Next::Terminate,
            // §17.1.4: inform the TU and terminate. Figure 5 draws this from Calling (the INVITE)
            // and Completed (the ACK); in Proceeding a lost connection means the final answer can
            // no longer arrive, so the TU hears of it the same way.
            (Calling | Proceeding | Completed, Stimulus::TransportError) => {
                cx.transport_failed();
                Next::Terminate
            }
            // In Accepted the transaction sends nothing (the TU sends the ACK): a stale error.
            (Accepted, Stimulus::TransportError) => Next::Stay,
            // A timer of another state: its slot was cleared on leaving that state, so the
            // table never delivers it; absorbed if it ever did.
            (_, Stimulus::Timer(_)) => Next::Stay,
            (_, Stimulus::Request | Stimulus::Ack(..) | Stimulus::Respond(_)) => {
                return Err(ResponseError::NotAServerTransaction);
            }
        };
        Ok(next)
    }
}

/// RFC 3261 §17.1.2: the client non-INVITE transaction.
#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    state: NonInviteState,
    request: Message,
    bytes: Bytes,
    target: Target,
    /// Current Timer E interval.
    interval: Duration,
}

impl ClientNonInvite {
    /// Enters Trying: sends the request, arms Timer F and (unreliable only) Timer E.
    pub(crate) fn start(cx: &mut Ctx<'_>, request: Message, bytes: Bytes, target: Target) -> Self {
        cx.send(target, bytes.clone());
        let t1 = cx.config.t1;
        cx.arm(Timer::F, cx.config.timer_b());
        if !target.is_reliable() {
            cx.arm(Timer::E, t1);
        }
        Self { state: NonInviteState::Trying, request, bytes, target, interval: t1 }
    }

    pub(crate) fn request(&self) -> &Message {
        &self.request
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.state.into()
    }

    pub(crate) fn handle(
        &mut self,
        cx: &mut Ctx<'_>,
        input: Stimulus,
    ) -> Result<Next, ResponseError> {
        use NonInviteState::{Completed, Proceeding, Trying};
        let id = cx.id;
        let next = match (self.state, input) {
            // §17.1.2.2: Timer E doubles up to T2 in Trying ...
            (Trying, Stimulus::Timer(Timer::E)) => {
                cx.resend(self.target, self.bytes.clone());
                self.interval = self.interval.saturating_mul(2).min(cx.config.t2);
                cx.arm(Timer::E, self.interval);
                Next::Stay
            }
            // ... and is T2 in Proceeding.
            (Proceeding, Stimulus::Timer(Timer::E)) => {
                cx.resend(self.target, self.bytes.clone());
                self.interval = cx.config.t2;
                cx.arm(Timer::E, self.interval);
                Next::Stay
            }
            (Trying | Proceeding, Stimulus::Timer(Timer::F)) => cx.timed_out(Timer::F),
            (Trying | Proceeding, Stimulus::Response(response)) => match class(&response) {
                Class::Provisional => {
                    self.state = Proceeding;
                    cx.event(Event::Provisional { id, response });
                    Next::Stay
                }
                Class::Success | Class::Failure => {
                    self.state = Completed;
                    cx.disarm(Timer::E);
                    cx.disarm(Timer::F);
                    cx.event(Event::Final { id, response });
                    cx.linger(self.target.is_reliable(), Timer::K, cx.config.t4)
                }
            },
            // §17.1.2.2: Completed buffers response retransmissions.
            (Completed, Stimulus::Response(_)) => {
                cx.absorb();
                Next::Stay
            }
            (Completed, Stimulus::Timer(Timer::K)) => Next::Terminate,
            // §17.1.4, Figure 6.
            (Trying | Proceeding, Stimulus::TransportError) => {
                cx.transport_failed();
                Next::Terminate
            }
            // Nothing is sent in Completed: a stale error.
            (Completed, Stimulus::TransportError) => Next::Stay,
            // A timer of another state (see ClientInvite::handle).
            (_, Stimulus::Timer(_)) => Next::Stay,
            (_, Stimulus::Request | Stimulus::Ack(..) | Stimulus::Respond(_)) => {
                return Err(ResponseError::NotAServerTransaction);
            }
        };
        Ok(next)
    }
}
