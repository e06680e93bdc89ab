//! Client transactions: INVITE (RFC 3261 §17.1.1, Figure 5 as RFC 6026 amends it) and non-INVITE
//! (§17.1.2, Figure 6).
//!
//! A client machine keeps no parsed request: the table holds the serialised request (each
//! retransmission is a reference-count clone of it) and the target, and passes both in the
//! [`Ctx`]. The ACK for a non-2xx final, the one thing built from the request's fields, re-reads
//! them from those bytes.

use std::time::Duration;

use bytes::Bytes;

use crate::keys::{build_ack, reparse};
use crate::machine::{Class, Ctx, Next, NonInviteState, Step, Stimulus, Up, class};
use crate::{ResponseError, Timer, TransactionState};

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
    /// The ACK for the non-2xx final, serialised once, resent for each retransmitted final.
    ack: Option<Bytes>,
    /// Current Timer A interval.
    interval: Duration,
}

impl ClientInvite {
    /// Enters Calling: sends the request, arms Timer A (unreliable only) and Timer B.
    pub(crate) fn start(cx: &mut Ctx<'_>) -> Self {
        cx.send_request(false);
        let t1 = cx.config.t1;
        if !cx.reliable() {
            cx.arm(Timer::A, t1);
        }
        cx.arm(Timer::B, cx.config.timer_b());
        Self { state: InviteState::Calling, ack: None, interval: t1 }
    }

    pub(crate) fn state(&self) -> TransactionState {
        match self.state {
            InviteState::Calling => TransactionState::Calling,
            InviteState::Proceeding => TransactionState::Proceeding,
            InviteState::Completed => TransactionState::Completed,
            InviteState::Accepted => TransactionState::Accepted,
        }
    }

    pub(crate) fn handle(&mut self, cx: &mut Ctx<'_>, input: Stimulus<'_>) -> Step {
        use InviteState::{Accepted, Calling, Completed, Proceeding};
        let next = match (self.state, input) {
            // §17.1.1.2: Timer A retransmits and doubles while Calling.
            (Calling, Stimulus::Timer(Timer::A)) => {
                cx.send_request(true);
                self.interval = self.interval.saturating_mul(2);
                cx.arm(Timer::A, self.interval);
                (Next::Stay, Up::Nothing)
            }
            // §17.1.1.2: Timer B in Calling: inform the TU, no ACK.
            (Calling, Stimulus::Timer(Timer::B)) => (cx.timed_out(Timer::B), Up::Nothing),
            (Calling | Proceeding, Stimulus::Response(response)) => match class(response) {
                Class::Provisional => {
                    self.state = Proceeding;
                    cx.disarm(Timer::A);
                    cx.disarm(Timer::B);
                    (Next::Stay, Up::Provisional)
                }
                // RFC 6026 §7.2: 2xx goes to Accepted for Timer M; the TU sends the ACK.
                Class::Success => {
                    self.state = Accepted;
                    cx.disarm(Timer::A);
                    cx.disarm(Timer::B);
                    cx.arm(Timer::M, cx.config.timer_b());
                    (Next::Stay, Up::Final)
                }
                // §17.1.1.2: 300-699: ACK (even on reliable transports), to the TU, Timer D.
                Class::Failure => {
                    self.state = Completed;
                    cx.disarm(Timer::A);
                    cx.disarm(Timer::B);
                    self.ack = reparse(cx.request)
                        .and_then(|request| build_ack(&request, response).ok())
                        .map(|ack| ack.to_bytes());
                    if let Some(ack) = &self.ack {
                        cx.send(ack.clone());
                    }
                    // The table puts the Final event after the ACK, before any Terminated.
                    (cx.linger(Timer::D, cx.config.timer_d()), Up::Final)
                }
            },
            // RFC 6026 §8.4: a retransmitted 300-699 re-sends the ACK and stays from the TU.
            (Completed, Stimulus::Response(response)) => {
                cx.absorb();
                if class(response) == Class::Failure {
                    if let Some(ack) = &self.ack {
                        cx.resend(ack.clone());
                    }
                }
                (Next::Stay, Up::Nothing)
            }
            (Completed, Stimulus::Timer(Timer::D)) => (Next::Terminate, Up::Nothing),
            // RFC 6026 §7.2: every further 2xx goes to the TU; nothing else does.
            (Accepted, Stimulus::Response(response)) => {
                if class(response) == Class::Success {
                    (Next::Stay, Up::Additional2xx)
                } else {
                    cx.absorb();
                    (Next::Stay, Up::Nothing)
                }
            }
            (Accepted, Stimulus::Timer(Timer::M)) => (Next::Terminate, Up::Nothing),
            // §17.1.4: inform the TU and terminate. Figure 5 draws this from Calling (the INVITE)
            // and Completed (the ACK); in Proceeding a lost connection means the final answer can
            // no longer arrive, so the TU hears of it the same way.
            (Calling | Proceeding | Completed, Stimulus::TransportError) => {
                cx.transport_failed();
                (Next::Terminate, Up::Nothing)
            }
            // In Accepted the transaction sends nothing (the TU sends the ACK): a stale error.
            (Accepted, Stimulus::TransportError) => (Next::Stay, Up::Nothing),
            // A timer of another state: its slot was cleared on leaving that state, so the
            // table never delivers it; absorbed if it ever did.
            (_, Stimulus::Timer(_)) => (Next::Stay, Up::Nothing),
            (_, Stimulus::Request | Stimulus::Ack | Stimulus::Respond(_)) => {
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
    /// Current Timer E interval.
    interval: Duration,
}

impl ClientNonInvite {
    /// Enters Trying: sends the request, arms (unreliable only) Timer E and Timer F. E first:
    /// the queue then holds E alone, F waiting behind it in its slot.
    pub(crate) fn start(cx: &mut Ctx<'_>) -> Self {
        cx.send_request(false);
        let t1 = cx.config.t1;
        if !cx.reliable() {
            cx.arm(Timer::E, t1);
        }
        cx.arm(Timer::F, cx.config.timer_b());
        Self { state: NonInviteState::Trying, interval: t1 }
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.state.into()
    }

    pub(crate) fn handle(&mut self, cx: &mut Ctx<'_>, input: Stimulus<'_>) -> Step {
        use NonInviteState::{Completed, Proceeding, Trying};
        let next = match (self.state, input) {
            // §17.1.2.2: Timer E doubles up to T2 in Trying ...
            (Trying, Stimulus::Timer(Timer::E)) => {
                cx.send_request(true);
                self.interval = self.interval.saturating_mul(2).min(cx.config.t2);
                cx.arm(Timer::E, self.interval);
                (Next::Stay, Up::Nothing)
            }
            // ... and is T2 in Proceeding.
            (Proceeding, Stimulus::Timer(Timer::E)) => {
                cx.send_request(true);
                self.interval = cx.config.t2;
                cx.arm(Timer::E, self.interval);
                (Next::Stay, Up::Nothing)
            }
            (Trying | Proceeding, Stimulus::Timer(Timer::F)) => {
                (cx.timed_out(Timer::F), Up::Nothing)
            }
            (Trying | Proceeding, Stimulus::Response(response)) => match class(response) {
                Class::Provisional => {
                    self.state = Proceeding;
                    (Next::Stay, Up::Provisional)
                }
                Class::Success | Class::Failure => {
                    self.state = Completed;
                    cx.disarm(Timer::E);
                    cx.disarm(Timer::F);
                    (cx.linger(Timer::K, cx.config.t4), Up::Final)
                }
            },
            // §17.1.2.2: Completed buffers response retransmissions.
            (Completed, Stimulus::Response(_)) => {
                cx.absorb();
                (Next::Stay, Up::Nothing)
            }
            (Completed, Stimulus::Timer(Timer::K)) => (Next::Terminate, Up::Nothing),
            // §17.1.4, Figure 6.
            (Trying | Proceeding, Stimulus::TransportError) => {
                cx.transport_failed();
                (Next::Terminate, Up::Nothing)
            }
            // Nothing is sent in Completed: a stale error.
            (Completed, Stimulus::TransportError) => (Next::Stay, Up::Nothing),
            // A timer of another state (see ClientInvite::handle).
            (_, Stimulus::Timer(_)) => (Next::Stay, Up::Nothing),
            (_, Stimulus::Request | Stimulus::Ack | Stimulus::Respond(_)) => {
                return Err(ResponseError::NotAServerTransaction);
            }
        };
        Ok(next)
    }
}
