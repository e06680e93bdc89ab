//! Property tests: `parse(serialize(m)) == m` over generated messages and edits, and the
//! parser and framer never panic and agree with each other on arbitrary input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sip_message::{Frame, Framer, HeaderName, Limits, Message, MessageBuilder, Method};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,12}"
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Cancel),
        Just(Method::Register),
        Just(Method::Options),
        "[A-Z]{3,10}".prop_map(|s| Method::from_bytes(s.as_bytes()).unwrap()),
    ]
}

/// Header values: tokens, quoted strings with commas and escapes, name-addrs, folded text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        token(),
        (token(), token())
            .prop_map(|(a, b)| format!("\"{a}, \\\"{b}\" <sip:{a}@{b}.example.com;lr>;tag={b}")),
        (token(), 0u32..100_000).prop_map(|(a, n)| format!("{n} {a}")),
        prop::collection::vec(token(), 1..4).prop_map(|v| v.join(", ")),
        "[ -~]{0,40}".prop_map(|s| s.trim().to_owned()),
    ]
}

fn known_name() -> impl Strategy<Value = HeaderName> {
    prop::sample::select(
        HeaderName::ALL
            .iter()
            .copied()
            .filter(|n| *n != HeaderName::ContentLength)
            .collect::<Vec<_>>(),
    )
}

fn message() -> impl Strategy<Value = Message> {
    let start = prop_oneof![
        (method(), token(), token())
            .prop_map(|(m, u, h)| MessageBuilder::request(&m, &format!("sip:{u}@{h}"))),
        (100u16..700, "[ -~]{0,20}").prop_map(|(c, r)| MessageBuilder::response(c, Some(r.trim()))),
    ];
    let headers = prop::collection::vec(
        prop_oneof![
            (known_name(), value()).prop_map(|(n, v)| (n.as_str().to_owned(), v)),
            ("X-[A-Za-z]{1,8}", value()),
        ],
        0..20,
    );
    let body = prop::option::of(prop::collection::vec(any::<u8>(), 0..300));
    (start, headers, body).prop_map(|(mut b, headers, body)| {
        for (name, v) in headers {
            b = b.header_named(&name, v);
        }
        if let Some(body) = body {
            b = b.body("application/octet-stream", body);
        }
        b.build().expect("generated message builds")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_of_serialize_is_identity(m in message()) {
        let bytes = m.to_bytes();
        let again = Message::parse(bytes.clone()).unwrap();
        prop_assert_eq!(&again, &m);
        prop_assert_eq!(again.to_bytes(), bytes);
        prop_assert_eq!(again.via_branch(), m.via_branch());
        prop_assert_eq!(again.cseq_number(), m.cseq_number());
    }

    #[test]
    fn edits_round_trip(m in message(), via in token(), route in token()) {
        let mut m = m;
        m.push_front(HeaderName::Via, format!("SIP/2.0/UDP {via}.example.com;branch=z9hG4bK{via}")).unwrap();
        m.push_back(HeaderName::Route, format!("<sip:{route}.example.com;lr>, <sip:b.example.com;lr>")).unwrap();
        let popped = m.pop_front(HeaderName::Route);
        prop_assert!(popped.is_some());
        if m.is_request() {
            m.set_request_uri(format!("sip:{route}@example.com")).unwrap();
            let _ = m.decrement_max_forwards();
        }
        let branch = format!("z9hG4bK{via}");
        prop_assert_eq!(m.via_branch(), Some(branch.as_str()));
        let again = Message::parse(m.to_bytes()).unwrap();
        prop_assert_eq!(&again, &m);
        prop_assert_eq!(again.via_branch(), m.via_branch());
    }

    #[test]
    fn parse_never_panics(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Message::parse(Bytes::from(data));
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let mut bytes = m.to_bytes().to_vec();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(parsed) = Message::parse(Bytes::from(bytes)) {
            let _ = parsed.validate();
            let _ = Message::parse(parsed.to_bytes());
        }
    }

    #[test]
    fn framing_split_anywhere_yields_the_same_messages(ms in prop::collection::vec(message(), 1..4), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let mut stream = Vec::new();
        for m in &ms {
            stream.extend_from_slice(&m.to_bytes());
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut framer = Framer::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut last = 0;
        for p in points.into_iter().chain([stream.len()]) {
            buf.extend_from_slice(&stream[last..p]);
            last = p;
            while let Some(frame) = framer.decode(&mut buf).unwrap() {
                if let Frame::Message(bytes) = frame {
                    got.push(Message::parse(bytes).unwrap());
                }
            }
        }
        prop_assert_eq!(got, ms);
        prop_assert!(buf.is_empty());
    }
}

#[test]
fn an_untouched_message_serialises_as_received_and_an_edited_one_is_rebuilt() {
    let raw = Bytes::from_static(
        b"\r\nOPTIONS sip:a@example.com SIP/2.0\r\nv:  SIP/2.0/UDP h;branch=z9hG4bK1\r\nl: 0\r\n\r\n",
    );
    let mut m = Message::parse(raw.clone()).unwrap();
    // The leading CRLF is not part of the message; the rest is written back byte for byte.
    assert_eq!(m.to_bytes(), raw.slice(2..));
    assert_eq!(m.to_bytes().as_ptr(), raw.slice(2..).as_ptr()); // no copy
    m.push_front(HeaderName::Via, "SIP/2.0/UDP p;branch=z9hG4bK2").unwrap();
    let rebuilt = m.to_bytes();
    assert!(rebuilt.starts_with(b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP p;"));
    assert!(rebuilt.ends_with(b"v:  SIP/2.0/UDP h;branch=z9hG4bK1\r\nl: 0\r\n\r\n"));
    // A wrong Content-Length is never written back verbatim.
    let short = Message::parse(Bytes::from_static(b"MESSAGE sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhello"))
        .unwrap();
    assert_eq!(short.body(), b"he");
    assert!(short.to_bytes().ends_with(b"l: 2\r\n\r\nhe"));
}
