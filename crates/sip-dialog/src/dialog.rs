//! One dialog: RFC 3261 §12.

use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use smallvec::SmallVec;

use sip_message::{
    BuilderSpare, Contact, From, HeaderBlock, HeaderName as H, Message, MessageBuilder, Method,
    RecordRoute, RequestLines, SipUri, To, TypedHeader, Uri,
};

use crate::error::DialogError;

/// A dialog's identity (RFC 3261 §12): Call-ID, local tag and remote tag, seen from this side.
///
/// The three strings are kept in one allocation; read them with [`DialogId::call_id`],
/// [`DialogId::local_tag`] and [`DialogId::remote_tag`]. Ids compare, hash and order as the
/// triple `(call_id, local_tag, remote_tag)`.
pub struct DialogId {
    /// `call_id`, `local_tag` and `remote_tag` one after the other, then (for the id a
    /// [`Dialog`] holds) the dialog's own text, so that a dialog makes one allocation.
    text: Box<str>,
    /// The end of the Call-ID in `text`.
    call_id_end: usize,
    /// The end of the local tag in `text`.
    local_end: usize,
    /// The end of the remote tag in `text`: the rest is not part of the id.
    end: usize,
}

impl DialogId {
    /// The id made of a Call-ID, a local tag and a remote tag (empty for an RFC 2543 peer
    /// that sent none, §12.1.2).
    #[must_use]
    pub fn new(call_id: &str, local_tag: &str, remote_tag: &str) -> DialogId {
        DialogId::with_tail(call_id, local_tag, remote_tag, 0, |_| {})
    }

    /// The id followed in its text by `tail_len` bytes that `tail` writes.
    fn with_tail(
        call_id: &str,
        local_tag: &str,
        remote_tag: &str,
        tail_len: usize,
        tail: impl FnOnce(&mut String),
    ) -> DialogId {
        let end = call_id.len() + local_tag.len() + remote_tag.len();
        let mut text = String::with_capacity(end + tail_len);
        text.push_str(call_id);
        text.push_str(local_tag);
        text.push_str(remote_tag);
        tail(&mut text);
        DialogId {
            text: text.into_boxed_str(),
            call_id_end: call_id.len(),
            local_end: call_id.len() + local_tag.len(),
            end,
        }
    }

    /// The text after the id (a dialog's own).
    fn tail(&self) -> &str {
        self.text.get(self.end..).unwrap_or_default()
    }

    /// The tail from byte `start` of it on, cut once (as `tail().get(start..)`).
    #[inline]
    fn tail_from(&self, start: usize) -> &str {
        self.text.get(self.end + start..).unwrap_or_default()
    }

    /// Bytes `start..end` of the tail, cut once (as `tail().get(start..end)`).
    #[inline]
    fn tail_range(&self, start: usize, end: usize) -> &str {
        if start > end {
            return "";
        }
        self.text.get(self.end + start..self.end + end).unwrap_or_default()
    }

    /// [`DialogId::tail`] as bytes, cut without the character-boundary checks of a `str`
    /// (the parts of the text are whole strings, so the cuts are boundaries).
    #[inline]
    fn tail_bytes(&self) -> &[u8] {
        self.text.as_bytes().get(self.end..).unwrap_or_default()
    }

    /// Keeps the first `keep` bytes of the tail and appends `extra` to them.
    fn set_tail(&mut self, keep: usize, extra: &str) {
        let kept = self.text.get(..self.end + keep).unwrap_or_default();
        let mut text = String::with_capacity(kept.len() + extra.len());
        text.push_str(kept);
        text.push_str(extra);
        self.text = text.into_boxed_str();
    }

    /// The same id and tail, in a new allocation.
    fn clone_whole(&self) -> DialogId {
        DialogId { text: self.text.clone(), ..*self }
    }

    /// The id a UAS sees on a request received inside a dialog (§12.2.2): Call-ID, the To tag
    /// as the local tag and the From tag as the remote tag. `None` without a Call-ID or a To tag.
    #[must_use]
    pub fn of_incoming_request(request: &Message) -> Option<DialogId> {
        Some(DialogId::new(
            request.call_id()?,
            request.to_tag()?,
            request.from_tag().unwrap_or_default(),
        ))
    }

    /// The id a UAC sees on a response to its own request (§12.1.2): Call-ID, the From tag as
    /// the local tag and the To tag as the remote tag (empty when absent).
    #[must_use]
    pub fn of_response(response: &Message) -> Option<DialogId> {
        Some(DialogId::new(
            response.call_id()?,
            response.from_tag()?,
            response.to_tag().unwrap_or_default(),
        ))
    }

    /// The Call-ID.
    #[must_use]
    pub fn call_id(&self) -> &str {
        self.text.get(..self.call_id_end).unwrap_or_default()
    }

    /// The tag this side put in From (UAC) or To (UAS).
    #[must_use]
    pub fn local_tag(&self) -> &str {
        self.text.get(self.call_id_end..self.local_end).unwrap_or_default()
    }

    /// The peer's tag; empty for an RFC 2543 peer that sent none (§12.1.2).
    #[must_use]
    pub fn remote_tag(&self) -> &str {
        self.text.get(self.local_end..self.end).unwrap_or_default()
    }

    /// [`DialogId::remote_tag`] as bytes, cut without the character-boundary checks of a
    /// `str` (for comparing it with a tag a message carries).
    #[inline]
    pub(crate) fn remote_tag_bytes(&self) -> &[u8] {
        self.text.as_bytes().get(self.local_end..self.end).unwrap_or_default()
    }

    /// [`DialogId::call_id`] as bytes, cut without the character-boundary checks of a `str`.
    #[inline]
    #[must_use]
    pub fn call_id_bytes(&self) -> &[u8] {
        self.text.as_bytes().get(..self.call_id_end).unwrap_or_default()
    }

    /// The three parts, in order.
    fn parts(&self) -> (&str, &str, &str) {
        (self.call_id(), self.local_tag(), self.remote_tag())
    }

    /// Whether this id is the one `(call_id, local_tag, remote_tag)` names, without allocating.
    #[must_use]
    pub fn is(&self, call_id: &str, local_tag: &str, remote_tag: &str) -> bool {
        self.parts() == (call_id, local_tag, remote_tag)
    }

    /// Heap bytes the id holds besides its own struct (with a dialog's text after it).
    fn heap_bytes(&self) -> usize {
        self.text.len()
    }

    /// The id's own text: the three strings one after the other.
    fn id_text(&self) -> &str {
        self.text.get(..self.end).unwrap_or_default()
    }
}

impl Clone for DialogId {
    /// The id alone (without a dialog's text after it).
    fn clone(&self) -> Self {
        DialogId {
            text: self.id_text().into(),
            call_id_end: self.call_id_end,
            local_end: self.local_end,
            end: self.end,
        }
    }
}

impl PartialEq for DialogId {
    fn eq(&self, other: &Self) -> bool {
        // The same text cut at the same places: the same three strings.
        self.call_id_end == other.call_id_end
            && self.local_end == other.local_end
            && self.id_text() == other.id_text()
    }
}

impl Eq for DialogId {}

impl std::hash::Hash for DialogId {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        self.parts().hash(state);
    }
}

impl PartialOrd for DialogId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DialogId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl fmt::Debug for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialogId")
            .field("call_id", &self.call_id())
            .field("local_tag", &self.local_tag())
            .field("remote_tag", &self.remote_tag())
            .finish()
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (call_id, local, remote) = self.parts();
        write!(f, "{call_id};local={local};remote={remote}")
    }
}

/// The state of a dialog (RFC 3261 §12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Created by a provisional response with a To tag (§12.1).
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
    /// Ended: by a BYE, a non-2xx final to the INVITE that created it early, or a timeout.
    Terminated,
}

/// Which side of the dialog this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that sent the request that created the dialog.
    Uac,
    /// The side that answered it.
    Uas,
}

/// Where an in-dialog request goes first and how it is addressed (RFC 3261 §12.2.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTarget {
    /// The Request-URI.
    pub request_uri: String,
    /// The Route header values, in order.
    pub routes: Vec<String>,
}

impl RequestTarget {
    /// The URI of the next hop: the first Route's URI, or the Request-URI without routes
    /// (RFC 3261 §8.1.2 with §12.2.1.1). Resolve it to an address to send the request.
    #[must_use]
    pub fn next_hop(&self) -> &str {
        self.routes.first().map_or(self.request_uri.as_str(), |r| addr_uri(r))
    }
}

/// An RFC 3261 §12 dialog: the peer-to-peer relationship an INVITE (or SUBSCRIBE) sets up, with
/// everything needed to send requests inside it and to check the requests received in it.
///
/// It is a plain value: it sends nothing and keeps no clock. The user agent core creates one
/// from the request and response that establish it ([`Dialog::uac`], [`Dialog::uas`]), builds
/// requests with [`Dialog::request`] and checks received ones with [`Dialog::receive_request`].
pub struct Dialog {
    /// The id, with the dialog's text after it in the same allocation (see `local_end`).
    id: DialogId,
    role: Role,
    state: DialogState,
    /// Local CSeq: the last number used, `None` while empty (a UAS that has sent nothing).
    local_seq: Option<u32>,
    /// Remote CSeq: the last number received, `None` while empty.
    remote_seq: Option<u32>,
    /// Three strings after the id in its text: the From value of requests we send (the local
    /// URI as a name-addr, then `;tag=` and the local tag, none when the tag is empty), bytes
    /// `..local_end` of that tail; the To value (the remote URI as a name-addr and the remote
    /// tag), bytes `local_end..remote_end`; and the remote target (the peer's Contact URI), the
    /// rest.
    local_end: usize,
    remote_end: usize,
    /// The length of the local name-addr (the From value without its tag).
    local_len: usize,
    /// The length of the remote name-addr (the To value without its tag).
    remote_len: usize,
    /// The route set: Record-Route values in the order requests must carry them.
    route_set: Vec<Box<str>>,
    /// Whether the first route is a loose router (`lr`), computed when the route set is set.
    first_loose: bool,
    secure: bool,
    /// Whether both tags are tokens (or empty), as the parser finds tags: the From and To
    /// this dialog writes then carry their tags as keys the builder need not search for.
    plain_tags: bool,
}

impl Clone for Dialog {
    fn clone(&self) -> Self {
        Dialog {
            id: self.id.clone_whole(),
            role: self.role,
            state: self.state,
            local_seq: self.local_seq,
            remote_seq: self.remote_seq,
            local_end: self.local_end,
            remote_end: self.remote_end,
            local_len: self.local_len,
            remote_len: self.remote_len,
            route_set: self.route_set.clone(),
            first_loose: self.first_loose,
            secure: self.secure,
            plain_tags: self.plain_tags,
        }
    }
}

impl fmt::Debug for Dialog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialog")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("state", &self.state)
            .field("local_seq", &self.local_seq)
            .field("remote_seq", &self.remote_seq)
            .field("text", &self.id.tail())
            .field("local_end", &self.local_end)
            .field("remote_end", &self.remote_end)
            .field("local_len", &self.local_len)
            .field("remote_len", &self.remote_len)
            .field("route_set", &self.route_set)
            .field("first_loose", &self.first_loose)
            .field("secure", &self.secure)
            .finish()
    }
}

impl Dialog {
    /// The UAC side of a dialog created by `response` (a 1xx with a To tag, or a 2xx) to
    /// `request` (RFC 3261 §12.1.2): route set from the response's Record-Route in reverse
    /// order, remote target from its Contact, local sequence number from the request's CSeq,
    /// remote sequence number empty, secure if the Request-URI is `sips`.
    ///
    /// # Errors
    /// A missing Call-ID, From tag or CSeq, or an unparsable From, To, Contact or Record-Route.
    pub fn uac(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        Dialog::uac_inner(request, response, Known::default())
    }

    /// [`Dialog::uac`] for a `request` whose From and To values are known to parse (it passed
    /// [`Message::validate`], or its sender checked them): a From or To of the usual form
    /// `<uri>;params` is read from its text instead of being parsed again. The result is the
    /// one [`Dialog::uac`] gives for such a request.
    ///
    /// # Errors
    /// As [`Dialog::uac`].
    pub fn uac_checked(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        Dialog::uac_inner(request, response, Known { request_addrs: true, response_contact: false })
    }

    /// [`Dialog::uac`] for a `request` and `response` of which the caller knows what
    /// `known` says: the parses whose results are known are skipped. The result is the one
    /// [`Dialog::uac`] gives.
    ///
    /// # Errors
    /// As [`Dialog::uac`].
    pub fn uac_known(
        request: &Message,
        response: &Message,
        known: Known,
    ) -> Result<Dialog, DialogError> {
        Dialog::uac_inner(request, response, known)
    }

    fn uac_inner(
        request: &Message,
        response: &Message,
        known: Known,
    ) -> Result<Dialog, DialogError> {
        match Dialog::uac_fast(request, response, known) {
            Some(dialog) => Ok(dialog),
            None => Dialog::uac_full(request, response, known),
        }
    }

    /// [`Dialog::uac_full`] with the pieces of text taken as bytes and the dialog's text
    /// checked as UTF-8 once, instead of each piece on its own. `None` for anything out of
    /// the usual (an error, a piece that is not UTF-8): [`Dialog::uac_full`] then gives the
    /// error, or the dialog this would have made.
    pub(crate) fn uac_fast(request: &Message, response: &Message, known: Known) -> Option<Dialog> {
        let status = response.status()?;
        let state = match status {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return None,
        };
        let call_id = response.call_id_bytes()?;
        let local_tag = request.from_tag_bytes()?;
        let remote_tag = response.to_tag_bytes().unwrap_or_default();
        if status < 200 && remote_tag.is_empty() {
            return None;
        }
        let local_seq = request.cseq_number()?;
        let mut route_set = record_routes(response, false).ok()?;
        route_set.reverse();
        let remote_target = contact_bytes(response, known.response_contact)?.unwrap_or_default();
        let local = addr_bytes::<From<'_>>(request, known.request_addrs)?;
        let remote = addr_bytes::<To<'_>>(request, known.request_addrs)?;
        let ids = [call_id, local_tag, remote_tag];
        let (id, text) = DialogText::bytes(ids, local, remote, remote_target)?;
        Some(Dialog::assemble(
            id,
            &text,
            Role::Uac,
            state,
            (Some(local_seq), None),
            route_set,
            request,
        ))
    }

    /// A dialog from its id, where its text's parts end, and the rest of its state (the
    /// UAC and UAS constructors, fast and full, all end here).
    fn assemble(
        id: DialogId,
        text: &DialogText<'_>,
        role: Role,
        state: DialogState,
        (local_seq, remote_seq): (Option<u32>, Option<u32>),
        route_set: Vec<Box<str>>,
        request: &Message,
    ) -> Dialog {
        // A tag taken from a message's tag key is a token already (the parser keys only a
        // token tag, `Message::from_tag_bytes`; the remote tag always, the local one for a
        // UAC): only the local tag a UAS is given is checked.
        let plain_tags = role == Role::Uac || is_plain_tag(id.local_tag());
        Dialog {
            role,
            state,
            local_seq,
            remote_seq,
            local_end: text.local_end,
            remote_end: text.remote_end,
            local_len: text.local_len,
            remote_len: text.remote_len,
            first_loose: first_is_loose(&route_set),
            route_set,
            secure: request_is_sips(request),
            plain_tags,
            id,
        }
    }

    /// The UAC dialog, each piece of text read as text.
    pub(crate) fn uac_full(
        request: &Message,
        response: &Message,
        known: Known,
    ) -> Result<Dialog, DialogError> {
        let checked = known.request_addrs;
        let status = response.status().ok_or(DialogError::NotAResponse)?;
        let state = match status {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return Err(DialogError::NoDialogStatus(status)),
        };
        let call_id = response.call_id().ok_or(DialogError::Missing(H::CallId))?;
        let local_tag = request.from_tag().ok_or(DialogError::MissingTag(H::From))?;
        let remote_tag = response.to_tag().unwrap_or_default();
        if status < 200 && remote_tag.is_empty() {
            return Err(DialogError::MissingTag(H::To));
        }
        let local_seq = request.cseq_number().ok_or(DialogError::Missing(H::CSeq))?;
        let mut route_set = record_routes(response, false)?;
        route_set.reverse();
        let remote_target = contact_uri(response, known.response_contact)?.unwrap_or_default();
        let local = name_addr_of::<From<'_>>(request, checked)?;
        let remote = name_addr_of::<To<'_>>(request, checked)?;
        let text = DialogText::new(local, local_tag, remote, remote_tag, remote_target);
        let id = text.id(call_id, local_tag, remote_tag);
        Ok(Dialog::assemble(
            id,
            &text,
            Role::Uac,
            state,
            (Some(local_seq), None),
            route_set,
            request,
        ))
    }

    /// The UAS side of a dialog created by answering `request` with a response of `status`
    /// (101–299) carrying `local_tag` in its To (RFC 3261 §12.1.1): route set from the
    /// request's Record-Route in order, remote target from its Contact, remote sequence number
    /// from its CSeq, local sequence number empty.
    ///
    /// The response itself must copy the request's Record-Route (§12.1.1); the user agent core
    /// does that when it builds it.
    ///
    /// # Errors
    /// A missing Call-ID or CSeq, a status that creates no dialog, or an unparsable From, To,
    /// Contact or Record-Route.
    pub fn uas(request: &Message, local_tag: &str, status: u16) -> Result<Dialog, DialogError> {
        Dialog::uas_inner(request, local_tag, status, false)
    }

    /// [`Dialog::uas`] for a `request` that passed [`Message::validate`] (which parsed its
    /// From, To and Contact): a From, To or first Contact of the usual form `<uri>;params` is
    /// read from its text instead of being parsed again. The result is the one
    /// [`Dialog::uas`] gives for such a request.
    ///
    /// # Errors
    /// As [`Dialog::uas`].
    pub fn uas_checked(
        request: &Message,
        local_tag: &str,
        status: u16,
    ) -> Result<Dialog, DialogError> {
        Dialog::uas_inner(request, local_tag, status, true)
    }

    /// [`Dialog::uas_checked`] with the local tag as bytes, for a caller that keeps its tag
    /// as bytes (ASCII it drew) and need not check it as text: the dialog's text is checked
    /// as a whole. The result is the one [`Dialog::uas_checked`] gives for the same tag as
    /// text.
    ///
    /// # Errors
    /// As [`Dialog::uas`]; a tag that is not UTF-8 is [`DialogError::MissingTag`] of To.
    pub fn uas_checked_bytes(
        request: &Message,
        local_tag: &[u8],
        status: u16,
    ) -> Result<Dialog, DialogError> {
        match Dialog::uas_fast(request, local_tag, status, true) {
            Some(dialog) => Ok(dialog),
            None => {
                let tag =
                    std::str::from_utf8(local_tag).map_err(|_| DialogError::MissingTag(H::To))?;
                Dialog::uas_full(request, tag, status, true)
            }
        }
    }

    fn uas_inner(
        request: &Message,
        local_tag: &str,
        status: u16,
        checked: bool,
    ) -> Result<Dialog, DialogError> {
        match Dialog::uas_fast(request, local_tag.as_bytes(), status, checked) {
            Some(dialog) => Ok(dialog),
            None => Dialog::uas_full(request, local_tag, status, checked),
        }
    }

    /// [`Dialog::uas_full`] as [`Dialog::uac_fast`] is [`Dialog::uac_full`].
    fn uas_fast(request: &Message, local_tag: &[u8], status: u16, checked: bool) -> Option<Dialog> {
        let state = match status {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return None,
        };
        if local_tag.is_empty() {
            return None;
        }
        let call_id = request.call_id_bytes()?;
        let remote_seq = request.cseq_number()?;
        let remote_tag = request.from_tag_bytes().unwrap_or_default();
        let local = addr_bytes::<To<'_>>(request, checked)?;
        let remote = addr_bytes::<From<'_>>(request, checked)?;
        let remote_target = contact_bytes(request, checked)?.unwrap_or_default();
        let route_set = record_routes(request, checked).ok()?;
        let ids = [call_id, local_tag, remote_tag];
        let (id, text) = DialogText::bytes(ids, local, remote, remote_target)?;
        Some(Dialog::assemble(
            id,
            &text,
            Role::Uas,
            state,
            (None, Some(remote_seq)),
            route_set,
            request,
        ))
    }

    /// The UAS dialog, each piece of text read as text.
    fn uas_full(
        request: &Message,
        local_tag: &str,
        status: u16,
        checked: bool,
    ) -> Result<Dialog, DialogError> {
        let state = match status {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return Err(DialogError::NoDialogStatus(status)),
        };
        if local_tag.is_empty() {
            return Err(DialogError::MissingTag(H::To));
        }
        let call_id = request.call_id().ok_or(DialogError::Missing(H::CallId))?;
        let remote_seq = request.cseq_number().ok_or(DialogError::Missing(H::CSeq))?;
        let remote_tag = request.from_tag().unwrap_or_default();
        let local = name_addr_of::<To<'_>>(request, checked)?;
        let remote = name_addr_of::<From<'_>>(request, checked)?;
        let remote_target = contact_uri(request, checked)?.unwrap_or_default();
        let text = DialogText::new(local, local_tag, remote, remote_tag, remote_target);
        let id = text.id(call_id, local_tag, remote_tag);
        let route_set = record_routes(request, checked)?;
        Ok(Dialog::assemble(
            id,
            &text,
            Role::Uas,
            state,
            (None, Some(remote_seq)),
            route_set,
            request,
        ))
    }

    /// The dialog id.
    #[must_use]
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Which side this is.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// Early, confirmed or terminated.
    #[must_use]
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The last CSeq number this side used, if any.
    #[must_use]
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The last CSeq number received from the peer, if any.
    #[must_use]
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// The local URI (name-addr, no tag).
    #[must_use]
    pub fn local_uri(&self) -> &str {
        let addr = self.local_addr();
        addr.get(..self.local_len).unwrap_or(addr)
    }

    /// The remote URI (name-addr, no tag).
    #[must_use]
    pub fn remote_uri(&self) -> &str {
        let addr = self.remote_addr();
        addr.get(..self.remote_len).unwrap_or(addr)
    }

    /// The remote target: where requests inside the dialog are addressed.
    #[must_use]
    pub fn remote_target(&self) -> &str {
        self.id.tail_from(self.remote_end)
    }

    /// The From value of the requests this side sends: local name-addr and tag.
    fn local_addr(&self) -> &str {
        self.id.tail_range(0, self.local_end)
    }

    /// The To value of the requests this side sends: remote name-addr and tag.
    fn remote_addr(&self) -> &str {
        self.id.tail_range(self.local_end, self.remote_end)
    }

    /// [`Dialog::local_addr`] as bytes (see [`DialogId::tail_bytes`]).
    fn local_addr_bytes(&self) -> &[u8] {
        self.id.tail_bytes().get(..self.local_end).unwrap_or_default()
    }

    /// [`Dialog::remote_addr`] as bytes (see [`DialogId::tail_bytes`]).
    fn remote_addr_bytes(&self) -> &[u8] {
        self.id.tail_bytes().get(self.local_end..self.remote_end).unwrap_or_default()
    }

    /// Replaces the remote target (a target refresh, §12.2).
    fn set_remote_target(&mut self, target: &str) {
        self.id.set_tail(self.remote_end, target);
    }

    /// The route set, in the order requests carry it.
    pub fn route_set(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.route_set.iter().map(|r| &**r)
    }

    /// Whether the dialog is secure (created by a `sips` Request-URI, §12.1.1).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Marks the dialog terminated.
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// UAC: a response to the INVITE (or a target refresh) inside this dialog arrived.
    ///
    /// A 2xx confirms an early dialog and recomputes its route set from the 2xx (§13.2.2.4);
    /// any 1xx or 2xx with a Contact replaces the remote target (§12.1.2, §12.2.1.2). Other
    /// responses change nothing.
    ///
    /// # Errors
    /// An unparsable Contact or Record-Route; the dialog is left as it was.
    pub fn on_response(&mut self, response: &Message) -> Result<(), DialogError> {
        let status = response.status().ok_or(DialogError::NotAResponse)?;
        if !(101..=299).contains(&status) || self.state == DialogState::Terminated {
            return Ok(());
        }
        let target = self.new_contact_uri(response)?;
        if status >= 200 && self.state == DialogState::Early && self.role == Role::Uac {
            if !self.same_route_set(response) {
                let mut routes = record_routes(response, false)?;
                routes.reverse();
                self.first_loose = first_is_loose(&routes);
                self.route_set = routes;
            }
            self.state = DialogState::Confirmed;
        }
        if let Some(target) = target {
            self.set_remote_target(target);
        }
        Ok(())
    }

    /// [`contact_uri`] of `msg`, or `None` when its first Contact is exactly `<remote target>`:
    /// the URI the dialog already has (checked when it became the target), so nothing to parse
    /// or change. Usual for the 2xx after a 1xx, or a re-INVITE, from the same peer.
    fn new_contact_uri<'m>(&self, msg: &'m Message) -> Result<Option<&'m str>, DialogError> {
        let target = self.remote_target().as_bytes();
        // The line compared first (one comparison), the target scanned only when it matches.
        let unchanged = !target.is_empty()
            && msg.header_lines(H::Contact).next().is_some_and(|line| {
                line.len() == target.len() + 2
                    && line.first() == Some(&b'<')
                    && line.last() == Some(&b'>')
                    && line.get(1..line.len() - 1) == Some(target)
            })
            && !has_target_special(target);
        if unchanged { Ok(None) } else { contact_uri(msg, false) }
    }

    /// Whether the Record-Route values of `msg`, in reverse, are exactly the route set, each
    /// written `<uri>` (its only `>` last): the route set the parse would give is then the one
    /// the dialog has. Such an entry was made from a parsed value with that URI and no
    /// parameters, so the same text parses again to the same entry. Usual for the 2xx after
    /// a 1xx through the same proxies.
    fn same_route_set(&self, msg: &Message) -> bool {
        let mut values = msg.values(H::RecordRoute);
        let mut ours = self.route_set.iter().rev();
        loop {
            match (values.next(), ours.next()) {
                (None, None) => return true,
                (Some(v), Some(r)) => {
                    let plain = v.first() == Some(&b'<')
                        && v.iter().position(|&c| c == b'>') == Some(v.len() - 1);
                    if !plain || v != r.as_bytes() {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }

    /// UAS: this side sent a 2xx to the request that created the dialog early.
    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
    }

    /// Checks a request received inside this dialog (RFC 3261 §12.2.2) and records its CSeq.
    ///
    /// A CSeq lower than the last one received is out of order: answer it with the
    /// [`DialogError::status`] of the error (500). ACK and CANCEL carry the CSeq of the
    /// request they refer to and are not checked. A target refresh (INVITE, UPDATE, SUBSCRIBE,
    /// NOTIFY) with a Contact replaces the remote target.
    ///
    /// # Errors
    /// [`DialogError::CSeqOutOfOrder`], a missing CSeq, or an unparsable Contact.
    pub fn receive_request(&mut self, request: &Message) -> Result<(), DialogError> {
        let method = request.method().ok_or(DialogError::NotARequest)?;
        let cseq = request.cseq_number().ok_or(DialogError::Missing(H::CSeq))?;
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if let Some(last) = self.remote_seq
            && cseq < last
        {
            return Err(DialogError::CSeqOutOfOrder { received: cseq, last });
        }
        let target = if is_target_refresh(method) { self.new_contact_uri(request)? } else { None };
        self.remote_seq = Some(cseq);
        if let Some(target) = target {
            self.set_remote_target(target);
        }
        Ok(())
    }

    /// The Request-URI and Route headers for the next request in this dialog (RFC 3261
    /// §12.2.1.1): with an empty route set, the remote target and no Route; with a loose router
    /// (`lr`) first, the remote target and the route set; with a strict router first, that
    /// router's URI (without the parameters a Request-URI may not carry) as the Request-URI and
    /// the rest of the route set followed by the remote target as Routes.
    #[must_use]
    pub fn request_target(&self) -> RequestTarget {
        let Some(first) = self.route_set.first() else {
            return RequestTarget {
                request_uri: self.remote_target().to_string(),
                routes: Vec::new(),
            };
        };
        let first_uri = addr_uri(first);
        if self.first_loose {
            RequestTarget {
                request_uri: self.remote_target().to_string(),
                routes: self.route_set.iter().map(|r| r.to_string()).collect(),
            }
        } else {
            let mut routes: Vec<String> =
                self.route_set.iter().skip(1).map(|r| r.to_string()).collect();
            routes.push(format!("<{}>", self.remote_target()));
            RequestTarget { request_uri: request_uri_form(first_uri), routes }
        }
    }

    /// Starts the next request of `method` inside the dialog (RFC 3261 §12.2.1.1), with the
    /// CSeq number incremented (or taken from `cseq` for an ACK or CANCEL, which reuse the
    /// INVITE's number): request line, `via` (the transaction layer adds the branch),
    /// Max-Forwards 70, the Routes, To with the remote tag, From with the local tag, Call-ID,
    /// CSeq. Add Contact, Supported and a body to the returned builder.
    ///
    /// Returns the builder and the target; send the request to [`RequestTarget::next_hop`].
    #[must_use]
    pub fn request(
        &mut self,
        method: &Method,
        via: &str,
        cseq: Option<u32>,
    ) -> (MessageBuilder, RequestTarget) {
        self.request_via(method, via.as_bytes(), cseq)
    }

    /// [`Dialog::request`] with the Via as bytes.
    fn request_via(
        &mut self,
        method: &Method,
        via: &[u8],
        cseq: Option<u32>,
    ) -> (MessageBuilder, RequestTarget) {
        let number = self.request_seq(method, cseq);
        let target = self.request_target();
        let mut b = MessageBuilder::request(method, &target.request_uri)
            .header(H::Via, via)
            .headers(&MAX_FORWARDS);
        for route in &target.routes {
            b = b.header(H::Route, route);
        }
        (self.finish_request(b, method, number), target)
    }

    /// [`Dialog::request`] without the [`RequestTarget`]: the same builder, written without
    /// copying the target's strings. Send the request to [`Dialog::next_hop`].
    #[must_use]
    pub fn request_builder(
        &mut self,
        method: &Method,
        via: &str,
        cseq: Option<u32>,
    ) -> MessageBuilder {
        self.request_builder_bytes(method, via.as_bytes(), cseq)
    }

    /// [`Dialog::request_builder`] with the Via as bytes, for a caller that writes it from
    /// ASCII pieces (a drawn branch) and need not check them as text. The builder checks the
    /// value as it checks any header value (no line breaks); nothing else differs.
    #[must_use]
    pub fn request_builder_bytes(
        &mut self,
        method: &Method,
        via: &[u8],
        cseq: Option<u32>,
    ) -> MessageBuilder {
        self.request_builder_keyed(None, method, via, None, cseq)
    }

    /// [`Dialog::request_builder_bytes`] for a caller that knows where the branch of `via`
    /// lies: `via[branch]` is the `branch` parameter of its first via-parm as the parser finds
    /// it (a branch the caller drew and wrote there; see
    /// [`MessageBuilder::via_with_branch`]), so that the builder takes the key instead of
    /// searching for it. The same bytes and the same message.
    #[must_use]
    pub fn request_builder_branch(
        &mut self,
        method: &Method,
        via: &[u8],
        branch: Range<usize>,
        cseq: Option<u32>,
    ) -> MessageBuilder {
        self.request_builder_keyed(None, method, via, Some(branch), cseq)
    }

    /// [`Dialog::request_builder_branch`] (`branch: None`: [`Dialog::request_builder_bytes`])
    /// in the builder state `spare` keeps (see [`MessageBuilder::build_in`]): the same
    /// builder, without the allocation of its state.
    #[must_use]
    pub fn request_builder_in(
        &mut self,
        spare: &mut BuilderSpare,
        method: &Method,
        via: &[u8],
        branch: Option<Range<usize>>,
        cseq: Option<u32>,
    ) -> MessageBuilder {
        self.request_builder_keyed(Some(spare), method, via, branch, cseq)
    }

    fn request_builder_keyed(
        &mut self,
        spare: Option<&mut BuilderSpare>,
        method: &Method,
        via: &[u8],
        branch: Option<Range<usize>>,
        cseq: Option<u32>,
    ) -> MessageBuilder {
        if !self.route_set.is_empty() && !self.first_loose {
            // A strict router first (rare): the Request-URI and Routes are rewritten.
            return self.request_via(method, via, cseq).0;
        }
        let number = self.request_seq(method, cseq);
        let b = match spare {
            Some(spare) => MessageBuilder::request_in(spare, method, self.remote_target(), 512),
            None => MessageBuilder::request(method, self.remote_target()),
        };
        let mut b = match branch {
            Some(branch) => b.via_with_branch(via, branch),
            None => b.header(H::Via, via),
        }
        .headers(&MAX_FORWARDS);
        for route in &self.route_set {
            b = b.header(H::Route, &**route);
        }
        self.finish_request(b, method, number)
    }

    /// Where the next request in this dialog goes first: the same URI as
    /// [`RequestTarget::next_hop`] of [`Dialog::request_target`], without building the target.
    #[must_use]
    pub fn next_hop(&self) -> &str {
        match (self.route_set.first(), self.first_loose) {
            (None, _) => self.remote_target(),
            (Some(first), true) => addr_uri(first),
            // Strict: the Routes are the rest of the route set, then `<remote target>`.
            (Some(_), false) => match self.route_set.get(1) {
                Some(second) => addr_uri(second),
                None => self.remote_target(),
            },
        }
    }

    /// The CSeq number of the next request of `method` (§12.2.1.1).
    fn request_seq(&mut self, method: &Method, cseq: Option<u32>) -> u32 {
        match (method, cseq) {
            (Method::Ack | Method::Cancel, Some(n)) => n,
            _ => self.next_local_seq(),
        }
    }

    /// To, From, Call-ID and CSeq after the Routes.
    ///
    /// The keys of these lines are known: the tags are the dialog's own (tokens, written last
    /// after a `[display-name] <URI>`), the Call-ID was a message's Call-ID key; the builder
    /// takes them instead of searching the values for them.
    fn finish_request(&self, b: MessageBuilder, method: &Method, number: u32) -> MessageBuilder {
        let (to, from) = (self.remote_addr_bytes(), self.local_addr_bytes());
        let call_id = self.id.call_id_bytes();
        match (
            tag_range(to, self.remote_len, self.plain_tags),
            tag_range(from, self.local_len, self.plain_tags),
        ) {
            // The four lines written and indexed as one.
            (Some(to_tag), Some(from_tag)) => b.request_lines(&RequestLines {
                to,
                to_tag,
                from,
                from_tag,
                call_id,
                cseq: number,
                method,
            }),
            _ => b.header(H::To, to).header(H::From, from).call_id(call_id).cseq(number, method),
        }
    }

    /// Takes the next local CSeq number (§12.2.1.1: one more than the last; a UAS that has
    /// sent nothing yet starts from 1, a choice the RFC leaves open).
    pub fn next_local_seq(&mut self) -> u32 {
        let next = self.local_seq.map_or(1, |n| n.wrapping_add(1) & 0x7fff_ffff);
        self.local_seq = Some(next);
        next
    }

    /// Heap bytes this dialog holds besides the struct itself (for memory accounting).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.id.heap_bytes()
            + self.route_set.capacity() * std::mem::size_of::<Box<str>>()
            + self.route_set.iter().map(|r| r.len()).sum::<usize>()
    }
}

/// What the caller of [`Dialog::uac_known`] knows of the request and the response, so that
/// the parses whose results are known are skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// The request's From and To parse (it passed [`Message::validate`], or its sender
    /// checked them): as for [`Dialog::uac_checked`].
    pub request_addrs: bool,
    /// The response's first Contact value is `<uri>` with anything after it, and
    /// [`contact_target`] gives that `uri` (the caller saw the same Contact line parse).
    pub response_contact: bool,
}

/// The remote target a dialog takes from `msg` (RFC 3261 §12.1.1, §12.1.2): the URI of its
/// first Contact, which must parse as a URI; `None` without a Contact.
///
/// # Errors
/// An unparsable Contact, or one without a URI (`*`).
pub fn contact_target(msg: &Message) -> Result<Option<&str>, DialogError> {
    contact_uri(msg, false)
}

/// The bytes that keep a target from being read back from `<target>` as itself:
/// `<`, `>`, `,`, `"` and ASCII whitespace.
// Evaluated when compiling: an index out of bounds would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const TARGET_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let special = b"<>,\" \t\n\x0c\r";
    let mut i = 0;
    while i < special.len() {
        table[special[i] as usize] = true;
        i += 1;
    }
    table
};

/// Whether `c` is one of [`TARGET_SPECIAL`].
fn is_target_special(c: u8) -> bool {
    TARGET_SPECIAL.get(usize::from(c)).copied().unwrap_or(true)
}

/// Whether a byte of `target` is one of [`TARGET_SPECIAL`], eight bytes at a time.
///
/// A word is flagged when a byte of it is below `!` (space and every control: the special
/// white space among them) or is `<`, `>`, `,` or `"`; only a flagged target is scanned byte by
/// byte, for the exact answer (a control that is not special flags a word too). Each test is
/// `(v - ONES) & !v & HIGH` on a word `v` whose matching bytes are zero (or below the bound):
/// nonzero exactly when some byte of `v` is, the borrow of the subtraction starting only at
/// such a byte. The bytes after the last whole word are read as the last eight bytes
/// (overlapping the word before), or one by one for a target shorter than a word.
fn has_target_special(target: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero = |v: u64| v.wrapping_sub(ONES) & !v;
    let flagged = |w: &[u8; 8]| {
        let w = u64::from_ne_bytes(*w);
        // Below 0x21; `<` or `>` (0x3c, 0x3e: 0x3e with bit 1 set); `,`; `"`.
        let found = (w.wrapping_sub(ONES * 0x21) & !w)
            | zero((w | (ONES * 0x02)) ^ (ONES * 0x3e))
            | zero(w ^ (ONES * 0x2c))
            | zero(w ^ (ONES * 0x22));
        found & HIGH != 0
    };
    let Some(last) = target.last_chunk::<8>() else {
        return target.iter().any(|&c| is_target_special(c));
    };
    let any = flagged(last) || target.chunks_exact(8).any(|w| w.first_chunk().is_some_and(flagged));
    any && target.iter().any(|&c| is_target_special(c))
}

/// `Max-Forwards: 70` (RFC 3261 §8.1.1.6), written and indexed once.
static MAX_FORWARDS: LazyLock<HeaderBlock> =
    LazyLock::new(|| HeaderBlock::new(&[(H::MaxForwards, "70")]));

/// Whether `method` refreshes the remote target (RFC 3261 §12.2, RFC 3311, RFC 6665).
#[must_use]
pub fn is_target_refresh(method: &Method) -> bool {
    matches!(method, Method::Invite | Method::Update | Method::Subscribe | Method::Notify)
}

/// A CSeq value, `number SP method` (RFC 3261 §20.16), written without `format!` (a user
/// agent writes one into every request it builds).
///
/// ```
/// use sip_dialog::cseq_value;
/// use sip_message::Method;
/// assert_eq!(&cseq_value(314159, &Method::Invite)[..], b"314159 INVITE");
/// ```
#[must_use]
pub fn cseq_value(number: u32, method: &Method) -> SmallVec<[u8; 32]> {
    let mut out = SmallVec::new();
    out.extend_from_slice(sip_message::Decimal::new(u64::from(number)).as_bytes());
    out.push(b' ');
    out.extend_from_slice(method.as_bytes());
    out
}

/// Where the tag of `value` lies (a From or To value this dialog writes: its name-addr,
/// `addr_len` bytes, then `;tag=` and the tag unless the tag is empty): `Some(None)` for no
/// tag, `None` when the tags are not `plain` (tokens) or the value has another shape.
fn tag_range(value: &[u8], addr_len: usize, plain: bool) -> Option<Option<Range<usize>>> {
    match value.get(addr_len..)? {
        [] => Some(None),
        rest if plain && rest.starts_with(b";tag=") => Some(Some(addr_len + 5..value.len())),
        _ => None,
    }
}

/// Whether `tag` is empty or a token (RFC 3261 §25.1), as the tag parameters the parser finds
/// are.
fn is_plain_tag(tag: &str) -> bool {
    // The parser's own token test (a table, eight bytes a step in runs).
    tag.is_empty() || sip_message::grammar::is_token(tag)
}

/// Whether the first of `routes` is a loose router (its URI has `lr`, RFC 3261 §19.1.1).
fn first_is_loose(routes: &[Box<str>]) -> bool {
    routes.first().is_some_and(|r| SipUri::parse(addr_uri(r)).map(|u| u.lr()).unwrap_or(false))
}

/// The URI inside a name-addr (`<...>`), or the value itself.
fn addr_uri(value: &str) -> &str {
    match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => value.get(a + 1..b).unwrap_or(value),
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// A route URI as a Request-URI: without the `method` parameter and the headers, which
/// RFC 3261 §19.1.1's table forbids there.
fn request_uri_form(uri: &str) -> String {
    let uri = uri.split('?').next().unwrap_or(uri);
    let mut parts = uri.split(';');
    let mut out = parts.next().unwrap_or_default().to_string();
    for p in parts {
        let name = p.split('=').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("method") {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

fn request_is_sips(request: &Message) -> bool {
    request.request_uri_raw().is_some_and(raw_is_sips)
}

/// Whether a Request-URI's bytes are text (as `Message::request_uri_str` reads them) that
/// starts with `sips:` in any case: the scheme first, the UTF-8 check only for a URI that is
/// not all ASCII.
fn raw_is_sips(uri: &[u8]) -> bool {
    uri.get(..5).is_some_and(|s| s.eq_ignore_ascii_case(b"sips:"))
        && (uri.is_ascii() || std::str::from_utf8(uri).is_ok())
}

/// The display name (if any) and URI of the first `T` header's name-addr, without its
/// parameters.
///
/// The first line of header `name`: From and To hold one value, which the message indexes
/// when it is parsed or built (no search, no list splitting).
fn first_line(msg: &Message, name: H) -> Option<&[u8]> {
    match name {
        H::From => msg.from_header(),
        H::To => msg.to_header(),
        name => msg.header_lines(name).next(),
    }
}

/// `checked`: the header is known to parse (see [`bracketed_uri`]).
fn name_addr_of<'a, T>(msg: &'a Message, checked: bool) -> Result<AddrParts<'a>, DialogError>
where
    T: TypedHeader<'a> + AddressLike<'a>,
{
    if checked {
        if let Some(uri) = first_line(msg, T::NAME).and_then(bracketed) {
            return Ok(AddrParts { display: None, uri });
        }
    }
    let header =
        msg.typed::<T>().ok_or(DialogError::Missing(T::NAME))?.map_err(DialogError::Header)?;
    Ok(AddrParts {
        display: header.display_raw().filter(|d| !d.is_empty()),
        uri: header.uri_text(),
    })
}

/// [`name_addr_of`] as bytes: a checked header's bracketed URI is not checked as UTF-8 (the
/// dialog's text is, as a whole). `None` where [`name_addr_of`] fails.
fn addr_bytes<'a, T>(msg: &'a Message, checked: bool) -> Option<AddrParts<'a, [u8]>>
where
    T: TypedHeader<'a> + AddressLike<'a>,
{
    if checked {
        if let Some(uri) = first_line(msg, T::NAME).and_then(bracketed_bytes) {
            return Some(AddrParts { display: None, uri });
        }
    }
    let header = msg.typed::<T>()?.ok()?;
    Some(AddrParts {
        display: header.display_raw().filter(|d| !d.is_empty()).map(str::as_bytes),
        uri: header.uri_text().as_bytes(),
    })
}

/// [`contact_uri`] as bytes (see [`addr_bytes`]); `None` where it fails.
fn contact_bytes(msg: &Message, checked: bool) -> Option<Option<&[u8]>> {
    if checked && let Some(uri) = bracketed_uri_bytes(msg, H::Contact) {
        return Some(Some(uri));
    }
    contact_uri(msg, false).ok().map(|uri| uri.map(str::as_bytes))
}

/// A name-addr's display name and URI, as text (`str`) or bytes (`[u8]`).
struct AddrParts<'a, S: ?Sized = str> {
    display: Option<&'a S>,
    uri: &'a S,
}

impl<S: ?Sized> Clone for AddrParts<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for AddrParts<'_, S> {}

impl AddrParts<'_, [u8]> {
    /// The length of the name-addr (`display <uri>`).
    fn len(&self) -> usize {
        self.display.map_or(0, |d| d.len() + 1) + self.uri.len() + 2
    }

    /// The length of the value with `;tag=tag` (none when `tag` is empty).
    fn len_with(&self, tag: &[u8]) -> usize {
        self.len() + if tag.is_empty() { 0 } else { 5 + tag.len() }
    }

    /// Appends `display <uri>` and `;tag=tag` (none when `tag` is empty).
    #[inline(always)]
    fn push(&self, out: &mut Vec<u8>, tag: &[u8]) {
        if let Some(d) = self.display {
            out.extend_from_slice(d);
            out.push(b' ');
        }
        out.push(b'<');
        out.extend_from_slice(self.uri);
        out.push(b'>');
        if !tag.is_empty() {
            out.extend_from_slice(b";tag=");
            out.extend_from_slice(tag);
        }
    }
}

impl AddrParts<'_> {
    /// The length of the name-addr (`display <uri>`).
    fn len(&self) -> usize {
        self.display.map_or(0, |d| d.len() + 1) + self.uri.len() + 2
    }

    /// The length of the value with `;tag=tag` (none when `tag` is empty).
    fn len_with(&self, tag: &str) -> usize {
        self.len() + if tag.is_empty() { 0 } else { 5 + tag.len() }
    }

    /// Appends `display <uri>` and `;tag=tag` (none when `tag` is empty).
    fn push(&self, out: &mut String, tag: &str) {
        if let Some(d) = self.display {
            out.push_str(d);
            out.push(' ');
        }
        out.push('<');
        out.push_str(self.uri);
        out.push('>');
        if !tag.is_empty() {
            out.push_str(";tag=");
            out.push_str(tag);
        }
    }
}

/// The [`Dialog`]'s text (local and remote address, remote target), written after its id.
struct DialogText<'a> {
    local: AddrParts<'a>,
    remote: AddrParts<'a>,
    remote_target: &'a str,
    local_end: usize,
    remote_end: usize,
    local_len: usize,
    remote_len: usize,
}

impl<'a> DialogText<'a> {
    fn new(
        local: AddrParts<'a>,
        local_tag: &str,
        remote: AddrParts<'a>,
        remote_tag: &str,
        remote_target: &'a str,
    ) -> Self {
        let local_end = local.len_with(local_tag);
        let remote_end = local_end + remote.len_with(remote_tag);
        DialogText {
            local,
            remote,
            remote_target,
            local_end,
            remote_end,
            local_len: local.len(),
            remote_len: remote.len(),
        }
    }

    /// The id `[call_id, local_tag, remote_tag]` with the text of `local`, `remote` and
    /// `remote_target` after it, and where that text's parts end, as [`DialogText::new`] and
    /// [`DialogText::id`] make them from the same pieces as text; `None` when the whole is
    /// not UTF-8.
    fn bytes(
        [call_id, local_tag, remote_tag]: [&[u8]; 3],
        local: AddrParts<'_, [u8]>,
        remote: AddrParts<'_, [u8]>,
        remote_target: &[u8],
    ) -> Option<(DialogId, DialogText<'static>)> {
        let local_end = local.len_with(local_tag);
        let remote_end = local_end + remote.len_with(remote_tag);
        let end = call_id.len() + local_tag.len() + remote_tag.len();
        let mut text = Vec::with_capacity(end + remote_end + remote_target.len());
        text.extend_from_slice(call_id);
        text.extend_from_slice(local_tag);
        text.extend_from_slice(remote_tag);
        local.push(&mut text, local_tag);
        remote.push(&mut text, remote_tag);
        text.extend_from_slice(remote_target);
        let text = String::from_utf8(text).ok()?.into_boxed_str();
        let id = DialogId {
            text,
            call_id_end: call_id.len(),
            local_end: call_id.len() + local_tag.len(),
            end,
        };
        let empty = AddrParts { display: None, uri: "" };
        let parts = DialogText {
            local: empty,
            remote: empty,
            remote_target: "",
            local_end,
            remote_end,
            local_len: local.len(),
            remote_len: remote.len(),
        };
        Some((id, parts))
    }

    /// The dialog's id with this text after it, in one allocation.
    fn id(&self, call_id: &str, local_tag: &str, remote_tag: &str) -> DialogId {
        let len = self.remote_end + self.remote_target.len();
        DialogId::with_tail(call_id, local_tag, remote_tag, len, |text| {
            self.local.push(text, local_tag);
            self.remote.push(text, remote_tag);
            text.push_str(self.remote_target);
        })
    }
}

/// From and To seen alike.
trait AddressLike<'a> {
    fn uri_text(&self) -> &'a str;
    fn display_raw(&self) -> Option<&'a str>;
}

impl<'a> AddressLike<'a> for From<'a> {
    fn uri_text(&self) -> &'a str {
        self.uri_str()
    }
    fn display_raw(&self) -> Option<&'a str> {
        self.name_addr().display_name_raw()
    }
}

impl<'a> AddressLike<'a> for To<'a> {
    fn uri_text(&self) -> &'a str {
        self.uri_str()
    }
    fn display_raw(&self) -> Option<&'a str> {
        self.name_addr().display_name_raw()
    }
}

/// The URI of the first `name` value when that value is `<uri>` followed by anything: the
/// text up to the first `>`. For a value known to parse as a name-addr header (From, To,
/// Contact, ...) this is exactly the parsed URI text, with no display name: the name-addr
/// parser takes the URI as the run up to `>` and refuses whitespace in it (RFC 3261 §20.10).
fn bracketed_uri(msg: &Message, name: H) -> Option<&str> {
    let line = msg.header_lines(name).next()?;
    if line.first() == Some(&b'<') {
        // The first value of a line that opens with `<` runs at least to the first `>` (a
        // list splits only at a comma outside `<>`): its bracketed text is the line's.
        return bracketed(line);
    }
    bracketed(msg.values(name).next()?)
}

/// The text between a leading `<` and the first `>` of `value`.
fn bracketed(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(bracketed_bytes(value)?).ok()
}

/// The bytes between a leading `<` and the first `>` of `value`.
fn bracketed_bytes(value: &[u8]) -> Option<&[u8]> {
    let rest = value.strip_prefix(b"<")?;
    let end = memchr::memchr(b'>', rest)?;
    rest.get(..end)
}

/// [`bracketed_uri`] as bytes.
fn bracketed_uri_bytes(msg: &Message, name: H) -> Option<&[u8]> {
    let line = msg.header_lines(name).next()?;
    if line.first() == Some(&b'<') {
        return bracketed_bytes(line);
    }
    bracketed_bytes(msg.values(name).next()?)
}

/// The URI of the first Contact, checked to be a URI; `None` when there is no Contact.
/// `checked`: the Contact is known to parse (see [`bracketed_uri`]).
fn contact_uri(msg: &Message, checked: bool) -> Result<Option<&str>, DialogError> {
    // A bracketed Contact that parsed has a URI of one of the three kinds accepted below.
    if checked && let Some(uri) = bracketed_uri(msg, H::Contact) {
        return Ok(Some(uri));
    }
    let Some(contact) = msg.typed::<Contact<'_>>() else { return Ok(None) };
    let contact = contact.map_err(DialogError::Header)?;
    match (contact.uri_str(), contact.uri()) {
        (Some(s), Some(Uri::Sip(_) | Uri::Other(_) | Uri::Tel(_))) => Ok(Some(s)),
        _ => Err(DialogError::BadContact),
    }
}

/// Every Record-Route value, as `<uri>;params`, in message order. `checked`: the message
/// passed [`Message::validate`], so every value parses; one written exactly `<uri>` (its
/// only `>` last) is then its own result and is taken as it is.
fn record_routes(msg: &Message, checked: bool) -> Result<Vec<Box<str>>, DialogError> {
    if !msg.has(H::RecordRoute) {
        return Ok(Vec::new());
    }
    if checked {
        let plain = |v: &[u8]| {
            v.first() == Some(&b'<') && v.iter().position(|&c| c == b'>') == Some(v.len() - 1)
        };
        if msg.values(H::RecordRoute).all(plain)
            && let Some(routes) = msg
                .values(H::RecordRoute)
                .map(|v| std::str::from_utf8(v).ok().map(Into::into))
                .collect::<Option<Vec<Box<str>>>>()
        {
            return Ok(routes);
        }
    }
    msg.typed_all::<RecordRoute<'_>>()
        .map(|rr| {
            let rr = rr.map_err(DialogError::Header)?;
            let (uri, params) = (rr.uri_str(), rr.params().as_str().trim());
            let mut out = String::with_capacity(uri.len() + 2 + params.len());
            out.push('<');
            out.push_str(uri);
            out.push('>');
            out.push_str(params);
            Ok(out.into())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_sips_test_is_the_text_test() {
        // Every string of up to 6 bytes from a small alphabet that covers the scheme in both
        // cases, the colon, ASCII, a valid two-byte sequence and bytes that are not UTF-8.
        let alphabet: &[u8] = &[b's', b'S', b'i', b'p', b'P', b':', b'x', 0xc3, 0xa9, 0xff];
        // The text test (on the bytes of the text: slicing the `str` at 5 would panic inside
        // a character).
        let text = |uri: &[u8]| {
            std::str::from_utf8(uri).ok().is_some_and(|u| {
                u.as_bytes().get(..5).is_some_and(|s| s.eq_ignore_ascii_case(b"sips:"))
            })
        };
        let mut uri = Vec::new();
        let mut stack = vec![Vec::new()];
        while let Some(prefix) = stack.pop() {
            uri.clone_from(&prefix);
            assert_eq!(raw_is_sips(&uri), text(&uri), "{uri:?}");
            if prefix.len() < 6 {
                for &c in alphabet {
                    let mut next = prefix.clone();
                    next.push(c);
                    stack.push(next);
                }
            }
        }
        for uri in ["sips:a@b", "SIPS:a@b", "sip:a@b", "sips", "sipsx:a", "sips:é@b"] {
            assert_eq!(raw_is_sips(uri.as_bytes()), text(uri.as_bytes()), "{uri}");
        }
    }

    #[test]
    fn addr_uri_and_request_uri_form() {
        assert_eq!(addr_uri("<sip:p1.example.com;lr>"), "sip:p1.example.com;lr");
        assert_eq!(addr_uri("sip:p1.example.com;lr"), "sip:p1.example.com");
        assert_eq!(
            request_uri_form("sip:p1.example.com;method=INVITE;maddr=1.2.3.4?x=y"),
            "sip:p1.example.com;maddr=1.2.3.4"
        );
    }

    fn invite(contact: &str) -> Message {
        MessageBuilder::request(&Method::Invite, "sip:bob@biloxi.example.com")
            .header(H::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8")
            .header(H::To, "Bob <sip:bob@biloxi.example.com>")
            .header(H::From, "<sip:alice@atlanta.example.com>;tag=1928301774")
            .header(H::CallId, "a84b4c76e66710")
            .header(H::CSeq, "314159 INVITE")
            .header(H::Contact, contact)
            .build()
            .unwrap()
    }

    fn request_with(from: &str, to: &str, contact: &str) -> Option<Message> {
        request_with_routes(from, to, contact, &[])
    }

    fn request_with_routes(
        from: &str,
        to: &str,
        contact: &str,
        routes: &[&str],
    ) -> Option<Message> {
        let mut b = MessageBuilder::request(&Method::Invite, "sip:bob@biloxi.example.com");
        for r in routes {
            b = b.header(H::RecordRoute, r);
        }
        b.header(H::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8")
            .header(H::MaxForwards, "70")
            .header(H::To, to)
            .header(H::From, from)
            .header(H::CallId, "a84b4c76e66710")
            .header(H::CSeq, "314159 INVITE")
            .header(H::Contact, contact)
            .build()
            .ok()
    }

    const ADDRS: [&str; 14] = [
        "<sip:bob@192.0.2.4>",
        "<sip:bob@192.0.2.4>;tag=abc",
        "Bob <sip:bob@192.0.2.4>;tag=abc",
        "\"Bob B\" <sips:bob@x.example;transport=tcp>;tag=a;x=y",
        "sip:bob@192.0.2.4;tag=abc",
        "<tel:+1-201-555-0123>",
        "<mailto:bob@example.com>;tag=q",
        "<sip:bob@192.0.2.4 >",
        "<sip:bob@[::1]:5060;lr>;tag=z",
        "<sip:bob@>",
        "Bob<sip:b@c>",
        "<sip:a@b>;tag=x, <sip:c@d>",
        "<sip:b,c@d>;tag=e",
        "<sip:b@d;x=\">\">;tag=e",
    ];

    // For a request that passed validate(), reading From, To and Contact from their text gives
    // the dialog the typed parses give, on both sides: every combination of the forms above.
    #[test]
    fn checked_dialogs_are_the_parsed_ones() {
        let mut valid = 0;
        for from in ADDRS {
            for to in ADDRS {
                for contact in ADDRS {
                    let Some(request) = request_with(from, to, contact) else { continue };
                    if request.validate().is_err() {
                        continue;
                    }
                    valid += 1;
                    let parsed = format!("{:?}", Dialog::uas(&request, "t1", 180));
                    let checked = format!("{:?}", Dialog::uas_checked(&request, "t1", 180));
                    assert_eq!(parsed, checked, "{from} / {to} / {contact}");
                    let bytes = format!("{:?}", Dialog::uas_checked_bytes(&request, b"t1", 180));
                    assert_eq!(parsed, bytes, "{from} / {to} / {contact}");
                    if let Ok(d) = Dialog::uas(&request, "t1", 180) {
                        // The byte accessors cut the text where the text accessors do.
                        assert_eq!(d.id().remote_tag_bytes(), d.id().remote_tag().as_bytes());
                        assert_eq!(d.id().call_id_bytes(), d.id().call_id().as_bytes());
                        assert_eq!(d.local_addr_bytes(), d.local_addr().as_bytes());
                        assert_eq!(d.remote_addr_bytes(), d.remote_addr().as_bytes());
                        assert_eq!(d.id().tail_bytes(), d.id().tail().as_bytes());
                        let tail = d.id().tail();
                        assert_eq!(Some(d.local_addr()), tail.get(..d.local_end));
                        assert_eq!(Some(d.remote_addr()), tail.get(d.local_end..d.remote_end));
                        assert_eq!(Some(d.remote_target()), tail.get(d.remote_end..));
                        assert_eq!(d.id().tail_range(2, 1), "");
                    }
                    // A tag that is not UTF-8 is refused, as a missing one.
                    assert_eq!(
                        Dialog::uas_checked_bytes(&request, b"t\xff", 180).err(),
                        Some(DialogError::MissingTag(H::To)),
                    );
                    let response = MessageBuilder::response_to(&request, 200, None)
                        .to_tag("t2")
                        .header(H::Contact, "<sip:bob@192.0.2.4>")
                        .build()
                        .unwrap();
                    let parsed = format!("{:?}", Dialog::uac(&request, &response));
                    let checked = format!("{:?}", Dialog::uac_checked(&request, &response));
                    assert_eq!(parsed, checked, "{from} / {to} / {contact}");
                }
            }
        }
        assert!(valid > 300, "{valid} valid combinations");
    }

    // The dialogs made from bytes are the ones made piece by piece from text, for every
    // combination of the forms above, on both sides, checked or not; and the bytes path
    // declines only what the text path refuses.
    #[test]
    fn the_byte_path_makes_the_text_path_dialogs() {
        let mut fast = 0;
        for from in ADDRS {
            for to in ADDRS {
                for contact in ADDRS {
                    let Some(request) = request_with(from, to, contact) else { continue };
                    for checked in [false, true] {
                        if checked && request.validate().is_err() {
                            continue;
                        }
                        let full = Dialog::uas_full(&request, "t1", 180, checked);
                        match Dialog::uas_fast(&request, b"t1", 180, checked) {
                            Some(d) => {
                                fast += 1;
                                let full = full.as_ref().map(|d| format!("{d:?}"));
                                assert_eq!(Ok(format!("{d:?}")), full, "{from}/{to}/{contact}");
                            }
                            None => assert!(full.is_err(), "{from} / {to} / {contact}"),
                        }
                        let Ok(response) = MessageBuilder::response_to(&request, 200, None)
                            .to_tag("t2")
                            .header(H::Contact, contact)
                            .build()
                        else {
                            continue;
                        };
                        for response_contact in [false, true] {
                            let known = Known { request_addrs: checked, response_contact };
                            if response_contact
                                && !matches!(
                                    (contact_target(&response), bracketed_uri(&response, H::Contact)),
                                    (Ok(Some(a)), Some(b)) if a == b
                                )
                            {
                                continue;
                            }
                            let full = Dialog::uac_full(&request, &response, known);
                            match Dialog::uac_fast(&request, &response, known) {
                                Some(d) => {
                                    let full = full.as_ref().map(|d| format!("{d:?}"));
                                    assert_eq!(Ok(format!("{d:?}")), full, "{from}/{to}/{contact}");
                                }
                                None => assert!(full.is_err(), "{from} / {to} / {contact}"),
                            }
                        }
                    }
                }
            }
        }
        assert!(fast > 300, "{fast}");
    }

    // A response Contact known to read as its bracketed text (what `contact_target` gives)
    // makes the dialog the parse makes, for every Contact form.
    #[test]
    fn a_known_contact_gives_the_parsed_dialog() {
        let request = request_with("<sip:a@b>;tag=1", "<sip:b@c>", "<sip:a@b>").unwrap();
        let mut known = 0;
        for contact in ADDRS.iter().chain(&["*", "<sip:b@c>;q=0.5, <sip:d@e>", "<>", "<sip:b@c"]) {
            let Ok(response) = MessageBuilder::response_to(&request, 180, None)
                .to_tag("t2")
                .header(H::Contact, contact)
                .build()
            else {
                continue;
            };
            let line = response.header_lines(H::Contact).next().unwrap();
            let text = line
                .strip_prefix(b"<")
                .and_then(|r| r.iter().position(|&c| c == b'>').and_then(|e| r.get(..e)));
            let target = contact_target(&response);
            let full = format!("{:?}", Dialog::uac(&request, &response));
            if matches!((&target, text), (Ok(Some(uri)), Some(t)) if uri.as_bytes() == t) {
                known += 1;
                let k = Known { request_addrs: false, response_contact: true };
                assert_eq!(format!("{:?}", Dialog::uac_known(&request, &response, k)), full);
            }
            let k = Known { request_addrs: true, response_contact: false };
            assert_eq!(format!("{:?}", Dialog::uac_known(&request, &response, k)), full);
        }
        assert!(known >= 5, "{known}");
    }

    // A UAC dialog confirmed by a 2xx ends with the route set and loose-router flag that the
    // 2xx's Record-Route parse gives, whether or not the shortcut for an unchanged set is taken.
    #[test]
    fn a_confirmed_route_set_is_the_parsed_one() {
        let forms: [&[&str]; 8] = [
            &[],
            &["<sip:p1.example.com;lr>"],
            &["<sip:p1.example.com;lr>;x=y"],
            &["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"],
            &["<sip:p2.example.com;lr>, <sip:p1.example.com;lr>"],
            &["<sip:p1.example.com>"],
            &["P1 <sip:p1.example.com;lr>"],
            &["<sip:p1 .example.com>"],
        ];
        let request = request_with("<sip:a@b>;tag=1", "<sip:b@c>", "<sip:a@b>").unwrap();
        let response = |status: u16, routes: &[&str]| {
            let mut b = MessageBuilder::response_to(&request, status, None)
                .to_tag("t2")
                .header(H::Contact, "<sip:b@c>");
            for r in routes {
                b = b.header(H::RecordRoute, r);
            }
            b.build().unwrap()
        };
        let mut shortcuts = 0;
        for early in forms {
            for ok in forms {
                let Ok(mut d) = Dialog::uac(&request, &response(180, early)) else { continue };
                let ok = response(200, ok);
                if d.same_route_set(&ok) {
                    shortcuts += 1;
                }
                let expected = record_routes(&ok, false).map(|mut r| {
                    r.reverse();
                    (first_is_loose(&r), r)
                });
                match (d.on_response(&ok), expected) {
                    (Ok(()), Ok((loose, routes))) => {
                        assert_eq!(d.route_set, routes);
                        assert_eq!(d.first_loose, loose);
                        assert_eq!(d.state(), DialogState::Confirmed);
                    }
                    (Err(_), Err(_)) => {}
                    (got, want) => panic!("{got:?} / {want:?}"),
                }
            }
        }
        assert!(shortcuts >= 4, "{shortcuts}");
    }

    // The same for Record-Route: a validated request's plain `<uri>` values are taken as they
    // are, anything else is parsed, and the route set is the one the typed parse gives.
    #[test]
    fn checked_route_sets_are_the_parsed_ones() {
        let forms = [
            "<sip:p1.example.com;lr>",
            "<sip:p1.example.com;lr>;x=y",
            "<sip:p1.example.com;lr> ",
            "P1 <sip:p1.example.com;lr>",
            "<sip:p1.example.com;lr>, <sip:p2.example.com>",
            "<sip:p1.example.com>,<sip:p2.example.com;lr>;a",
            "sip:p1.example.com;lr",
            "<sip:p1.example.com;lr",
            "<sip:p1 .example.com>",
            "<sip:[::1];lr>",
        ];
        let mut valid = 0;
        for a in forms {
            for b in forms {
                for routes in [&[a][..], &[a, b][..]] {
                    let Some(request) =
                        request_with_routes("<sip:a@b>;tag=1", "<sip:b@c>", "<sip:b@c>", routes)
                    else {
                        continue;
                    };
                    if request.validate().is_err() {
                        continue;
                    }
                    valid += 1;
                    let parsed = format!("{:?}", Dialog::uas(&request, "t1", 200));
                    let checked = format!("{:?}", Dialog::uas_checked(&request, "t1", 200));
                    assert_eq!(parsed, checked, "{routes:?}");
                    let bytes = format!("{:?}", Dialog::uas_checked_bytes(&request, b"t1", 200));
                    assert_eq!(parsed, bytes, "{routes:?}");
                }
            }
        }
        assert!(valid > 50, "{valid} valid combinations");
    }

    // The table of bytes a plain target may not hold is the test it replaced.
    #[test]
    fn target_special_bytes_are_brackets_commas_quotes_and_whitespace() {
        for c in 0..=255u8 {
            let special = matches!(c, b'<' | b'>' | b',' | b'"') || c.is_ascii_whitespace();
            assert_eq!(TARGET_SPECIAL[usize::from(c)], special, "{c}");
        }
    }

    // The three strings kept in one buffer stay apart through a target refresh.
    #[test]
    fn a_target_refresh_keeps_the_addresses() {
        let request = invite("<sip:alice@192.0.2.1>");
        let mut d = Dialog::uas(&request, "t1", 200).unwrap();
        let (local, remote) = (d.local_uri().to_string(), d.remote_uri().to_string());
        assert_eq!(local, "Bob <sip:bob@biloxi.example.com>");
        assert_eq!(remote, "<sip:alice@atlanta.example.com>");
        assert_eq!(d.remote_target(), "sip:alice@192.0.2.1");
        let reinvite = MessageBuilder::request(&Method::Invite, "sip:bob@192.0.2.2")
            .header(H::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2")
            .header(H::To, "Bob <sip:bob@biloxi.example.com>;tag=t1")
            .header(H::From, "<sip:alice@atlanta.example.com>;tag=1928301774")
            .header(H::CallId, "a84b4c76e66710")
            .header(H::CSeq, "314160 INVITE")
            .header(H::Contact, "<sip:alice@192.0.2.99:5070;transport=tcp>")
            .build()
            .unwrap();
        let id = d.id().clone();
        assert_eq!(id.heap_bytes(), "a84b4c76e66710t11928301774".len());
        d.receive_request(&reinvite).unwrap();
        assert_eq!(d.remote_target(), "sip:alice@192.0.2.99:5070;transport=tcp");
        // The id kept before the text after it changed is still the dialog's id.
        assert_eq!(d.id(), &id);
        assert_eq!(
            (id.call_id(), id.local_tag(), id.remote_tag()),
            ("a84b4c76e66710", "t1", "1928301774")
        );
        let copy = d.clone();
        assert_eq!(format!("{copy:?}"), format!("{d:?}"));
        assert_eq!(copy.remote_target(), d.remote_target());
        assert_eq!((d.local_uri(), d.remote_uri()), (&*local, &*remote));
        assert_eq!(d.local_addr(), "Bob <sip:bob@biloxi.example.com>;tag=t1");
        assert_eq!(d.remote_addr(), "<sip:alice@atlanta.example.com>;tag=1928301774");
        let b = d.request_builder(&Method::Bye, "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK3", None);
        let bye = b.build().unwrap();
        assert_eq!(bye.request_uri_str(), Some("sip:alice@192.0.2.99:5070;transport=tcp"));
        assert_eq!(bye.header_str(H::To), Some("<sip:alice@atlanta.example.com>;tag=1928301774"));
        assert_eq!(bye.header_str(H::From), Some("Bob <sip:bob@biloxi.example.com>;tag=t1"));
    }

    proptest::proptest! {
        /// The word-at-a-time scan of a target answers as the byte table does.
        #[test]
        fn target_special_scan_is_the_table(
            target in proptest::collection::vec(
                proptest::sample::select(
                    b"ab:@.;=<>,\" \t\n\x0c\r\x00\x01\x0b\x1f!\x7f\x80\xff\x3c\x3e\x2e\x24".to_vec()
                ),
                0..40,
            ),
            plain in "[a-z0-9:@.;=_-]{0,40}",
        ) {
            let table = |t: &[u8]| t.iter().any(|&c| is_target_special(c));
            proptest::prop_assert_eq!(has_target_special(&target), table(&target));
            proptest::prop_assert!(!has_target_special(plain.as_bytes()));
            for at in 0..plain.len() {
                for c in [b'<', b'>', b',', b'"', b' ', b'\t', b'\r', b'\n', 0x0c] {
                    let mut t = plain.clone().into_bytes();
                    if let Some(b) = t.get_mut(at) {
                        *b = c;
                    }
                    proptest::prop_assert!(has_target_special(&t));
                }
            }
        }
    }

    proptest::proptest! {
        /// A tag the parser keys (what a dialog takes without checking it again) is a
        /// token: whatever the From and To values hold around `tag=`.
        #[test]
        fn keyed_tags_are_plain(
            from in "[a-z<>:@\"; ,=.\u{e9}]{0,6}(|;)(tag|TAG|Tag)(|=)[ -~\u{e9}]{0,10}",
            to in "(<sip:b@example.com>|sip:b@h|[a-z<>:@\"; ,=.]{0,6})(|;)tag=[a-zA-Z0-9.!%*_+`'~\"<>;, -]{0,10}",
        ) {
            let text = format!(
                "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                 From: {from}\r\nTo: {to}\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
                 Content-Length: 0\r\n\r\n"
            );
            if let Ok(msg) = Message::parse(bytes::Bytes::from(text)) {
                for tag in [msg.from_tag_bytes(), msg.to_tag_bytes()].into_iter().flatten() {
                    let tag = std::str::from_utf8(tag);
                    proptest::prop_assert!(tag.is_ok_and(|t| !t.is_empty() && is_plain_tag(t)));
                }
            }
        }

        /// The plain-tag test is the RFC 3261 §25.1 token test it replaced (empty allowed).
        #[test]
        fn plain_tags_are_tokens_or_empty(
            tag in "[a-zA-Z0-9.!%*_+`'~-]{0,12}(|[ -~\u{80}-\u{10ffff}])[a-z]{0,2}",
        ) {
            let token = tag.bytes().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
            });
            proptest::prop_assert_eq!(is_plain_tag(&tag), token);
        }
    }

    proptest::proptest! {
        // Reading the bracketed URI off the first line gives what the first list value gives.
        #[test]
        fn the_bracketed_line_is_the_bracketed_first_value(
            value in "[<>,\"; a:]{0,12}",
            second in proptest::option::of("[<>,\"a]{0,4}"),
        ) {
            let mut b = MessageBuilder::request(&Method::Invite, "sip:b@c")
                .header(H::Via, "SIP/2.0/UDP h;branch=z9hG4bK1")
                .header(H::Contact, &value);
            if let Some(second) = &second {
                b = b.header(H::Contact, second);
            }
            let Ok(msg) = b.build() else { return Ok(()) };
            let by_values = msg.values(H::Contact).next().and_then(bracketed);
            proptest::prop_assert_eq!(bracketed_uri(&msg, H::Contact), by_values);
        }

        // An id kept as one string gives back its three parts, and compares, orders and
        // hashes as the triple of strings it was made of (as the three-field struct did).
        #[test]
        fn an_id_is_its_triple(
            a in proptest::collection::vec(("[ab]{0,2}", "[ab]{0,2}", "[ab]{0,2}"), 2),
        ) {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            let ids: Vec<DialogId> = a.iter().map(|(c, l, r)| DialogId::new(c, l, r)).collect();
            let hash = |x: &dyn Fn(&mut DefaultHasher)| {
                let mut h = BuildHasherDefault::<DefaultHasher>::default().build_hasher();
                x(&mut h);
                std::hash::Hasher::finish(&h)
            };
            for (id, (c, l, r)) in ids.iter().zip(&a) {
                proptest::prop_assert_eq!((id.call_id(), id.local_tag(), id.remote_tag()), (&**c, &**l, &**r));
                proptest::prop_assert!(id.is(c, l, r));
                let triple = (c.clone().into_boxed_str(), l.clone().into_boxed_str(), r.clone().into_boxed_str());
                proptest::prop_assert_eq!(
                    hash(&|h| std::hash::Hash::hash(id, h)),
                    hash(&|h| {
                        std::hash::Hash::hash(&triple.0, h);
                        std::hash::Hash::hash(&triple.1, h);
                        std::hash::Hash::hash(&triple.2, h);
                    })
                );
                proptest::prop_assert_eq!(
                    format!("{id:?}"),
                    format!("DialogId {{ call_id: {c:?}, local_tag: {l:?}, remote_tag: {r:?} }}")
                );
            }
            let (x, y) = (&ids[0], &ids[1]);
            proptest::prop_assert_eq!(x == y, a[0] == a[1]);
            proptest::prop_assert_eq!(x.cmp(y), a[0].cmp(&a[1]));
        }

        // Skipping the parse of a Contact that is exactly `<remote target>` changes nothing:
        // whenever the shortcut says "unchanged", the full parse gives that same target.
        #[test]
        fn an_unchanged_contact_is_what_the_parse_would_give(
            first in proptest::sample::select(vec![
                "<sip:bob@192.0.2.4>", "sip:bob@192.0.2.4", "<sip:bob@192.0.2.4;ob>;q=0.5",
                "<mailto:bob@example.com>", "<tel:+1-201-555-0123>", "Bob <sips:b@x.example>",
            ]),
            second in proptest::sample::select(vec![
                "<sip:bob@192.0.2.4>", "<sip:bob@192.0.2.4> ", "<sip:bob@192.0.2.4>;x",
                "<sip:bob@192.0.2.4>, <sip:c@d>", "<sip:bob@192.0.2.4;ob>", "<mailto:bob@example.com>",
                "<tel:+1-201-555-0123>", "*", "<sip:bob@192.0.2.5>", "<>", "<sips:b@x.example>",
                "<sip:bob@192.0.2.4", "sip:bob@192.0.2.4>",
            ]),
        ) {
            let Ok(d) = Dialog::uas(&invite(first), "t", 200) else { return Ok(()) };
            let Ok(msg) = MessageBuilder::response_to(&invite(first), 200, None)
                .to_tag("t")
                .header(H::Contact, second)
                .build() else { return Ok(()) };
            let fast = d.new_contact_uri(&msg);
            let full = contact_uri(&msg, false);
            match fast {
                Ok(None) => proptest::prop_assert_eq!(full, Ok(Some(d.remote_target()))),
                other => proptest::prop_assert_eq!(other, full),
            }
        }
    }
}
