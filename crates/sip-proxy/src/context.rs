//! The response context of RFC 3261 §16.6 and §16.7: the target set, one branch per target
//! tried, and the best final response so far.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sip_message::{HeaderName, Message, Uri, UriError};
use sip_transaction::{Target, TransactionId};
use smallvec::SmallVec;

use crate::routing::Hex16;

/// A context's name: slab index plus generation (a stale id finds nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ContextId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A target's URI: its own text, or the text of a remembered Request-URI, shared (an
/// in-dialog request's target is its Request-URI, the same call after call: no copy).
#[derive(Clone, Debug)]
pub(crate) enum TargetUri {
    Owned(Box<str>),
    Shared(Arc<str>),
}

impl std::ops::Deref for TargetUri {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            TargetUri::Owned(uri) => uri,
            TargetUri::Shared(uri) => uri,
        }
    }
}

impl PartialEq for TargetUri {
    fn eq(&self, other: &TargetUri) -> bool {
        **self == **other
    }
}

/// One element of the target set (§16.5).
#[derive(Debug)]
pub(crate) struct TargetSlot {
    pub(crate) uri: TargetUri,
    /// q in thousandths.
    pub(crate) q: u16,
    /// RFC 3327 Path values to push as Route.
    pub(crate) path: Vec<Box<str>>,
    pub(crate) flow: Option<Target>,
    /// From the location service or a 3xx (a resource of the proxy's): no outbound proxy.
    pub(crate) from_location: bool,
    pub(crate) started: bool,
    /// What §16.6 reads of `uri`, when whoever made the slot had it parsed already.
    pub(crate) facts: Option<UriFacts>,
}

/// What §16.6 steps 2, 4 and 7 read of a target URI, from one parse of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UriFacts {
    /// Not a SIP or SIPS URI (or no URI at all): no next hop.
    NotSip,
    /// A SIP or SIPS URI.
    Sip {
        /// SIPS.
        secure: bool,
        /// [`Target::from_uri`]: an IP literal or `maddr` names the next hop itself.
        direct: Option<Target>,
        /// It has headers or a `method` parameter, which a Request-URI may not (§19.1.1).
        rebuild: bool,
    },
}

impl UriFacts {
    pub(crate) fn of(uri: &Result<Uri<'_>, UriError>) -> UriFacts {
        match uri {
            Ok(Uri::Sip(sip)) => UriFacts::Sip {
                secure: sip.is_secure(),
                direct: Target::from_uri(sip),
                rebuild: sip.has_headers() || sip.method().is_some(),
            },
            _ => UriFacts::NotSip,
        }
    }
}

/// What building a copy for a target reads of it (§16.6 steps 2, 6 and 7): a
/// [`TargetSlot`]'s fields, or the same for a URI the caller has borrowed (the ACK of a 2xx,
/// forwarded to its Request-URI with no copy of it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TargetView<'a> {
    pub(crate) uri: &'a str,
    pub(crate) path: &'a [Box<str>],
    pub(crate) flow: Option<Target>,
    pub(crate) from_location: bool,
    pub(crate) facts: Option<UriFacts>,
}

impl<'a> TargetView<'a> {
    /// The view of [`TargetSlot::new`] of `uri` with `facts`, not from a location.
    pub(crate) fn of_uri(uri: &'a str, facts: Option<UriFacts>) -> TargetView<'a> {
        TargetView { uri, path: &[], flow: None, from_location: false, facts }
    }
}

impl TargetSlot {
    /// What building a copy for it reads.
    pub(crate) fn view(&self) -> TargetView<'_> {
        TargetView {
            uri: &self.uri,
            path: &self.path,
            flow: self.flow,
            from_location: self.from_location,
            facts: self.facts,
        }
    }

    pub(crate) fn new(uri: &str, q: u16, from_location: bool) -> TargetSlot {
        TargetSlot::new_owned(uri.into(), q, from_location)
    }

    /// [`new`](Self::new) for a URI already owned (a location's, moved rather than copied).
    pub(crate) fn new_owned(uri: Box<str>, q: u16, from_location: bool) -> TargetSlot {
        TargetSlot::with_uri(TargetUri::Owned(uri), q, from_location)
    }

    /// [`new`](Self::new) for a URI whose text is shared.
    pub(crate) fn new_shared(uri: Arc<str>, q: u16, from_location: bool) -> TargetSlot {
        TargetSlot::with_uri(TargetUri::Shared(uri), q, from_location)
    }

    fn with_uri(uri: TargetUri, q: u16, from_location: bool) -> TargetSlot {
        TargetSlot {
            uri,
            q,
            path: Vec::new(),
            flow: None,
            from_location,
            started: false,
            facts: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BranchState {
    /// Sent, no response yet.
    Trying,
    /// A provisional response arrived (§16.7 step 10: "pending" once it has).
    Proceeding,
    /// A final response arrived, or the branch was given up.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelState {
    None,
    /// To be sent when a provisional arrives (§9.1).
    Pending,
    Sent,
}

/// One target being tried: the current client transaction and what is left of its addresses.
#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) target: u16,
    pub(crate) client: Option<TransactionId>,
    pub(crate) hop: Option<Target>,
    /// RFC 3263 §4.3: the addresses still to try after this one fails.
    pub(crate) failover: SmallVec<[Target; 1]>,
    pub(crate) state: BranchState,
    /// Whether the current attempt got any response.
    pub(crate) responded: bool,
    pub(crate) cancel: CancelState,
    pub(crate) timer_c: Option<Instant>,
    pub(crate) guard: Option<Instant>,
}

impl Branch {
    pub(crate) fn new(target: u16) -> Branch {
        Branch {
            target,
            client: None,
            hop: None,
            failover: SmallVec::new(),
            state: BranchState::Trying,
            responded: false,
            cancel: CancelState::None,
            timer_c: None,
            guard: None,
        }
    }

    /// The branch has its final answer: no more timers.
    pub(crate) fn finish(&mut self) {
        self.state = BranchState::Done;
        self.timer_c = None;
        self.guard = None;
    }
}

/// A final response kept for the best-response choice; `response` is `None` for one the
/// proxy synthesises (408 for a timeout, 503 for a transport failure, 487 for a cancelled
/// branch given up).
#[derive(Debug)]
pub(crate) struct Candidate {
    pub(crate) status: u16,
    pub(crate) response: Option<Box<Message>>,
    pub(crate) branch: u16,
}

/// The response context of one proxied request.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) server: TransactionId,
    pub(crate) server_live: bool,
    /// The request after §16.4, the base of every copy (§16.6 step 1), its top Via as
    /// received.
    pub(crate) request: Message,
    /// The top Via value of the copies: the request's stamped with `received` (§18.2.1), when
    /// the stamp changes it.
    pub(crate) top_via: Option<Vec<u8>>,
    /// `request` is known to hold no Route line (§16.4 removed the last one, or there was
    /// none): the copies look for none.
    pub(crate) routeless: bool,
    pub(crate) invite: bool,
    /// The Request-URI is a resource of the proxy (§16.5: only then may 3xx add targets).
    pub(crate) local: bool,
    /// The Request-URI is SIPS (§16.7 step 4: no recursion to SIP URIs).
    pub(crate) secure: bool,
    pub(crate) loop_part: Hex16,
    pub(crate) targets: Vec<TargetSlot>,
    pub(crate) branches: SmallVec<[Branch; 2]>,
    pub(crate) best: Option<Candidate>,
    /// WWW-Authenticate and Proxy-Authenticate values of every 401 and 407, with their branch.
    pub(crate) challenges: Vec<(HeaderName, Bytes, u16)>,
    /// A final response went upstream.
    pub(crate) final_sent: bool,
    /// No new branches (§16.7 step 5 after a 6xx, after a 2xx, after a CANCEL).
    pub(crate) stop: bool,
    /// The caller cancelled (§16.10).
    pub(crate) cancelled: bool,
    pub(crate) recursions: u32,
    pub(crate) cancels_live: u16,
}

impl Context {
    #[inline]
    pub(crate) fn new(
        server: TransactionId,
        request: Message,
        invite: bool,
        local: bool,
        secure: bool,
        loop_part: Hex16,
        targets: Vec<TargetSlot>,
    ) -> Context {
        Context {
            server,
            server_live: true,
            request,
            top_via: None,
            routeless: false,
            invite,
            local,
            secure,
            loop_part,
            targets,
            branches: SmallVec::new(),
            best: None,
            challenges: Vec::new(),
            final_sent: false,
            stop: false,
            cancelled: false,
            recursions: 0,
            cancels_live: 0,
        }
    }

    /// Branches still waiting for their final answer.
    pub(crate) fn active(&self) -> usize {
        self.branches.iter().filter(|b| b.state != BranchState::Done).count()
    }
}

/// The order of §16.7 step 6 (lower is better): any 6xx; then the lowest class; within 4xx,
/// the responses that help a resubmission (401, 407, 415, 420, 484); within 5xx, anything but
/// 503 (which becomes 500 if it is all there is).
pub(crate) fn rank(status: u16) -> (u8, u8) {
    let class = u8::try_from(status / 100).unwrap_or(9);
    match class {
        6 => (0, 0),
        4 if matches!(status, 401 | 407 | 415 | 420 | 484) => (4, 0),
        5 if status == 503 => (5, 1),
        4 => (4, 1),
        c => (c, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn best_response_order_follows_16_7_step_6() {
        // RFC 3261 §16.7 step 6: 6xx first, then lowest class, challenges preferred, 503 last.
        let mut statuses = [503, 486, 404, 603, 302, 407, 500];
        statuses.sort_by_key(|s| rank(*s));
        assert_eq!(statuses, [603, 302, 407, 486, 404, 500, 503]);
    }
}
