//! The UAC and UAS core (RFC 3261 §8–§15) on a borrowed transaction table.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::ops::Range;

use foldhash::fast::FixedState;

/// A map with foldhash's keyed hash: its keys are the UA's own tags and transaction ids, so
/// speed matters more than SipHash's resistance to chosen keys (the seed is a secret anyway).
type FastMap<K, V> = HashMap<K, V, FixedState>;

fn hasher(seed: u64) -> FixedState {
    FixedState::with_seed(seed ^ HASH_SEED_MIX)
}

/// Mixed into the configured seed for the core's hash maps.
const HASH_SEED_MIX: u64 = 0x9e37_79b9_7f4a_7c15;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sip_auth::{AuthFailure, AuthHeader, ClientConfig, CredentialProvider, Decision, DigestClient};
use sip_dialog::{Dialog, DialogChange, DialogSet, DialogState, Known};
use sip_message::{
    BuilderSpare, ContentType, HeaderBlock, HeaderName as H, Message, MessageBuilder, Method,
    RequestLines, Require, SipUri, Unsupported, Uri,
};
use sip_transaction::{
    DrawnBranch, Event, ResponseError, SLOT_NAME_LEN, Target, TransactionId, TransactionTable,
    TxnMap, read_slot_name, write_slot_name,
};
use smallvec::SmallVec;

use crate::config::{Body, UaConfig};
use crate::event::{CallId, EndReason, RegistrationId, RequestId, UaError, UaEvent};
use crate::slots::Slots;
use crate::timers::TimerQueue;

/// Length of the random tags this UA puts in From and To (RFC 3261 §19.3 asks for 32 bits of
/// randomness; 10 base-62 characters carry about 59).
const TAG_LEN: usize = 10;
/// Length of the random part of a Call-ID (§8.1.1.4).
const CALL_ID_LEN: usize = 20;

/// An outgoing or incoming INVITE session and everything the core needs to finish it.
#[derive(Debug)]
struct Call {
    role: sip_dialog::Role,
    phase: Phase,
    /// The Call-ID (UAC; empty for a UAS, whose dialog holds the INVITE's), inline when it
    /// fits (this UA's are 21 bytes and the host).
    call_id: SmallVec<[u8; 48]>,
    local_tag: Tag,
    /// UAC: the dialogs the INVITE created (one per fork); UAS: the one dialog.
    dialogs: DialogSet,
    /// The remote tag of the dialog the session lives in.
    session: Option<Tag>,
    /// Live transactions that point at this call; it is freed at zero once ended.
    txns: u16,

    // ----- UAC -----
    /// The INVITE as last sent (for dialogs, redirects and retries); dropped once answered.
    invite: Option<Kept>,
    /// Whether the INVITE's From and To are known to parse ([`AddrMemo`]); a resent INVITE
    /// keeps both.
    invite_checked: bool,
    invite_txn: Option<TransactionId>,
    invite_target: Option<Target>,
    offer_in_invite: bool,
    provisional_seen: bool,
    cancel: CancelState,
    invite_deadline: Option<Instant>,
    /// The ACK sent for the last 2xx to an INVITE (its CSeq, bytes and target), re-sent for
    /// each retransmission of that 2xx (§13.2.2.4).
    /// The ACK is kept as its bytes (a built message is written as it was built), parsed
    /// again only for a retransmitted 2xx.
    ack: Option<(u32, Bytes, Target)>,
    /// The URIs tried (the first is the INVITE's own; more after redirects).
    tried: SmallVec<[Box<str>; 1]>,

    // ----- UAS -----
    /// The INVITE being answered (initial or re-INVITE) and its server transaction; once an
    /// initial INVITE got a provisional response with the call's tag ([`UaCore::ring`]), that
    /// response in its place: every later response copies the same lines from it.
    pending: Option<(TransactionId, Kept)>,
    source: Option<Target>,
    /// The 2xx waiting for its ACK: the transaction, the CSeq, and the response's bytes
    /// (parsed again only to retransmit it: usually the ACK comes first).
    ok: Option<(TransactionId, u32, Bytes)>,
    retx_at: Option<Instant>,
    retx_interval: Duration,
    retx_deadline: Option<Instant>,
    /// Whether the pending UAS INVITE is a re-INVITE.
    pending_is_reinvite: bool,

    // ----- in the dialog -----
    reinvite_txn: Option<TransactionId>,
    bye_txn: Option<TransactionId>,
    bye_pending: bool,
    end_reason: Option<EndReason>,
    /// State few calls need (redirects, a 420 retry, a CANCEL's deadline, a re-INVITE's
    /// body and glare retry), boxed when first needed so that every call is smaller.
    rare: Option<Box<Rare>>,
}

/// A message a call keeps (its INVITE, sent or being answered), in a box of its own so that a
/// call stays small. Always `Some` while a call holds it; the box goes back to [`Spare`] when
/// the call lets the message go, for the next call's message.
#[derive(Debug)]
struct Kept(Box<Option<Message>>);

impl Kept {
    /// The message (always there: a `Kept` is made with one).
    fn get(&self) -> Option<&Message> {
        (*self.0).as_ref()
    }
}

/// How many emptied boxes [`Spare`] keeps.
const SPARE_BOXES: usize = 16;

/// Emptied boxes of [`Kept`] messages, for the next ones: a call's INVITE then costs no
/// allocation of its own (each call keeps one on each side).
// Boxes, not values: the point is to hand the allocation itself to the next message.
#[allow(clippy::vec_box)]
#[derive(Debug, Default)]
struct Spare(Vec<Box<Option<Message>>>);

impl Spare {
    /// `message`, kept in a spare box if there is one.
    fn keep(&mut self, message: Message) -> Kept {
        match self.0.pop() {
            Some(mut spare) => {
                *spare = Some(message);
                Kept(spare)
            }
            None => Kept(Box::new(Some(message))),
        }
    }

    /// [`Spare::keep`] of the message `built` holds, moved straight from the `Result` into
    /// the box; `None` for an error.
    fn keep_built(&mut self, built: Result<Message, sip_message::BuildError>) -> Option<Kept> {
        let mut spare = self.0.pop().unwrap_or_default();
        *spare = built.ok();
        if spare.is_some() {
            Some(Kept(spare))
        } else {
            self.0.push(spare);
            None
        }
    }

    /// Lets go of the message of `kept`, if any (its index to `builders`, for a message built
    /// next: [`BuilderSpare::recycle`]), and keeps its box (up to [`SPARE_BOXES`]).
    fn give_back(&mut self, kept: Option<Kept>, builders: &mut BuilderSpare) {
        if let Some(Kept(mut spare)) = kept {
            // Emptied: a kept box must not keep the message's buffer alive.
            if let Some(message) = spare.take() {
                builders.recycle(message);
            }
            if self.0.len() < SPARE_BOXES {
                self.0.push(spare);
            }
        }
    }
}

/// The parts of a [`Call`] that few calls use.
#[derive(Debug, Default)]
struct Rare {
    /// UAC: redirects followed so far.
    redirects: u8,
    /// UAC: Contacts of 3xx responses still to try, highest q first.
    targets: Vec<(u16, Box<str>)>,
    /// UAC: whether the INVITE was already retried without what a 420 named.
    retried_420: bool,
    /// UAC: when to give the INVITE up after a CANCEL got no final response (§9.1).
    cancel_deadline: Option<Instant>,
    /// When to retry a re-INVITE refused with 491 (§14.1).
    glare_at: Option<Instant>,
    /// The body of the re-INVITE in flight or waiting for its glare retry.
    glare_body: Option<Option<Body>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// UAC: INVITE sent, no 2xx yet.
    Calling,
    /// UAC: 2xx received to an INVITE without offer; waiting for the application's ACK body.
    AwaitingAckBody,
    /// UAS: INVITE received, no final response sent.
    Incoming,
    /// UAS: 2xx sent, waiting for the ACK.
    Answered,
    /// The session is up.
    Established,
    /// BYE sent, waiting for its response.
    Ending,
    /// Over; freed when its last transaction terminates.
    Ended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CancelState {
    None,
    /// `cancel` was called before any provisional: sent when one arrives (§9.1).
    Pending,
    Sent,
}

/// What a client transaction is for.
#[derive(Clone, Debug)]
enum Purpose {
    Invite(CallId),
    Cancel(CallId),
    Bye(CallId),
    /// A BYE closing the extra dialog of a fork (§13.2.2.4).
    ForkBye(CallId),
    Reinvite(CallId),
    Request(RequestId),
    Register(RegistrationId),
}

impl Purpose {
    fn call(&self) -> Option<CallId> {
        match *self {
            Purpose::Invite(c)
            | Purpose::Cancel(c)
            | Purpose::Bye(c)
            | Purpose::ForkBye(c)
            | Purpose::Reinvite(c) => Some(c),
            Purpose::Request(_) | Purpose::Register(_) => None,
        }
    }
}

/// An out-of-dialog request this UA sent.
#[derive(Debug)]
struct OutRequest {
    txn: TransactionId,
    request: Box<Message>,
    target: Target,
    retried_423: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Retransmit2xx,
    Glare,
    CancelGiveUp,
    /// The UAC's limit on ringing: Figure 5 gives Proceeding no timer, so a call that got a
    /// provisional and then nothing would wait forever (§13.2.1 leaves the limit to the UAC).
    InviteTimeout,
}

/// What to put in a new INVITE. `uri` is the Request-URI and, unless `to` says otherwise,
/// the To.
#[derive(Clone, Debug, Default)]
pub struct Invite {
    /// The Request-URI, e.g. `sip:bob@192.0.2.4`.
    pub uri: String,
    /// The To (a name-addr); `<uri>` when `None`.
    pub to: Option<String>,
    /// The From (a name-addr without tag); [`UaConfig::from`] when `None`.
    pub from: Option<String>,
    /// The offer, if any; without one the 2xx carries the offer and the ACK the answer.
    pub body: Option<Body>,
    /// Option tags to put in Require (§8.1.1.9); retried without the ones a 420 lists.
    pub require: Vec<String>,
    /// More headers, added as given.
    pub headers: Vec<(H, String)>,
}

impl Invite {
    /// An INVITE to `uri`.
    pub fn to(uri: impl Into<String>) -> Self {
        Invite { uri: uri.into(), ..Invite::default() }
    }

    /// With this offer.
    #[must_use]
    pub fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }
}

/// The UAC and UAS core of RFC 3261 §8–§15: INVITE sessions in both directions (with CANCEL,
/// re-INVITE, BYE, redirects and forks), OPTIONS, and out-of-dialog requests.
///
/// The core does not own the [`TransactionTable`]: every method borrows it, so one table can
/// serve a user agent, a registrar and a proxy in the same process. Feed it the table's
/// events with [`handle_event`](Self::handle_event) (it hands back the ones that are not its
/// own), drive its timers with [`handle_timeout`](Self::handle_timeout) and
/// [`poll_timeout`](Self::poll_timeout), and read what the application must learn with
/// [`poll_event`](Self::poll_event). [`UserAgent`](crate::UserAgent) bundles a core with its
/// own table for the common case.
#[derive(Debug)]
pub struct UaCore {
    config: UaConfig,
    rng: ChaCha8Rng,
    calls: Slots<Call>,
    requests: Slots<OutRequest>,
    by_local_tag: FastMap<Tag, CallId>,
    clients: TxnMap<Purpose>,
    /// INVITE server transactions, initial and re-INVITE, by call.
    servers: TxnMap<CallId>,
    timers: TimerQueue<(Instant, TimerKind, CallId)>,
    events: VecDeque<UaEvent>,
    hosts: HashMap<String, Target>,
    auth: Option<Auth>,
    /// In-dialog requests in flight (BYE, re-INVITE), kept to answer a challenge.
    sent: FastMap<TransactionId, Box<Message>>,
    regs: Slots<Reg>,
    reg_timers: BinaryHeap<Reverse<(Instant, RegistrationId)>>,
    /// Header values that depend only on the configuration, written once.
    consts: Consts,
    addrs: AddrMemo,
    contacts: ContactMemo,
    /// The last Content-Type line of the usual form `type/subtype` that [`UaConfig::accept`]
    /// accepted: a request with the same line is accepted without the comparison (a peer
    /// sends every call's offer with the same type).
    accepted_type: Option<Box<[u8]>>,
    /// Recently resolved IP-literal URIs (whose target depends on nothing but the URI).
    resolved: ResolveCache,
    /// A buffer for the Via of a request being built, kept to write the next one without
    /// allocating.
    via_buf: Vec<u8>,
    /// The same for the From and To of a new out-of-dialog request.
    from_buf: Vec<u8>,
    to_buf: Vec<u8>,
    /// The same for the Call-ID of a new call.
    call_id_buf: Vec<u8>,
    /// Boxes for the messages calls keep.
    spare: Spare,
    /// The builder state of the last message built, for the next one.
    builders: BuilderSpare,
}

/// A tag, kept inline when it is short (this UA's own, and most peers', are): storing,
/// copying and looking one up allocates nothing.
#[derive(Default, PartialEq, Eq)]
struct Tag(SmallVec<[u8; 24]>);

impl Clone for Tag {
    fn clone(&self) -> Self {
        // As one slice copy: `SmallVec::clone` extends byte by byte.
        Tag(SmallVec::from_slice(&self.0))
    }
}

impl Tag {
    fn new(tag: &str) -> Self {
        Tag(SmallVec::from_slice(tag.as_bytes()))
    }

    fn as_str(&self) -> &str {
        // Always made from a `str`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Heap bytes held (none when inline).
    fn heap_bytes(&self) -> usize {
        if self.0.spilled() { self.0.capacity() } else { 0 }
    }
}

impl std::hash::Hash for Tag {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        // As the `[u8]` it borrows as, so that a `&[u8]` finds it in a map.
        self.0.as_slice().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Tag {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Header values [`UaConfig`] fixes, written once at [`UaCore::new`] (the configuration cannot
/// change afterwards: [`UaCore::config`] lends it read-only).
#[derive(Debug)]
struct Consts {
    /// `Allow` (§20.5).
    allow: Box<str>,
    /// `Supported` (§20.37); empty when nothing is supported.
    supported: Box<str>,
    /// `Contact`: `<contact>`.
    contact: Box<str>,
    /// The host part of our Call-IDs (§8.1.1.4).
    call_id_host: Box<str>,
    /// [`UaConfig::accept`] split at the first `/`: (type, subtype), each empty if missing.
    accept: Vec<MediaRange>,
    /// `Max-Forwards: 70` (§8.1.1.6).
    max_forwards_line: HeaderBlock,
    /// The Contact line.
    contact_line: HeaderBlock,
    /// Contact, Allow and (unless empty) Supported: an INVITE's lines, and a 2xx's to one.
    invite_lines: HeaderBlock,
    /// The Route value of [`UaConfig::outbound_proxy`] (see [`outbound_route`]).
    outbound_route: Option<Box<str>>,
    /// [`UaConfig::sent_by`] holds no `;` or `,`: in the Via values this UA writes, the branch
    /// it writes is the one the parser finds, so the builder is given it as the key
    /// ([`MessageBuilder::via_with_branch`]).
    sent_by_plain: bool,
    /// [`UaConfig::from`] followed by `;tag=TAG` has the tag the parser finds there (see
    /// [`takes_tag`]).
    from_plain: bool,
    /// The Call-IDs this UA draws (a base-62 word, `@`, the host of its sent-by) are `callid`s
    /// (see [`is_call_id_host`]).
    call_id_plain: bool,
}

/// Whether `addr` followed by `;tag=TAG` has, as the parser finds it, the tag `TAG` at its
/// end, for every token `TAG`. The parser's search for the tag decides on the bytes of `addr`
/// and on `;tag=` alone (a token holds none of the characters it looks for: `"`, `<`, `>`,
/// `;`, `,`, white space), so one token tells for all.
fn takes_tag(addr: &str) -> bool {
    let value = concat(&[addr, ";tag=t"]);
    let Ok(probe) = MessageBuilder::request(&Method::Options, "sip:probe.invalid")
        .header(H::From, &value)
        .build()
    else {
        return false;
    };
    let line = probe.header_lines(H::From).next().map(<[u8]>::as_ptr_range);
    let tag = probe.from_tag_bytes();
    matches!((line, tag), (Some(line), Some(tag)) if tag == b"t" && tag.as_ptr_range().end == line.end)
}

/// Whether a word followed by `@host` is a `callid` (RFC 3261 §25.1), as the parser judges
/// it: then so is every Call-ID this UA draws with that host (a base-62 word before it).
fn is_call_id_host(host: &str) -> bool {
    let value = concat(&["x@", host]);
    MessageBuilder::request(&Method::Options, "sip:probe.invalid")
        .header(H::CallId, &value)
        .build()
        .is_ok_and(|probe| probe.call_id_bytes() == Some(value.as_bytes()))
}

/// What an out-of-dialog request's writer knows of the keys of its To and From (see
/// [`MessageBuilder::addr_with_tag`]).
#[derive(Clone, Debug)]
struct KnownKeys {
    /// The To is `<URI>` with no `>` in the URI: the parser finds no tag in it.
    to_plain: bool,
    /// Where the From's tag lies, when it is the tag this UA appended to an address that
    /// takes it ([`takes_tag`]).
    from_tag: Option<Range<usize>>,
}

impl KnownKeys {
    /// The keys of a To `<uri>` (when `to_wrapped`) and of a From `from` that ends with
    /// `;tag=` and `tag` appended to an address that takes it (when `from_plain`).
    fn of(to_wrapped: bool, uri: &str, from_plain: bool, from: &[u8], tag: &[u8]) -> Self {
        KnownKeys {
            to_plain: to_wrapped && !uri.contains('>'),
            from_tag: from_plain.then(|| from.len().saturating_sub(tag.len())..from.len()),
        }
    }
}

/// A media type and subtype as bytes (either may be `*`).
type MediaRange = (Box<[u8]>, Box<[u8]>);

/// The Route value that sends requests through the outbound proxy `uri`: a pre-loaded route
/// set of one loose router (RFC 3261 §8.1.2, §12.2.1.1), so `<uri;lr>`. The `lr` parameter is
/// added only when the URI lacks it (§19.1.1: "any given parameter-name MUST NOT appear more
/// than once", and `sip:proxy;lr` is how an outbound proxy is usually configured), and it goes
/// after the URI's parameters, before any `?headers`. A URI that does not parse is wrapped as
/// given (resolving it fails the request first).
fn outbound_route(uri: &str) -> String {
    let Ok(sip) = SipUri::parse(uri) else {
        return concat(&["<", uri, ";lr>"]);
    };
    if sip.param("lr").is_some() {
        return concat(&["<", uri, ">"]);
    }
    let headers = sip.headers_raw();
    // The `?` and what follows it, when there are headers.
    let cut = if headers.is_empty() { uri.len() } else { uri.len() - headers.len() - 1 };
    match (uri.get(..cut), uri.get(cut..)) {
        (Some(head), Some(tail)) => concat(&["<", head, ";lr", tail, ">"]),
        _ => concat(&["<", uri, ";lr>"]),
    }
}

impl Consts {
    fn of(config: &UaConfig) -> Self {
        let allow: Box<str> = config.allow_value().into();
        let supported: Box<str> = config.supported_value().into();
        let contact: Box<str> = concat(&["<", &config.contact, ">"]).into();
        let mut invite_lines = vec![(H::Contact, &*contact), (H::Allow, &*allow)];
        if !supported.is_empty() {
            invite_lines.push((H::Supported, &*supported));
        }
        Consts {
            max_forwards_line: HeaderBlock::new(&[(H::MaxForwards, "70")]),
            contact_line: HeaderBlock::new(&[(H::Contact, &*contact)]),
            invite_lines: HeaderBlock::new(&invite_lines),
            allow,
            supported,
            contact,
            outbound_route: config.outbound_proxy.as_deref().map(|p| outbound_route(p).into()),
            call_id_host: config.sent_by.split(':').next().unwrap_or("sip").into(),
            sent_by_plain: !config.sent_by.bytes().any(|c| matches!(c, b';' | b',')),
            from_plain: takes_tag(&config.from),
            call_id_plain: is_call_id_host(config.sent_by.split(':').next().unwrap_or("sip")),
            accept: config
                .accept
                .iter()
                .map(|a| {
                    let mut parts = a.splitn(2, '/');
                    let (t, s) =
                        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                    (t.as_bytes().into(), s.as_bytes().into())
                })
                .collect(),
        }
    }
}

/// The To and the From (without its tag) of the last INVITE this UA sent whose From and To
/// parsed: the UAC's dialog then reads their name-addrs from the text
/// ([`DialogSet::on_response_checked`]) instead of parsing them once more per call. Most
/// calls of a UA share one From and often one To.
#[derive(Debug, Default)]
struct AddrMemo {
    to: Option<Box<[u8]>>,
    from_base: Option<Box<[u8]>>,
}

impl AddrMemo {
    /// Whether `request`'s To and From (whose tag is `tag`) parse: looked up, or parsed and
    /// remembered. Whether `base;tag=T` parses does not depend on which token `T` is, so a
    /// From is known by its text before the tag.
    fn check(&mut self, request: &Message, tag: &[u8]) -> bool {
        // One walk per name: the first line, then whether another follows it.
        let (mut tos, mut froms) = (request.header_lines(H::To), request.header_lines(H::From));
        let (Some(to), Some(from)) = (tos.next(), froms.next()) else {
            return false;
        };
        if tos.next().is_some() || froms.next().is_some() {
            return false;
        }
        self.check_lines(request, to, from, tag)
    }

    /// [`check`](Self::check) of a `request` known to have one To line, `to`, and one From
    /// line, `from` (one this UA built with no more than its own): without the walks that
    /// look for a second one.
    fn check_lines(&mut self, request: &Message, to: &[u8], from: &[u8], tag: &[u8]) -> bool {
        if tag.is_empty() || !tag.iter().all(|c| c.is_ascii_alphanumeric()) {
            return false;
        }
        let Some(base) = from.strip_suffix(tag).and_then(|f| f.strip_suffix(b";tag=")) else {
            return false;
        };
        if self.to.as_deref() != Some(to) {
            if !matches!(request.typed::<sip_message::To<'_>>(), Some(Ok(_))) {
                return false;
            }
            self.to = Some(to.into());
        }
        if self.from_base.as_deref() != Some(base) {
            if !matches!(request.typed::<sip_message::From<'_>>(), Some(Ok(_))) {
                return false;
            }
            self.from_base = Some(base.into());
        }
        true
    }
}

/// The first Contact line of the last response to an INVITE whose Contact
/// [`sip_dialog::contact_target`] read as the text between its `<` and first `>`: a response
/// with the same line gives the same target, which the UAC's dialog then reads from the text
/// ([`Known::response_contact`]) instead of parsing the Contact once more per call. A peer
/// answers every call with the same Contact.
#[derive(Debug, Default)]
struct ContactMemo {
    line: Option<Box<[u8]>>,
}

impl ContactMemo {
    /// Whether `response`'s first Contact line is known to be `<uri>...` with `uri` its
    /// parsed target: looked up, or parsed and remembered.
    fn check(&mut self, response: &Message) -> bool {
        let Some(line) = response.header_lines(H::Contact).next() else { return false };
        if self.line.as_deref() == Some(line) {
            return true;
        }
        let bracketed = line
            .strip_prefix(b"<")
            .and_then(|rest| rest.iter().position(|&c| c == b'>').and_then(|end| rest.get(..end)));
        let known = match (sip_dialog::contact_target(response), bracketed) {
            (Ok(Some(uri)), Some(text)) => uri.as_bytes() == text,
            _ => false,
        };
        if known {
            self.line = Some(line.into());
        }
        known
    }
}

/// How many resolved URIs [`ResolveCache`] keeps.
const RESOLVE_CACHE: usize = 4;

/// The last few URIs [`Target::from_uri`] resolved: such a URI names an IP address, so its
/// target is a function of its text alone (no [`UaCore::add_host`] entry is consulted) and
/// can be remembered. Saves parsing the same peer URI for every request of a call.
#[derive(Debug, Default)]
struct ResolveCache {
    entries: Vec<(Box<str>, Target)>,
    next: usize,
}

impl ResolveCache {
    fn get(&self, uri: &str) -> Option<Target> {
        self.entries.iter().find(|(u, _)| **u == *uri).map(|(_, t)| *t)
    }

    fn put(&mut self, uri: &str, target: Target) {
        if self.entries.len() < RESOLVE_CACHE {
            self.entries.push((uri.into(), target));
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = (uri.into(), target);
            self.next = (self.next + 1) % RESOLVE_CACHE;
        }
    }
}

/// The Via this UA puts on a request it sends: `SIP/2.0/<transport> <sent-by>;rport;branch=`
/// (RFC 3261 §8.1.1.7, RFC 3581 §3), exactly what the transaction layer would append.
/// Written into `buf`, which is returned.
///
/// As bytes: the branch is a [`DrawnBranch`]'s ASCII, which need not be checked as text.
fn via_value<'b>(
    buf: &'b mut Vec<u8>,
    transport: sip_transaction::Transport,
    sent_by: &str,
    branch: &DrawnBranch,
) -> &'b [u8] {
    let parts: [&[u8]; 6] = [
        b"SIP/2.0/",
        transport.as_str().as_bytes(),
        b" ",
        sent_by.as_bytes(),
        b";rport;branch=",
        branch.as_bytes(),
    ];
    fill_bytes(buf, &parts)
}

/// `buf` cleared and filled with the pieces.
fn fill_bytes<'b>(buf: &'b mut Vec<u8>, parts: &[&[u8]]) -> &'b [u8] {
    buf.clear();
    for p in parts {
        buf.extend_from_slice(p);
    }
    buf
}

/// The message `build` gave, read in place (a message moved out of its `Result` is copied),
/// or its error as the core's.
fn built_ref(built: &Result<Message, sip_message::BuildError>) -> Result<&Message, UaError> {
    built.as_ref().map_err(|e| UaError::from(*e))
}

/// The pieces joined, in a string allocated once at the right size.
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// The digest client and where its credentials come from.
struct Auth {
    client: DigestClient,
    provider: Box<dyn CredentialProvider + Send>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("client", &self.client).finish_non_exhaustive()
    }
}

/// What a registration asks for (RFC 3261 §10.2).
#[derive(Clone, Debug)]
pub struct Register {
    /// The registrar's URI (the Request-URI: no user part, §10.2), e.g. `sip:example.com`.
    pub registrar: String,
    /// The address of record (To and From), e.g. `sip:alice@example.com`.
    pub aor: String,
    /// The Contact URI to bind; [`UaConfig::contact`] when `None`.
    pub contact: Option<String>,
    /// The expiry asked for, in seconds (the registrar may grant less or, with 423, ask more).
    pub expires: u32,
}

impl Register {
    /// Registers `aor` at `registrar` for `expires` seconds.
    pub fn new(registrar: impl Into<String>, aor: impl Into<String>, expires: u32) -> Self {
        Register { registrar: registrar.into(), aor: aor.into(), contact: None, expires }
    }
}

/// The state of a registration, from [`UaCore::registration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationState {
    /// A REGISTER is out, no binding confirmed yet.
    Registering,
    /// Bound until `expires_at`; refreshed before.
    Registered {
        /// When the binding the registrar granted expires.
        expires_at: Instant,
    },
    /// The REGISTER removing the binding is out.
    Unregistering,
    /// The last attempt failed with this status; nothing is bound.
    Failed(u16),
}

#[derive(Debug)]
struct Reg {
    registrar: String,
    aor: String,
    contact: String,
    expires: u32,
    call_id: String,
    from_tag: String,
    cseq: u32,
    target: Target,
    txn: Option<TransactionId>,
    request: Option<Box<Message>>,
    state: RegistrationState,
    refresh_at: Option<Instant>,
    retried_423: bool,
    unregister: bool,
}

impl UaCore {
    /// A core with `config`.
    #[must_use]
    pub fn new(config: UaConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(config.rng_seed);
        let seed = config.rng_seed;
        UaCore {
            consts: Consts::of(&config),
            addrs: AddrMemo::default(),
            contacts: ContactMemo::default(),
            accepted_type: None,
            resolved: ResolveCache::default(),
            via_buf: Vec::new(),
            from_buf: Vec::new(),
            to_buf: Vec::new(),
            call_id_buf: Vec::new(),
            spare: Spare::default(),
            builders: BuilderSpare::default(),
            config,
            rng,
            calls: Slots::default(),
            requests: Slots::default(),
            by_local_tag: FastMap::with_hasher(hasher(seed)),
            clients: TxnMap::with_seed(seed ^ HASH_SEED_MIX),
            servers: TxnMap::with_seed(seed ^ HASH_SEED_MIX),
            timers: TimerQueue::default(),
            events: VecDeque::new(),
            hosts: HashMap::new(),
            auth: None,
            sent: FastMap::with_hasher(hasher(seed)),
            regs: Slots::default(),
            reg_timers: BinaryHeap::new(),
        }
    }

    /// Answers 401 and 407 challenges (RFC 3261 §22.2) with credentials from `provider`, for
    /// calls, in-dialog requests, registrations and other requests: once per challenge, once
    /// more on `stale=true`, never in a loop (a rejected password ends in the request's
    /// failure).
    pub fn set_credentials(&mut self, provider: impl CredentialProvider + Send + 'static) {
        let client =
            DigestClient::new(ClientConfig::default().rng_seed(self.config.rng_seed ^ 0x5eed));
        self.auth = Some(Auth { client, provider: Box::new(provider) });
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &UaConfig {
        &self.config
    }

    /// Resolves the host name `host` (as written in URIs) to `target`: this sans-IO core does
    /// no DNS, so names the application wants to reach are entered here. IP addresses need no
    /// entry ([`Target::from_uri`]).
    pub fn add_host(&mut self, host: impl Into<String>, target: Target) {
        self.hosts.insert(host.into().to_ascii_lowercase(), target);
    }

    /// Live calls (including ended ones whose transactions are still finishing).
    #[must_use]
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Live out-of-dialog requests.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.requests.len()
    }

    /// Dialogs held by live calls.
    #[must_use]
    pub fn dialogs(&self) -> usize {
        self.calls.iter().map(|(_, _, c)| c.dialogs.len()).sum()
    }

    /// Whether nothing is live: no call, request, or timer.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.calls.len() == 0 && self.requests.len() == 0 && self.clients.is_empty()
    }

    /// Bytes held for `call` besides message buffers: the call record, its dialogs (struct and
    /// strings) and the strings it owns, plus the index entry for its tag. Messages it still
    /// keeps (an INVITE until Timer M, a 2xx until its ACK) count with their index but not
    /// their shared buffer.
    #[must_use]
    pub fn call_bytes(&self, call: CallId) -> Option<usize> {
        let c = self.call(call)?;
        // a kept message: its box, the message, and the index it keeps besides its bytes
        let kept = |m: Option<&Message>| {
            m.map_or(0, |m| std::mem::size_of::<Option<Message>>() + m.index_bytes())
        };
        let tried = if c.tried.spilled() { c.tried.capacity() } else { 0 };
        Some(
            std::mem::size_of::<Call>()
                + if c.call_id.spilled() { c.call_id.capacity() } else { 0 }
                + 2 * c.local_tag.heap_bytes()
                + std::mem::size_of::<(Tag, CallId)>()
                + c.session.as_ref().map_or(0, Tag::heap_bytes)
                + c.dialogs.heap_bytes()
                + tried * std::mem::size_of::<Box<str>>()
                + c.tried.iter().map(|t| t.len()).sum::<usize>()
                + kept(c.invite.as_ref().and_then(Kept::get))
                + kept(c.pending.as_ref().and_then(|(_, k)| k.get()))
                + c.rare.as_ref().map_or(0, |r| {
                    std::mem::size_of::<Rare>()
                        + r.targets.capacity() * std::mem::size_of::<(u16, Box<str>)>()
                        + r.targets.iter().map(|(_, t)| t.len()).sum::<usize>()
                }),
        )
    }

    /// The handles of the live calls, in slot order.
    #[must_use]
    pub fn dialog_calls(&self) -> Vec<CallId> {
        self.calls.iter().map(|(index, generation, _)| CallId { index, generation }).collect()
    }

    /// The dialog of `call`'s session (or its first early dialog), if any.
    #[must_use]
    pub fn dialog(&self, call: CallId) -> Option<&Dialog> {
        let c = self.call(call)?;
        match &c.session {
            Some(tag) => c.dialogs.position(tag.as_str()).and_then(|i| c.dialogs.get(i)),
            None => c.dialogs.get(0),
        }
    }

    /// The next event for the application.
    #[inline]
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// How many events [`poll_event`](Self::poll_event) has waiting.
    pub(crate) fn queued_events(&self) -> usize {
        self.events.len()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.timers.peek().map(|(at, _, _)| at);
        let regs = self.reg_timers.peek().map(|Reverse((at, _))| *at);
        match (calls, regs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires the core's timers due at `now`: 2xx retransmissions and the §13.3.1.4 give-up,
    /// the §14.1 re-INVITE retry after glare, the §9.1 give-up after an unanswered CANCEL.
    pub fn handle_timeout(&mut self, now: Instant, txns: &mut TransactionTable) {
        while let Some((at, kind, call)) = self.timers.pop_if(|&(at, _, _)| at <= now) {
            match kind {
                TimerKind::Retransmit2xx => self.retransmit_2xx(now, txns, call, at),
                TimerKind::Glare => self.glare_retry(now, txns, call, at),
                TimerKind::CancelGiveUp => self.cancel_give_up(now, txns, call, at),
                TimerKind::InviteTimeout => {
                    if self
                        .call(call)
                        .is_some_and(|c| c.phase == Phase::Calling && c.invite_deadline == Some(at))
                    {
                        let _ = self.cancel(now, txns, call);
                    }
                }
            }
        }
        while let Some(Reverse((at, reg))) = self.reg_timers.peek().copied() {
            if at > now {
                break;
            }
            self.reg_timers.pop();
            let due =
                self.regs.get(reg.index, reg.generation).is_some_and(|r| r.refresh_at == Some(at));
            if due {
                self.send_register(now, txns, reg);
            }
        }
    }

    // ===== commands: calls ========================================================================

    /// Places a call: sends an INVITE (RFC 3261 §8.1.1, §13.2.1) with To, From and a new tag,
    /// a new Call-ID, CSeq 1, Max-Forwards 70, Via, Contact, Allow, Supported and the offer.
    ///
    /// # Errors
    /// A bad URI, an unresolvable next hop, or too many calls.
    pub fn invite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        invite: Invite,
    ) -> Result<CallId, UaError> {
        if self.at_capacity() {
            return Err(UaError::TooManyCalls);
        }
        // The tag, the Call-ID, the From and the To are written as bytes (the tag and Call-ID
        // are base-62 ASCII): no UTF-8 check of what this UA drew.
        let local_tag = self.call_tag();
        let tag = local_tag.as_bytes();
        let mut call_id = std::mem::take(&mut self.call_id_buf);
        call_id.clear();
        self.push_call_id_bytes(&mut call_id);
        let mut to_buf = std::mem::take(&mut self.to_buf);
        let mut from_buf = std::mem::take(&mut self.from_buf);
        let to = match &invite.to {
            Some(to) => to.as_bytes(),
            None => fill_bytes(&mut to_buf, &[b"<", invite.uri.as_bytes(), b">"]),
        };
        let from_plain = invite.from.is_none() && self.consts.from_plain;
        let from = invite.from.as_deref().unwrap_or(&self.config.from);
        let from = fill_bytes(&mut from_buf, &[from.as_bytes(), b";tag=", tag]);
        let known = KnownKeys::of(invite.to.is_none(), &invite.uri, from_plain, from, tag);
        let built = self.out_of_dialog(
            txns,
            &Method::Invite,
            &invite.uri,
            to,
            from,
            known,
            &call_id,
            1,
            invite.body.as_ref(),
            &invite.require,
            &invite.headers,
        );
        self.to_buf = to_buf;
        self.from_buf = from_buf;
        let kept = SmallVec::from_slice(&call_id);
        self.call_id_buf = call_id;
        let (b, target, branch) = built?;
        // Read where `build` wrote it, and moved only into the call's box.
        let built = b.build_in(&mut self.builders);
        let request = match &built {
            Ok(request) => request,
            Err(e) => {
                txns.return_branch(branch);
                return Err((*e).into());
            }
        };
        let txn = txns
            .send_request_ref(now, request, target)
            .inspect_err(|_| txns.return_branch(branch))?;
        // `out_of_dialog` writes one To and one From: a second can come only from the
        // caller's own headers.
        let single = !invite.headers.iter().any(|(name, _)| matches!(name, H::To | H::From));
        let invite_checked = match (request.to_header(), request.from_header()) {
            (Some(to), Some(from)) if single => self.addrs.check_lines(request, to, from, tag),
            _ => self.addrs.check(request, tag),
        };
        let deadline = now + self.config.invite_timeout;
        let Some(request) = self.spare.keep_built(built) else { return Err(UaError::UnknownCall) };
        let id = self.new_call(sip_dialog::Role::Uac, Phase::Calling, kept, local_tag);
        if let Some(call) = self.call_mut(id) {
            call.invite_checked = invite_checked;
            call.invite = Some(request);
            call.invite_txn = Some(txn);
            call.invite_target = Some(target);
            call.offer_in_invite = invite.body.is_some();
            call.tried.push(invite.uri.into());
            call.txns = 1;
            call.invite_deadline = Some(deadline);
        }
        self.clients.insert(txn, Purpose::Invite(id));
        self.push_timer(deadline, TimerKind::InviteTimeout, id);
        Ok(id)
    }

    /// UAS: sends a provisional response (180 Ringing, 183 Session Progress, ...) with a To tag,
    /// creating the early dialog (§13.3.1.1), with an optional body (early media).
    ///
    /// # Errors
    /// An unknown call, a call not waiting for an answer, or a status outside 101–199.
    pub fn ring(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        status: u16,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        if !(101..=199).contains(&status) {
            return Err(UaError::BadStatus(status));
        }
        let c = self.call_mut(call).ok_or(UaError::UnknownCall)?;
        if c.phase != Phase::Incoming || c.pending_is_reinvite {
            return Err(UaError::WrongState("ring needs an unanswered incoming call"));
        }
        let built = self.dialog_response(call, status, body.as_ref())?.build_in(&mut self.builders);
        let response = built_ref(&built)?;
        let (txn, _) =
            self.call(call).and_then(|c| c.pending.as_ref()).ok_or(UaError::UnknownCall)?;
        txns.send_response_ref(now, *txn, response)?;
        // The provisional is what the next response to the INVITE copies from: it carries
        // the INVITE's Via, From, Call-ID and CSeq lines as copied (in order), its To with the
        // call's tag, and its Record-Route lines, so that response is the same bytes without
        // the INVITE's other lines to skip or the tag to write again (§8.2.6.2, §12.1.1). The
        // INVITE, immutable once received, made the dialog already.
        // The message it replaces (the INVITE, or an earlier provisional) is done with.
        let Self { calls, builders, .. } = self;
        if let Some((_, kept)) =
            calls.get_mut(call.index, call.generation).and_then(|c| c.pending.as_mut())
            && let Some(replaced) = std::mem::replace(&mut *kept.0, built.ok())
        {
            builders.recycle(replaced);
        }
        Ok(())
    }

    /// UAS: answers an incoming call 200 OK with the answer (or the offer, if the INVITE had
    /// none) (§13.3.1.4). The 2xx is retransmitted from T1 doubling to T2 until the ACK
    /// arrives; at 64*T1 without ACK the UA sends a BYE.
    ///
    /// # Errors
    /// An unknown call or a call not waiting for an answer.
    pub fn answer(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let c = self.call(call).ok_or(UaError::UnknownCall)?;
        if c.phase != Phase::Incoming || c.pending_is_reinvite {
            return Err(UaError::WrongState("answer needs an unanswered incoming call"));
        }
        self.send_2xx(now, txns, call, body.as_ref())?;
        if let Some(c) = self.call_mut(call) {
            c.phase = Phase::Answered;
        }
        Ok(())
    }

    /// UAS: refuses an incoming call with a final status 300–699 (486 Busy Here, 603
    /// Decline, ...).
    ///
    /// # Errors
    /// An unknown call, a call not waiting for an answer, or a status outside 300–699.
    pub fn reject(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        status: u16,
    ) -> Result<(), UaError> {
        if !(300..=699).contains(&status) {
            return Err(UaError::BadStatus(status));
        }
        let c = self.call(call).ok_or(UaError::UnknownCall)?;
        if c.phase != Phase::Incoming || c.pending_is_reinvite {
            return Err(UaError::WrongState("reject needs an unanswered incoming call"));
        }
        let built = self.dialog_response(call, status, None)?.build_in(&mut self.builders);
        let response = built_ref(&built)?;
        let (txn, _) =
            self.call(call).and_then(|c| c.pending.as_ref()).ok_or(UaError::UnknownCall)?;
        txns.send_response_ref(now, *txn, response)?;
        if let Ok(sent) = built {
            self.builders.recycle(sent);
        }
        self.end_call(call);
        Ok(())
    }

    /// UAC: cancels an outgoing call that has no final response yet (§9.1). The CANCEL goes out
    /// once a provisional response has arrived (at once if one has). The call then fails with
    /// 487, or, if a 2xx crosses the CANCEL, is ACKed and closed with a BYE.
    ///
    /// # Errors
    /// An unknown call or one that is not ringing out.
    pub fn cancel(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
    ) -> Result<(), UaError> {
        let c = self.call_mut(call).ok_or(UaError::UnknownCall)?;
        if c.phase != Phase::Calling || c.role != sip_dialog::Role::Uac {
            return Err(UaError::WrongState(
                "cancel needs an outgoing call without final response",
            ));
        }
        if c.cancel != CancelState::None {
            return Ok(());
        }
        c.cancel = CancelState::Pending;
        if c.provisional_seen {
            self.send_cancel(now, txns, call);
        }
        Ok(())
    }

    /// UAC: sends the ACK with the answer for a call whose INVITE had no offer (the 2xx carried
    /// it; §13.2.2.4). Further retransmissions of the 2xx are answered with this ACK.
    ///
    /// # Errors
    /// An unknown call, or one not waiting for an ACK body.
    pub fn ack(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let c = self.call(call).ok_or(UaError::UnknownCall)?;
        if c.phase != Phase::AwaitingAckBody {
            return Err(UaError::WrongState("no 2xx waits for an ACK body"));
        }
        let cseq = c.invite.as_ref().and_then(Kept::get).and_then(|i| i.cseq_number()).unwrap_or(1);
        let tag = c.session.clone().ok_or(UaError::WrongState("no session dialog"))?;
        self.send_ack(now, txns, call, tag.as_bytes(), cseq, body.as_ref(), true)?;
        let cancelled = self.call(call).is_some_and(|c| c.cancel == CancelState::Sent);
        if let Some(c) = self.call_mut(call) {
            c.phase = Phase::Established;
        }
        if cancelled {
            self.send_bye(now, txns, call, EndReason::LocalBye)?;
        }
        Ok(())
    }

    /// Ends a call with a BYE (§15.1.1): an established one, or an outgoing one with an early
    /// dialog (§15: the caller may BYE an early dialog; the callee answers the INVITE 487).
    /// A callee that has sent its 2xx but has no ACK yet sends the BYE when the ACK arrives or
    /// the 2xx times out (§15).
    ///
    /// # Errors
    /// An unknown call, or one with no dialog to end (use [`cancel`](Self::cancel) or
    /// [`reject`](Self::reject)).
    pub fn bye(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
    ) -> Result<(), UaError> {
        let c = self.call_mut(call).ok_or(UaError::UnknownCall)?;
        match c.phase {
            Phase::Established | Phase::AwaitingAckBody => {
                self.send_bye(now, txns, call, EndReason::LocalBye)
            }
            Phase::Answered => {
                c.bye_pending = true;
                Ok(())
            }
            Phase::Calling => {
                let Some(tag) = c
                    .dialogs
                    .iter()
                    .find(|d| d.state() == DialogState::Early)
                    .map(|d| Tag::new(d.id().remote_tag()))
                else {
                    return Err(UaError::WrongState("no early dialog yet: use cancel"));
                };
                c.session = Some(tag);
                self.send_bye(now, txns, call, EndReason::LocalBye)?;
                // The INVITE's final response (487 from the callee, §15.1.2) ends the call.
                if let Some(c) = self.call_mut(call) {
                    c.phase = Phase::Calling;
                }
                Ok(())
            }
            Phase::Incoming => Err(UaError::WrongState("unanswered incoming call: use reject")),
            Phase::Ending | Phase::Ended => Err(UaError::WrongState("call is ending")),
        }
    }

    /// Ends a call whatever its state: CANCEL for an outgoing call not yet answered, 603
    /// Decline for an incoming one, BYE otherwise.
    ///
    /// # Errors
    /// An unknown call, or one already ending.
    pub fn hangup(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
    ) -> Result<(), UaError> {
        match self.call(call).map(|c| (c.phase, c.pending_is_reinvite)) {
            None => Err(UaError::UnknownCall),
            Some((Phase::Calling, _)) => self.cancel(now, txns, call),
            Some((Phase::Incoming, false)) => self.reject(now, txns, call, 603),
            Some(_) => self.bye(now, txns, call),
        }
    }

    /// Sends a re-INVITE in an established call (§14.1), e.g. to change the session or refresh
    /// the target. Refused while another INVITE transaction is in progress in either direction.
    /// A 491 answer is retried after the §14.1 random delay.
    ///
    /// # Errors
    /// An unknown call, a call not established, or an INVITE in progress.
    pub fn reinvite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let c = self.call(call).ok_or(UaError::UnknownCall)?;
        if c.phase != Phase::Established {
            return Err(UaError::WrongState("re-INVITE needs an established call"));
        }
        if c.reinvite_txn.is_some()
            || c.pending.is_some()
            || c.ok.is_some()
            || c.glare_at().is_some()
        {
            return Err(UaError::InviteInProgress);
        }
        self.send_reinvite(now, txns, call, body, None)
    }

    /// UAS: accepts the peer's re-INVITE with 200 OK and `body` (the answer, or an offer if it
    /// had none); retransmitted like any 2xx until the ACK.
    ///
    /// # Errors
    /// An unknown call or no re-INVITE waiting.
    pub fn accept_reinvite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let c = self.call(call).ok_or(UaError::UnknownCall)?;
        if !c.pending_is_reinvite || c.pending.is_none() {
            return Err(UaError::WrongState("no re-INVITE waits for an answer"));
        }
        self.send_2xx(now, txns, call, body.as_ref())
    }

    /// UAS: refuses the peer's re-INVITE (e.g. 488 Not Acceptable Here); the session stays as
    /// it was (§14.2).
    ///
    /// # Errors
    /// An unknown call, no re-INVITE waiting, or a status outside 300–699.
    pub fn reject_reinvite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        status: u16,
    ) -> Result<(), UaError> {
        if !(300..=699).contains(&status) {
            return Err(UaError::BadStatus(status));
        }
        let Self { calls, spare, builders, .. } = self;
        let c = calls.get_mut(call.index, call.generation).ok_or(UaError::UnknownCall)?;
        if !c.pending_is_reinvite {
            return Err(UaError::WrongState("no re-INVITE waits for an answer"));
        }
        let (txn, request) = c.pending.take().ok_or(UaError::WrongState("no re-INVITE"))?;
        c.pending_is_reinvite = false;
        let tag = c.local_tag.clone();
        let response = request
            .get()
            .map(|request| MessageBuilder::response_to(request, status, None).to_tag(tag.as_str()))
            .ok_or(UaError::WrongState("no re-INVITE"))
            .and_then(|b| Ok(b.build()?));
        spare.give_back(Some(request), builders);
        txns.send_response_ref(now, txn, &response?)?;
        Ok(())
    }

    // ===== commands: other requests ===============================================================

    /// Sends an OPTIONS to `uri` (§11.1); the answer comes as [`UaEvent::Response`].
    ///
    /// # Errors
    /// A bad URI, an unresolvable next hop, or too many requests.
    pub fn options(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        uri: &str,
    ) -> Result<RequestId, UaError> {
        let headers = [(H::Accept, self.config.accept_value())];
        self.request(now, txns, &Method::Options, uri, None, &headers)
    }

    /// Sends an out-of-dialog request of `method` to `uri` with a new Call-ID and From tag,
    /// `body` and `headers` (MESSAGE, OPTIONS, SUBSCRIBE, REGISTER, ...). Responses come as
    /// [`UaEvent::Response`]: a 423 to a request with Expires is retried once with the
    /// Min-Expires asked for (§8.1.3.5 and §10.2.8).
    ///
    /// # Errors
    /// A bad URI, an unresolvable next hop, a method that needs a dialog (ACK, CANCEL, BYE),
    /// or too many requests.
    pub fn request(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        method: &Method,
        uri: &str,
        body: Option<&Body>,
        headers: &[(H, String)],
    ) -> Result<RequestId, UaError> {
        if matches!(method, Method::Ack | Method::Cancel | Method::Bye | Method::Invite) {
            return Err(UaError::WrongState("this method needs a call"));
        }
        if self.at_capacity() {
            return Err(UaError::TooManyCalls);
        }
        let tag = self.tag();
        let call_id = self.new_call_id();
        let mut to_buf = std::mem::take(&mut self.to_buf);
        let mut from_buf = std::mem::take(&mut self.from_buf);
        let from =
            fill_bytes(&mut from_buf, &[self.config.from.as_bytes(), b";tag=", tag.as_bytes()]);
        let to = fill_bytes(&mut to_buf, &[b"<", uri.as_bytes(), b">"]);
        let known = KnownKeys::of(true, uri, self.consts.from_plain, from, tag.as_bytes());
        let built = self.out_of_dialog(
            txns,
            method,
            uri,
            to,
            from,
            known,
            call_id.as_bytes(),
            1,
            body,
            &[],
            headers,
        );
        self.to_buf = to_buf;
        self.from_buf = from_buf;
        let (b, target, branch) = built?;
        let request = match b.build() {
            Ok(request) => request,
            Err(e) => {
                txns.return_branch(branch);
                return Err(e.into());
            }
        };
        self.send_out_request(now, txns, request, target, false)
            .inspect_err(|_| txns.return_branch(branch))
    }

    /// Sends `request` as built by the caller (for a REGISTER client, say) to `target`, as an
    /// out-of-dialog request: responses come as [`UaEvent::Response`].
    ///
    /// # Errors
    /// The transaction layer's refusal, or too many requests.
    pub fn send_built_request(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        request: Message,
        target: Target,
    ) -> Result<RequestId, UaError> {
        if self.at_capacity() {
            return Err(UaError::TooManyCalls);
        }
        self.send_out_request(now, txns, request, target, false)
    }

    /// Answers a request delivered as [`UaEvent::Request`] with `status`, a To tag (for all
    /// but 100), `headers` and `body`.
    ///
    /// # Errors
    /// The transaction is gone, or the response cannot be built.
    pub fn respond(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        transaction: TransactionId,
        status: u16,
        headers: &[(H, String)],
        body: Option<&Body>,
    ) -> Result<(), UaError> {
        let request = txns.request(transaction).ok_or(UaError::UnknownCall)?.clone();
        let response = self.response_for(&request, status, None, headers, body)?;
        txns.send_response_ref(now, transaction, &response)?;
        Ok(())
    }

    /// Resolves `uri` (a SIP URI) to where a request for it goes: an IP host directly
    /// ([`Target::from_uri`]), a name through [`add_host`](Self::add_host).
    ///
    /// # Errors
    /// [`UaError::BadUri`] or [`UaError::Unresolvable`].
    pub fn resolve(&self, uri: &str) -> Result<Target, UaError> {
        resolve_in(&self.hosts, uri).map(|(target, _)| target)
    }

    /// The index of the dialog with remote tag `tag` in `call` and where its next request goes.
    fn dialog_target(&mut self, call: CallId, tag: &[u8]) -> Result<(usize, Target), UaError> {
        let Self { calls, hosts, resolved, .. } = self;
        let c = calls.get(call.index, call.generation).ok_or(UaError::UnknownCall)?;
        let idx = c.dialogs.position_bytes(tag).ok_or(UaError::WrongState("no such dialog"))?;
        let dialog = c.dialogs.get(idx).ok_or(UaError::UnknownCall)?;
        Ok((idx, resolve_cached(hosts, resolved, dialog.next_hop())?))
    }

    // ===== commands: registration =================================================================

    /// Registers a binding (RFC 3261 §10.2): a REGISTER to the registrar with the AOR in To and
    /// From, a Call-ID kept for every refresh, CSeq one higher each time, and Expires. The
    /// binding is refreshed before the expiry the registrar granted (not the one asked for);
    /// a 423 is retried with its Min-Expires; 401 and 407 are answered with the credentials of
    /// [`set_credentials`](Self::set_credentials). Outcomes come as
    /// [`UaEvent::Registered`], [`UaEvent::RegistrationFailed`] and [`UaEvent::Unregistered`].
    ///
    /// # Errors
    /// A bad or unresolvable registrar URI.
    pub fn register(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        register: Register,
    ) -> Result<RegistrationId, UaError> {
        SipUri::parse(&register.aor).map_err(|_| UaError::BadUri(register.aor.clone()))?;
        let next_hop =
            self.config.outbound_proxy.clone().unwrap_or_else(|| register.registrar.clone());
        let target = self.resolve(&next_hop)?;
        let reg = Reg {
            contact: register.contact.unwrap_or_else(|| self.config.contact.clone()),
            registrar: register.registrar,
            aor: register.aor,
            expires: register.expires,
            call_id: self.new_call_id(),
            from_tag: self.token(TAG_LEN),
            cseq: 0,
            target,
            txn: None,
            request: None,
            state: RegistrationState::Registering,
            refresh_at: None,
            retried_423: false,
            unregister: false,
        };
        let (index, generation) = self.regs.insert(reg);
        let id = RegistrationId { index, generation };
        self.send_register(now, txns, id);
        Ok(id)
    }

    /// Removes the binding (REGISTER with Expires 0, §10.2.2); [`UaEvent::Unregistered`] follows.
    ///
    /// # Errors
    /// An unknown registration.
    pub fn unregister(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        reg: RegistrationId,
    ) -> Result<(), UaError> {
        let r = self.regs.get_mut(reg.index, reg.generation).ok_or(UaError::UnknownCall)?;
        r.unregister = true;
        r.refresh_at = None;
        if r.txn.is_none() {
            self.send_register(now, txns, reg);
        }
        Ok(())
    }

    /// The state of registration `reg`.
    #[must_use]
    pub fn registration(&self, reg: RegistrationId) -> Option<RegistrationState> {
        self.regs.get(reg.index, reg.generation).map(|r| r.state)
    }

    /// Live registrations.
    #[must_use]
    pub fn registrations(&self) -> usize {
        self.regs.len()
    }

    fn send_register(&mut self, now: Instant, txns: &mut TransactionTable, id: RegistrationId) {
        let sent_by = self.config.sent_by.clone();
        let outbound = self.consts.outbound_route.clone();
        let Some(r) = self.regs.get_mut(id.index, id.generation) else { return };
        r.cseq = r.cseq.wrapping_add(1);
        r.retried_423 = false;
        r.refresh_at = None;
        let expires = if r.unregister { 0 } else { r.expires };
        r.state = if r.unregister { RegistrationState::Unregistering } else { r.state };
        let via = format!("SIP/2.0/{} {sent_by};rport", r.target.transport());
        let mut b = MessageBuilder::request(&Method::Register, &r.registrar)
            .header(H::Via, via)
            .header(H::MaxForwards, "70");
        if let Some(route) = outbound {
            b = b.header(H::Route, route.as_bytes());
        }
        let built = b
            .header(H::To, format!("<{}>", r.aor))
            .header(H::From, format!("<{}>;tag={}", r.aor, r.from_tag))
            .header(H::CallId, &r.call_id)
            .header(H::CSeq, format!("{} REGISTER", r.cseq))
            .header(H::Contact, format!("<{}>", r.contact))
            .header(H::Expires, expires.to_string())
            .build();
        let target = r.target;
        let result = built.map_err(UaError::from).and_then(|mut request| {
            if let Some(auth) = self.auth.as_mut()
                && let Some(request_parts) = sip_auth::DigestRequest::from_message(&request)
            {
                let headers = auth.client.authorize(&request_parts);
                let _ = AuthHeader::apply_all(&headers, &mut request);
            }
            Ok((txns.send_request_ref(now, &request, target)?, request))
        });
        match result {
            Ok((txn, request)) => {
                self.clients.insert(txn, Purpose::Register(id));
                if let Some(r) = self.regs.get_mut(id.index, id.generation) {
                    r.txn = Some(txn);
                    r.request = Some(Box::new(request));
                }
            }
            Err(_) => self.register_failed(id, 500, None),
        }
    }

    fn on_register_final(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: RegistrationId,
        status: u16,
        response: Option<Message>,
    ) {
        let Some(r) = self.regs.get_mut(id.index, id.generation) else { return };
        let Some(sent) = r.request.as_deref().cloned() else { return };
        r.txn = None;
        match (status, &response) {
            (200..=299, Some(resp)) => {
                let granted = granted_expiry(resp, &r.contact).unwrap_or(r.expires);
                if r.unregister || granted == 0 {
                    self.regs.remove(id.index, id.generation);
                    self.events.push_back(UaEvent::Unregistered { registration: id });
                    return;
                }
                // Refresh at 90% of the granted time, at least a second before it ends.
                let lead = (granted / 10).max(1);
                let refresh = Duration::from_secs(u64::from(granted.saturating_sub(lead).max(1)));
                let expires_at = now + Duration::from_secs(u64::from(granted));
                r.state = RegistrationState::Registered { expires_at };
                r.refresh_at = Some(now + refresh);
                self.reg_timers.push(Reverse((now + refresh, id)));
                self.events.push_back(UaEvent::Registered {
                    registration: id,
                    expires: granted,
                    response: resp.clone(),
                });
            }
            (423, Some(resp)) if !r.retried_423 => {
                // §10.2.8: ask again with at least Min-Expires.
                let min = resp.header_str(H::MinExpires).and_then(|v| v.trim().parse::<u32>().ok());
                match min {
                    Some(min) if min > r.expires => {
                        r.expires = min;
                        self.send_register(now, txns, id);
                        if let Some(r) = self.regs.get_mut(id.index, id.generation) {
                            r.retried_423 = true;
                        }
                    }
                    _ => self.register_failed(id, status, response),
                }
            }
            (401 | 407, Some(resp)) => {
                let target = r.target;
                let retry = match self.challenge_answer(&sent, resp) {
                    Some(Ok(headers)) => next_attempt(&sent, Some(&headers), None),
                    _ => None,
                };
                match retry
                    .and_then(|req| txns.send_request_ref(now, &req, target).ok().map(|t| (t, req)))
                {
                    Some((txn, request)) => {
                        self.clients.insert(txn, Purpose::Register(id));
                        if let Some(r) = self.regs.get_mut(id.index, id.generation) {
                            r.cseq = request.cseq_number().unwrap_or(r.cseq);
                            r.txn = Some(txn);
                            r.request = Some(Box::new(request));
                        }
                    }
                    None => self.register_failed(id, status, response),
                }
            }
            _ => self.register_failed(id, status, response),
        }
    }

    fn register_failed(&mut self, id: RegistrationId, status: u16, response: Option<Message>) {
        let Some(r) = self.regs.get_mut(id.index, id.generation) else { return };
        if r.unregister {
            self.regs.remove(id.index, id.generation);
            self.events.push_back(UaEvent::Unregistered { registration: id });
            return;
        }
        r.state = RegistrationState::Failed(status);
        r.refresh_at = None;
        self.events.push_back(UaEvent::RegistrationFailed { registration: id, status, response });
    }

    fn finish_register(&mut self, id: RegistrationId, txn: TransactionId) {
        if let Some(r) = self.regs.get_mut(id.index, id.generation)
            && r.txn == Some(txn)
        {
            r.txn = None;
        }
    }

    // ===== events from the transaction layer ======================================================

    /// Takes an event from the transaction table. Requests are always taken (the caller decides
    /// which requests reach this core); other events are taken when they concern this core's
    /// transactions or dialogs, and handed back otherwise.
    pub fn handle_event(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        event: Event,
    ) -> Option<Event> {
        match event {
            Event::Request { id, request, source } => {
                self.on_request(now, txns, id, request, source);
                None
            }
            Event::Provisional { id, response } => match self.clients.get(&id).cloned() {
                Some(purpose) => {
                    self.on_provisional(now, txns, purpose, response);
                    None
                }
                None => Some(Event::Provisional { id, response }),
            },
            Event::Final { id, response } => match self.clients.get(&id).cloned() {
                Some(purpose) => {
                    let status = response.status().unwrap_or(500);
                    // The usual finals go straight where `on_final` would send them, without
                    // the `Option` around the message (each move of one is a copy of it).
                    match purpose {
                        Purpose::Invite(call) if (200..300).contains(&status) => {
                            self.on_invite_2xx(now, txns, call, response);
                        }
                        Purpose::Bye(call) => {
                            self.on_bye_final(now, txns, call, status, Some(&response));
                            self.builders.recycle(response);
                        }
                        purpose => self.on_final(now, txns, purpose, status, Some(response)),
                    }
                    None
                }
                None => Some(Event::Final { id, response }),
            },
            Event::Additional2xx { id, response } => match self.clients.get(&id).cloned() {
                Some(Purpose::Invite(call)) => {
                    self.on_invite_2xx(now, txns, call, response);
                    None
                }
                Some(Purpose::Reinvite(call)) => {
                    self.resend_ack(txns, call, &response);
                    None
                }
                Some(_) => None,
                None => Some(Event::Additional2xx { id, response }),
            },
            Event::TimedOut { id, timer } => match self.clients.get(&id).cloned() {
                Some(purpose) => {
                    self.on_final(now, txns, purpose, 408, None);
                    None
                }
                None if self.servers.contains_key(&id) => None,
                None => Some(Event::TimedOut { id, timer }),
            },
            Event::TransportFailed { id } => match self.clients.get(&id).cloned() {
                Some(purpose) => {
                    self.on_final(now, txns, purpose, 503, None);
                    None
                }
                None if self.servers.contains_key(&id) => None,
                None => Some(Event::TransportFailed { id }),
            },
            Event::Terminated { id } => {
                if self.on_terminated(id) {
                    None
                } else {
                    Some(Event::Terminated { id })
                }
            }
            Event::Ack { id, request, source } => {
                self.on_ack(now, txns, request).map(|request| Event::Ack { id, request, source })
            }
            Event::StrayResponse { response, source } => {
                if self.on_stray(now, txns, &response) {
                    None
                } else {
                    Some(Event::StrayResponse { response, source })
                }
            }
            other => Some(other),
        }
    }

    /// [`handle_event`](Self::handle_event) of [`Event::Terminated`] for `id`, without the
    /// event (an `Event` is as large as a `Message`): whether it concerned this core.
    pub(crate) fn on_terminated(&mut self, id: TransactionId) -> bool {
        if !self.sent.is_empty()
            && let Some(sent) = self.sent.remove(&id)
        {
            self.builders.recycle(*sent);
        }
        // An empty map is not searched (a side that only answers has no client transactions,
        // one that only calls no server ones): no hash of the id for nothing.
        let client = if self.clients.is_empty() { None } else { self.clients.remove(&id) };
        let call = match client {
            Some(Purpose::Request(req)) => {
                self.finish_request(req, id);
                return true;
            }
            Some(Purpose::Register(reg)) => {
                self.finish_register(reg, id);
                return true;
            }
            Some(p) => p.call(),
            None if self.servers.is_empty() => None,
            None => self.servers.remove(&id),
        };
        match call {
            Some(call) => {
                self.txn_done(call, id);
                true
            }
            None => false,
        }
    }

    // ----- UAS: requests ---------------------------------------------------------------------------

    fn on_request(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        request: Message,
        source: Target,
    ) {
        // §8.2 in order: syntax, method (§8.2.1), To and Request-URI (§8.2.2.1), merged
        // requests (§8.2.2.2), Require (§8.2.2.3), content (§8.2.3).
        if let Err(rejection) = request.validate() {
            let reason = rejection.reason_phrase();
            self.reply(now, txns, id, &request, rejection.status(), Some(&reason), &[]);
            return;
        }
        let Some(method) = request.method().cloned() else { return };
        if !self.config.allow.contains(&method) {
            let allow = [(H::Allow, self.consts.allow.to_string())];
            self.reply(now, txns, id, &request, 405, None, &allow);
            return;
        }
        // validate() has parsed the Request-URI and answered 416 to a scheme other than sip,
        // sips or tel, so the scheme alone tells a SIP or tel URI here (no second parse).
        if !request.request_uri_raw().is_some_and(raw_is_sip_or_tel) {
            self.reply(now, txns, id, &request, 416, None, &[]);
            return;
        }
        if method == Method::Cancel {
            self.on_cancel(now, txns, id, &request);
            return;
        }
        if request.to_tag_bytes().is_some() {
            self.on_in_dialog(now, txns, id, request, source);
            return;
        }
        if txns.find_merged(id).is_some() {
            self.reply(now, txns, id, &request, 482, Some("Loop Detected (merged request)"), &[]);
            return;
        }
        if let Some(unsupported) = self.unsupported_requires(&request) {
            let headers = [(H::Unsupported, unsupported)];
            self.reply(now, txns, id, &request, 420, None, &headers);
            return;
        }
        if !self.body_acceptable(&request) {
            let accept = [(H::Accept, self.config.accept_value())];
            self.reply(now, txns, id, &request, 415, None, &accept);
            return;
        }
        match method {
            Method::Invite => self.on_invite(now, txns, id, request, source),
            Method::Options => {
                let headers = self.capabilities();
                self.reply(now, txns, id, &request, 200, None, &headers);
            }
            Method::Bye => {
                self.reply(now, txns, id, &request, 481, None, &[]);
            }
            _ => self.events.push_back(UaEvent::Request { transaction: id, request, source }),
        }
    }

    fn on_invite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        request: Message,
        source: Target,
    ) {
        if self.at_capacity() {
            let retry = [(H::RetryAfter, "5".to_string())];
            self.reply(
                now,
                txns,
                id,
                &request,
                503,
                Some("Service Unavailable (too many calls)"),
                &retry,
            );
            return;
        }
        if self.config.send_trying
            && let Ok(trying) = MessageBuilder::response_to(&request, 100, None).build()
        {
            let _ = txns.send_response_ref(now, id, &trying);
        }
        let local_tag = self.call_tag();
        // The Call-ID is the dialog's (made from this INVITE when answered): not kept twice.
        let kept = self.spare.keep(request.clone());
        let call_handle =
            self.new_call(sip_dialog::Role::Uas, Phase::Incoming, SmallVec::new(), local_tag);
        if let Some(call) = self.call_mut(call_handle) {
            call.pending = Some((id, kept));
            call.source = Some(source);
            call.txns = 1;
        }
        self.servers.insert(id, call_handle);
        self.events.push_back(UaEvent::IncomingCall { call: call_handle, request });
    }

    fn on_cancel(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        cancel: &Message,
    ) {
        // §9.2: find the INVITE the CANCEL cancels; 481 if none.
        let Some(invite_txn) = txns.find_invite_for_cancel(cancel) else {
            self.reply(now, txns, id, cancel, 481, None, &[]);
            return;
        };
        self.reply(now, txns, id, cancel, 200, None, &[]);
        let Some(&call) = self.servers.get(&invite_txn) else { return };
        let Some(c) = self.call(call) else { return };
        let is_reinvite = c.pending_is_reinvite;
        let unanswered = c.pending.as_ref().map(|p| p.0) == Some(invite_txn)
            && (c.phase == Phase::Incoming || is_reinvite);
        if !unanswered {
            return; // already answered: the CANCEL has no effect (§9.2)
        }
        if let Ok(b) = self.dialog_response(call, 487, None)
            && let Ok(terminated) = &b.build()
        {
            let _ = txns.send_response_ref(now, invite_txn, terminated);
        }
        if is_reinvite {
            let Self { calls, spare, builders, .. } = self;
            if let Some(c) = calls.get_mut(call.index, call.generation) {
                spare.give_back(c.pending.take().map(|(_, kept)| kept), builders);
                c.pending_is_reinvite = false;
            }
            return;
        }
        self.end_call(call);
        self.events.push_back(UaEvent::Cancelled { call });
    }

    fn on_in_dialog(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        request: Message,
        source: Target,
    ) {
        // §12.2.2: find the dialog; 481 if none.
        let Some((call, idx)) =
            self.find_dialog(&request, request.to_tag_bytes(), request.from_tag_bytes())
        else {
            self.reply(now, txns, id, &request, 481, None, &[]);
            self.builders.recycle(request);
            return;
        };
        let checked = self
            .call_mut(call)
            .and_then(|c| c.dialogs.get_mut(idx))
            .map(|d| d.receive_request(&request));
        match checked {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                let reason = e.reason();
                self.reply(now, txns, id, &request, e.status(), Some(&reason), &[]);
                self.builders.recycle(request);
                return;
            }
            None => return,
        }
        let Some(method) = request.method().cloned() else { return };
        match method {
            Method::Bye => {
                self.on_bye(now, txns, id, &request, call, idx);
                self.builders.recycle(request);
            }
            Method::Invite => self.on_reinvite(now, txns, id, request, source, call),
            Method::Options => {
                let headers = self.capabilities();
                self.reply(now, txns, id, &request, 200, None, &headers);
                self.builders.recycle(request);
            }
            _ => self.events.push_back(UaEvent::Request { transaction: id, request, source }),
        }
    }

    fn on_bye(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        request: &Message,
        call: CallId,
        idx: usize,
    ) {
        self.reply(now, txns, id, request, 200, None, &[]);
        // §15.1.2: answer what is pending in the dialog with 487.
        let terminated = self.dialog_response(call, 487, None).ok().map(MessageBuilder::build);
        let pending = self.call_mut(call).and_then(|c| {
            if let Some(d) = c.dialogs.get_mut(idx) {
                d.terminate();
            }
            c.ok = None;
            c.retx_at = None;
            c.pending.take()
        });
        if let (Some((txn, _)), Some(Ok(terminated))) = (&pending, &terminated) {
            let _ = txns.send_response_ref(now, *txn, terminated);
        }
        self.spare.give_back(pending.map(|(_, kept)| kept), &mut self.builders);
        let fork_only = self.call(call).is_some_and(|c| {
            c.role == sip_dialog::Role::Uac
                && c.session.as_ref().is_some_and(|s| {
                    c.dialogs.get(idx).is_some_and(|d| d.id().remote_tag() != s.as_str())
                })
        });
        if fork_only {
            return;
        }
        if self.call(call).is_some_and(|c| c.phase != Phase::Ended) {
            let answered = self.call(call).is_some_and(|c| c.phase != Phase::Incoming);
            self.end_call(call);
            self.events.push_back(if answered {
                UaEvent::Ended { call, reason: EndReason::RemoteBye }
            } else {
                UaEvent::Cancelled { call }
            });
        }
    }

    fn on_reinvite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        request: Message,
        source: Target,
        call: CallId,
    ) {
        let Some(c) = self.call(call) else { return };
        // §14.2: glare with our own re-INVITE gets 491; a second incoming one while the first
        // is unanswered gets 500 with Retry-After.
        if c.reinvite_txn.is_some()
            || (c.phase == Phase::Calling && c.role == sip_dialog::Role::Uac)
        {
            self.reply(now, txns, id, &request, 491, None, &[]);
            return;
        }
        if c.pending.is_some() || c.ok.is_some() {
            let retry = [(H::RetryAfter, self.rng.random_range(0..=10u32).to_string())];
            self.reply(
                now,
                txns,
                id,
                &request,
                500,
                Some("Server Internal Error (INVITE in progress)"),
                &retry,
            );
            return;
        }
        if !matches!(c.phase, Phase::Established | Phase::AwaitingAckBody) {
            self.reply(now, txns, id, &request, 491, None, &[]);
            return;
        }
        if self.config.send_trying
            && let Ok(trying) = MessageBuilder::response_to(&request, 100, None).build()
        {
            let _ = txns.send_response_ref(now, id, &trying);
        }
        let kept = self.spare.keep(request.clone());
        if let Some(c) = self.call_mut(call) {
            c.pending = Some((id, kept));
            c.pending_is_reinvite = true;
            c.source = Some(source);
            c.txns += 1;
        }
        self.servers.insert(id, call);
        self.events.push_back(UaEvent::Reinvite { call, request });
    }

    /// Takes an ACK for a 2xx of this core's; hands it back when it is not one.
    fn on_ack(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        ack: Message,
    ) -> Option<Message> {
        let Some((call, idx)) = self.find_dialog(&ack, ack.to_tag_bytes(), ack.from_tag_bytes())
        else {
            return Some(ack);
        };
        let cseq = ack.cseq_number();
        let Some(c) = self.call_mut(call) else { return Some(ack) };
        let matches = c.ok.as_ref().is_some_and(|(_, n, _)| Some(*n) == cseq);
        if !matches {
            // A retransmitted or late ACK: absorbed.
            self.builders.recycle(ack);
            return None;
        }
        c.ok = None;
        c.retx_at = None;
        c.retx_deadline = None;
        if let Some(d) = c.dialogs.get_mut(idx) {
            d.confirm();
        }
        if c.phase == Phase::Answered {
            c.phase = Phase::Established;
            let bye = c.bye_pending;
            self.events.push_back(UaEvent::Confirmed { call, ack });
            if bye {
                let _ = self.send_bye(now, txns, call, EndReason::LocalBye);
            }
        }
        None
    }

    // ----- UAC: responses -------------------------------------------------------------------------

    fn on_provisional(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        purpose: Purpose,
        response: Message,
    ) {
        match purpose {
            Purpose::Invite(call) => {
                let Self { calls, contacts, .. } = self;
                let Some(c) = calls.get_mut(call.index, call.generation) else { return };
                c.provisional_seen = true;
                let send_cancel = c.cancel == CancelState::Pending;
                let status = response.status().unwrap_or(100);
                if status > 100 && response.to_tag_bytes().is_some() {
                    let Some(invite) = c.invite.as_ref().and_then(Kept::get) else { return };
                    let checked = c.invite_checked;
                    if let Ok(DialogChange::Created(_) | DialogChange::Updated(_)) =
                        on_invite_response(&mut c.dialogs, invite, checked, contacts, &response)
                    {
                        self.events.push_back(UaEvent::Progress { call, response });
                    }
                } else if status > 100 {
                    self.events.push_back(UaEvent::Progress { call, response });
                }
                if send_cancel {
                    self.send_cancel(now, txns, call);
                }
            }
            Purpose::Request(req) => {
                let status = response.status().unwrap_or(100);
                self.events.push_back(UaEvent::Response {
                    request: req,
                    status,
                    response: Some(response),
                    final_: false,
                });
            }
            _ => {}
        }
    }

    fn on_final(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        purpose: Purpose,
        status: u16,
        response: Option<Message>,
    ) {
        match purpose {
            Purpose::Invite(call) => {
                if (200..300).contains(&status) {
                    if let Some(r) = response {
                        self.on_invite_2xx(now, txns, call, r);
                    }
                    return;
                }
                self.on_invite_failure(now, txns, call, status, response);
            }
            Purpose::Reinvite(call) => self.on_reinvite_final(now, txns, call, status, response),
            Purpose::Bye(call) => self.on_bye_final(now, txns, call, status, response.as_ref()),
            Purpose::ForkBye(_) | Purpose::Cancel(_) => {}
            Purpose::Request(req) => self.on_request_final(now, txns, req, status, response),
            Purpose::Register(reg) => self.on_register_final(now, txns, reg, status, response),
        }
    }

    /// The final response (or its stand-in `status`, with no `response`) to the BYE of `call`:
    /// a challenge is answered once (§22.2), anything else ends the call.
    fn on_bye_final(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        status: u16,
        response: Option<&Message>,
    ) {
        let txn = self.call(call).and_then(|c| c.bye_txn);
        if let Some(headers) = self.in_dialog_challenge(txn, status, response)
            && let Some(tag) = self.call(call).and_then(|c| c.session.clone())
            && let Ok(txn) = self.send_in_dialog(
                now,
                txns,
                call,
                tag.as_bytes(),
                &Method::Bye,
                None,
                Some(&headers),
            )
        {
            self.clients.insert(txn, Purpose::Bye(call));
            if let Some(c) = self.call_mut(call) {
                c.txns += 1;
                c.bye_txn = Some(txn);
            }
            return;
        }
        let reason = self.call(call).and_then(|c| c.end_reason).unwrap_or(EndReason::LocalBye);
        if self.call(call).is_some_and(|c| c.phase == Phase::Ending) {
            self.end_call(call);
            self.events.push_back(UaEvent::Ended { call, reason });
        }
    }

    fn on_invite_failure(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        status: u16,
        response: Option<Message>,
    ) {
        let Self { calls, contacts, .. } = self;
        let Some(c) = calls.get_mut(call.index, call.generation) else { return };
        if c.phase != Phase::Calling {
            return;
        }
        if let (Some(invite), Some(r)) = (c.invite.as_ref().and_then(Kept::get), &response) {
            let _ = on_invite_response(&mut c.dialogs, invite, c.invite_checked, contacts, r);
        }
        c.dialogs.prune();
        let cancelled = c.cancel != CancelState::None;
        // §8.1.3.4: a 3xx adds its Contacts to the target set; after a 3xx or the failure of
        // a redirected request, the best target left is tried. A 6xx is a global failure.
        if (300..600).contains(&status) && !cancelled {
            if (300..400).contains(&status)
                && let Some(r) = &response
            {
                self.add_redirect_targets(call, r);
            }
            if self.try_next_target(now, txns, call) {
                return;
            }
        }
        // §22.2: a 401 or 407 is answered with credentials, once per challenge.
        if matches!(status, 401 | 407)
            && !cancelled
            && let Some(r) = &response
            && let Some(invite) =
                self.call(call).and_then(|c| c.invite.as_ref().and_then(Kept::get)).cloned()
            && let Some(Ok(headers)) = self.challenge_answer(&invite, r)
            && self.resend_invite(now, txns, call, None, None, Some(&headers))
        {
            return;
        }
        // §8.1.3.5: a 420 is retried once without the extensions it lists.
        if status == 420
            && !cancelled
            && let Some(r) = &response
            && self.retry_without_unsupported(now, txns, call, r)
        {
            return;
        }
        self.end_call(call);
        self.events.push_back(UaEvent::Failed { call, status, response });
    }

    fn on_invite_2xx(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        response: Message,
    ) {
        // A retransmission of a 2xx already ACKed: the same ACK again (§13.2.2.4).
        if self.resend_ack(txns, call, &response) {
            return;
        }
        let Self { calls, contacts, .. } = self;
        let Some(c) = calls.get_mut(call.index, call.generation) else { return };
        let cseq = response.cseq_number().unwrap_or(0);
        // A token (the parser takes nothing else there): its bytes are its text.
        let tag = Tag(SmallVec::from_slice(response.to_tag_bytes().unwrap_or_default()));
        let Some(invite) = c.invite.as_ref().and_then(Kept::get) else { return };
        let checked = c.invite_checked;
        let change = on_invite_response(&mut c.dialogs, invite, checked, contacts, &response);
        if change.is_err() {
            return;
        }
        match &c.session {
            Some(session) if *session != tag => {
                // §13.2.2.4: another fork's 2xx: ACK it, then BYE that dialog.
                let _ = self.send_ack(now, txns, call, tag.as_bytes(), cseq, None, false);
                self.send_fork_bye(now, txns, call, tag.as_str());
            }
            Some(_) => {
                // The session's 2xx before our ACK went out (delayed offer): nothing to resend.
            }
            None => {
                c.session = Some(tag.clone());
                let offer_in_invite = c.offer_in_invite;
                let cancelled = c.cancel != CancelState::None;
                if offer_in_invite {
                    let _ = self.send_ack(now, txns, call, tag.as_bytes(), cseq, None, true);
                    if let Some(c) = self.call_mut(call) {
                        c.phase = Phase::Established;
                    }
                } else if let Some(c) = self.call_mut(call) {
                    c.phase = Phase::AwaitingAckBody;
                }
                self.events.push_back(UaEvent::Answered { call, response });
                if cancelled {
                    if let Some(c) = self.call_mut(call) {
                        c.cancel = CancelState::Sent;
                    }
                    if offer_in_invite {
                        // §9.1 race: the CANCEL crossed the 200: ACK, then BYE.
                        let _ = self.send_bye(now, txns, call, EndReason::LocalBye);
                    }
                }
            }
        }
    }

    fn on_reinvite_final(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        status: u16,
        response: Option<Message>,
    ) {
        let txn = self.call(call).and_then(|c| c.reinvite_txn);
        if let Some(headers) = self.in_dialog_challenge(txn, status, response.as_ref()) {
            let body = self.call_mut(call).and_then(Call::take_glare_body);
            if let Some(c) = self.call_mut(call) {
                c.reinvite_txn = None;
            }
            if self.send_reinvite(now, txns, call, body, Some(&headers)).is_ok() {
                return;
            }
        }
        let Some(c) = self.call_mut(call) else { return };
        c.reinvite_txn = None;
        let Some(tag) = c.session.clone() else { return };
        let tag = tag.as_str();
        if (200..300).contains(&status) {
            if let Some(r) = &response {
                if let Some(idx) = c.dialogs.position(tag)
                    && let Some(d) = c.dialogs.get_mut(idx)
                {
                    let _ = d.on_response(r);
                }
                let cseq = r.cseq_number().unwrap_or(0);
                let _ = self.send_ack(now, txns, call, tag.as_bytes(), cseq, None, true);
            }
            self.events.push_back(UaEvent::ReinviteResult { call, status, response });
            return;
        }
        match status {
            491 => {
                // §14.1: retry after a random delay: 2.1–4 s if we own the Call-ID, else 0–2 s,
                // in units of 10 ms.
                let owner = c.role == sip_dialog::Role::Uac;
                let ticks = if owner {
                    self.rng.random_range(210..=400u64)
                } else {
                    self.rng.random_range(0..=200u64)
                };
                let at = now + Duration::from_millis(ticks * 10);
                if let Some(c) = self.call_mut(call) {
                    let rare = c.rare_mut();
                    rare.glare_at = Some(at);
                    if rare.glare_body.is_none() {
                        rare.glare_body = Some(None);
                    }
                }
                self.push_timer(at, TimerKind::Glare, call);
            }
            408 | 481 => {
                // §12.2.1.2: the dialog is gone.
                self.end_call(call);
                self.events
                    .push_back(UaEvent::Ended { call, reason: EndReason::DialogLost(status) });
            }
            _ => {
                if let Some(rare) = self.call_mut(call).and_then(|c| c.rare.as_mut()) {
                    rare.glare_body = None;
                }
                self.events.push_back(UaEvent::ReinviteResult { call, status, response });
            }
        }
    }

    fn on_stray(&mut self, _now: Instant, txns: &mut TransactionTable, response: &Message) -> bool {
        // A 2xx retransmission after the INVITE transaction ended: re-send our ACK.
        if response.cseq_method() != Some(&Method::Invite)
            || !response.status().is_some_and(|s| (200..300).contains(&s))
        {
            return false;
        }
        let Some((call, _)) =
            self.find_dialog(response, response.from_tag_bytes(), response.to_tag_bytes())
        else {
            return false;
        };
        self.resend_ack(txns, call, response);
        true
    }

    /// Re-sends the ACK already sent for `response`'s 2xx, if it is the session's.
    /// Whether it did.
    fn resend_ack(
        &mut self,
        txns: &mut TransactionTable,
        call: CallId,
        response: &Message,
    ) -> bool {
        if let Some(c) = self.call(call)
            && let Some((cseq, ack, target)) = &c.ack
            && Some(*cseq) == response.cseq_number()
            && c.session.as_ref().map(Tag::as_bytes) == response.to_tag_bytes()
        {
            // Our own ACK as built: it parses as it did then.
            if let Ok(ack) = Message::parse(ack.clone()) {
                txns.send_stateless(*target, &ack);
            }
            return true;
        }
        false
    }

    fn on_request_final(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        req: RequestId,
        status: u16,
        response: Option<Message>,
    ) {
        // §22.2: a 401 or 407 answered with credentials, once per challenge.
        if matches!(status, 401 | 407)
            && let Some(r) = &response
            && let Some(out) = self.requests.get(req.index, req.generation)
        {
            let (sent, target) = ((*out.request).clone(), out.target);
            if let Some(Ok(headers)) = self.challenge_answer(&sent, r)
                && let Some(request) = next_attempt(&sent, Some(&headers), None)
                && let Ok(txn) = txns.send_request_ref(now, &request, target)
            {
                if let Some(out) = self.requests.get_mut(req.index, req.generation) {
                    out.txn = txn;
                    *out.request = request;
                }
                self.clients.insert(txn, Purpose::Request(req));
                return;
            }
        }
        // §8.1.3.5 / §10.2.8: 423 with Min-Expires, retried once.
        if status == 423
            && let Some(r) = &response
            && let Some(min) = r.header_str(H::MinExpires).map(str::trim).map(str::to_string)
            && let Some(out) = self.requests.get(req.index, req.generation)
            && !out.retried_423
            && out.request.has(H::Expires)
        {
            let target = out.target;
            if let Some(request) = next_attempt(&out.request, None, Some(&min))
                && let Ok(txn) = txns.send_request_ref(now, &request, target)
            {
                if let Some(out) = self.requests.get_mut(req.index, req.generation) {
                    out.txn = txn;
                    *out.request = request;
                    out.retried_423 = true;
                }
                self.clients.insert(txn, Purpose::Request(req));
                return;
            }
        }
        self.events.push_back(UaEvent::Response { request: req, status, response, final_: true });
    }

    fn finish_request(&mut self, req: RequestId, txn: TransactionId) {
        if self.requests.get(req.index, req.generation).is_some_and(|r| r.txn == txn) {
            self.requests.remove(req.index, req.generation);
        }
    }

    // ----- timers -----------------------------------------------------------------------------

    /// Arms a call timer. The INVITE give-up and the first 2xx retransmission run a fixed
    /// time from now, so each has a FIFO lane of the queue (see [`TimerQueue`]).
    #[inline]
    fn push_timer(&mut self, at: Instant, kind: TimerKind, call: CallId) {
        let lane = match kind {
            TimerKind::InviteTimeout => Some(0),
            TimerKind::Retransmit2xx => Some(1),
            TimerKind::Glare | TimerKind::CancelGiveUp => None,
        };
        self.timers.push((at, kind, call), lane);
    }

    fn retransmit_2xx(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        at: Instant,
    ) {
        let t2 = txns.config().timer_t2();
        let Some(c) = self.call_mut(call) else { return };
        if c.retx_at != Some(at) {
            return;
        }
        let Some((txn, _, ok)) = &c.ok else { return };
        if c.retx_deadline.is_some_and(|d| now >= d) {
            // §13.3.1.4: no ACK in 64*T1: the session ends with a BYE.
            c.ok = None;
            c.retx_at = None;
            c.bye_pending = false;
            if c.phase == Phase::Answered {
                c.phase = Phase::Established;
            }
            if let Some(d) = c.dialogs.get_mut(0) {
                d.confirm();
            }
            let _ = self.send_bye(now, txns, call, EndReason::NoAck);
            return;
        }
        // Our own 2xx as built (within the default limits the builder checked): it parses as
        // it did then, and is written back byte for byte.
        let (txn, ok) = (*txn, Message::parse(ok.clone()));
        if let Ok(ok) = ok
            && let Err(ResponseError::UnknownTransaction | ResponseError::AlreadyFinal(_)) =
                txns.send_response_ref(now, txn, &ok)
            && let Some(source) = c.source
        {
            txns.send_stateless(source, &ok);
        }
        c.retx_interval = (c.retx_interval * 2).min(t2);
        // The give-up fires at 64*T1 exactly, not at the next retransmission after it.
        let next = c.retx_deadline.map_or(now + c.retx_interval, |d| d.min(now + c.retx_interval));
        c.retx_at = Some(next);
        self.push_timer(next, TimerKind::Retransmit2xx, call);
    }

    fn glare_retry(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        at: Instant,
    ) {
        let Some(c) = self.call_mut(call) else { return };
        if c.glare_at() != Some(at) {
            return;
        }
        let rare = c.rare_mut();
        rare.glare_at = None;
        let body = rare.glare_body.take().flatten();
        if c.phase != Phase::Established || c.pending.is_some() || c.ok.is_some() {
            // The peer's INVITE is in progress: try again later.
            let later = now + Duration::from_millis(500);
            let rare = c.rare_mut();
            rare.glare_at = Some(later);
            rare.glare_body = Some(body);
            self.push_timer(later, TimerKind::Glare, call);
            return;
        }
        if self.send_reinvite(now, txns, call, body, None).is_err() {
            self.events.push_back(UaEvent::ReinviteResult { call, status: 500, response: None });
        }
    }

    fn cancel_give_up(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        at: Instant,
    ) {
        let Some(c) = self.call(call) else { return };
        if c.rare.as_ref().and_then(|r| r.cancel_deadline) != Some(at) || c.phase != Phase::Calling
        {
            return;
        }
        // §9.1: no final response 64*T1 after the CANCEL: give the INVITE up.
        if let Some(txn) = c.invite_txn {
            txns.terminate(now, txn);
        }
        self.end_call(call);
        self.events.push_back(UaEvent::Failed { call, status: 408, response: None });
    }

    // ----- sending ----------------------------------------------------------------------------

    fn send_cancel(&mut self, now: Instant, txns: &mut TransactionTable, call: CallId) {
        let Some(c) = self.call_mut(call) else { return };
        let Some(invite_txn) = c.invite_txn else { return };
        c.cancel = CancelState::Sent;
        let Ok(cancel) = txns.cancel_request(invite_txn) else { return };
        let Some(target) = c.invite_target else { return };
        if let Ok(txn) = txns.send_request(now, cancel, target) {
            self.clients.insert(txn, Purpose::Cancel(call));
            let deadline = now + self.config.cancel_timeout.unwrap_or(txns.config().timer_b());
            if let Some(c) = self.call_mut(call) {
                c.txns += 1;
                c.rare_mut().cancel_deadline = Some(deadline);
            }
            self.push_timer(deadline, TimerKind::CancelGiveUp, call);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send_ack(
        &mut self,
        _now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        remote_tag: &[u8],
        cseq: u32,
        body: Option<&Body>,
        remember: bool,
    ) -> Result<(), UaError> {
        // A branch as `TransactionTable::new_branch` draws it, without allocating (and without
        // the search for a transaction's branch: the ACK begins none).
        let branch = txns.draw_stateless_branch();
        let (idx, target) = self.dialog_target(call, remote_tag)?;
        let Self { calls, consts, via_buf, config, builders, .. } = self;
        let via = fill_bytes(
            via_buf,
            &[
                b"SIP/2.0/",
                target.transport().as_str().as_bytes(),
                b" ",
                config.sent_by.as_bytes(),
                b";branch=",
                branch.as_bytes(),
                b";rport",
            ],
        );
        let c = calls.get_mut(call.index, call.generation).ok_or(UaError::UnknownCall)?;
        let dialog = c.dialogs.get_mut(idx).ok_or(UaError::UnknownCall)?;
        let branch = consts.sent_by_plain.then(|| {
            // The branch follows `;branch=`, before `;rport`.
            let at = via.len().saturating_sub(b";rport".len() + branch.as_bytes().len());
            at..at + branch.as_bytes().len()
        });
        let mut b = dialog.request_builder_in(builders, &Method::Ack, via, branch, Some(cseq));
        b = b.headers(&consts.contact_line);
        if let Some(body) = body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        let built = b.build_in(builders);
        let ack = built_ref(&built)?;
        txns.send_stateless(target, ack);
        if remember {
            c.ack = Some((cseq, ack.to_bytes(), target));
        }
        if let Ok(sent) = built {
            builders.recycle(sent);
        }
        Ok(())
    }

    fn send_bye(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        reason: EndReason,
    ) -> Result<(), UaError> {
        let tag = self
            .call(call)
            .and_then(|c| {
                c.session
                    .clone()
                    .or_else(|| c.dialogs.get(0).map(|d| Tag::new(d.id().remote_tag())))
            })
            .ok_or(UaError::WrongState("no dialog"))?;
        let txn = self.send_in_dialog(now, txns, call, tag.as_bytes(), &Method::Bye, None, None)?;
        self.clients.insert(txn, Purpose::Bye(call));
        if let Some(c) = self.call_mut(call) {
            c.txns += 1;
            c.bye_txn = Some(txn);
            c.phase = Phase::Ending;
            c.end_reason = Some(reason);
            c.ok = None;
            c.retx_at = None;
        }
        Ok(())
    }

    fn send_fork_bye(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        tag: &str,
    ) {
        if let Ok(txn) =
            self.send_in_dialog(now, txns, call, tag.as_bytes(), &Method::Bye, None, None)
        {
            self.clients.insert(txn, Purpose::ForkBye(call));
            if let Some(c) = self.call_mut(call) {
                c.txns += 1;
                if let Some(i) = c.dialogs.position(tag)
                    && let Some(d) = c.dialogs.get_mut(i)
                {
                    d.terminate();
                }
            }
        }
    }

    fn send_reinvite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        body: Option<Body>,
        auth: Option<&[AuthHeader]>,
    ) -> Result<(), UaError> {
        let tag = self
            .call(call)
            .and_then(|c| c.session.clone())
            .ok_or(UaError::WrongState("no dialog"))?;
        let txn = self.send_in_dialog(
            now,
            txns,
            call,
            tag.as_bytes(),
            &Method::Invite,
            body.as_ref(),
            auth,
        )?;
        self.clients.insert(txn, Purpose::Reinvite(call));
        if let Some(c) = self.call_mut(call) {
            c.txns += 1;
            c.reinvite_txn = Some(txn);
            c.rare_mut().glare_body = Some(body);
        }
        Ok(())
    }

    /// Sends a request inside the dialog with remote tag `tag` through a client transaction.
    #[allow(clippy::too_many_arguments)]
    fn send_in_dialog(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        tag: &[u8],
        method: &Method,
        body: Option<&Body>,
        auth: Option<&[AuthHeader]>,
    ) -> Result<TransactionId, UaError> {
        let (idx, target) = self.dialog_target(call, tag)?;
        let Self { calls, consts, via_buf, config, builders, .. } = self;
        let c = calls.get_mut(call.index, call.generation).ok_or(UaError::UnknownCall)?;
        let dialog = c.dialogs.get_mut(idx).ok_or(UaError::UnknownCall)?;
        // The branch the transaction layer would append (see `TransactionTable::draw_branch`).
        let branch = txns.draw_branch();
        let via = via_value(via_buf, target.transport(), &config.sent_by, &branch);
        let drawn = consts
            .sent_by_plain
            .then(|| via.len().saturating_sub(branch.as_bytes().len())..via.len());
        let mut b = dialog.request_builder_in(builders, method, via, drawn, None);
        if *method == Method::Invite {
            b = b.header(H::Contact, &*consts.contact).header(H::Allow, &*consts.allow);
        }
        if let Some(body) = body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        // The request is kept (to answer a challenge) only with credentials to answer it.
        let keep = self.auth.is_some();
        // Read where `build` wrote it, and moved only into the kept copy (a move is a copy).
        let mut built = b.build_in(&mut self.builders);
        let sent = match &mut built {
            Ok(request) => match auth.map(|headers| AuthHeader::apply_all(headers, request)) {
                Some(Err(_)) => Err(UaError::WrongState("credentials do not fit the request")),
                _ => txns.send_request_ref(now, request, target).map_err(UaError::from),
            },
            Err(e) => Err(UaError::from(*e)),
        };
        let txn = match sent {
            Ok(txn) => txn,
            Err(e) => {
                // Not sent: the generator goes back as if the branch had not been drawn.
                txns.return_branch(branch);
                return Err(e);
            }
        };
        match built {
            Ok(request) if keep => {
                self.sent.insert(txn, Box::new(request));
            }
            Ok(request) => self.builders.recycle(request),
            Err(_) => {}
        }
        Ok(txn)
    }

    /// Answers a 401 or 407 to `sent` (RFC 3261 §22.2): `None` without a credential provider,
    /// else the provider's verdict.
    fn challenge_answer(
        &mut self,
        sent: &Message,
        response: &Message,
    ) -> Option<Result<Vec<AuthHeader>, AuthFailure>> {
        let auth = self.auth.as_mut()?;
        Some(match auth.client.on_challenge(auth.provider.as_mut(), sent, response) {
            Decision::Retry(headers) => Ok(headers),
            Decision::Fail(failure) => Err(failure),
        })
    }

    /// The headers answering `response`'s challenge to the in-dialog request of `txn`.
    fn in_dialog_challenge(
        &mut self,
        txn: Option<TransactionId>,
        status: u16,
        response: Option<&Message>,
    ) -> Option<Vec<AuthHeader>> {
        if !matches!(status, 401 | 407) {
            return None;
        }
        let sent = self.sent.get(&txn?)?.clone();
        self.challenge_answer(&sent, response?)?.ok()
    }

    fn send_2xx(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        body: Option<&Body>,
    ) -> Result<(), UaError> {
        let built = self.dialog_response(call, 200, body)?.build_in(&mut self.builders);
        let response = built_ref(&built)?;
        let t1 = txns.config().timer_t1();
        let Self { calls, spare, builders, .. } = self;
        let c = calls.get_mut(call.index, call.generation).ok_or(UaError::UnknownCall)?;
        let (txn, kept) = c.pending.take().ok_or(UaError::WrongState("nothing to answer"))?;
        spare.give_back(Some(kept), builders);
        c.pending_is_reinvite = false;
        let cseq = response.cseq_number().unwrap_or(0);
        let bytes = response.to_bytes();
        if let Err(e) = txns.send_response_ref(now, txn, response) {
            return Err(e.into());
        }
        c.ok = Some((txn, cseq, bytes));
        c.retx_interval = t1;
        c.retx_at = Some(now + t1);
        c.retx_deadline = Some(now + t1 * 64);
        if let Some(d) = c.dialogs.get_mut(0) {
            d.confirm();
        }
        self.push_timer(now + t1, TimerKind::Retransmit2xx, call);
        // Its bytes are kept (`Call::ok`), not the message.
        if let Ok(sent) = built {
            self.builders.recycle(sent);
        }
        Ok(())
    }

    /// A response to the call's pending INVITE with the call's To tag, creating the UAS dialog
    /// for 101–299 (§12.1.1): Record-Route copied, Contact, and for 2xx Allow and Supported.
    /// Its lines are copied from the INVITE, or from the provisional that took its place (see
    /// [`Call::pending`]): the same bytes.
    /// Returned unbuilt: the caller builds it where it reads it (a built message moved out of
    /// a `Result` is copied).
    fn dialog_response(
        &mut self,
        call: CallId,
        status: u16,
        body: Option<&Body>,
    ) -> Result<MessageBuilder, UaError> {
        let Self { calls, consts, builders, .. } = self;
        let c = calls.get_mut(call.index, call.generation).ok_or(UaError::UnknownCall)?;
        let request = c
            .pending
            .as_ref()
            .and_then(|(_, kept)| kept.get())
            .ok_or(UaError::WrongState("nothing to answer"))?;
        let creates = (101..300).contains(&status);
        if creates && c.dialogs.is_empty() && !c.pending_is_reinvite {
            // The first response makes the dialog, with the call's tag as bytes (the dialog
            // checks its text as a whole). The request passed `validate` in `on_request`.
            let dialog = Dialog::uas_checked_bytes(request, c.local_tag.as_bytes(), status)
                .map_err(|_| UaError::WrongState("request cannot make a dialog"))?;
            c.session = Some(Tag::new(dialog.id().remote_tag()));
            c.dialogs = DialogSet::from_dialog(dialog);
        }
        // The dialog's local tag is the call's: read from the dialog's text when there is one
        // (no UTF-8 check of the call's copy).
        let local_tag = match c.dialogs.get(0) {
            Some(d) => d.id().local_tag(),
            None => c.local_tag.as_str(),
        };
        let mut b =
            MessageBuilder::response_to_in(builders, request, status, None).to_tag(local_tag);
        if creates {
            for rr in request.header_lines(H::RecordRoute) {
                b = b.header(H::RecordRoute, rr);
            }
            // Contact, and for a 2xx Allow and Supported.
            b = b.headers(if status >= 200 { &consts.invite_lines } else { &consts.contact_line });
        }
        if let Some(body) = body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        Ok(b)
    }

    /// Answers a request the core refuses or handles at once, with a To tag for all but 100.
    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        id: TransactionId,
        request: &Message,
        status: u16,
        reason: Option<&str>,
        headers: &[(H, String)],
    ) {
        // Matched by reference: the response is read where `build` wrote it.
        let built = self.response_for(request, status, reason, headers, None);
        match &built {
            Ok(response) => {
                let _ = txns.send_response_ref(now, id, response);
            }
            Err(_) => {
                // No To to tag (a request that failed validation for lacking it), or a value
                // that cannot be written: the reason alone, else the bare status.
                let fallback = MessageBuilder::response_to(request, status, reason)
                    .build()
                    .or_else(|_| MessageBuilder::response_to(request, status, None).build());
                if let Ok(response) = fallback {
                    let _ = txns.send_response_ref(now, id, &response);
                }
            }
        }
        if let Ok(sent) = built {
            self.builders.recycle(sent);
        }
    }

    /// A response to a request outside any dialog this core keeps: a fresh To tag for all but
    /// 100 (§8.2.6.2), then `headers` and `body`.
    fn response_for(
        &mut self,
        request: &Message,
        status: u16,
        reason: Option<&str>,
        headers: &[(H, String)],
        body: Option<&Body>,
    ) -> Result<Message, sip_message::BuildError> {
        let mut b = MessageBuilder::response_to_in(&mut self.builders, request, status, reason);
        if status != 100 && request.to_tag_bytes().is_none() {
            let tag = self.tag();
            b = b.to_tag(tag.as_str());
        }
        for (name, value) in headers {
            b = b.header(*name, value);
        }
        if let Some(body) = body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        b.build_in(&mut self.builders)
    }

    fn capabilities(&self) -> Vec<(H, String)> {
        let mut headers = vec![
            (H::Allow, self.consts.allow.to_string()),
            (H::Accept, self.config.accept_value()),
        ];
        if !self.consts.supported.is_empty() {
            headers.push((H::Supported, self.consts.supported.to_string()));
        }
        headers
    }

    /// Writes an out-of-dialog request (§8.1.1) and finds where it goes (§8.1.2); the caller
    /// builds it (and gives the branch back if that fails), where it reads it.
    #[allow(clippy::too_many_arguments)]
    fn out_of_dialog(
        &mut self,
        txns: &mut TransactionTable,
        method: &Method,
        uri: &str,
        to: &[u8],
        from: &[u8],
        known: KnownKeys,
        call_id: &[u8],
        cseq: u32,
        body: Option<&Body>,
        require: &[String],
        headers: &[(H, String)],
    ) -> Result<(MessageBuilder, Target, DrawnBranch), UaError> {
        // A URI the cache holds was parsed when it was put there.
        if self.resolved.get(uri).is_none() {
            SipUri::parse(uri).map_err(|_| UaError::BadUri(uri.to_string()))?;
        }
        let Self { config, resolved, hosts, .. } = self;
        let next_hop = config.outbound_proxy.as_deref().unwrap_or(uri);
        let target = resolve_cached(hosts, resolved, next_hop)?;
        // The branch the transaction layer would append to this Via, written here so that the
        // request goes out as built (see `TransactionTable::draw_branch`).
        let branch = txns.draw_branch();
        let via = via_value(&mut self.via_buf, target.transport(), &config.sent_by, &branch);
        // Room for the body too: a buffer that grows is copied.
        let capacity = 512 + body.map_or(0, |b| b.bytes.len());
        let b = MessageBuilder::request_in(&mut self.builders, method, uri, capacity);
        // The keys this UA wrote are given to the builder instead of searched for.
        let consts = &self.consts;
        let mut b = if consts.sent_by_plain {
            let branch = via.len().saturating_sub(branch.as_bytes().len())..via.len();
            b.via_with_branch(via, branch)
        } else {
            b.header(H::Via, via)
        }
        .headers(&consts.max_forwards_line);
        if let Some(route) = &consts.outbound_route {
            b = b.header(H::Route, route.as_bytes());
        }
        b = match known.from_tag {
            // The four lines written and indexed as one, their keys given.
            Some(from_tag) if known.to_plain && consts.call_id_plain => {
                b.request_lines(&RequestLines {
                    to,
                    to_tag: None,
                    from,
                    from_tag: Some(from_tag),
                    call_id,
                    cseq,
                    method,
                })
            }
            from_tag => {
                b = if known.to_plain {
                    b.addr_with_tag(H::To, to, None)
                } else {
                    b.header(H::To, to)
                };
                b = match from_tag {
                    Some(tag) => b.addr_with_tag(H::From, from, Some(tag)),
                    None => b.header(H::From, from),
                };
                b = if consts.call_id_plain {
                    b.call_id(call_id)
                } else {
                    b.header(H::CallId, call_id)
                };
                b.cseq(cseq, method)
            }
        };
        // Contact but for a REGISTER (whose Contact is the binding), and for an INVITE Allow
        // and Supported.
        if *method == Method::Invite {
            b = b.headers(&self.consts.invite_lines);
        } else if *method != Method::Register {
            b = b.headers(&self.consts.contact_line);
        }
        if !require.is_empty() {
            b = b.header(H::Require, require.join(", "));
        }
        if let Some(ua) = &self.config.user_agent {
            b = b.header(H::UserAgent, ua);
        }
        for (name, value) in headers {
            b = b.header(*name, value);
        }
        if let Some(body) = body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        Ok((b, target, branch))
    }

    fn send_out_request(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        request: Message,
        target: Target,
        retried: bool,
    ) -> Result<RequestId, UaError> {
        let txn = txns.send_request_ref(now, &request, target)?;
        let (index, generation) = self.requests.insert(OutRequest {
            txn,
            request: Box::new(request),
            target,
            retried_423: retried,
        });
        let id = RequestId { index, generation };
        self.clients.insert(txn, Purpose::Request(id));
        Ok(id)
    }

    fn add_redirect_targets(&mut self, call: CallId, response: &Message) {
        let Some(c) = self.call_mut(call) else { return };
        for contact in response.typed_all::<sip_message::Contact<'_>>().flatten() {
            let (Some(uri), Some(Uri::Sip(_))) = (contact.uri_str(), contact.uri()) else {
                continue;
            };
            let q = contact.q().map_or(1000, |q| q.thousandths());
            let targets = c.rare.as_ref().map_or(&[][..], |r| &r.targets[..]);
            let seen = c
                .tried
                .iter()
                .chain(targets.iter().map(|(_, u)| u))
                .any(|t| matches!((Uri::parse(t), Uri::parse(uri)), (Ok(a), Ok(b)) if a == b));
            if !seen {
                c.rare_mut().targets.push((q, uri.into()));
            }
        }
        // Highest q first; equal q keep their order (§8.1.3.4 with §16.6's q ordering).
        if let Some(rare) = c.rare.as_mut() {
            rare.targets.sort_by_key(|(q, _)| Reverse(*q));
        }
    }

    fn try_next_target(&mut self, now: Instant, txns: &mut TransactionTable, call: CallId) -> bool {
        let max = self.config.max_redirects;
        loop {
            let Some(c) = self.call_mut(call) else { return false };
            let Some(rare) = c.rare.as_mut() else { return false };
            if rare.redirects >= max || rare.targets.is_empty() {
                return false;
            }
            let (_, uri) = rare.targets.remove(0);
            rare.redirects += 1;
            c.tried.push(uri.clone());
            if self.resend_invite(now, txns, call, Some(&uri), None, None) {
                return true;
            }
        }
    }

    fn retry_without_unsupported(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        response: &Message,
    ) -> bool {
        let unsupported: Vec<String> = response
            .typed_all::<Unsupported<'_>>()
            .flatten()
            .map(|u| u.as_str().to_ascii_lowercase())
            .collect();
        let Some(c) = self.call_mut(call) else { return false };
        if c.rare.as_ref().is_some_and(|r| r.retried_420) || unsupported.is_empty() {
            return false;
        }
        c.rare_mut().retried_420 = true;
        let Some(invite) = c.invite.as_ref().and_then(Kept::get) else { return false };
        let kept: Vec<String> = invite
            .typed_all::<Require<'_>>()
            .flatten()
            .map(|r| r.as_str().to_string())
            .filter(|r| !unsupported.contains(&r.to_ascii_lowercase()))
            .collect();
        self.resend_invite(now, txns, call, None, Some(kept), None)
    }

    /// Sends the call's INVITE again with a new branch and CSeq (§8.1.3.4, §8.1.3.5), to
    /// `uri` or with `require` replaced.
    fn resend_invite(
        &mut self,
        now: Instant,
        txns: &mut TransactionTable,
        call: CallId,
        uri: Option<&str>,
        require: Option<Vec<String>>,
        auth: Option<&[AuthHeader]>,
    ) -> bool {
        let outbound = self.config.outbound_proxy.clone();
        let Some(c) = self.call(call) else { return false };
        let Some(invite) = c.invite.as_ref().and_then(Kept::get) else { return false };
        let mut request = invite.clone();
        let cseq = request.cseq_number().unwrap_or(1).wrapping_add(1);
        if request.set(H::CSeq, Bytes::from(format!("{cseq} INVITE"))).is_err()
            || !strip_branch(&mut request)
        {
            return false;
        }
        if let Some(uri) = uri
            && request.set_request_uri(Bytes::from(uri.to_string())).is_err()
        {
            return false;
        }
        if let Some(headers) = auth
            && AuthHeader::apply_all(headers, &mut request).is_err()
        {
            return false;
        }
        if let Some(require) = require {
            request.remove_all(H::Require);
            if !require.is_empty()
                && request.push_back(H::Require, Bytes::from(require.join(", "))).is_err()
            {
                return false;
            }
        }
        let next_hop =
            outbound.unwrap_or_else(|| request.request_uri_str().unwrap_or_default().to_string());
        let Ok(target) = self.resolve(&next_hop) else { return false };
        let Ok(txn) = txns.send_request_ref(now, &request, target) else { return false };
        self.clients.insert(txn, Purpose::Invite(call));
        let request = self.spare.keep(request);
        let Self { calls, spare, builders, .. } = self;
        if let Some(c) = calls.get_mut(call.index, call.generation) {
            spare.give_back(c.invite.replace(request), builders);
            c.invite_txn = Some(txn);
            c.invite_target = Some(target);
            c.provisional_seen = false;
            c.dialogs = DialogSet::new();
            c.txns += 1;
        }
        true
    }

    // ----- bookkeeping ------------------------------------------------------------------------

    fn unsupported_requires(&self, request: &Message) -> Option<String> {
        if !request.has(H::Require) {
            return None;
        }
        let unknown: Vec<&str> = request
            .typed_all::<Require<'_>>()
            .flatten()
            .map(|r| r.as_str())
            .filter(|tag| !self.config.supported.iter().any(|s| s.eq_ignore_ascii_case(tag)))
            .collect();
        (!unknown.is_empty()).then(|| unknown.join(", "))
    }

    /// Whether the body of `request` (which passed `validate`) has a type this UA accepts
    /// (§8.2.3).
    fn body_acceptable(&mut self, request: &Message) -> bool {
        if request.body().is_empty() {
            return true;
        }
        let line = request.header_lines(H::ContentType).next();
        // A line the memo holds was accepted as `type/subtype` alone: the same answer.
        if line.is_some() && line == self.accepted_type.as_deref() {
            return true;
        }
        let typed;
        let (mime_type, subtype) = match line.and_then(plain_line_type) {
            Some(pair) => {
                // The answer depends on the line alone (it is `type/subtype`, nothing else).
                let accepted = self.accepts(pair);
                if accepted {
                    self.accepted_type = line.map(Into::into);
                }
                return accepted;
            }
            None => match request.typed::<ContentType<'_>>() {
                Some(Ok(ct)) => {
                    typed = ct;
                    (typed.mime_type().as_bytes(), typed.subtype().as_bytes())
                }
                _ => return false,
            },
        };
        self.accepts((mime_type, subtype))
    }

    /// Whether [`UaConfig::accept`] (split once at `UaCore::new`) takes `type/subtype`.
    fn accepts(&self, (mime_type, subtype): (&[u8], &[u8])) -> bool {
        self.consts.accept.iter().any(|(t, s)| {
            let (t, s) = (&**t, &**s);
            // `ContentType::is(t, s)`, then a `type/*` range.
            // The same bytes (the usual case) are equal without folding case.
            let part = |ours: &[u8], theirs: &[u8]| {
                ours == theirs || ours == b"*" || ours.eq_ignore_ascii_case(theirs)
            };
            (part(mime_type, t) && part(subtype, s))
                || (s == b"*" && mime_type.eq_ignore_ascii_case(t))
        })
    }

    /// The call and dialog index a message names by (local tag, remote tag).
    ///
    /// The tags and the Call-ID are compared as bytes: the parser takes only tokens there
    /// (`Message::to_tag_bytes`), so they are their text.
    fn find_dialog(
        &self,
        msg: &Message,
        local_tag: Option<&[u8]>,
        remote_tag: Option<&[u8]>,
    ) -> Option<(CallId, usize)> {
        let (call, c) = self.call_by_tag(local_tag?)?;
        let idx = c.dialogs.position_bytes(remote_tag.unwrap_or_default())?;
        // A UAS keeps its Call-ID in its dialog only (made from the same INVITE).
        let call_id = match c.role {
            sip_dialog::Role::Uac => c.call_id.as_slice(),
            sip_dialog::Role::Uas => c.dialogs.get(idx)?.id().call_id_bytes(),
        };
        if Some(call_id) != msg.call_id_bytes() {
            return None;
        }
        Some((call, idx))
    }

    /// The call whose local tag is `tag`: the call in the slot the tag names (see
    /// [`call_tag`](Self::call_tag)) if it has that tag, else the one the map keeps for it.
    fn call_by_tag(&self, tag: &[u8]) -> Option<(CallId, &Call)> {
        if let Some(index) = tag_slot(tag)
            && let Some((generation, c)) = self.calls.get_at(index)
            && c.local_tag.as_bytes() == tag
        {
            return Some((CallId { index, generation }, c));
        }
        if self.by_local_tag.is_empty() {
            return None;
        }
        let call = *self.by_local_tag.get(tag)?;
        Some((call, self.call(call)?))
    }

    /// Whether [`UaConfig::max_calls`] calls and requests are live.
    fn at_capacity(&self) -> bool {
        self.calls.len() + self.requests.len() >= self.config.max_calls
    }

    #[inline]
    /// A new call made in its slot (a call is some 700 bytes: made where it stays rather than
    /// moved there), registered under its local tag; the caller fills in the rest.
    fn new_call(
        &mut self,
        role: sip_dialog::Role,
        phase: Phase,
        call_id: SmallVec<[u8; 48]>,
        local_tag: Tag,
    ) -> CallId {
        let unnamed = self.unnamed_tag(&local_tag);
        let slot = self.calls.insert_with(|| Call::new(role, phase, call_id, local_tag));
        self.tagged(unnamed, slot)
    }

    #[cfg(test)]
    fn insert_call(&mut self, call: Call) -> CallId {
        let unnamed = self.unnamed_tag(&call.local_tag);
        let slot = self.calls.insert(call);
        self.tagged(unnamed, slot)
    }

    /// A copy of `tag` for the map when it does not name the slot the next call takes (see
    /// [`call_tag`](Self::call_tag)): a tag that names its slot is found without the map.
    fn unnamed_tag(&self, tag: &Tag) -> Option<Tag> {
        (tag_slot(tag.as_bytes()) != Some(self.calls.next_index())).then(|| tag.clone())
    }

    /// The id of the call just put in `(index, generation)`, its tag mapped when
    /// [`unnamed_tag`](Self::unnamed_tag) gave one.
    fn tagged(&mut self, unnamed: Option<Tag>, (index, generation): (u32, u32)) -> CallId {
        let id = CallId { index, generation };
        if let Some(tag) = unnamed {
            self.by_local_tag.insert(tag, id);
        }
        id
    }

    fn call(&self, id: CallId) -> Option<&Call> {
        self.calls.get(id.index, id.generation)
    }

    fn call_mut(&mut self, id: CallId) -> Option<&mut Call> {
        self.calls.get_mut(id.index, id.generation)
    }

    /// Marks the call over (its dialogs terminated); freed once its transactions end.
    fn end_call(&mut self, call: CallId) {
        let Self { calls, spare, builders, .. } = self;
        if let Some(c) = calls.get_mut(call.index, call.generation) {
            c.phase = Phase::Ended;
            spare.give_back(c.pending.take().map(|(_, kept)| kept), builders);
            c.ok = None;
            c.retx_at = None;
            if let Some(rare) = c.rare.as_mut() {
                rare.glare_at = None;
            }
            spare.give_back(c.invite.take(), builders);
            for i in 0..c.dialogs.len() {
                if let Some(d) = c.dialogs.get_mut(i) {
                    d.terminate();
                }
            }
        }
        self.maybe_free(call);
    }

    fn txn_done(&mut self, call: CallId, txn: TransactionId) {
        let Self { calls, spare, builders, .. } = self;
        if let Some(c) = calls.get_mut(call.index, call.generation) {
            c.txns = c.txns.saturating_sub(1);
            if c.invite_txn == Some(txn) {
                // Timer M is over: no more 2xx retransmissions will come (RFC 6026 §7.2).
                c.invite_txn = None;
                spare.give_back(c.invite.take(), builders);
                c.ack = None;
            }
            if c.bye_txn == Some(txn) {
                c.bye_txn = None;
            }
            if c.reinvite_txn == Some(txn) {
                c.reinvite_txn = None;
            }
        }
        self.maybe_free(call);
    }

    fn maybe_free(&mut self, call: CallId) {
        let Self { calls, by_local_tag, .. } = self;
        let Some(c) = calls.get(call.index, call.generation) else { return };
        if c.phase != Phase::Ended || c.txns != 0 {
            return;
        }
        let tag = c.local_tag.0.as_slice();
        // One lookup: removed, and put back in the rare case that it names another call (a
        // later call that drew the same tag took the entry over). A tag that names its slot
        // has no entry (usually the map is empty).
        if !by_local_tag.is_empty()
            && let Some(owner) = by_local_tag.remove(tag)
            && owner != call
        {
            by_local_tag.insert(c.local_tag.clone(), owner);
        }
        // Dropped in place (a call is some 700 bytes: not worth moving out to drop).
        calls.discard(call.index, call.generation);
    }

    /// The local tag of a new call (§19.3): [`tag`](Self::tag)'s draw, its last
    /// [`TAG_SLOT_LEN`] characters replaced by the index of the slot the call will take, so
    /// that a request or response carrying the tag finds its call without a map (the
    /// [`TAG_LEN`]` - `[`TAG_SLOT_LEN`] random characters left carry about 35.7 bits, more than
    /// the 32 §19.3 asks for). The call must be made next ([`new_call`](Self::new_call)); a
    /// slot index too large to write keeps the whole draw (the call is then kept in the map).
    fn call_tag(&mut self) -> Tag {
        let mut tag = self.tag();
        if let Some(slot) = tag.0.get_mut(TAG_LEN - TAG_SLOT_LEN..) {
            write_slot_name(slot, self.calls.next_index());
        }
        tag
    }

    /// A new local tag (§19.3): [`TAG_LEN`] characters from one 64-bit draw.
    fn tag(&mut self) -> Tag {
        let mut tag = [0u8; TAG_LEN];
        fill_base62(&mut self.rng, &mut tag);
        Tag(SmallVec::from_slice(&tag))
    }

    fn token(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        self.push_token(&mut out, len);
        out
    }

    /// Appends `len` random base-62 characters to `out` (see [`fill_base62`]).
    fn push_token(&mut self, out: &mut String, len: usize) {
        // Base-62 digits are ASCII: the check cannot fail.
        self.draw_token(len, |part| out.push_str(std::str::from_utf8(part).unwrap_or_default()));
    }

    /// Draws `len` random base-62 characters (see [`fill_base62`]) and hands them to `put` a
    /// chunk at a time from a stack buffer: one capacity check and copy per chunk rather than
    /// a push (and, for text, a UTF-8 encode) per character.
    fn draw_token(&mut self, len: usize, mut put: impl FnMut(&[u8])) {
        let mut chunk = [0u8; CALL_ID_LEN];
        let mut left = len;
        while left > 0 {
            let n = left.min(CALL_ID_LEN);
            let part = chunk.get_mut(..n).unwrap_or_default();
            fill_base62(&mut self.rng, part);
            put(part);
            left -= n;
        }
    }

    fn new_call_id(&mut self) -> String {
        let mut id = String::with_capacity(CALL_ID_LEN + 1 + self.consts.call_id_host.len());
        self.push_call_id(&mut id);
        id
    }

    /// [`push_call_id`](Self::push_call_id) into bytes.
    fn push_call_id_bytes(&mut self, out: &mut Vec<u8>) {
        self.push_token_bytes(out, CALL_ID_LEN);
        out.push(b'@');
        out.extend_from_slice(self.consts.call_id_host.as_bytes());
    }

    /// [`push_token`](Self::push_token) into bytes: the same draws, the same characters.
    fn push_token_bytes(&mut self, out: &mut Vec<u8>, len: usize) {
        self.draw_token(len, |part| out.extend_from_slice(part));
    }

    /// Appends a new Call-ID to `out`.
    fn push_call_id(&mut self, out: &mut String) {
        // §8.1.1.4: globally unique over space and time; the host part names this UA.
        self.push_token(out, CALL_ID_LEN);
        out.push('@');
        out.push_str(&self.consts.call_id_host);
    }
}

/// How many characters at the end of a call's local tag name its slot (see
/// [`UaCore::call_tag`]).
const TAG_SLOT_LEN: usize = SLOT_NAME_LEN;

/// The slot index a local tag names (see [`UaCore::call_tag`]): its last [`TAG_SLOT_LEN`]
/// characters read as a slot name ([`read_slot_name`]), for a tag of [`TAG_LEN`] characters;
/// `None` for any other tag.
fn tag_slot(tag: &[u8]) -> Option<u32> {
    if tag.len() != TAG_LEN {
        return None;
    }
    read_slot_name(tag.get(TAG_LEN - TAG_SLOT_LEN..)?)
}

/// How many base-62 characters [`fill_base62`] takes from one 64-bit draw: 62^10 < 2^64, so ten
/// characters carry about 59.5 bits of the draw (RFC 3261 §19.3 asks a tag for at least 32).
const BASE62_PER_DRAW: usize = 10;

/// Fills `out` with random base-62 characters (`0-9A-Za-z`, tokens in every grammar a tag, a
/// Call-ID or a branch is written in), [`BASE62_PER_DRAW`] characters per `next_u64` of `rng`:
/// the draw is read as a fraction of 2^64 and multiplied by 62 once per character, the integer
/// part giving the character and the fraction staying for the next. The characters of one
/// draw are the base-62 digits of `floor(x * 62^10 / 2^64)`: every string of ten is reached,
/// each from 21 or 22 of the 2^64 draws. A seeded generator gives the same characters.
fn fill_base62(rng: &mut impl RngCore, out: &mut [u8]) {
    /// The alphabet padded to 64 entries, so that a masked index needs no bounds check.
    const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz00";
    for group in out.chunks_mut(BASE62_PER_DRAW) {
        let mut x = rng.next_u64();
        for c in group {
            let m = u128::from(x) * 62;
            // The integer part of a fraction times 62: below 62.
            let digit = (m >> 64) as usize;
            *c = ALPHABET.get(digit & 63).copied().unwrap_or(b'0');
            x = m as u64;
        }
    }
}

impl Call {
    #[inline]
    fn new(
        role: sip_dialog::Role,
        phase: Phase,
        call_id: SmallVec<[u8; 48]>,
        local_tag: Tag,
    ) -> Self {
        Call {
            role,
            phase,
            call_id,
            local_tag,
            dialogs: DialogSet::new(),
            session: None,
            txns: 0,
            invite: None,
            invite_checked: false,
            invite_txn: None,
            invite_target: None,
            offer_in_invite: false,
            provisional_seen: false,
            cancel: CancelState::None,
            invite_deadline: None,
            ack: None,
            tried: SmallVec::new(),
            pending: None,
            source: None,
            ok: None,
            retx_at: None,
            retx_interval: Duration::ZERO,
            retx_deadline: None,
            pending_is_reinvite: false,
            reinvite_txn: None,
            bye_txn: None,
            bye_pending: false,
            end_reason: None,
            rare: None,
        }
    }

    /// The rarely used state, made on first use.
    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// When a glare retry is due, if one is.
    fn glare_at(&self) -> Option<Instant> {
        self.rare.as_ref().and_then(|r| r.glare_at)
    }

    /// Takes the body kept for a re-INVITE retry.
    fn take_glare_body(&mut self) -> Option<Body> {
        self.rare.as_mut().and_then(|r| r.glare_body.take()).flatten()
    }
}

/// The type and subtype of a Content-Type known to parse (the request passed `validate`)
/// written plainly as `type/subtype` (letters, digits, `.`, `+`, `-`): then they are the text
/// either side of the slash, as the typed parse reads them (RFC 3261 §20.15). `None` for any
/// other form (parameters, whitespace, ...), which the typed parser reads.
#[cfg(test)]
fn plain_media_type(request: &Message) -> Option<(&[u8], &[u8])> {
    plain_line_type(request.header_lines(H::ContentType).next()?)
}

/// [`plain_media_type`] of a first Content-Type line `value`.
fn plain_line_type(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let plain = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-');
    let slash = value.iter().position(|&c| c == b'/')?;
    let (t, s) = (value.get(..slash)?, value.get(slash + 1..)?);
    if t.is_empty() || s.is_empty() || !t.iter().all(plain) || !s.iter().all(plain) {
        return None;
    }
    // ASCII only (checked above): the bytes are the text.
    Some((t, s))
}

/// [`DialogSet::on_response`] for a response to the call's INVITE; `checked`: its From and To
/// are known to parse ([`AddrMemo`]).
fn on_invite_response(
    dialogs: &mut DialogSet,
    invite: &Message,
    checked: bool,
    contacts: &mut ContactMemo,
    response: &Message,
) -> Result<DialogChange, sip_dialog::DialogError> {
    // Only a response that may create a dialog has its Contact looked at.
    let creates = response.status().is_some_and(|s| (101..300).contains(&s))
        && dialogs.position_bytes(response.to_tag_bytes().unwrap_or_default()).is_none();
    let known =
        Known { request_addrs: checked, response_contact: creates && contacts.check(response) };
    dialogs.on_response_known(invite, response, known)
}

/// The expiry the registrar granted our `contact` (§10.2.4): the matching Contact's `expires`,
/// else the Expires header.
fn granted_expiry(response: &Message, contact: &str) -> Option<u32> {
    let ours = Uri::parse(contact).ok();
    let from_contact = response.typed_all::<sip_message::Contact<'_>>().flatten().find_map(|c| {
        let same = matches!((c.uri(), &ours), (Some(a), Some(b)) if a == *b);
        if same { c.expires() } else { None }
    });
    from_contact.or_else(|| response.header_str(H::Expires).and_then(|v| v.trim().parse().ok()))
}

/// The next attempt of an out-of-dialog request (§8.1.3.5, §22.2): the same request with CSeq
/// one higher, a fresh branch, `auth` in place of its credentials and `expires` as Expires.
fn next_attempt(
    sent: &Message,
    auth: Option<&[AuthHeader]>,
    expires: Option<&str>,
) -> Option<Message> {
    let mut request = sent.clone();
    let cseq = request.cseq_number()?.wrapping_add(1);
    let method = request.method()?.clone();
    request.set(H::CSeq, Bytes::from(format!("{cseq} {method}"))).ok()?;
    if let Some(expires) = expires {
        request.set(H::Expires, Bytes::from(expires.to_string())).ok()?;
    }
    if let Some(headers) = auth {
        AuthHeader::apply_all(headers, &mut request).ok()?;
    }
    strip_branch(&mut request).then_some(request)
}

/// Removes the branch from the top Via so the transaction layer adds a fresh one.
fn strip_branch(request: &mut Message) -> bool {
    let Some(via) = request.top_via().map(<[u8]>::to_vec) else { return false };
    let Ok(text) = std::str::from_utf8(&via) else { return false };
    let kept: Vec<&str> = text
        .split(';')
        .filter(|p| !p.trim_start().to_ascii_lowercase().starts_with("branch="))
        .collect();
    request.pop_front(H::Via);
    request.push_front(H::Via, Bytes::from(kept.join(";"))).is_ok()
}

/// Whether `uri` has the scheme of a SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966).
/// Whether the Request-URI is a SIP, SIPS or tel URI (its scheme, case-insensitive, before a
/// `:`) and UTF-8 text, as `request_uri_str().is_some_and(is_sip_or_tel)` says, read from its
/// raw bytes: the scheme first, then the UTF-8 check only for a URI that is not all ASCII.
fn raw_is_sip_or_tel(uri: &[u8]) -> bool {
    let is = |scheme: &[u8]| {
        uri.get(scheme.len()) == Some(&b':')
            && uri.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    (is(b"sip") || is(b"sips") || is(b"tel"))
        && (uri.is_ascii() || std::str::from_utf8(uri).is_ok())
}

#[cfg(test)]
fn is_sip_or_tel(uri: &str) -> bool {
    // The scheme is the text before the first `:`; none of these has a `:` in it, so it is one
    // of them exactly when the URI starts with it and a `:` (no search for the colon).
    let uri = uri.as_bytes();
    let is = |scheme: &[u8]| {
        uri.get(scheme.len()) == Some(&b':')
            && uri.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    is(b"sip") || is(b"sips") || is(b"tel")
}

/// Resolves `uri` (a SIP URI): an IP host directly ([`Target::from_uri`]), a name through
/// `hosts`. Also says whether the target came from the URI alone (so it may be cached).
fn resolve_in(hosts: &HashMap<String, Target>, uri: &str) -> Result<(Target, bool), UaError> {
    let sip = SipUri::parse(uri).map_err(|_| UaError::BadUri(uri.to_string()))?;
    if let Some(t) = Target::from_uri(&sip) {
        return Ok((t, true));
    }
    let host = sip.host_raw().to_ascii_lowercase();
    let mut target = *hosts.get(&host).ok_or_else(|| UaError::Unresolvable(uri.to_string()))?;
    if let (Target::Addr(transport, mut addr), Some(port)) = (target, sip.port()) {
        addr.set_port(port);
        target = Target::Addr(transport, addr);
    }
    if let Some(t) = sip.transport().and_then(sip_transaction::Transport::from_token)
        && let Target::Addr(_, addr) = target
    {
        target = Target::Addr(t, addr);
    }
    Ok((target, false))
}

/// [`resolve_in`] through `cache`: an IP-literal URI resolved before is not parsed again.
fn resolve_cached(
    hosts: &HashMap<String, Target>,
    cache: &mut ResolveCache,
    uri: &str,
) -> Result<Target, UaError> {
    if let Some(target) = cache.get(uri) {
        return Ok(target);
    }
    let (target, literal) = resolve_in(hosts, uri)?;
    if literal {
        cache.put(uri, target);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_dialog::cseq_value;

    /// A From takes an appended tag as its key exactly when the parser finds that tag there,
    /// and only a host of `word` characters makes drawn Call-IDs `callid`s: the UA gives the
    /// builder those keys only then.
    #[test]
    fn addresses_and_hosts_that_take_known_keys() {
        for (addr, takes) in [
            ("\"Alice\" <sip:alice@atlanta.example.com>", true),
            ("Alice Smith <sip:alice@atlanta.example.com;transport=tcp>", true),
            ("<sip:alice@atlanta.example.com>;x=1", true),
            ("sip:alice@atlanta.example.com", true),
            ("<sip:alice@atlanta.example.com>;tag=old", false),
            ("sip:alice@atlanta.example.com;tag=old", false),
            ("<sip:alice@atlanta.example.com>;x=\"open", false),
            ("<sip:alice@atlanta.example.com>, <sip:b@c>", false),
        ] {
            assert_eq!(takes_tag(addr), takes, "{addr}");
            let from = format!("{addr};tag=a1B2c3");
            let m = invite_with("<sip:bob@192.0.2.2>", &from).unwrap();
            let at_end = m.from_tag_bytes().is_some_and(|t| t == b"a1B2c3");
            assert_eq!(at_end, takes, "{addr}");
        }
        assert!(is_call_id_host("192.0.2.1"));
        assert!(is_call_id_host("[2001:db8::1]"));
        assert!(!is_call_id_host(""));
        assert!(!is_call_id_host("a b"));
        assert!(!is_call_id_host("a@b"));
    }

    fn invite_with(to: &str, from: &str) -> Option<Message> {
        MessageBuilder::request(&Method::Invite, "sip:bob@192.0.2.2")
            .header(H::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1")
            .header(H::To, to)
            .header(H::From, from)
            .header(H::CallId, "c1")
            .header(H::CSeq, "1 INVITE")
            .build()
            .ok()
    }

    #[test]
    fn a_kept_message_is_the_message_and_its_box_is_reused_empty() {
        let mut spare = Spare::default();
        let first = invite_with("<sip:bob@b>", "<sip:alice@a>;tag=1").unwrap();
        let kept = spare.keep(first.clone());
        assert_eq!(kept.get().map(Message::to_bytes), Some(first.to_bytes()));
        let address = &*kept.0 as *const Option<Message>;
        let mut builders = BuilderSpare::default();
        spare.give_back(Some(kept), &mut builders);
        // Emptied (the message and its buffer dropped), and handed to the next message.
        assert!(spare.0.iter().all(|b| b.is_none()) && spare.0.len() == 1);
        let second = invite_with("<sip:carol@c>", "<sip:alice@a>;tag=2").unwrap();
        let kept = spare.keep(second.clone());
        assert_eq!(&*kept.0 as *const Option<Message>, address);
        assert_eq!(kept.get().map(Message::to_bytes), Some(second.to_bytes()));
        assert!(spare.0.is_empty());
        // At most `SPARE_BOXES` are kept.
        for _ in 0..SPARE_BOXES + 3 {
            let kept = spare.keep(second.clone());
            spare.give_back(Some(kept), &mut builders);
            spare.give_back(Some(Kept(Box::new(Some(second.clone())))), &mut builders);
        }
        spare.give_back(None, &mut builders);
        assert_eq!(spare.0.len(), SPARE_BOXES);
    }

    /// The lines of `dialog_response` for `status` after the copied ones: Record-Route of
    /// `source` for 101–299, then Contact.
    fn response_from(source: &Message, status: u16, tag: &str) -> Result<Message, String> {
        let mut b = MessageBuilder::response_to(source, status, None).to_tag(tag);
        if (101..300).contains(&status) {
            for rr in source.header_lines(H::RecordRoute) {
                b = b.header(H::RecordRoute, rr);
            }
            b = b.header(H::Contact, "<sip:bob@192.0.2.2>");
        }
        b.build().map_err(|e| e.to_string())
    }

    proptest::proptest! {
        /// A response copied from the provisional `ring` sent (which `ring` keeps in the
        /// INVITE's place) is the response copied from the INVITE with the tag added: the same
        /// bytes, keys and index, whatever the form of the INVITE's lines (names long, compact
        /// or in any case, spacing, several Vias, a fold, Record-Route, Timestamp).
        #[test]
        fn a_response_copied_from_the_provisional_is_the_one_copied_from_the_invite(
            vias in proptest::collection::vec(
                ("(Via|VIA|via|v)", "(: |:|  : )", "(UDP 192.0.2.1|TCP h.example.com:5070)",
                 "(;branch=z9hG4bK[a-z0-9]{1,6}|;rport;branch=z9hG4bKx|;branch=z9hG4bKy;received=192.0.2.9)"),
                1..4),
            to in "(To: |t: |TO:)(<sip:bob@192.0.2.2>|\"Bob\" <sip:bob@b.example.com>;x=1|sip:bob@b)",
            from in "(From: |f: |fRoM:  )(<sip:alice@a>|Alice <sip:alice@a>)(;tag=[a-zA-Z0-9]{1,8})",
            call_id in "(Call-ID: |i: |call-id:)[a-z0-9]{1,8}(@h|)",
            cseq in "(CSeq: 1 INVITE|CSeq:   7   INVITE|cseq:2 INVITE)",
            routes in proptest::collection::vec(
                "Record-Route: <sip:p[0-9]\\.example\\.com;lr>(, <sip:q;lr>|)", 0..3),
            timestamp in proptest::bool::ANY,
            folded in proptest::bool::ANY,
            status in proptest::sample::select(vec![183u16, 200, 202, 486, 487, 603]),
            provisional in proptest::sample::select(vec![180u16, 183]),
            tag in "[a-zA-Z0-9]{10}",
        ) {
            let mut text = String::from("INVITE sip:bob@192.0.2.2 SIP/2.0\r\n");
            for (i, (name, colon, sent_by, params)) in vias.iter().enumerate() {
                // A fold in the last Via, before its parameters.
                let fold = if folded && i + 1 == vias.len() { "\r\n " } else { "" };
                text.push_str(&format!("{name}{colon}SIP/2.0/{sent_by}{fold}{params}\r\n"));
            }
            text.push_str("Max-Forwards: 70\r\n");
            text.push_str(&format!("{to}\r\n"));
            text.push_str(&format!("{from}\r\n{call_id}\r\n{cseq}\r\n"));
            for rr in &routes {
                text.push_str(&format!("{rr}\r\n"));
            }
            if timestamp {
                text.push_str("Timestamp: 54\r\n");
            }
            text.push_str("Contact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n");
            let invite = Message::parse(Bytes::from(text)).map_err(|e| {
                proptest::test_runner::TestCaseError::reject(format!("{e}"))
            })?;
            let Ok(sent) = response_from(&invite, provisional, &tag) else {
                return Ok(());
            };
            let old = response_from(&invite, status, &tag);
            let new = response_from(&sent, status, &tag);
            match (&old, &new) {
                (Ok(old), Ok(new)) => {
                    proptest::prop_assert_eq!(old.to_bytes(), new.to_bytes());
                    proptest::prop_assert_eq!(old, new);
                    proptest::prop_assert_eq!(old.to_tag(), Some(tag.as_str()));
                    proptest::prop_assert_eq!(old.to_tag(), new.to_tag());
                    proptest::prop_assert_eq!(old.from_tag(), new.from_tag());
                    proptest::prop_assert_eq!(old.via_branch(), new.via_branch());
                    proptest::prop_assert_eq!(old.call_id(), new.call_id());
                    proptest::prop_assert_eq!(old.cseq_number(), new.cseq_number());
                    proptest::prop_assert_eq!(old.cseq_method(), new.cseq_method());
                    proptest::prop_assert_eq!(old.top_via(), new.top_via());
                    proptest::prop_assert_eq!(old.header_count(), new.header_count());
                    let reparsed = Message::parse(new.to_bytes()).map_err(|e| {
                        proptest::test_runner::TestCaseError::fail(format!("{e}"))
                    })?;
                    proptest::prop_assert_eq!(&reparsed, new);
                    proptest::prop_assert_eq!(reparsed.to_tag(), new.to_tag());
                    proptest::prop_assert_eq!(reparsed.via_branch(), new.via_branch());
                }
                _ => proptest::prop_assert_eq!(old, new),
            }
        }

        /// The prefix test says what splitting at the first colon and comparing the scheme
        /// says.
        #[test]
        fn sip_or_tel_is_the_scheme_before_the_first_colon(
            uri in "(sip|SIP|sips|SiPs|tel|TEL|te|si|sipx|mailto|)(:|::|)[a-z@:.0-9]{0,8}",
        ) {
            let split = uri.split_once(':').is_some_and(|(scheme, _)| {
                ["sip", "sips", "tel"].iter().any(|s| scheme.eq_ignore_ascii_case(s))
            });
            proptest::prop_assert_eq!(is_sip_or_tel(&uri), split);
        }

        /// The raw-byte test says what the text test says of the text, and `false` for bytes
        /// that are not UTF-8.
        #[test]
        fn the_raw_test_is_the_text_test(
            head in "(sip|SIP|sips|tel|te|mailto|)(:|)",
            tail in proptest::collection::vec(proptest::sample::select(
                vec![b'a', b'@', b'.', b':', b'1', 0xc3, 0xa9, 0xff, 0x80]), 0..12),
        ) {
            let mut uri = head.into_bytes();
            uri.extend_from_slice(&tail);
            let text = std::str::from_utf8(&uri).ok().is_some_and(is_sip_or_tel);
            proptest::prop_assert_eq!(raw_is_sip_or_tel(&uri), text);
        }
    }

    #[test]
    fn a_calls_tag_names_its_slot_and_finds_the_call_without_the_map() {
        let mut core = UaCore::new(UaConfig::new("alice", "192.0.2.1:5060"));
        let mut handles = Vec::new();
        for _ in 0..3 {
            let tag = core.call_tag();
            assert_eq!(tag_slot(tag.as_bytes()), Some(core.calls.next_index()));
            assert!(tag.as_bytes().iter().all(u8::is_ascii_alphanumeric));
            let call = core.new_call(sip_dialog::Role::Uac, Phase::Ended, SmallVec::new(), tag);
            handles.push(call);
        }
        assert!(core.by_local_tag.is_empty());
        for &call in &handles {
            let tag = core.call(call).map(|c| c.local_tag.clone()).unwrap_or_default();
            assert_eq!(core.call_by_tag(tag.as_bytes()).map(|(id, _)| id), Some(call));
        }
        // Freed: its tag finds nothing, nor does it find the call that takes its slot.
        let first = handles[0];
        let old = core.call(first).map(|c| c.local_tag.clone()).unwrap_or_default();
        core.maybe_free(first);
        assert!(core.call_by_tag(old.as_bytes()).is_none());
        let tag = core.call_tag();
        assert_eq!(tag_slot(tag.as_bytes()), Some(first.index));
        let next = core.new_call(sip_dialog::Role::Uas, Phase::Ended, SmallVec::new(), tag);
        assert_eq!(next.index, first.index);
        assert!(core.call_by_tag(old.as_bytes()).is_none());
        assert!(core.by_local_tag.is_empty());
    }

    #[test]
    fn tag_slots_round_trip() {
        // The base-62 alphabet of `fill_base62` and of slot names, in digit order.
        const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for index in [0u32, 1, 61, 62, 3843, 238_327, 14_776_335] {
            let mut tag = *b"abcdef0000";
            write_slot_name(&mut tag[TAG_LEN - TAG_SLOT_LEN..], index);
            assert_eq!(tag_slot(&tag), Some(index));
        }
        // Too large to write: the tag is left as drawn.
        let mut tag = *b"abcdefWXYZ";
        write_slot_name(&mut tag[TAG_LEN - TAG_SLOT_LEN..], 14_776_336);
        assert_eq!(&tag, b"abcdefWXYZ");
        // Every digit reads as its value; any other byte as none.
        for c in 0..=255u8 {
            let tag = [b'a', b'b', b'c', b'd', b'e', b'f', b'0', b'0', b'1', c];
            let value = BASE62.iter().position(|&d| d == c).map(|v| 62 + v as u32);
            assert_eq!(tag_slot(&tag), value, "{c}");
        }
        assert_eq!(tag_slot(b"short"), None);
        assert_eq!(tag_slot(b"abcdef-123"), None);
    }

    #[test]
    fn freeing_a_call_leaves_the_tag_entry_of_another_call_with_the_same_tag() {
        let mut core = UaCore::new(UaConfig::new("alice", "192.0.2.1:5060"));
        let ended = |tag: &str| {
            Call::new(sip_dialog::Role::Uac, Phase::Ended, SmallVec::new(), Tag::new(tag))
        };
        let first = core.insert_call(ended("same"));
        let second = core.insert_call(ended("same"));
        let other = core.insert_call(ended("other"));
        // The later call took the entry over; freeing the first leaves it.
        core.maybe_free(first);
        assert_eq!(core.by_local_tag.get(&b"same"[..]), Some(&second));
        assert_eq!(core.by_local_tag.len(), 2);
        core.maybe_free(second);
        assert_eq!(core.by_local_tag.get(&b"same"[..]), None);
        core.maybe_free(other);
        assert!(core.by_local_tag.is_empty() && core.calls() == 0);
    }

    /// The characters [`fill_base62`] writes for one draw `x` and a group of `k`, computed
    /// another way: the base-62 digits (most significant first) of `floor(x * 62^k / 2^64)`.
    fn base62_digits(x: u64, k: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut n = (u128::from(x) * 62u128.pow(k as u32)) >> 64;
        let mut digits = vec![0u8; k];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(n % 62) as usize];
            n /= 62;
        }
        assert_eq!(n, 0);
        digits
    }

    #[test]
    fn tokens_are_the_base62_digits_of_the_draws() {
        // `push_token` writes chunks of up to CALL_ID_LEN characters, each from one draw per
        // BASE62_PER_DRAW characters; the byte variant draws and writes the same.
        for len in [
            0,
            1,
            BASE62_PER_DRAW - 1,
            TAG_LEN,
            TAG_LEN + 1,
            CALL_ID_LEN - 1,
            CALL_ID_LEN,
            CALL_ID_LEN + 1,
            3 * CALL_ID_LEN + 7,
        ] {
            let mut text = UaCore::new(UaConfig::new("alice", "192.0.2.1:5060").rng_seed(9));
            let mut bytes = UaCore::new(UaConfig::new("alice", "192.0.2.1:5060").rng_seed(9));
            let mut words = ChaCha8Rng::seed_from_u64(9);
            let mut out = String::from("x");
            text.push_token(&mut out, len);
            let mut expected = b"x".to_vec();
            let mut left = len;
            while left > 0 {
                let chunk = left.min(CALL_ID_LEN);
                let mut rest = chunk;
                while rest > 0 {
                    let k = rest.min(BASE62_PER_DRAW);
                    expected.extend(base62_digits(words.next_u64(), k));
                    rest -= k;
                }
                left -= chunk;
            }
            let mut out_bytes = b"x".to_vec();
            bytes.push_token_bytes(&mut out_bytes, len);
            assert_eq!(out.as_bytes(), &expected[..], "{len}");
            assert_eq!(out_bytes, expected, "{len}");
            let next = words.next_u64();
            assert_eq!(text.rng.next_u64(), next, "{len}");
            assert_eq!(bytes.rng.next_u64(), next, "{len}");
        }
        // A tag is one draw; the Call-ID two, then `@host`, as text and as bytes.
        let mut core = UaCore::new(UaConfig::new("alice", "192.0.2.1:5060").rng_seed(3));
        let mut words = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(core.tag().0.as_slice(), &base62_digits(words.next_u64(), TAG_LEN)[..]);
        let mut a = UaCore::new(UaConfig::new("alice", "192.0.2.1:5060").rng_seed(3));
        let mut b = UaCore::new(UaConfig::new("alice", "192.0.2.1:5060").rng_seed(3));
        let (mut a_id, mut b_id) = (String::new(), Vec::new());
        a.push_call_id(&mut a_id);
        b.push_call_id_bytes(&mut b_id);
        assert_eq!(a_id.as_bytes(), &b_id[..]);
        assert_eq!(a.rng.next_u64(), b.rng.next_u64());
        let (random, host) = a_id.split_once('@').unwrap();
        assert_eq!(random.len(), CALL_ID_LEN);
        assert!(random.bytes().all(|c| c.is_ascii_alphanumeric()) && !host.is_empty());
    }

    #[test]
    fn base62_draws_reach_every_character_in_every_place() {
        // Extreme draws give the first and last strings; seeded draws cover the alphabet at
        // each of the ten places, and tags do not repeat.
        struct Fixed(u64);
        impl RngCore for Fixed {
            fn next_u32(&mut self) -> u32 {
                self.0 as u32
            }
            fn next_u64(&mut self) -> u64 {
                self.0
            }
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                dest.fill(self.0 as u8);
            }
        }
        let mut out = [0u8; BASE62_PER_DRAW];
        fill_base62(&mut Fixed(0), &mut out);
        assert_eq!(&out, b"0000000000");
        fill_base62(&mut Fixed(u64::MAX), &mut out);
        assert_eq!(&out, b"zzzzzzzzzz");
        for x in [1, 1 << 40, u64::MAX / 62, u64::MAX / 2, 0x9e37_79b9_7f4a_7c15] {
            fill_base62(&mut Fixed(x), &mut out);
            assert_eq!(&out[..], &base62_digits(x, BASE62_PER_DRAW)[..], "{x}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
        let mut seen = [[false; 62]; BASE62_PER_DRAW];
        let mut tags = std::collections::HashSet::new();
        for _ in 0..4000 {
            fill_base62(&mut rng, &mut out);
            assert!(tags.insert(out));
            for (place, &c) in out.iter().enumerate() {
                let i = match c {
                    b'0'..=b'9' => c - b'0',
                    b'A'..=b'Z' => c - b'A' + 10,
                    b'a'..=b'z' => c - b'a' + 36,
                    _ => panic!("{c}"),
                };
                seen[place][usize::from(i)] = true;
            }
        }
        assert!(seen.iter().all(|place| place.iter().all(|&s| s)));
    }

    // The Contact memo says "known" only for a line whose parsed target is its bracketed
    // text, and says it again for the same line in another response.
    #[test]
    fn the_contact_memo_says_what_the_parse_says() {
        let forms = [
            "<sip:bob@192.0.2.2:5060>",
            "<sip:bob@192.0.2.2>;expires=60",
            "Bob <sip:bob@192.0.2.2>",
            "sip:bob@192.0.2.2",
            "*",
            "<sip:bob@192.0.2.2",
            "<mailto:bob@example.com>",
            "<sip:b@c>, <sip:d@e>",
            "<>",
        ];
        let request = invite_with("<sip:bob@192.0.2.2>", "<sip:a@b>;tag=x").unwrap();
        let mut memo = ContactMemo::default();
        for contact in forms {
            let Ok(response) = MessageBuilder::response_to(&request, 200, None)
                .to_tag("y")
                .header(H::Contact, contact)
                .build()
            else {
                continue;
            };
            let known = memo.check(&response);
            let target = sip_dialog::contact_target(&response);
            let bracketed = contact.strip_prefix('<').and_then(|r| r.split('>').next());
            let same = matches!((target, bracketed), (Ok(Some(t)), Some(b)) if t == b);
            assert_eq!(known, same, "{contact}");
            assert_eq!(memo.check(&response), same, "{contact}");
        }
    }

    // The body check with the Accept list split once says what the string comparison of
    // every entry said.
    #[test]
    fn body_acceptance_is_the_string_comparison() {
        let old = |accept: &[String], mime_type: &str, subtype: &str| {
            accept.iter().any(|a| {
                let mut parts = a.splitn(2, '/');
                let (t, s) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                let part =
                    |ours: &str, theirs: &str| ours == "*" || ours.eq_ignore_ascii_case(theirs);
                (part(mime_type, t) && part(subtype, s))
                    || (s == "*" && mime_type.eq_ignore_ascii_case(t))
            })
        };
        let lists: [&[&str]; 5] = [
            &["application/sdp"],
            &["application/*"],
            &["*/*", "text/plain"],
            &["application", "text/html"],
            &[],
        ];
        let types = [
            "application/sdp",
            "Application/SDP",
            "application/sdp;charset=utf-8",
            "text/plain",
            "text/html ; level=1",
            "application/pidf+xml",
            "image/png",
        ];
        let mut checked = 0;
        for list in lists {
            let mut config = UaConfig::new("bob", "192.0.2.2:5060");
            config.accept = list.iter().map(|a| a.to_string()).collect();
            let mut core = UaCore::new(config.clone());
            // Each type twice, in turn: the second answer comes from the memo when the first
            // was an acceptance, and a memo of one type says nothing of the next.
            for ct in types.iter().chain(&types).flat_map(|t| [t, t]) {
                let Ok(request) = MessageBuilder::request(&Method::Message, "sip:bob@192.0.2.2")
                    .header(H::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1")
                    .body(ct, "x")
                    .build()
                else {
                    continue;
                };
                let Some(Ok(parsed)) = request.typed::<ContentType<'_>>() else { continue };
                let want = old(&config.accept, parsed.mime_type(), parsed.subtype());
                assert_eq!(core.body_acceptable(&request), want, "{list:?} {ct}");
                checked += 1;
            }
        }
        assert_eq!(checked, 35 * 4);
    }

    // A tag is found in the map by the bytes of a received tag, inline or not.
    #[test]
    fn tags_are_found_by_their_bytes() {
        let mut map: FastMap<Tag, u32> = FastMap::with_hasher(hasher(7));
        let long = "a".repeat(40);
        for (i, t) in ["Ab3xYz09Qr", "", "x", long.as_str()].into_iter().enumerate() {
            let tag = Tag::new(t);
            assert_eq!(tag.as_str(), t);
            assert_eq!(tag.heap_bytes() > 0, t.len() > 24);
            // A clone is the same tag, inline or on the heap as the original.
            let copy = tag.clone();
            assert_eq!((copy.as_bytes(), copy.heap_bytes() > 0), (t.as_bytes(), t.len() > 24));
            assert!(copy == tag);
            map.insert(tag, i as u32);
        }
        for (i, t) in ["Ab3xYz09Qr", "", "x", long.as_str()].into_iter().enumerate() {
            assert_eq!(map.get(t.as_bytes()), Some(&(i as u32)));
        }
        assert_eq!(map.get(&b"Ab3xYz09Qs"[..]), None);
        assert_eq!(format!("{:?}", Tag::new("ab")), "\"ab\"");
    }

    #[test]
    fn cseq_values_are_what_format_writes() {
        for n in [0, 1, 9, 10, 314_159, 2_147_483_647, u32::MAX] {
            for m in [Method::Invite, Method::Register, Method::from_bytes(b"FOO-bar").unwrap()] {
                assert_eq!(&cseq_value(n, &m)[..], format!("{n} {m}").as_bytes());
            }
        }
    }

    #[test]
    fn a_plain_media_type_is_what_the_typed_parse_reads() {
        for value in [
            "application/sdp",
            "Application/SDP",
            "application/vnd.3gpp.ims+xml",
            "text/plain-x",
            "application / sdp",
            "application/sdp;charset=utf-8",
            "application/sdp ",
            "multipart/mixed;boundary=x",
            "application",
            "/sdp",
            "application/",
            "a/b/c",
            "*/*",
        ] {
            let Ok(request) = MessageBuilder::request(&Method::Invite, "sip:bob@192.0.2.2")
                .header(H::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1")
                .header(H::ContentType, value)
                .build()
            else {
                continue;
            };
            let typed = request.typed::<ContentType<'_>>();
            match plain_media_type(&request) {
                // Taken only from a value that parses, and read as the parse reads it.
                Some(pair) => {
                    let ct = typed.unwrap().unwrap();
                    let ct = (ct.mime_type().as_bytes(), ct.subtype().as_bytes());
                    assert_eq!(pair, ct, "{value}");
                }
                None => {
                    assert!(value.contains([' ', ';']) || !matches!(typed, Some(Ok(_))), "{value}")
                }
            }
        }
    }

    #[test]
    fn the_address_memo_says_what_the_typed_parses_say() {
        let forms = [
            "<sip:bob@192.0.2.2>",
            "Bob <sip:bob@192.0.2.2;transport=tcp>",
            "sip:bob@192.0.2.2",
            "<sip:bob@192.0.2.2",
            "<sip:bob@>",
            "<sip:a@b>;",
            "\"Bob <sip:b@c>",
        ];
        for to in forms {
            for base in forms {
                for tag in ["Ab3xYz09Qr", "k2", ""] {
                    let from =
                        if tag.is_empty() { base.to_string() } else { format!("{base};tag={tag}") };
                    let Some(request) = invite_with(to, &from) else { continue };
                    let parses = matches!(request.typed::<sip_message::To<'_>>(), Some(Ok(_)))
                        && matches!(request.typed::<sip_message::From<'_>>(), Some(Ok(_)));
                    let mut memo = AddrMemo::default();
                    let first = memo.check(&request, tag.as_bytes());
                    // The same answer from the lines themselves (one To, one From here).
                    if let (Some(t), Some(f)) = (request.to_header(), request.from_header()) {
                        let mut fresh = AddrMemo::default();
                        let lines = fresh.check_lines(&request, t, f, tag.as_bytes());
                        assert_eq!(lines, first, "{to} / {from}");
                    }
                    // Checked only when both parse (an empty tag is never checked) ...
                    assert!(!first || parses, "{to} / {from}");
                    assert_eq!(first, parses && !tag.is_empty(), "{to} / {from}");
                    // ... and the memo answers alike for the same base with another tag.
                    if let Some(again) = invite_with(to, &format!("{base};tag=Zz9")) {
                        let parses_again =
                            matches!(again.typed::<sip_message::From<'_>>(), Some(Ok(_)))
                                && matches!(again.typed::<sip_message::To<'_>>(), Some(Ok(_)));
                        assert_eq!(memo.check(&again, b"Zz9"), parses_again, "{to} / {base}");
                    }
                }
            }
        }
        // A second To or From line (after or before the first) is never checked.
        let tag = "Ab3xYz09Qr";
        let from = format!("<sip:alice@192.0.2.1>;tag={tag}");
        for (extra, first) in [(H::To, true), (H::From, true), (H::To, false), (H::From, false)] {
            let mut b = MessageBuilder::request(&Method::Invite, "sip:bob@192.0.2.2")
                .header(H::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
            if !first {
                b = b.header(extra, if extra == H::To { "<sip:x@y>" } else { from.as_str() });
            }
            b = b.header(H::To, "<sip:bob@192.0.2.2>").header(H::From, &from);
            if first {
                b = b.header(extra, if extra == H::To { "<sip:x@y>" } else { from.as_str() });
            }
            let request = b.header(H::CallId, "c1").header(H::CSeq, "1 INVITE").build().unwrap();
            assert!(!AddrMemo::default().check(&request, tag.as_bytes()), "{extra:?} {first}");
        }
    }

    #[test]
    fn the_resolve_cache_holds_ip_literals_only_and_agrees_with_resolve() {
        let mut hosts = HashMap::new();
        let mut cache = ResolveCache::default();
        let ip = "sip:bob@192.0.2.2:5062;transport=tcp";
        let direct = resolve_in(&hosts, ip).unwrap().0;
        assert_eq!(resolve_cached(&hosts, &mut cache, ip).unwrap(), direct);
        assert_eq!(cache.get(ip), Some(direct));
        // A name depends on the hosts table, so it is never remembered.
        let name = "sip:bob@biloxi.example.com";
        assert!(resolve_cached(&hosts, &mut cache, name).is_err());
        let a = Target::udp("192.0.2.7:5060".parse().unwrap());
        hosts.insert("biloxi.example.com".to_string(), a);
        assert_eq!(resolve_cached(&hosts, &mut cache, name).unwrap(), a);
        assert_eq!(cache.get(name), None);
        let b = Target::udp("192.0.2.8:5060".parse().unwrap());
        hosts.insert("biloxi.example.com".to_string(), b);
        assert_eq!(resolve_cached(&hosts, &mut cache, name).unwrap(), b);
        // Bad URIs are errors every time.
        assert!(matches!(resolve_cached(&hosts, &mut cache, "nope"), Err(UaError::BadUri(_))));
        // The cache is bounded: the oldest entries make way.
        for i in 0..10 {
            let uri = format!("sip:192.0.2.{i}");
            let t = resolve_cached(&hosts, &mut cache, &uri).unwrap();
            assert_eq!(t, resolve_in(&hosts, &uri).unwrap().0);
            assert_eq!(cache.get(&uri), Some(t));
        }
        assert_eq!(cache.entries.len(), RESOLVE_CACHE);
    }
}
