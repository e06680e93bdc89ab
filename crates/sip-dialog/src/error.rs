//! Why a dialog could not be created or a request was refused.

use std::fmt;

use sip_message::{HeaderError, HeaderName};

/// Why a dialog operation failed. [`DialogError::status`] gives the response a UAS sends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialogError {
    /// A response was expected.
    NotAResponse,
    /// A request was expected.
    NotARequest,
    /// The status creates no dialog (only 101–299 do, RFC 3261 §12.1).
    NoDialogStatus(u16),
    /// A header the dialog needs is absent.
    Missing(HeaderName),
    /// The tag the dialog id needs is absent from this header.
    MissingTag(HeaderName),
    /// A header the dialog reads does not parse.
    Header(HeaderError),
    /// The Contact is `*` or not a URI.
    BadContact,
    /// The request's CSeq is lower than the last one received in the dialog (RFC 3261 §12.2.2).
    CSeqOutOfOrder {
        /// The CSeq number of the request.
        received: u32,
        /// The last number received in the dialog.
        last: u32,
    },
    /// No dialog matches the request (RFC 3261 §12.2.2: 481).
    NoSuchDialog,
}

impl DialogError {
    /// The status a UAS answers with: 500 for an out-of-order CSeq (§12.2.2), 481 for no
    /// dialog, 400 otherwise.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            DialogError::CSeqOutOfOrder { .. } => 500,
            DialogError::NoSuchDialog => 481,
            _ => 400,
        }
    }

    /// A reason phrase naming the problem, for the response.
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            DialogError::CSeqOutOfOrder { .. } => {
                "Server Internal Error (CSeq out of order)".into()
            }
            DialogError::NoSuchDialog => "Call/Transaction Does Not Exist".into(),
            other => format!("Bad Request ({other})"),
        }
    }
}

impl fmt::Display for DialogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialogError::NotAResponse => f.write_str("not a response"),
            DialogError::NotARequest => f.write_str("not a request"),
            DialogError::NoDialogStatus(s) => write!(f, "status {s} creates no dialog"),
            DialogError::Missing(h) => write!(f, "missing {h} header"),
            DialogError::MissingTag(h) => write!(f, "missing tag in {h}"),
            DialogError::Header(e) => write!(f, "{e}"),
            DialogError::BadContact => f.write_str("Contact is not a URI"),
            DialogError::CSeqOutOfOrder { received, last } => {
                write!(f, "CSeq {received} lower than {last} already received")
            }
            DialogError::NoSuchDialog => f.write_str("no such dialog"),
        }
    }
}

impl std::error::Error for DialogError {}
