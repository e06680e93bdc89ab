//! `MessageBuilder::headers` adds a `HeaderBlock` as `MessageBuilder::header` adds its lines
//! one by one: the same bytes, the same index and keys, the same errors.

use bytes::Bytes;
use proptest::prelude::*;
use sip_message::{
    BuildError, HeaderBlock, HeaderName as H, Limits, Message, MessageBuilder, Method,
};

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n";

/// How the builder starts: 0 a request, 1 a response to INVITE, 2 the same with a To tag
/// before the lines.
fn start(kind: u8) -> MessageBuilder {
    match kind {
        0 => MessageBuilder::request(&Method::Options, "sip:bob@biloxi.example.com"),
        _ => {
            let request = Message::parse(Bytes::from_static(INVITE.as_bytes())).unwrap();
            let b = MessageBuilder::response_to(&request, 200, None);
            if kind == 2 { b.to_tag("a6c85cf") } else { b }
        }
    }
}

fn name() -> impl Strategy<Value = H> {
    prop_oneof![
        Just(H::MaxForwards),
        Just(H::Contact),
        Just(H::Allow),
        Just(H::Supported),
        Just(H::UserAgent),
        Just(H::ContentLength),
        Just(H::Via),
        Just(H::To),
        Just(H::CallId),
        Just(H::CSeq),
        Just(H::Other),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("70".to_string()),
        Just("<sip:alice@192.0.2.1:5060>".to_string()),
        Just("INVITE, ACK, BYE".to_string()),
        Just("300".to_string()),
        Just(" 12 ".to_string()),
        Just("bad\r\nvalue".to_string()),
        Just(String::new()),
        "[ -~]{0,12}",
    ]
}

/// A build's result, comparable: the message with its accessors, or the error.
fn outcome(r: Result<Message, BuildError>) -> Result<(Bytes, String, Option<u8>), BuildError> {
    r.map(|m| (m.to_bytes(), format!("{m:?}"), m.max_forwards()))
}

fn assert_same(a: Result<Message, BuildError>, b: Result<Message, BuildError>) {
    if let (Ok(a), Ok(b)) = (&a, &b) {
        assert_eq!(a, b);
        assert_eq!(a.header_count(), b.header_count());
        assert_eq!(a.lines().collect::<Vec<_>>(), b.lines().collect::<Vec<_>>());
        assert_eq!(a.via_branch(), b.via_branch());
        assert_eq!(a.to_tag(), b.to_tag());
        assert_eq!(a.call_id(), b.call_id());
        assert_eq!(a.cseq_number(), b.cseq_number());
        assert_eq!(a.content_length(), b.content_length());
        // A reparse of the bytes gives the same message.
        let parsed = Message::parse_with(a.to_bytes(), &Limits::default()).unwrap();
        assert_eq!(format!("{parsed:?}"), format!("{a:?}"));
        assert_eq!(parsed.max_forwards(), a.max_forwards());
        // Edits use the line slots: they must agree too.
        let (mut a, mut b) = (a.clone(), b.clone());
        a.push_front(H::Via, "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKedit").unwrap();
        b.push_front(H::Via, "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKedit").unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    assert_eq!(outcome(a), outcome(b));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_block_is_its_lines_one_by_one(
        kind in 0u8..3,
        before in prop::collection::vec((name(), value()), 0..3),
        block in prop::collection::vec((name(), value()), 0..4),
        after in prop::collection::vec((name(), value()), 0..3),
        tag_after in any::<bool>(),
        limit in prop::option::of(0usize..12),
    ) {
        let lines: Vec<(H, &str)> = block.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let built_block = HeaderBlock::new(&lines);
        let mut one = start(kind);
        let mut two = start(kind);
        for (n, v) in &before {
            one = one.header(*n, v);
            two = two.header(*n, v);
        }
        one = one.headers(&built_block);
        for (n, v) in &block {
            two = two.header(*n, v);
        }
        if tag_after {
            one = one.to_tag("late");
            two = two.to_tag("late");
        }
        for (n, v) in &after {
            one = one.header(*n, v);
            two = two.header(*n, v);
        }
        if let Some(limit) = limit {
            let limits = Limits::default().max_headers(limit).max_line_length(20 + limit * 4);
            one = one.limits(limits);
            two = two.limits(limits);
        }
        assert_same(one.build(), two.build());
    }
}

#[test]
fn a_block_written_twice_is_two_copies() {
    let block = HeaderBlock::new(&[(H::MaxForwards, "69"), (H::Allow, "INVITE")]);
    assert_eq!(block.as_bytes(), b"Max-Forwards: 69\r\nAllow: INVITE\r\n");
    let m = MessageBuilder::request(&Method::Options, "sip:bob@biloxi.example.com")
        .header(H::MaxForwards, "70")
        .headers(&block)
        .headers(&block)
        .build()
        .unwrap();
    // The first Max-Forwards line gives the key (RFC 3261 §8.1.1.6).
    assert_eq!(m.max_forwards(), Some(70));
    assert_eq!(m.header_lines(H::Allow).count(), 2);
    let bad = HeaderBlock::new(&[(H::Allow, "a\r\nb")]);
    let e = MessageBuilder::request(&Method::Options, "sip:bob@biloxi.example.com")
        .headers(&bad)
        .build()
        .unwrap_err();
    assert_eq!(e, BuildError::BadValue(H::Allow));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `cseq` is `header(CSeq, "number method")`, for any number and method, before or after
    /// other CSeq lines and a pending To.
    #[test]
    fn cseq_is_the_header_it_writes(
        kind in 0u8..3,
        number in prop_oneof![0u32..1000, Just(0x7fff_ffff), Just(0x8000_0000), any::<u32>()],
        method in prop_oneof![
            Just(Method::Invite),
            Just(Method::Ack),
            Just(Method::Bye),
            Just(Method::Register),
            Just(Method::Publish),
            Just(Method::from_bytes(b"FOO-bar").unwrap()),
        ],
        before in prop::collection::vec((name(), value()), 0..3),
        after in prop::collection::vec((name(), value()), 0..3),
    ) {
        let mut one = start(kind);
        let mut two = start(kind);
        for (n, v) in &before {
            one = one.header(*n, v);
            two = two.header(*n, v);
        }
        one = one.cseq(number, &method);
        two = two.header(H::CSeq, format!("{number} {method}"));
        for (n, v) in &after {
            one = one.header(*n, v);
            two = two.header(*n, v);
        }
        assert_same(one.build(), two.build());
    }
}
