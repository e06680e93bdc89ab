//! Server transactions: INVITE (RFC 3261 §17.2.1, Figure 7 as RFC 6026 amends it) and
//! non-INVITE (§17.2.2, Figure 8).

use std::time::Duration;

use bytes::Bytes;
use sip_message::{Message, MessageBuilder};

use crate::machine::{Class, Ctx, Next, NonInviteState, Stimulus, class};
use crate::{Event, ResponseError, Target, Timer, TransactionState};

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
    request: Message,
    source: Target,
    /// The most recent provisional (in Proceeding) or the final (in Completed), serialised once.
    last: Option<Bytes>,
    /// To tag of the final response, for RFC 2543 ACK matching (§17.2.3).
    final_to_tag: Option<Box<str>>,
    /// Current Timer G interval.
    interval: Duration,
}

impl ServerInvite {
    /// Enters Proceeding; arms the 100 (Trying) timer (§17.2.1). The table has already passed
    /// the request to the TU.
    pub(crate) fn start(cx: &mut Ctx<'_>, request: Message, source: Target) -> Self {
        if let Some(delay) = cx.config.trying_delay {
            cx.arm(Timer::Trying, delay);
        }
        Self {
            state: InviteState::Proceeding,
            request,
            source,
            last: None,
            final_to_tag: None,
            interval: cx.config.t1,
        }
    }

    pub(crate) fn request(&self) -> &Message {
        &self.request
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

    pub(crate) fn handle(
        &mut self,
        cx: &mut Ctx<'_>,
        input: Stimulus,
    ) -> Result<Next, ResponseError> {
        use InviteState::{Accepted, Completed, Confirmed, Proceeding};
        let reliable = self.source.is_reliable();
        let next = match (self.state, input) {
            // §17.2.1: 100 (Trying) unless the TU answered within 200 ms.
            (Proceeding, Stimulus::Timer(Timer::Trying)) => {
                if self.last.is_none() {
                    if let Ok(trying) =
                        MessageBuilder::response_to(&self.request, 100, None).build()
                    {
                        let bytes = trying.to_bytes();
                        cx.send(self.source, bytes.clone());
                        self.last = Some(bytes);
                    }
                }
                Next::Stay
            }
            // §17.2.1: a retransmitted INVITE gets the latest provisional again.
            (Proceeding, Stimulus::Request) => {
                cx.absorb();
                if let Some(last) = &self.last {
                    cx.resend(self.source, last.clone());
                }
                Next::Stay
            }
            (Proceeding, Stimulus::Respond(response)) => {
                cx.disarm(Timer::Trying);
                let bytes = response.to_bytes();
                cx.send(self.source, bytes.clone());
                match class(&response) {
                    Class::Provisional => {
                        self.last = Some(bytes);
                        Next::Stay
                    }
                    // RFC 6026 §8.5: 2xx is sent once and the transaction is Accepted (Timer L).
                    Class::Success => {
                        self.state = Accepted;
                        self.last = None;
                        self.final_to_tag = response.to_tag().map(Into::into);
                        cx.arm(Timer::L, cx.config.timer_b());
                        Next::Stay
                    }
                    // §17.2.1: 300-699: Completed, Timer G (unreliable) and Timer H.
                    Class::Failure => {
                        self.state = Completed;
                        self.last = Some(bytes);
                        self.final_to_tag = response.to_tag().map(Into::into);
                        if !reliable {
                            cx.arm(Timer::G, self.interval);
                        }
                        cx.arm(Timer::H, cx.config.timer_b());
                        Next::Stay
                    }
                }
            }
            // An ACK before any final answers nothing: absorbed.
            (Proceeding, Stimulus::Ack(..)) => {
                cx.absorb();
                Next::Stay
            }
            // §17.2.1: retransmitted INVITE or Timer G: the final again, G doubling to T2.
            (Completed, Stimulus::Request) => {
                cx.absorb();
                if let Some(last) = &self.last {
                    cx.resend(self.source, last.clone());
                }
                Next::Stay
            }
            (Completed, Stimulus::Timer(Timer::G)) => {
                if let Some(last) = &self.last {
                    cx.resend(self.source, last.clone());
                }
                self.interval = self.interval.saturating_mul(2).min(cx.config.t2);
                cx.arm(Timer::G, self.interval);
                Next::Stay
            }
            // §17.2.1: no ACK by Timer H: a transaction failure for the TU.
            (Completed, Stimulus::Timer(Timer::H)) => cx.timed_out(Timer::H),
            // §17.2.1: the ACK confirms; Timer I absorbs its retransmissions.
            (Completed, Stimulus::Ack(..)) => {
                self.state = Confirmed;
                cx.disarm(Timer::G);
                cx.disarm(Timer::H);
                cx.linger(reliable, Timer::I, cx.config.t4)
            }
            (Confirmed, Stimulus::Request | Stimulus::Ack(..)) => {
                cx.absorb();
                Next::Stay
            }
            (Confirmed, Stimulus::Timer(Timer::I)) => Next::Terminate,
            (Completed | Confirmed, Stimulus::Respond(_)) => {
                return Err(ResponseError::AlreadyFinal(self.state()));
            }
            // RFC 6026 §7.1: retransmitted INVITEs are absorbed, ACKs go to the TU, the TU's
            // 2xx retransmissions pass through, and Timer L ends it.
            (Accepted, Stimulus::Request) => {
                cx.absorb();
                Next::Stay
            }
            (Accepted, Stimulus::Ack(request, source)) => {
                cx.event(Event::Ack { id: Some(cx.id), request, source });
                Next::Stay
            }
            (Accepted, Stimulus::Respond(response)) => {
                if class(&response) != Class::Success {
                    return Err(ResponseError::AlreadyFinal(self.state()));
                }
                cx.send(self.source, response.to_bytes());
                Next::Stay
            }
            (Accepted, Stimulus::Timer(Timer::L)) => Next::Terminate,
            // RFC 6026 §8.8 (amending §17.2.4): inform the TU and stay, so retransmitted INVITEs
            // are still absorbed; the timers end the transaction.
            (Proceeding | Completed | Accepted, Stimulus::TransportError) => {
                cx.transport_failed();
                Next::Stay
            }
            // Nothing is sent in Confirmed: a stale error.
            (Confirmed, Stimulus::TransportError) => Next::Stay,
            // A timer of another state: its slot was cleared on leaving that state.
            (_, Stimulus::Timer(_)) => Next::Stay,
            // Responses are matched to client transactions only.
            (_, Stimulus::Response(_)) => Next::Stay,
        };
        Ok(next)
    }
}

/// RFC 3261 §17.2.2: the server non-INVITE transaction.
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    state: NonInviteState,
    request: Message,
    source: Target,
    /// The most recent provisional (Proceeding) or the final (Completed), serialised once.
    last: Option<Bytes>,
}

impl ServerNonInvite {
    /// Enters Trying. The table has already passed the request to the TU.
    pub(crate) fn start(request: Message, source: Target) -> Self {
        Self { state: NonInviteState::Trying, request, source, last: None }
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
        let next = match (self.state, input) {
            // §17.2.2: retransmissions in Trying are discarded.
            (Trying, Stimulus::Request) => {
                cx.absorb();
                Next::Stay
            }
            // §17.2.2: in Proceeding and Completed they get the last response again.
            (Proceeding | Completed, Stimulus::Request) => {
                cx.absorb();
                if let Some(last) = &self.last {
                    cx.resend(self.source, last.clone());
                }
                Next::Stay
            }
            (Trying | Proceeding, Stimulus::Respond(response)) => {
                let bytes = response.to_bytes();
                cx.send(self.source, bytes.clone());
                self.last = Some(bytes);
                match class(&response) {
                    Class::Provisional => {
                        self.state = Proceeding;
                        Next::Stay
                    }
                    // §17.2.2: Timer J, 64*T1 on unreliable transports and zero on reliable.
                    Class::Success | Class::Failure => {
                        self.state = Completed;
                        cx.linger(self.source.is_reliable(), Timer::J, cx.config.timer_b())
                    }
                }
            }
            (Completed, Stimulus::Respond(_)) => {
                return Err(ResponseError::AlreadyFinal(self.state()));
            }
            (Completed, Stimulus::Timer(Timer::J)) => Next::Terminate,
            // Figure 8: a failure sending a response informs the TU and terminates.
            (Proceeding | Completed, Stimulus::TransportError) => {
                cx.transport_failed();
                Next::Terminate
            }
            // Nothing was sent in Trying: a stale error.
            (Trying, Stimulus::TransportError) => Next::Stay,
            // ACK matches INVITE transactions only (§17.2.3); never routed here.
            (_, Stimulus::Ack(..)) => Next::Stay,
            (_, Stimulus::Timer(_)) => Next::Stay,
            (_, Stimulus::Response(_)) => Next::Stay,
        };
        Ok(next)
    }
}
