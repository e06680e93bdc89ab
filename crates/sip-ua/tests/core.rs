//! The UAS checks of RFC 3261 §8.2 and the UAC response handling of §8.1.3, one message at a
//! time.

mod common;

use std::time::Instant;

use common::*;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_testkit::{Clock, ms, secs};
use sip_transaction::{Target, TransactionConfig};
use sip_ua::{Body, Invite, UaConfig, UaOutput, UserAgent};

const BOB: &str = "192.0.2.2:5060";
const PEER: &str = "192.0.2.1:5060";

fn bob() -> (UserAgent, Instant) {
    let ua = UserAgent::new(
        UaConfig::new("bob", BOB).rng_seed(2),
        TransactionConfig::default().rng_seed(2),
    );
    (ua, Clock::new().now())
}

fn drain(ua: &mut UserAgent) -> (Vec<Message>, Vec<String>) {
    let (mut msgs, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = ua.poll_output() {
        match o {
            UaOutput::Transmit(t) => msgs.push(Message::parse(t.payload).unwrap()),
            UaOutput::Event(e) => events.push(event_name(&e)),
        }
    }
    (msgs, events)
}

fn request(method: &str, extra: &[(&str, &str)], body: Option<(&str, &str)>) -> Message {
    let mut text = format!(
        "{method} sip:bob@{BOB} SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bK{}\r\nMax-Forwards: 70\r\n\
         To: <sip:bob@{BOB}>\r\nFrom: <sip:alice@{PEER}>;tag=a1\r\nCall-ID: c1@{PEER}\r\nCSeq: 1 {method}\r\n\
         Contact: <sip:alice@{PEER}>\r\n",
        method.len() * 1000 + extra.len()
    );
    for (name, value) in extra {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    match body {
        Some((ct, b)) => {
            text.push_str(&format!("Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n{b}", b.len()))
        }
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    Message::parse(bytes::Bytes::from(text)).unwrap()
}

/// The whole value of a list header, all its elements joined.
fn line(msg: &Message, name: H) -> String {
    msg.values(name).map(|v| String::from_utf8_lossy(v).into_owned()).collect::<Vec<_>>().join(", ")
}

fn answer(ua: &mut UserAgent, now: Instant, msg: Message) -> Message {
    ua.handle(now, msg, Target::udp(addr(PEER)));
    let (sent, _) = drain(ua);
    sent.into_iter().last().expect("a response")
}

// §8.2.1: 405 with Allow.
#[test]
fn unknown_method_gets_405_with_allow() {
    let (mut ua, now) = bob();
    let r = answer(&mut ua, now, request("SUBSCRIBE", &[("Event", "presence")], None));
    assert_eq!(r.status(), Some(405));
    assert_eq!(line(&r, H::Allow), "INVITE, ACK, CANCEL, BYE, OPTIONS");
    assert!(r.to_tag().is_some());
}

// §8.2.2.1: 416 for an unsupported URI scheme.
#[test]
fn unknown_scheme_gets_416() {
    let (mut ua, now) = bob();
    let text = format!(
        "OPTIONS mailto:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bK416\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@{BOB}>\r\nFrom: <sip:alice@{PEER}>;tag=a1\r\nCall-ID: c416\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    let r = answer(&mut ua, now, Message::parse(bytes::Bytes::from(text)).unwrap());
    assert_eq!(r.status(), Some(416));
}

// §8.2.2.2: a second copy of a request (same From tag, Call-ID, CSeq) arriving by another
// path gets 482.
#[test]
fn merged_request_gets_482() {
    let (mut ua, now) = bob();
    ua.handle(now, request("OPTIONS", &[], None), Target::udp(addr(PEER)));
    // Same request, another branch (it went through another proxy): OPTIONS is answered at
    // once, so use INVITE, whose transaction stays.
    let (_, _) = drain(&mut ua);
    let first = request("INVITE", &[], Some(("application/sdp", SDP_OFFER)));
    ua.handle(now, first, Target::udp(addr(PEER)));
    let (_, events) = drain(&mut ua);
    assert_eq!(events, ["IncomingCall"]);
    let text = String::from_utf8(
        request("INVITE", &[], Some(("application/sdp", SDP_OFFER))).buffer().to_vec(),
    )
    .unwrap()
    .replace("branch=z9hG4bK6000", "branch=z9hG4bKother");
    let r = answer(&mut ua, now + ms(5), Message::parse(bytes::Bytes::from(text)).unwrap());
    assert_eq!(r.status(), Some(482));
}

// §8.2.2.3: 420 with Unsupported listing what was not understood.
#[test]
fn unknown_require_gets_420_with_unsupported() {
    let (mut ua, now) = bob();
    let r = answer(&mut ua, now, request("OPTIONS", &[("Require", "foo, bar")], None));
    assert_eq!(r.status(), Some(420));
    assert_eq!(line(&r, H::Unsupported), "foo, bar");
}

// §8.2.3: 415 with Accept.
#[test]
fn unacceptable_body_gets_415_with_accept() {
    let (mut ua, now) = bob();
    let r = answer(&mut ua, now, request("INVITE", &[], Some(("text/plain", "hello"))));
    assert_eq!(r.status(), Some(415));
    assert_eq!(r.header_str(H::Accept), Some("application/sdp"));
}

// §8.2 with §16.3: a request that fails validation gets 400 whose reason says why.
#[test]
fn invalid_request_gets_400_with_reason() {
    let (mut ua, now) = bob();
    let text = String::from_utf8(request("OPTIONS", &[], None).buffer().to_vec())
        .unwrap()
        .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    let r = answer(&mut ua, now, Message::parse(bytes::Bytes::from(text)).unwrap());
    assert_eq!(r.status(), Some(400));
    assert!(r.reason().unwrap().contains("CSeq"), "{:?}", r.reason());

    // Without a To there is nothing to tag, but the reason still names the problem.
    let text = String::from_utf8(request("OPTIONS", &[], None).buffer().to_vec()).unwrap();
    let without_to: String =
        text.split_inclusive("\r\n").filter(|l| !l.starts_with("To:")).collect();
    assert_ne!(without_to, text);
    let (mut ua, now) = bob();
    let r = answer(&mut ua, now, Message::parse(bytes::Bytes::from(without_to)).unwrap());
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.reason(), Some("Bad Request (Missing To header)"));
}

// §11.2: OPTIONS answered with Allow, Accept (and Supported when set).
#[test]
fn options_answered_with_capabilities() {
    let (mut ua, now) = bob();
    let r = answer(&mut ua, now, request("OPTIONS", &[], None));
    assert_eq!(r.status(), Some(200));
    assert!(line(&r, H::Allow).contains("OPTIONS"));
    assert_eq!(r.header_str(H::Accept), Some("application/sdp"));
    assert!(r.to_tag().is_some());
}

// §12.2.2: requests in no dialog get 481; BYE out of dialog too (§15.1.2).
#[test]
fn requests_for_unknown_dialogs_get_481() {
    let (mut ua, now) = bob();
    let text = String::from_utf8(request("BYE", &[], None).buffer().to_vec())
        .unwrap()
        .replace(&format!("To: <sip:bob@{BOB}>"), &format!("To: <sip:bob@{BOB}>;tag=nosuch"));
    let r = answer(&mut ua, now, Message::parse(bytes::Bytes::from(text)).unwrap());
    assert_eq!(r.status(), Some(481));
    let r = answer(&mut ua, now, request("BYE", &[], None));
    assert_eq!(r.status(), Some(481));
}

// §8.2.6: 100 Trying without To tag at once; every other response with the same To tag;
// §12.2.2: a lower CSeq inside the dialog gets 500.
#[test]
fn to_tags_and_cseq_order() {
    let (mut ua, now) = bob();
    ua.handle(
        now,
        request("INVITE", &[], Some(("application/sdp", SDP_OFFER))),
        Target::udp(addr(PEER)),
    );
    let (sent, events) = drain(&mut ua);
    assert_eq!(sent[0].status(), Some(100));
    assert_eq!(sent[0].to_tag(), None);
    assert_eq!(events, ["IncomingCall"]);
    let call = match ua.core().dialog_calls().first() {
        Some(c) => *c,
        None => panic!("a call"),
    };
    ua.ring(now, call, 180, None).unwrap();
    ua.answer(now, call, Some(Body::sdp(SDP_ANSWER))).unwrap();
    let (sent, _) = drain(&mut ua);
    let tag = sent[0].to_tag().unwrap().to_string();
    assert_eq!(sent[1].to_tag(), Some(tag.as_str()));
    assert_eq!(sent[1].status(), Some(200));
    assert_eq!(sent[1].header_str(H::Contact), Some(format!("<sip:bob@{BOB}>").as_str()));
    // An in-dialog request with a CSeq lower than the INVITE's.
    let text = String::from_utf8(request("INVITE", &[], None).buffer().to_vec())
        .unwrap()
        .replace(&format!("To: <sip:bob@{BOB}>"), &format!("To: <sip:bob@{BOB}>;tag={tag}"))
        .replace("CSeq: 1 INVITE", "CSeq: 0 INVITE")
        .replace("branch=z9hG4bK6000", "branch=z9hG4bKlow");
    let r = answer(&mut ua, now + ms(10), Message::parse(bytes::Bytes::from(text)).unwrap());
    assert_eq!(r.status(), Some(500));
    assert!(r.reason().unwrap().contains("CSeq"));
    // §12.2.2: the tags of the dialog with another Call-ID name no dialog.
    let text = String::from_utf8(request("BYE", &[], None).buffer().to_vec())
        .unwrap()
        .replace(&format!("To: <sip:bob@{BOB}>"), &format!("To: <sip:bob@{BOB}>;tag={tag}"))
        .replace(&format!("Call-ID: c1@{PEER}"), &format!("Call-ID: c2@{PEER}"))
        .replace("CSeq: 1 BYE", "CSeq: 5 BYE");
    let r = answer(&mut ua, now + ms(20), Message::parse(bytes::Bytes::from(text)).unwrap());
    assert_eq!(r.status(), Some(481));
}

fn alice() -> (UserAgent, Instant) {
    let ua = UserAgent::new(
        UaConfig::new("alice", PEER).rng_seed(1),
        TransactionConfig::default().rng_seed(1),
    );
    (ua, Clock::new().now())
}

fn final_for(request: &Message, status: u16, extra: &[(H, &str)]) -> Message {
    let mut b = MessageBuilder::response_to(request, status, None).to_tag("t1");
    for (name, value) in extra {
        b = b.header(*name, value);
    }
    b.build().unwrap()
}

// §8.1.3.4: a 3xx's Contacts become the target set, tried best q first with the same
// Call-ID and a higher CSeq; a Contact already tried is not tried again; the last failure is
// reported.
#[test]
fn redirects_follow_the_target_set_by_q() {
    let (mut ua, now) = alice();
    let source = Target::udp(addr(BOB));
    ua.invite(now, Invite::to(format!("sip:bob@{BOB}")).body(Body::sdp(SDP_OFFER))).unwrap();
    let (sent, _) = drain(&mut ua);
    let first = sent[0].clone();
    let moved = final_for(
        &first,
        302,
        &[(
            H::Contact,
            "<sip:bob@192.0.2.30>;q=0.5, <sip:bob@192.0.2.31>;q=1.0, <sip:bob@192.0.2.2:5060>",
        )],
    );
    ua.handle(now + ms(10), moved, source);
    let (sent, events) = drain(&mut ua);
    assert!(events.is_empty());
    let ack = &sent[0];
    assert_eq!(ack.method(), Some(&Method::Ack));
    let second = &sent[1];
    assert_eq!(second.method(), Some(&Method::Invite));
    assert_eq!(second.request_uri_str(), Some("sip:bob@192.0.2.31"));
    assert_eq!(second.call_id(), first.call_id());
    assert_eq!(second.from_tag(), first.from_tag());
    assert_eq!(second.cseq_number(), Some(2));
    assert_ne!(second.via_branch(), first.via_branch());
    ua.handle(now + ms(20), final_for(second, 486, &[]), Target::udp(addr("192.0.2.31:5060")));
    let (sent, _) = drain(&mut ua);
    let third = sent.iter().find(|m| m.method() == Some(&Method::Invite)).unwrap();
    assert_eq!(third.request_uri_str(), Some("sip:bob@192.0.2.30"));
    assert_eq!(third.cseq_number(), Some(3));
    ua.handle(now + ms(30), final_for(third, 404, &[]), Target::udp(addr("192.0.2.30:5060")));
    let (_, events) = drain(&mut ua);
    assert_eq!(events, ["Failed(404)"]);
}

// §8.1.3.1: a transport failure is a 503 and a timeout a 408.
#[test]
fn transport_failure_is_503() {
    let (mut ua, now) = alice();
    ua.invite(now, Invite::to(format!("sip:bob@{BOB}"))).unwrap();
    let txn = match ua.poll_output() {
        Some(UaOutput::Transmit(t)) => t.transaction.unwrap(),
        other => panic!("{other:?}"),
    };
    ua.handle_transport_error(now + ms(1), txn);
    let (_, events) = drain(&mut ua);
    assert_eq!(events, ["Failed(503)"]);
    // The OPTIONS times out with Timer F (64*T1) as a 408.
    ua.options(now, &format!("sip:bob@{BOB}")).unwrap();
    let _ = drain(&mut ua);
    let mut t = now;
    while let Some(at) = ua.poll_timeout() {
        t = at;
        ua.handle_timeout(at);
        let (_, events) = drain(&mut ua);
        if !events.is_empty() {
            assert_eq!(events, ["Response(408,true)"]);
            break;
        }
    }
    // Sent at the table's time, 1 ms after `now` (a `now` earlier than one seen is that one).
    assert_eq!(t - now, secs(32) + ms(1));
}

// §8.1.3.5: 420 retried once without the extensions it lists.
#[test]
fn unsupported_extension_retried_without_it() {
    let (mut ua, now) = alice();
    let mut invite = Invite::to(format!("sip:bob@{BOB}")).body(Body::sdp(SDP_OFFER));
    invite.require = vec!["100rel".into(), "timer".into()];
    ua.invite(now, invite).unwrap();
    let (sent, _) = drain(&mut ua);
    assert_eq!(line(&sent[0], H::Require), "100rel, timer");
    ua.handle(
        now + ms(10),
        final_for(&sent[0], 420, &[(H::Unsupported, "100rel")]),
        Target::udp(addr(BOB)),
    );
    let (sent, _) = drain(&mut ua);
    let retry = sent.iter().find(|m| m.method() == Some(&Method::Invite)).unwrap();
    assert_eq!(line(retry, H::Require), "timer");
    assert_eq!(retry.cseq_number(), Some(2));
    ua.handle(
        now + ms(20),
        final_for(retry, 420, &[(H::Unsupported, "timer")]),
        Target::udp(addr(BOB)),
    );
    let (_, events) = drain(&mut ua);
    assert_eq!(events, ["Failed(420)"]);
}

// §8.1.3.5 / §10.2.8: 423 retried once with Min-Expires.
#[test]
fn interval_too_brief_retried_with_min_expires() {
    let (mut ua, now) = alice();
    let headers = [(H::Expires, "30".to_string()), (H::Contact, format!("<sip:alice@{PEER}>"))];
    ua.request(now, &Method::Register, &format!("sip:{BOB}"), None, &headers).unwrap();
    let (sent, _) = drain(&mut ua);
    ua.handle(
        now + ms(10),
        final_for(&sent[0], 423, &[(H::MinExpires, "60")]),
        Target::udp(addr(BOB)),
    );
    let (sent, events) = drain(&mut ua);
    assert!(events.is_empty());
    let retry = &sent[0];
    assert_eq!(retry.header_str(H::Expires), Some("60"));
    assert_eq!(retry.cseq_number(), Some(2));
    assert_eq!(retry.call_id(), sent.first().and_then(|m| m.call_id()));
    ua.handle(now + ms(20), final_for(retry, 200, &[]), Target::udp(addr(BOB)));
    let (_, events) = drain(&mut ua);
    assert_eq!(events, ["Response(200,true)"]);
}

// Found by the user_agent fuzz target: an unanswered INVITE with the clock jumping far past
// Timer B leaves nothing behind.
#[test]
fn unanswered_invite_with_a_long_clock_jump_leaves_nothing() {
    let (mut ua, now) = alice();
    ua.invite(now, Invite::to("sip:alice@192.0.2.1").body(Body::sdp(SDP_OFFER))).unwrap();
    let _ = drain(&mut ua);
    let later = now + secs(600);
    ua.handle_timeout(later);
    let (_, events) = drain(&mut ua);
    assert_eq!(events, ["Failed(408)"]);
    let mut t = later;
    while let Some(at) = ua.poll_timeout() {
        t = t.max(at);
        ua.handle_timeout(t);
        let _ = drain(&mut ua);
    }
    assert!(ua.is_idle(), "txns {}", ua.transactions().len());
}

// Found by the user_agent fuzz target: a 100 and then nothing. Figure 5 gives Proceeding no
// timer; the UA cancels at its ringing limit (180 s) and gives the INVITE up 64*T1 later.
#[test]
fn a_call_stuck_in_proceeding_is_cancelled_and_given_up() {
    let (mut ua, now) = alice();
    ua.invite(now, Invite::to(format!("sip:bob@{BOB}")).body(Body::sdp(SDP_OFFER))).unwrap();
    let (sent, _) = drain(&mut ua);
    let trying = MessageBuilder::response_to(&sent[0], 100, None).build().unwrap();
    ua.handle(now + ms(10), trying, Target::udp(addr(BOB)));
    let _ = drain(&mut ua);
    let mut cancel_at = None;
    let mut failed_at = None;
    while let Some(at) = ua.poll_timeout() {
        ua.handle_timeout(at);
        let (sent, events) = drain(&mut ua);
        if cancel_at.is_none() && sent.iter().any(|m| m.method() == Some(&Method::Cancel)) {
            cancel_at = Some(at - now);
        }
        if events.iter().any(|e| e == "Failed(408)") {
            failed_at = Some(at - now);
        }
    }
    assert_eq!(cancel_at, Some(secs(180)));
    assert_eq!(failed_at, Some(secs(180 + 32)));
    assert!(ua.is_idle());
}

// §8.1.2: an outbound proxy is a pre-loaded route set of one loose router, `<uri;lr>`, on the
// INVITE and the REGISTER alike. §19.1.1: "any given parameter-name MUST NOT appear more than
// once", so a proxy configured as `sip:proxy;lr` is not given a second `lr`; a parameter goes
// before the URI's headers.
#[test]
fn outbound_proxy_is_one_loose_route_with_lr_once() {
    let cases = [
        ("sip:192.0.2.10:5060", "<sip:192.0.2.10:5060;lr>"),
        ("sip:192.0.2.10:5060;lr", "<sip:192.0.2.10:5060;lr>"),
        ("sip:192.0.2.10;LR;transport=udp", "<sip:192.0.2.10;LR;transport=udp>"),
        ("sip:192.0.2.10;transport=udp", "<sip:192.0.2.10;transport=udp;lr>"),
        ("sip:192.0.2.10?X-Hop=1", "<sip:192.0.2.10;lr?X-Hop=1>"),
    ];
    for (proxy, route) in cases {
        let now = Clock::new().now();
        let config = UaConfig::new("alice", PEER).outbound_proxy(proxy).rng_seed(4);
        let mut ua = UserAgent::new(config, TransactionConfig::default().rng_seed(4));
        ua.invite(now, Invite::to(format!("sip:bob@{BOB}"))).unwrap();
        ua.register(
            now,
            sip_ua::Register::new(format!("sip:{BOB}"), "sip:alice@atlanta.example.com", 3600),
        )
        .unwrap();
        let (sent, _) = drain(&mut ua);
        assert_eq!(sent.len(), 2, "{proxy}");
        for request in &sent {
            assert_eq!(line(request, H::Route), route, "{proxy}: {:?}", request.method());
            // Sent to the proxy, whatever the Request-URI says.
            assert!(request.validate().is_ok(), "{proxy}");
        }
        assert_eq!(sent[0].method(), Some(&Method::Invite));
        assert_eq!(sent[1].method(), Some(&Method::Register));
    }
}
