//! What the user agent tells the application, and the handles it names things by.

use std::fmt;

use sip_message::{BuildError, Message};
use sip_transaction::{ResponseError, SendError, Target};

/// A call (an INVITE session, either direction): a small copyable handle. One that outlives
/// its call finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}.{}", self.index, self.generation)
    }
}

/// An out-of-dialog request this UA sent (OPTIONS, MESSAGE, REGISTER, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request#{}.{}", self.index, self.generation)
    }
}

/// A registration this UA keeps (RFC 3261 §10.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for RegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registration#{}.{}", self.index, self.generation)
    }
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// This side sent a BYE (and got a response, or gave up waiting).
    LocalBye,
    /// The peer sent a BYE.
    RemoteBye,
    /// The UAS sent a 2xx and no ACK came within 64*T1: it sent a BYE (§13.3.1.4).
    NoAck,
    /// A request inside the dialog got 481 or 408, or timed out: the dialog is gone
    /// (§12.2.1.2).
    DialogLost(u16),
    /// The extra dialog of a forked INVITE that this side ACKed and closed (§13.2.2.4).
    ForkClosed,
}

/// Something the application must learn.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum UaEvent {
    /// A new INVITE arrived (the UA already sent 100 Trying): answer it with
    /// [`ring`](crate::UaCore::ring), [`answer`](crate::UaCore::answer) or
    /// [`reject`](crate::UaCore::reject).
    IncomingCall {
        /// The call.
        call: CallId,
        /// The INVITE (its body is the offer, if any).
        request: Message,
    },
    /// A provisional response with a To tag for an outgoing call: ringing (180) or early
    /// media (183), possibly from one of several forks.
    Progress {
        /// The call.
        call: CallId,
        /// The response.
        response: Message,
    },
    /// An outgoing call was answered 2xx. When the INVITE carried an offer the UA has sent the
    /// ACK; when it carried none the 2xx holds the offer and the application must send the
    /// answer with [`ack`](crate::UaCore::ack).
    Answered {
        /// The call.
        call: CallId,
        /// The 2xx.
        response: Message,
    },
    /// An incoming call this side answered got its ACK: the session is up (§13.3.1.4).
    Confirmed {
        /// The call.
        call: CallId,
        /// The ACK (its body is the answer when the 2xx carried the offer).
        ack: Message,
    },
    /// An outgoing call failed with a final non-2xx: `response` is `None` when the status
    /// was synthesised (408 for a timeout, 503 for a transport failure, §8.1.3.1).
    Failed {
        /// The call.
        call: CallId,
        /// The status.
        status: u16,
        /// The response, if one arrived.
        response: Option<Message>,
    },
    /// The caller cancelled an incoming call before it was answered (§9.2): the UA answered
    /// the CANCEL 200 and the INVITE 487.
    Cancelled {
        /// The call.
        call: CallId,
    },
    /// An established call ended.
    Ended {
        /// The call.
        call: CallId,
        /// Why.
        reason: EndReason,
    },
    /// The peer sent a re-INVITE (§14.2): accept it with
    /// [`accept_reinvite`](crate::UaCore::accept_reinvite) or refuse it with
    /// [`reject_reinvite`](crate::UaCore::reject_reinvite).
    Reinvite {
        /// The call.
        call: CallId,
        /// The re-INVITE (its body is the new offer, if any).
        request: Message,
    },
    /// This side's re-INVITE was answered 2xx (and ACKed) or finally refused; on refusal the
    /// session stays as it was (§14.1). A 491 is retried by the UA after the §14.1 delay and
    /// not reported.
    ReinviteResult {
        /// The call.
        call: CallId,
        /// The final status.
        status: u16,
        /// The response, if one arrived.
        response: Option<Message>,
    },
    /// A response to an out-of-dialog request: provisional ones as they come, then exactly
    /// one final (`final_` true), synthesised as 408 or 503 when none arrived.
    Response {
        /// The request.
        request: RequestId,
        /// The status.
        status: u16,
        /// The response, if one arrived.
        response: Option<Message>,
        /// Whether this is the final response.
        final_: bool,
    },
    /// A registration (or its refresh) was accepted: bound for `expires` seconds, as granted.
    Registered {
        /// The registration.
        registration: RegistrationId,
        /// The expiry the registrar granted, in seconds.
        expires: u32,
        /// The 2xx (its Contacts are all the AOR's bindings, §10.3 step 8).
        response: Message,
    },
    /// A registration attempt failed (after any 423 and challenge retries): nothing is bound.
    RegistrationFailed {
        /// The registration.
        registration: RegistrationId,
        /// The status, synthesised as 408 or 503 when no response arrived.
        status: u16,
        /// The response, if one arrived.
        response: Option<Message>,
    },
    /// The binding was removed at the application's request.
    Unregistered {
        /// The registration.
        registration: RegistrationId,
    },
    /// A request this UA does not handle itself, for a method listed in
    /// [`UaConfig::allow`](crate::UaConfig::allow) (MESSAGE, INFO, ...): answer it with
    /// [`respond`](crate::UaCore::respond).
    Request {
        /// The server transaction to answer through.
        transaction: sip_transaction::TransactionId,
        /// The request.
        request: Message,
        /// Where it came from.
        source: Target,
    },
}

/// Why a command was refused. Nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UaError {
    /// No live call or request has this handle.
    UnknownCall,
    /// The command does not fit the call's state (e.g. `answer` on an outgoing call).
    WrongState(&'static str),
    /// Another INVITE transaction is in progress in this dialog (§14.1).
    InviteInProgress,
    /// The URI does not parse or is not a SIP URI.
    BadUri(String),
    /// The next hop's host is a name and no resolver entry gives an address.
    Unresolvable(String),
    /// The status does not fit (e.g. `reject` with a 2xx).
    BadStatus(u16),
    /// [`UaConfig::max_calls`](crate::UaConfig::max_calls) calls and requests are live.
    TooManyCalls,
    /// The message could not be built (a value with CR or LF, ...).
    Build(BuildError),
    /// The transaction layer refused the request.
    Send(SendError),
    /// The transaction layer refused the response.
    Respond(ResponseError),
}

impl fmt::Display for UaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UaError::UnknownCall => f.write_str("no such call"),
            UaError::WrongState(s) => write!(f, "not possible in this state: {s}"),
            UaError::InviteInProgress => f.write_str("an INVITE transaction is in progress"),
            UaError::BadUri(u) => write!(f, "not a SIP URI: {u}"),
            UaError::Unresolvable(u) => write!(f, "no address for {u}"),
            UaError::BadStatus(s) => write!(f, "status {s} does not fit"),
            UaError::TooManyCalls => f.write_str("too many calls"),
            UaError::Build(e) => write!(f, "{e}"),
            UaError::Send(e) => write!(f, "{e}"),
            UaError::Respond(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for UaError {}

impl From<BuildError> for UaError {
    fn from(e: BuildError) -> Self {
        UaError::Build(e)
    }
}

impl From<SendError> for UaError {
    fn from(e: SendError) -> Self {
        UaError::Send(e)
    }
}

impl From<ResponseError> for UaError {
    fn from(e: ResponseError) -> Self {
        UaError::Respond(e)
    }
}
