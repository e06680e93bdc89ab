//! Caller mistakes, as typed results of the command methods.

use std::fmt;

use sip_message::BuildError;

use crate::TransactionState;

/// Why [`send_request`](crate::TransactionTable::send_request) refused a request. Nothing was
/// sent and no transaction was created.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The message is a response: answer through
    /// [`send_response`](crate::TransactionTable::send_response).
    NotARequest,
    /// ACK is no transaction of its own (RFC 3261 §17.1.1.3, §13.2.2.4): the transaction sends
    /// the ACK for a non-2xx itself; send an ACK for a 2xx with
    /// [`send_stateless`](crate::TransactionTable::send_stateless).
    AckIsNotATransaction,
    /// The request has no Via: add `Via: SIP/2.0/<transport> <sent-by>`; the table adds the
    /// branch.
    MissingVia,
    /// The request has no well-formed CSeq.
    MissingCSeq,
    /// The request has no well-formed Call-ID.
    MissingCallId,
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    CSeqMethodMismatch,
    /// The top Via has a branch without the `z9hG4bK` cookie (RFC 3261 §8.1.1.7): drop the
    /// parameter and the table adds a fresh one.
    BadBranch,
    /// A client transaction with this branch and method is already live: a new request needs a
    /// new branch (only a CANCEL reuses its INVITE's branch, §9.1).
    DuplicateBranch,
    /// Adding the branch to the top Via failed (the Via value is unusable).
    BadVia,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::NotARequest => "a response is sent with send_response, not send_request",
            SendError::AckIsNotATransaction => {
                "ACK starts no transaction: send an ACK for a 2xx with send_stateless"
            }
            SendError::MissingVia => "the request needs a Via header (the branch is added)",
            SendError::MissingCSeq => "the request needs a well-formed CSeq header",
            SendError::MissingCallId => "the request needs a well-formed Call-ID header",
            SendError::CSeqMethodMismatch => "the CSeq method differs from the request method",
            SendError::BadBranch => "the top Via branch lacks the z9hG4bK cookie; omit it",
            SendError::DuplicateBranch => "a client transaction with this branch already exists",
            SendError::BadVia => "the top Via value could not take a branch parameter",
        })
    }
}

impl std::error::Error for SendError {}

/// Why [`send_response`](crate::TransactionTable::send_response) refused a response. Nothing was
/// sent and the transaction is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// No live transaction has this id: it terminated (watch for
    /// [`Event::Terminated`](crate::Event::Terminated)) or never existed.
    UnknownTransaction,
    /// The id names a client transaction; responses go through server transactions.
    NotAServerTransaction,
    /// The message is a request.
    NotAResponse,
    /// The response's CSeq method or top Via branch is not the request's: build it with
    /// `MessageBuilder::response_to(&request, ..)`.
    Mismatch,
    /// The transaction has sent its final response (state given); only an INVITE in the
    /// Accepted state takes more, and only 2xx (RFC 6026 §8.7).
    AlreadyFinal(TransactionState),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::UnknownTransaction => f.write_str("no live transaction has this id"),
            ResponseError::NotAServerTransaction => {
                f.write_str("responses are sent on server transactions, this is a client one")
            }
            ResponseError::NotAResponse => f.write_str("the message is a request"),
            ResponseError::Mismatch => {
                f.write_str("the response's CSeq method or Via branch is not the request's")
            }
            ResponseError::AlreadyFinal(state) => write!(
                f,
                "a final response was already sent (state {state:?}); only 2xx retransmissions \
                 pass in Accepted"
            ),
        }
    }
}

impl std::error::Error for ResponseError {}

/// Why [`cancel_request`](crate::TransactionTable::cancel_request) could not build a CANCEL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelError {
    /// No live client INVITE transaction has this id (only INVITEs are cancelled, RFC 3261 §9.1).
    NotAClientInvite,
    /// The request's fields did not make a valid CANCEL.
    Build(BuildError),
}

impl fmt::Display for CancelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelError::NotAClientInvite => f.write_str("no live client INVITE has this id"),
            CancelError::Build(e) => write!(f, "could not build the CANCEL: {e}"),
        }
    }
}

impl std::error::Error for CancelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CancelError::NotAClientInvite => None,
            CancelError::Build(e) => Some(e),
        }
    }
}

impl From<BuildError> for CancelError {
    fn from(e: BuildError) -> Self {
        CancelError::Build(e)
    }
}
