//! `MessageBuilder::build` indexes the message as it writes it instead of parsing the bytes it
//! wrote. These tests hold it to the parser: for many builder inputs, the built message equals
//! `Message::parse_with(bytes)` in every accessor, and a build that fails gives exactly the
//! error parsing the same bytes gives (the builder's bytes are rebuilt here the way the
//! builder writes them, RFC 3261 §7).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sip_message::{
    BuildError, HeaderName as H, Limits, Message, MessageBuilder, Method, ParseError,
    ParseErrorKind, canonical_reason,
};

/// Every accessor of two messages agrees, and so do edits applied to both.
fn assert_same(built: &Message, parsed: &Message) {
    assert_eq!(built.is_request(), parsed.is_request());
    assert_eq!(built.method(), parsed.method());
    assert_eq!(built.request_uri_str(), parsed.request_uri_str());
    assert_eq!(built.status(), parsed.status());
    assert_eq!(built.reason(), parsed.reason());
    assert_eq!(built.header_count(), parsed.header_count());
    assert_eq!(built.lines().collect::<Vec<_>>(), parsed.lines().collect::<Vec<_>>());
    assert_eq!(built.via_branch(), parsed.via_branch());
    assert_eq!(built.via_branch_bytes(), parsed.via_branch_bytes());
    assert_eq!(built.from_tag_bytes(), parsed.from_tag_bytes());
    assert_eq!(built.to_tag_bytes(), parsed.to_tag_bytes());
    assert_eq!(built.call_id_bytes(), parsed.call_id_bytes());
    assert_eq!(built.cseq_number(), parsed.cseq_number());
    assert_eq!(built.cseq_method(), parsed.cseq_method());
    assert_eq!(built.max_forwards(), parsed.max_forwards());
    assert_eq!(built.content_length(), parsed.content_length());
    assert_eq!(built.top_via(), parsed.top_via());
    assert_eq!(built.from_header(), parsed.from_header());
    assert_eq!(built.to_header(), parsed.to_header());
    assert_eq!(built.body(), parsed.body());
    assert_eq!(built.body_bytes(), parsed.body_bytes());
    assert_eq!(built.buffer(), parsed.buffer());
    assert_eq!(built.to_bytes(), parsed.to_bytes());
    assert_eq!(format!("{built:?}"), format!("{parsed:?}"));
    assert_eq!(built, parsed);
    // The slots of each line (name as written, value, line end) drive serialisation after
    // an edit: edited copies must serialise alike too.
    let (mut a, mut b) = (built.clone(), parsed.clone());
    a.push_front(H::Via, "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKedit").unwrap();
    b.push_front(H::Via, "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKedit").unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(a.via_branch(), b.via_branch());
    let (mut a, mut b) = (built.clone(), parsed.clone());
    assert_eq!(a.pop_front(H::Via), b.pop_front(H::Via));
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(a.to_tag(), b.to_tag());
}

/// How a builder starts.
#[derive(Clone, Debug)]
enum Start {
    Request(Method, String),
    Response(u16, Option<String>),
    /// A response to this request (parsed with bare LF allowed), with an optional To tag.
    ResponseTo(String, u16, Option<String>),
}

/// One builder call after the start.
#[derive(Clone, Debug)]
enum Op {
    Header(H, String),
    Named(String, String),
    Body(String, Vec<u8>),
}

/// The bytes the builder writes for these calls (the old builder wrote them and then parsed
/// them), or `None` when a call is refused before anything is parsed.
fn reference_bytes(start: &Start, ops: &[Op]) -> Option<Bytes> {
    let mut out = Vec::new();
    let mut pending_to = None;
    match start {
        Start::Request(method, uri) => {
            out.extend_from_slice(method.as_bytes());
            out.push(b' ');
            out.extend_from_slice(uri.as_bytes());
            out.extend_from_slice(b" SIP/2.0\r\n");
        }
        Start::Response(code, reason) => {
            let reason = reason.as_deref().unwrap_or(canonical_reason(*code));
            out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
        }
        Start::ResponseTo(request, code, tag) => {
            let request = parse_request(request)?;
            out.extend_from_slice(
                format!("SIP/2.0 {code} {}\r\n", canonical_reason(*code)).as_bytes(),
            );
            for line in request.lines() {
                let copy = matches!(line.name, H::Via | H::From | H::CallId | H::CSeq)
                    || (line.name == H::Timestamp && *code == 100);
                if copy {
                    out.extend_from_slice(line.name.as_str().as_bytes());
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(line.value);
                    out.extend_from_slice(b"\r\n");
                }
            }
            pending_to = request.header_bytes(H::To).map(|to| {
                let mut to = to.to_vec();
                if let (Some(tag), None) = (tag, request.to_tag()) {
                    to.extend_from_slice(b";tag=");
                    to.extend_from_slice(tag.as_bytes());
                }
                to
            });
        }
    }
    let mut body = Vec::new();
    let flush = |out: &mut Vec<u8>, pending_to: &mut Option<Vec<u8>>| {
        if let Some(to) = pending_to.take() {
            out.extend_from_slice(b"To: ");
            out.extend_from_slice(&to);
            out.extend_from_slice(b"\r\n");
        }
    };
    for op in ops {
        let (name, value): (&str, &[u8]) = match op {
            Op::Header(n, v) => (n.as_str(), v.as_bytes()),
            Op::Named(n, v) => (n, v.as_bytes()),
            Op::Body(ct, b) => {
                body.clone_from(b);
                ("Content-Type", ct.as_bytes())
            }
        };
        if H::from_bytes(name.as_bytes()) != H::ContentLength {
            flush(&mut out, &mut pending_to);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
    }
    flush(&mut out, &mut pending_to);
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    Some(Bytes::from(out))
}

fn parse_request(text: &str) -> Option<Message> {
    Message::parse_with(
        Bytes::copy_from_slice(text.as_bytes()),
        &Limits::default().allow_bare_lf(true),
    )
    .ok()
    .filter(Message::is_request)
}

fn run(start: &Start, ops: &[Op], limits: Option<Limits>) -> Result<Message, BuildError> {
    let mut b = match start {
        Start::Request(m, uri) => MessageBuilder::request(m, uri),
        Start::Response(code, reason) => MessageBuilder::response(*code, reason.as_deref()),
        Start::ResponseTo(request, code, tag) => {
            let request = parse_request(request).unwrap();
            let b = MessageBuilder::response_to(&request, *code, None);
            match tag {
                Some(tag) => b.to_tag(tag),
                None => b,
            }
        }
    };
    for op in ops {
        b = match op {
            Op::Header(n, v) => b.header(*n, v),
            Op::Named(n, v) => b.header_named(n, v),
            Op::Body(ct, body) => b.body(ct, body.clone()),
        };
    }
    if let Some(limits) = limits {
        b = b.limits(limits);
    }
    b.build()
}

/// Builds, and checks the result against parsing the reference bytes.
fn check(start: &Start, ops: &[Op], limits: Option<Limits>) {
    let built = run(start, ops, limits);
    let bytes = reference_bytes(start, ops);
    match (built, bytes) {
        // Refused before the bytes were parsed: not a parse question.
        (Err(e), _) if !matches!(e, BuildError::Parse(_)) => {}
        (built, Some(bytes)) => {
            let parsed = Message::parse_with(bytes.clone(), &limits.unwrap_or_default());
            match (built, parsed) {
                (Ok(built), Ok(parsed)) => {
                    assert_eq!(built.to_bytes(), bytes);
                    assert_same(&built, &parsed);
                }
                (Err(BuildError::Parse(e)), Err(p)) => assert_eq!(e, p),
                (built, parsed) => panic!("built {built:?}, parsed {parsed:?}"),
            }
        }
        (built, None) => panic!("no reference for {built:?}"),
    }
}

const REQUESTS: &[&str] = &[
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
     Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
     Via: SIP/2.0/TCP relay.example.com;branch=z9hG4bKr1, SIP/2.0/UDP b;branch=z9hG4bKb\r\n\
     Max-Forwards: 70\r\n\
     To: Bob <sip:bob@biloxi.example.com>\r\n\
     From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
     Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
     CSeq: 314159 INVITE\r\n\
     Timestamp: 54\r\n\
     Content-Length: 0\r\n\r\n",
    // Compact names, folded values, odd spacing, a To that already has a tag.
    "OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n\
     v: SIP/2.0/UDP pc33.example.com\r\n  ;branch=z9hG4bKhjhs8ass877\r\n\
     t:\t<sip:carol@chicago.example.com> ;tag=abc \r\n\
     f: \"A, B\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
     i: a84b4c76e66710\r\n\
     CSeq: 63104\r\n\tOPTIONS\r\n\
     l: 0\r\n\r\n",
    // A bare-LF fold: accepted here, refused by a builder with default limits.
    "BYE sip:x@y SIP/2.0\r\n\
     Via: SIP/2.0/UDP h;branch=z9hG4bKz\r\n\
     From: <sip:a@b>;tag=1\r\n\
     To: <sip:c@d>\n ;tag=2\r\n\
     Call-ID: q\r\n\
     CSeq: 2 BYE\r\n\r\n",
    // Malformed keys: a bad branch, a bad Call-ID, a CSeq out of range, no To.
    "MESSAGE sip:x@y SIP/2.0\r\n\
     Via: SIP/2.0/UDP h;branch=z9hG4bK/bad\r\n\
     From: sip:a@b;tag=x y\r\n\
     Call-ID: a b\r\n\
     CSeq: 2147483648 MESSAGE\r\n\r\n",
    // Key headers twice, the first Call-ID malformed (the first well-formed one counts), the
    // first From without a tag and the first CSeq malformed (the first line counts).
    "INFO sip:x@y SIP/2.0\r\n\
     Call-ID: bad id\r\n\
     From: <sip:a@b>\r\n\
     Via: SIP/2.0/UDP h;rport;branch=z9hG4bK1\r\n\
     CSeq: x INFO\r\n\
     Call-ID: good@id\r\n\
     From: <sip:c@d>;tag=2\r\n\
     To: <sip:x@y>;tag\r\n\
     Via: SIP/2.0/UDP g;branch=z9hG4bK2\r\n\
     CSeq: 3 INFO\r\n\r\n",
];

fn name() -> impl Strategy<Value = H> {
    prop::sample::select(vec![
        H::Via,
        H::From,
        H::To,
        H::CallId,
        H::CSeq,
        H::MaxForwards,
        H::ContentLength,
        H::Contact,
        H::Route,
        H::Subject,
        H::Other,
    ])
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("SIP/2.0/UDP a.example.com;branch=z9hG4bKabc;rport".to_owned()),
        Just("SIP/2.0/UDP a ; BRANCH = z9hG4bKx , SIP/2.0/UDP b;branch=z9hG4bKy".to_owned()),
        Just("\"Al;tag=no\" <sip:al@x;tag=no> ;tag=yes".to_owned()),
        Just("sip:a@b;tag=".to_owned()),
        Just("  a84b4c76e66710@host  ".to_owned()),
        Just("call id with spaces".to_owned()),
        Just("\t7 INVITE\t".to_owned()),
        Just("7INVITE".to_owned()),
        Just("70".to_owned()),
        Just("256".to_owned()),
        Just("0070".to_owned()),
        Just("".to_owned()),
        Just("   ".to_owned()),
        Just("12".to_owned()),
        Just("x\0y".to_owned()),
        Just("a\r\n b".to_owned()),
        "[ -~\t]{0,60}",
        "[ -~\u{80}-\u{10ff}]{0,20}",
    ]
}

fn named() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "X-Custom",
        "v",
        "VIA",
        "l",
        "content-length",
        "t",
        "f",
        "i",
        "CSEQ",
        "max-forwards",
        "Bad Name",
        "",
    ])
    .prop_map(str::to_owned)
}

fn start() -> impl Strategy<Value = Start> {
    let method = prop::sample::select(vec![
        Method::Invite,
        Method::Ack,
        Method::Bye,
        Method::Register,
        Method::from_bytes(b"FOO").unwrap(),
        Method::Extension(Bytes::from_static(b"SIP/2.0")),
        Method::Extension(Bytes::from_static(b"A B")),
    ]);
    let uri = prop::sample::select(vec![
        "sip:bob@biloxi.example.com",
        "sips:a@b:5061;transport=tcp",
        "tel:+1-201-555-0123",
        "nocolon",
        "sip:",
        "<sip:a@b>",
        "1sip:a",
        "",
        "sip:a b",
    ]);
    let reason =
        prop::option::of(prop::sample::select(vec!["OK", "", "Tab\there", "Ünïcode", "bad\x01"]));
    prop_oneof![
        (method, uri).prop_map(|(m, u)| Start::Request(m, u.to_owned())),
        (prop_oneof![100u16..700, Just(99), Just(700)], reason)
            .prop_map(|(c, r)| Start::Response(c, r.map(str::to_owned))),
        (
            prop::sample::select(REQUESTS.to_vec()),
            prop_oneof![Just(100u16), Just(180), Just(200), Just(486)],
            prop::option::of(prop::sample::select(vec!["a6c85cf", "bad tag"])),
        )
            .prop_map(|(r, c, t)| Start::ResponseTo(r.to_owned(), c, t.map(str::to_owned))),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            6 => (name(), value()).prop_map(|(n, v)| Op::Header(n, v)),
            2 => (named(), value()).prop_map(|(n, v)| Op::Named(n, v)),
            1 => ("[a-z]{1,8}/[a-z]{1,8}", prop::collection::vec(any::<u8>(), 0..100))
                .prop_map(|(ct, b)| Op::Body(ct, b)),
        ],
        0..24,
    )
}

fn limits() -> impl Strategy<Value = Option<Limits>> {
    prop::option::of((1usize..30, 10usize..120, 60usize..1500, any::<bool>()).prop_map(
        |(h, l, m, lf)| {
            Limits::default()
                .max_headers(h)
                .max_line_length(l)
                .max_message_size(m)
                .allow_bare_lf(lf)
        },
    ))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn build_equals_parse_of_the_same_bytes(start in start(), ops in ops(), limits in limits()) {
        check(&start, &ops, limits);
    }
}

#[test]
fn responses_to_every_request_equal_their_parse() {
    for request in REQUESTS {
        for code in [100, 180, 200, 404] {
            for tag in [None, Some("a6c85cf".to_owned())] {
                let start = Start::ResponseTo((*request).to_owned(), code, tag);
                check(&start, &[], None);
                check(&start, &[Op::Header(H::Contact, "<sip:b@c>".to_owned())], None);
                let lf = Limits::default().allow_bare_lf(true);
                check(
                    &start,
                    &[Op::Body("application/sdp".to_owned(), b"v=0\r\n".to_vec())],
                    Some(lf),
                );
            }
        }
    }
}

/// The keys a response carries over from its request are those of the request's lines after
/// edits too: the built response equals the parse of its bytes.
#[test]
fn responses_to_edited_requests_equal_their_parse() {
    for request in REQUESTS {
        let Some(request) = parse_request(request) else { continue };
        let mut edits: Vec<Message> = Vec::new();
        let mut m = request.clone();
        m.push_front(H::Via, "SIP/2.0/UDP p.example.com;branch=z9hG4bKp").unwrap();
        edits.push(m.clone());
        m.set(H::From, " <sip:e@f>;tag=edited ").unwrap();
        edits.push(m.clone());
        m.set(H::CallId, "edited@id").unwrap();
        m.set(H::CSeq, "9 INFO").unwrap();
        edits.push(m.clone());
        let mut m = request.clone();
        m.pop_front(H::Via);
        m.remove_all(H::CallId);
        edits.push(m);
        for edited in &edits {
            for tag in [None, Some("t1")] {
                let mut b = MessageBuilder::response_to(edited, 200, None);
                if let Some(tag) = tag {
                    b = b.to_tag(tag);
                }
                let lf = Limits::default().allow_bare_lf(true);
                let Ok(built) = b.limits(lf).build() else { continue };
                let parsed = Message::parse_with(built.buffer().clone(), &lf).unwrap();
                assert_same(&built, &parsed);
            }
        }
    }
}

#[test]
fn limit_errors_are_the_parsers() {
    let start = Start::Request(Method::Invite, "sip:bob@biloxi.example.com".to_owned());
    let ops: Vec<Op> = (0..10).map(|i| Op::Header(H::Subject, format!("subject {i}"))).collect();
    let fail = |limits: Limits| match run(&start, &ops, Some(limits)) {
        Err(BuildError::Parse(e)) => e,
        other => panic!("{other:?}"),
    };
    // Ten Subject lines and Content-Length: the eleventh line is one too many for ten.
    let e = fail(Limits::default().max_headers(10));
    assert_eq!(e.kind(), ParseErrorKind::TooManyHeaders);
    assert!(run(&start, &ops, Some(Limits::default().max_headers(11))).is_ok());
    assert_eq!(fail(Limits::default().max_line_length(19)).kind(), ParseErrorKind::LineTooLong);
    // The start line is checked before the header lines.
    assert_eq!(
        fail(Limits::default().max_line_length(10)),
        ParseError::new(ParseErrorKind::LineTooLong, 0)
    );
    assert_eq!(
        fail(Limits::default().max_message_size(50).max_headers(1)),
        ParseError::new(ParseErrorKind::MessageTooLarge, 50)
    );
    let bad_uri = Start::Request(Method::Invite, "nocolon".to_owned());
    match run(&bad_uri, &[], None) {
        Err(BuildError::Parse(e)) => assert_eq!(e, ParseError::new(ParseErrorKind::RequestUri, 14)),
        other => panic!("{other:?}"),
    }
    for limits in
        [None, Some(Limits::default().max_headers(3)), Some(Limits::default().max_line_length(30))]
    {
        check(&start, &ops, limits);
    }
}

#[test]
fn a_built_message_is_written_back_verbatim() {
    let m = MessageBuilder::request(&Method::Invite, "sip:b@c")
        .header(H::Via, "SIP/2.0/UDP h;branch=z9hG4bKa")
        .header_named("X-A", "1")
        .body("text/plain", "hi")
        .build()
        .unwrap();
    let mut out = BytesMut::new();
    m.write_to(&mut out);
    assert_eq!(out.freeze(), m.buffer().clone());
    assert_eq!(m.to_bytes(), m.buffer().clone());
}

/// `to_tag` adds one tag, right after the copied lines; a second call adds nothing, a call
/// after another header (or on a builder not made by `response_to`) is refused.
#[test]
fn to_tag_adds_one_tag_right_after_the_copied_lines() {
    let request = parse_request(REQUESTS[0]).unwrap();
    let built = MessageBuilder::response_to(&request, 180, None)
        .to_tag("t1")
        .to_tag("t2")
        .header(H::Contact, "<sip:b@c>")
        .build()
        .unwrap();
    assert_eq!(built.to_tag(), Some("t1"));
    assert_eq!(built.to_header(), Some(&b"Bob <sip:bob@biloxi.example.com>;tag=t1"[..]));
    let parsed = Message::parse(built.buffer().clone()).unwrap();
    assert_same(&built, &parsed);
    let names: Vec<H> = built.lines().map(|l| l.name).collect();
    assert_eq!(names.iter().position(|&n| n == H::To), Some(names.len() - 3));

    let late = MessageBuilder::response_to(&request, 180, None)
        .header(H::Contact, "<sip:b@c>")
        .to_tag("t1")
        .build();
    assert_eq!(late.unwrap_err(), BuildError::ToTagTooLate);
    let not_a_response = MessageBuilder::request(&Method::Invite, "sip:a@b").to_tag("t").build();
    assert_eq!(not_a_response.unwrap_err(), BuildError::ToTagTooLate);
    let bad = MessageBuilder::response_to(&request, 180, None).to_tag("a b").build();
    assert_eq!(bad.unwrap_err(), BuildError::BadValue(H::To));

    // A To that already has a tag keeps it.
    let tagged = parse_request(REQUESTS[1]).unwrap();
    let built = MessageBuilder::response_to(&tagged, 200, None).to_tag("t1").build().unwrap();
    assert_eq!(built.to_tag(), Some("abc"));
}
