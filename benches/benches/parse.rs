//! Side-by-side SIP parser benchmarks.
//!
//! Every parser gets the same bytes: the five messages in `benches/data/`, byte-exact with CRLF
//! line ends. For each message and parser there are two benchmarks:
//!
//! * `parse/<message>/<parser>`: turn the wire bytes into the parser's message type, nothing
//!   more.
//! * `parse_keys/<message>/<parser>`: the same parse, then read what a transaction/dialog layer
//!   needs from every message: the top `Via` branch, the `From` and `To` tags, the `Call-ID`,
//!   and the `CSeq` number and method.
//!
//! Plus `serialize/invite_sdp/<parser>` (write the parsed INVITE back to bytes into a reused
//! buffer) and `floor/invite_sdp/memchr-lines` (count the `\n` in the INVITE: a lower bound no
//! parser that looks at every line can beat).
//!
//! Before anything is measured, every parser is run once on every message and its result is
//! checked against the expected values below (request/response, body length, the five keys). A
//! parser that fails a check is reported on stderr and its benchmark is *not* registered, so an
//! error path can never be timed by accident. Our own parser must pass every check.
//!
//! Run with `cargo bench -p sip-benches --bench parse`; see `benches/README.md`.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/// One message of the corpus, with what a correct parse of it must yield.
struct Sample {
    name: &'static str,
    wire: &'static [u8],
    request: bool,
    body_len: usize,
    via_branch: &'static str,
    from_tag: &'static str,
    to_tag: Option<&'static str>,
    call_id: &'static str,
    cseq: u32,
    method: &'static str,
}

const SAMPLES: &[Sample] = &[
    Sample {
        name: "invite_sdp",
        wire: include_bytes!("../data/invite_sdp.sip"),
        request: true,
        body_len: 280,
        via_branch: "z9hG4bK74bf9a1c2e3d8f",
        from_tag: "9fxced76sl",
        to_tag: None,
        call_id: "3848276298220188511@192.0.2.101",
        cseq: 1,
        method: "INVITE",
    },
    Sample {
        name: "ok200_sdp",
        wire: include_bytes!("../data/ok200_sdp.sip"),
        request: false,
        body_len: 217,
        via_branch: "z9hG4bK74bf9a1c2e3d8f",
        from_tag: "9fxced76sl",
        to_tag: Some("8321234356"),
        call_id: "3848276298220188511@192.0.2.101",
        cseq: 1,
        method: "INVITE",
    },
    Sample {
        name: "ringing180",
        wire: include_bytes!("../data/ringing180.sip"),
        request: false,
        body_len: 0,
        via_branch: "z9hG4bK74bf9a1c2e3d8f",
        from_tag: "9fxced76sl",
        to_tag: Some("8321234356"),
        call_id: "3848276298220188511@192.0.2.101",
        cseq: 1,
        method: "INVITE",
    },
    Sample {
        name: "register",
        wire: include_bytes!("../data/register.sip"),
        request: true,
        body_len: 0,
        via_branch: "z9hG4bKnashds7",
        from_tag: "456248",
        to_tag: None,
        call_id: "843817637684230@998sdasdh09",
        cseq: 1826,
        method: "REGISTER",
    },
    Sample {
        name: "options_compact",
        wire: include_bytes!("../data/options_compact.sip"),
        request: true,
        body_len: 0,
        via_branch: "z9hG4bKhjhs8ass877",
        from_tag: "1928301774",
        to_tag: None,
        call_id: "a84b4c76e66710@192.0.2.101",
        cseq: 63104,
        method: "OPTIONS",
    },
];

/// The message whose serialisation is measured.
const SERIALIZE_SAMPLE: &str = "invite_sdp";

/// The wire bytes as a received datagram would hold them: one heap allocation, already shared,
/// so that cloning the handle per iteration is a reference-count bump (not the static-slice
/// no-op a `Bytes::from_static` clone would be).
fn received(wire: &[u8]) -> Bytes {
    let bytes = Bytes::from(wire.to_vec());
    // The first clone of a `Vec`-backed `Bytes` promotes it to the shared representation;
    // do that here, outside any timed code.
    drop(bytes.clone());
    bytes
}

// ---------------------------------------------------------------------------------------------
// What is read from a parsed message
// ---------------------------------------------------------------------------------------------

/// Receives the keys a parser read from a message.
///
/// The benchmarks pass [`BlackBoxSink`], which only hides each value from the optimiser; the
/// start-up check passes [`Recorder`], which keeps copies to compare with the [`Sample`].
trait KeySink {
    fn put_via_branch(&mut self, value: Option<&[u8]>);
    fn put_from_tag(&mut self, value: Option<&[u8]>);
    fn put_to_tag(&mut self, value: Option<&[u8]>);
    fn put_call_id(&mut self, value: &[u8]);
    fn put_cseq<M: Display>(&mut self, number: u32, method: &M);
}

struct BlackBoxSink;

impl KeySink for BlackBoxSink {
    #[inline]
    fn put_via_branch(&mut self, value: Option<&[u8]>) {
        black_box(value);
    }
    #[inline]
    fn put_from_tag(&mut self, value: Option<&[u8]>) {
        black_box(value);
    }
    #[inline]
    fn put_to_tag(&mut self, value: Option<&[u8]>) {
        black_box(value);
    }
    #[inline]
    fn put_call_id(&mut self, value: &[u8]) {
        black_box(value);
    }
    #[inline]
    fn put_cseq<M: Display>(&mut self, number: u32, method: &M) {
        black_box(number);
        black_box(method);
    }
}

#[derive(Default, Debug, PartialEq)]
struct Recorder {
    via_branch: Option<String>,
    from_tag: Option<String>,
    to_tag: Option<String>,
    call_id: String,
    cseq: u32,
    method: String,
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

impl KeySink for Recorder {
    fn put_via_branch(&mut self, value: Option<&[u8]>) {
        self.via_branch = value.map(text);
    }
    fn put_from_tag(&mut self, value: Option<&[u8]>) {
        self.from_tag = value.map(text);
    }
    fn put_to_tag(&mut self, value: Option<&[u8]>) {
        self.to_tag = value.map(text);
    }
    fn put_call_id(&mut self, value: &[u8]) {
        self.call_id = text(value);
    }
    fn put_cseq<M: Display>(&mut self, number: u32, method: &M) {
        self.cseq = number;
        self.method = method.to_string();
    }
}

impl Recorder {
    fn expected(sample: &Sample) -> Self {
        Self {
            via_branch: Some(sample.via_branch.to_owned()),
            from_tag: Some(sample.from_tag.to_owned()),
            to_tag: sample.to_tag.map(str::to_owned),
            call_id: sample.call_id.to_owned(),
            cseq: sample.cseq,
            method: sample.method.to_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The parsers
// ---------------------------------------------------------------------------------------------

/// One parser under comparison, driven through its cheapest documented entry point.
trait Peer {
    /// The benchmark id within each group.
    const NAME: &'static str;
    type Msg;
    type Error: std::fmt::Debug;
    /// Reused output buffer for the serialisation benchmark.
    type Buf: Default;

    /// Parse one whole message. `wire` is the received buffer; parsers that take ownership of
    /// a `Bytes` get a clone of the handle (a reference-count bump), the others borrow it.
    fn parse(wire: &Bytes) -> Result<Self::Msg, Self::Error>;
    fn is_request(msg: &Self::Msg) -> bool;
    fn body_len(msg: &Self::Msg) -> usize;
    /// Read the top Via branch, the From and To tags, the Call-ID and the CSeq.
    fn read_keys<S: KeySink>(msg: &Self::Msg, sink: &mut S) -> Result<(), &'static str>;
    /// Clear `buf`, then write the whole message into it.
    fn serialize(msg: &Self::Msg, buf: &mut Self::Buf);
    fn serialized(buf: &Self::Buf) -> &[u8];
}

/// Ours: `Message::parse(Bytes)`, which also extracts the five keys while it parses (they are
/// read back from the message with the `via_branch()`/`from_tag()`/... accessors).
struct SipMessage;

impl Peer for SipMessage {
    const NAME: &'static str = "sip-message";
    type Msg = sip_message::Message;
    type Error = sip_message::ParseError;
    type Buf = BytesMut;

    #[inline]
    fn parse(wire: &Bytes) -> Result<Self::Msg, Self::Error> {
        sip_message::Message::parse(wire.clone())
    }
    fn is_request(msg: &Self::Msg) -> bool {
        msg.is_request()
    }
    fn body_len(msg: &Self::Msg) -> usize {
        msg.body().len()
    }
    #[inline]
    fn read_keys<S: KeySink>(msg: &Self::Msg, sink: &mut S) -> Result<(), &'static str> {
        sink.put_via_branch(msg.via_branch().map(str::as_bytes));
        sink.put_from_tag(msg.from_tag().map(str::as_bytes));
        sink.put_to_tag(msg.to_tag().map(str::as_bytes));
        sink.put_call_id(msg.call_id().ok_or("no Call-ID")?.as_bytes());
        let number = msg.cseq_number().ok_or("no CSeq")?;
        sink.put_cseq(number, msg.cseq_method().ok_or("no CSeq")?);
        Ok(())
    }
    #[inline]
    fn serialize(msg: &Self::Msg, buf: &mut Self::Buf) {
        buf.clear();
        msg.write_to(buf);
    }
    fn serialized(buf: &Self::Buf) -> &[u8] {
        buf
    }
}

/// `sipx-sip`: `parse_datagram(Bytes, &Limits)`, the one-packet entry point (its stream and
/// frame entry points wrap a `StreamParser` that copies into a `BytesMut`). Typed headers are
/// decoded on demand with `Headers::typed::<H>()`; the Call-ID is read with
/// `Headers::value(&HeaderName::CallId)`, which borrows (its typed `CallId` copies to a `Vec`).
struct Sipx;

impl Peer for Sipx {
    const NAME: &'static str = "sipx-sip";
    type Msg = sipx_sip::Message;
    type Error = sipx_sip::error::ParseError;
    type Buf = Vec<u8>;

    #[inline]
    fn parse(wire: &Bytes) -> Result<Self::Msg, Self::Error> {
        sipx_sip::parse_datagram(wire.clone(), &sipx_sip::Limits::datagram())
    }
    fn is_request(msg: &Self::Msg) -> bool {
        matches!(msg, sipx_sip::Message::Request(_))
    }
    fn body_len(msg: &Self::Msg) -> usize {
        msg.body().len()
    }
    #[inline]
    fn read_keys<S: KeySink>(msg: &Self::Msg, sink: &mut S) -> Result<(), &'static str> {
        use sipx_sip::headers::{CSeq, From, To, Via};
        let headers = msg.headers();
        let via = headers.typed::<Via>().ok_or("no Via")?.map_err(|_| "bad Via")?;
        sink.put_via_branch(via.branch());
        let from = headers.typed::<From>().ok_or("no From")?.map_err(|_| "bad From")?;
        sink.put_from_tag(from.tag());
        let to = headers.typed::<To>().ok_or("no To")?.map_err(|_| "bad To")?;
        sink.put_to_tag(to.tag());
        let call_id = headers.value(&sipx_sip::HeaderName::CallId).ok_or("no Call-ID")?;
        sink.put_call_id(&call_id);
        let cseq = headers.typed::<CSeq>().ok_or("no CSeq")?.map_err(|_| "bad CSeq")?;
        sink.put_cseq(cseq.sequence, &cseq.method);
        Ok(())
    }
    #[inline]
    fn serialize(msg: &Self::Msg, buf: &mut Self::Buf) {
        buf.clear();
        msg.write_to(buf);
    }
    fn serialized(buf: &Self::Buf) -> &[u8] {
        buf
    }
}

/// `rsip`: `SipMessage::try_from(&[u8])` (all its `TryFrom` impls tokenize a byte slice; the
/// slice one copies nothing up front). Keys through the `HeadersExt` accessors, then
/// `.typed()` for Via and CSeq and `.tag()` for From/To, as its docs show.
struct Rsip;

impl Peer for Rsip {
    const NAME: &'static str = "rsip";
    type Msg = rsip::SipMessage;
    type Error = rsip::Error;
    type Buf = String;

    #[inline]
    fn parse(wire: &Bytes) -> Result<Self::Msg, Self::Error> {
        rsip::SipMessage::try_from(&wire[..])
    }
    fn is_request(msg: &Self::Msg) -> bool {
        msg.is_request()
    }
    fn body_len(msg: &Self::Msg) -> usize {
        msg.body().len()
    }
    #[inline]
    fn read_keys<S: KeySink>(msg: &Self::Msg, sink: &mut S) -> Result<(), &'static str> {
        use rsip::prelude::*;
        let via = msg.via_header().map_err(|_| "no Via")?.typed().map_err(|_| "bad Via")?;
        sink.put_via_branch(via.branch().map(|b| b.value().as_bytes()));
        let from = msg.from_header().map_err(|_| "no From")?.tag().map_err(|_| "bad From")?;
        sink.put_from_tag(from.as_ref().map(|t| t.value().as_bytes()));
        let to = msg.to_header().map_err(|_| "no To")?.tag().map_err(|_| "bad To")?;
        sink.put_to_tag(to.as_ref().map(|t| t.value().as_bytes()));
        let call_id = msg.call_id_header().map_err(|_| "no Call-ID")?;
        sink.put_call_id(call_id.value().as_bytes());
        let cseq = msg.cseq_header().map_err(|_| "no CSeq")?.typed().map_err(|_| "bad CSeq")?;
        sink.put_cseq(cseq.seq, &cseq.method);
        Ok(())
    }
    #[inline]
    fn serialize(msg: &Self::Msg, buf: &mut Self::Buf) {
        buf.clear();
        write!(buf, "{msg}").expect("writing to a String cannot fail");
    }
    fn serialized(buf: &Self::Buf) -> &[u8] {
        buf.as_bytes()
    }
}

/// `ezk-sip-types` has no one-call message parser; its transport layer (`ezk-sip-core`,
/// `transport/parse.rs`) composes one from public parts, and this does the same: `PullParser`
/// splits the head into (unfolded) lines, `MessageLine::parse` reads the start line,
/// `Line::parse` + `Headers::insert` each header line (`insert` prints the value into a new
/// string), then `Content-Length` (typed) frames the body. Keys through its typed header API:
/// `get_named::<Via>()`, `get::<FromTo>(Name::FROM/TO)`, `get_named::<CallID>()`,
/// `get_named::<CSeq>()`. Serialised the way `ezk-sip-core`'s endpoint prints a message.
struct Ezk;

struct EzkMsg {
    line: ezk_sip_types::msg::MessageLine,
    headers: ezk_sip_types::Headers,
    body: Bytes,
}

impl Peer for Ezk {
    const NAME: &'static str = "ezk";
    type Msg = EzkMsg;
    type Error = &'static str;
    type Buf = BytesMut;

    #[inline]
    fn parse(wire: &Bytes) -> Result<Self::Msg, Self::Error> {
        use ezk_sip_types::Headers;
        use ezk_sip_types::header::typed::ContentLength;
        use ezk_sip_types::msg::{Line, MessageLine, PullParser};
        use ezk_sip_types::parse::Parse as _;

        let buffer = wire.clone();
        let mut parser = PullParser::new(&buffer, 0);
        let mut line = None;
        let mut headers = Headers::new();
        for item in &mut parser {
            let raw = item.map_err(|_| "incomplete head")?;
            let raw = std::str::from_utf8(raw).map_err(|_| "head line is not UTF-8")?;
            if line.is_none() {
                let (_, start) = MessageLine::parse(&buffer)(raw).map_err(|_| "bad start line")?;
                line = Some(start);
            } else {
                let (_, header) = Line::parse(&buffer, raw).map_err(|_| "bad header line")?;
                headers.insert(header.name, header.value);
            }
        }
        let head_end = parser.head_end();
        let body = match headers.get_named::<ContentLength>() {
            Ok(ContentLength(0)) => Bytes::new(),
            Ok(ContentLength(len)) if buffer.len() >= head_end + len => {
                buffer.slice(head_end..head_end + len)
            }
            Ok(_) => return Err("body shorter than Content-Length"),
            Err(_) => buffer.slice(head_end..),
        };
        Ok(EzkMsg { line: line.ok_or("no start line")?, headers, body })
    }
    fn is_request(msg: &Self::Msg) -> bool {
        msg.line.is_request()
    }
    fn body_len(msg: &Self::Msg) -> usize {
        msg.body.len()
    }
    #[inline]
    fn read_keys<S: KeySink>(msg: &Self::Msg, sink: &mut S) -> Result<(), &'static str> {
        use ezk_sip_types::Name;
        use ezk_sip_types::header::typed::{CSeq, CallID, FromTo, Via};
        let headers = &msg.headers;
        let via = headers.get_named::<Via>().map_err(|_| "no/bad Via")?;
        sink.put_via_branch(via.params.get_val("branch").map(|b| b.as_bytes()));
        let from = headers.get::<FromTo>(Name::FROM).map_err(|_| "no/bad From")?;
        sink.put_from_tag(from.tag.as_ref().map(|t| t.as_bytes()));
        let to = headers.get::<FromTo>(Name::TO).map_err(|_| "no/bad To")?;
        sink.put_to_tag(to.tag.as_ref().map(|t| t.as_bytes()));
        let call_id = headers.get_named::<CallID>().map_err(|_| "no/bad Call-ID")?;
        sink.put_call_id(call_id.0.as_bytes());
        let cseq = headers.get_named::<CSeq>().map_err(|_| "no/bad CSeq")?;
        sink.put_cseq(cseq.cseq, &cseq.method);
        Ok(())
    }
    #[inline]
    fn serialize(msg: &Self::Msg, buf: &mut Self::Buf) {
        use ezk_sip_types::print::{AppendCtx as _, PrintCtx};
        buf.clear();
        let ctx = PrintCtx { method: msg.line.request_method(), uri: None };
        write!(buf, "{}\r\n{}\r\n", msg.line.print_ctx(ctx), msg.headers)
            .expect("writing to a BytesMut cannot fail");
        buf.extend_from_slice(&msg.body);
    }
    fn serialized(buf: &Self::Buf) -> &[u8] {
        buf
    }
}

/// Something done once for each parser, in the order they appear in every group.
trait PeerVisitor {
    fn visit<P: Peer>(&mut self);
}

fn each_peer(visitor: &mut impl PeerVisitor) {
    visitor.visit::<SipMessage>();
    visitor.visit::<Sipx>();
    visitor.visit::<Rsip>();
    visitor.visit::<Ezk>();
}

// ---------------------------------------------------------------------------------------------
// The start-up check
// ---------------------------------------------------------------------------------------------

/// What the start-up check found for one parser on one message.
struct Verdict {
    /// The parse succeeded with the right kind of message and body length.
    parse: Result<(), String>,
    /// The keys read back match the sample exactly.
    keys: Result<(), String>,
}

fn check<P: Peer>(sample: &Sample, wire: &Bytes) -> Verdict {
    let msg = match P::parse(wire) {
        Ok(msg) => msg,
        Err(error) => {
            let why = format!("parse failed: {error:?}");
            return Verdict { parse: Err(why.clone()), keys: Err(why) };
        }
    };
    let parse = if P::is_request(&msg) != sample.request {
        Err(format!("parsed as request={}, expected {}", P::is_request(&msg), sample.request))
    } else if P::body_len(&msg) != sample.body_len {
        Err(format!("body is {} bytes, expected {}", P::body_len(&msg), sample.body_len))
    } else {
        Ok(())
    };
    let mut got = Recorder::default();
    let keys = match P::read_keys(&msg, &mut got) {
        Err(why) => Err(format!("reading keys failed: {why}")),
        Ok(()) if got != Recorder::expected(sample) => {
            Err(format!("keys differ: got {got:?}, expected {:?}", Recorder::expected(sample)))
        }
        Ok(()) => parse.clone(),
    };
    Verdict { parse, keys }
}

/// Runs the check for every parser on every message, prints one line per failure, and keeps the
/// verdicts so only passing benchmarks get registered.
struct Checker {
    verdicts: BTreeMap<(&'static str, &'static str), Verdict>,
}

impl PeerVisitor for Checker {
    fn visit<P: Peer>(&mut self) {
        for sample in SAMPLES {
            let verdict = check::<P>(sample, &received(sample.wire));
            for (case, result) in [("parse", &verdict.parse), ("parse_keys", &verdict.keys)] {
                if let Err(why) = result {
                    // Our own parser has no excuse: fail the run rather than skip it.
                    assert_ne!(P::NAME, SipMessage::NAME, "{case}/{}: {why}", sample.name);
                    eprintln!("SKIPPED {case}/{}/{}: {why}", sample.name, P::NAME);
                }
            }
            self.verdicts.insert((P::NAME, sample.name), verdict);
        }
        // Serialisation is informational: report whether the output reproduces the input.
        let sample = serialize_sample();
        if let Ok(msg) = P::parse(&received(sample.wire)) {
            let mut buf = P::Buf::default();
            P::serialize(&msg, &mut buf);
            let out = P::serialized(&buf);
            let exact = if out == sample.wire { "byte-exact" } else { "differs from input" };
            eprintln!(
                "note: serialize/{}/{}: {} bytes out of {}, {exact}",
                sample.name,
                P::NAME,
                out.len(),
                sample.wire.len()
            );
        }
    }
}

fn serialize_sample() -> &'static Sample {
    SAMPLES.iter().find(|s| s.name == SERIALIZE_SAMPLE).expect("the serialised sample exists")
}

// ---------------------------------------------------------------------------------------------
// The benchmarks
// ---------------------------------------------------------------------------------------------

/// Which benchmark a [`Registrar`] adds to its group.
#[derive(Clone, Copy)]
enum Case {
    Parse,
    ParseKeys,
    Serialize,
}

struct Registrar<'a, 'c> {
    group: &'a mut BenchmarkGroup<'c, WallTime>,
    case: Case,
    sample: &'static Sample,
    wire: Bytes,
    verdicts: &'a BTreeMap<(&'static str, &'static str), Verdict>,
}

impl PeerVisitor for Registrar<'_, '_> {
    fn visit<P: Peer>(&mut self) {
        let verdict = &self.verdicts[&(P::NAME, self.sample.name)];
        let wire = &self.wire;
        match self.case {
            Case::Parse if verdict.parse.is_ok() => {
                self.group.bench_function(P::NAME, |b| {
                    b.iter(|| black_box(P::parse(black_box(wire))));
                });
            }
            Case::ParseKeys if verdict.keys.is_ok() => {
                self.group.bench_function(P::NAME, |b| {
                    b.iter(|| {
                        let msg = P::parse(black_box(wire)).expect("checked at start-up");
                        let keys = P::read_keys(&msg, &mut BlackBoxSink);
                        black_box(keys).expect("checked at start-up");
                        msg
                    });
                });
            }
            Case::Serialize if verdict.parse.is_ok() => {
                let msg = P::parse(wire).expect("checked at start-up");
                let mut buf = P::Buf::default();
                self.group.bench_function(P::NAME, |b| {
                    b.iter(|| {
                        P::serialize(black_box(&msg), &mut buf);
                        black_box(P::serialized(&buf));
                    });
                });
            }
            Case::Parse | Case::ParseKeys | Case::Serialize => {}
        }
    }
}

fn benches(c: &mut Criterion) {
    let mut checker = Checker { verdicts: BTreeMap::new() };
    each_peer(&mut checker);
    let verdicts = checker.verdicts;

    for sample in SAMPLES {
        for (prefix, case) in [("parse", Case::Parse), ("parse_keys", Case::ParseKeys)] {
            let mut group = c.benchmark_group(format!("{prefix}/{}", sample.name));
            group.throughput(Throughput::Bytes(sample.wire.len() as u64));
            each_peer(&mut Registrar {
                group: &mut group,
                case,
                sample,
                wire: received(sample.wire),
                verdicts: &verdicts,
            });
            group.finish();
        }
    }

    let sample = serialize_sample();
    let mut group = c.benchmark_group(format!("serialize/{}", sample.name));
    group.throughput(Throughput::Bytes(sample.wire.len() as u64));
    each_peer(&mut Registrar {
        group: &mut group,
        case: Case::Serialize,
        sample,
        wire: received(sample.wire),
        verdicts: &verdicts,
    });
    // The allocating convenience form of ours, for comparison with `write_to` into a reused
    // buffer above.
    let msg = SipMessage::parse(&received(sample.wire)).expect("checked at start-up");
    group.bench_function("sip-message-to_bytes", |b| {
        b.iter(|| black_box(black_box(&msg).to_bytes()))
    });
    group.finish();

    let mut group = c.benchmark_group(format!("floor/{}", sample.name));
    group.throughput(Throughput::Bytes(sample.wire.len() as u64));
    let wire = received(sample.wire);
    group.bench_function("memchr-lines", |b| {
        b.iter(|| black_box(memchr::memchr_iter(b'\n', black_box(&wire[..])).count()));
    });
    group.finish();
}

criterion_group!(parse, benches);
criterion_main!(parse);
