//! The proxy's shortcuts give what the long way gives: the 100 (Trying) built from the request
//! as received (RFC 3261 §16.2, §8.2.6), Route values recognised by their bytes or from memory
//! (§16.4), the SIPS choice of the Record-Route from one parse of the target and top Route
//! (§16.6 step 4), and the `received`/`rport` stamp (§18.2.1, RFC 3581 §4).

use std::time::Instant;

use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_proxy::{Location, Output, ProxyConfig, StandaloneProxy, StaticLocations, StaticResolver};
use sip_transaction::{Target, TransactionConfig};

const PROXY: &str = "192.0.2.10:5060";

fn proxy(bob: &str) -> StandaloneProxy<StaticLocations, StaticResolver> {
    let mut locations = StaticLocations::new();
    locations.add("sip:bob@example.com", Location::new(bob));
    locations.add("sips:bob@example.com", Location::new(bob));
    let config = ProxyConfig::new(&format!("sip:{PROXY}")).unwrap().domain("example.com");
    StandaloneProxy::new(config, TransactionConfig::default(), locations, StaticResolver::new())
}

fn alice() -> Target {
    Target::udp("192.0.2.1:5060".parse().unwrap())
}

fn invite(uri: &str, call_id: &str, routes: &[&str]) -> Message {
    // One transaction per call: the branch follows the Call-ID.
    let mut b = MessageBuilder::request(&Method::Invite, uri)
        .header(H::Via, format!("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{call_id};rport"))
        .header(H::MaxForwards, "70");
    for route in routes {
        b = b.header(H::Route, route);
    }
    b.header(H::To, "<sip:bob@example.com>")
        .header(H::From, "<sip:alice@example.com>;tag=a1")
        .header(H::CallId, call_id)
        .header(H::CSeq, "1 INVITE")
        .header(H::Contact, "<sip:alice@192.0.2.1:5060>")
        .build()
        .unwrap()
}

/// Every transmit of the proxy, parsed, with its target.
fn sent(proxy: &mut StandaloneProxy<StaticLocations, StaticResolver>) -> Vec<(Target, Message)> {
    let mut out = Vec::new();
    while let Some(output) = proxy.poll_output() {
        if let Output::Transmit(t) = output {
            out.push((t.target, Message::parse(t.payload).unwrap()));
        }
    }
    out
}

#[test]
fn the_trying_answers_the_request_as_received_not_as_stamped() {
    // §8.2.6.2: the 100 copies the Via as received; the forwarded copy carries the stamp.
    let mut p = proxy("sip:bob@192.0.2.20:5060");
    let request = invite("sip:bob@example.com", "t1", &[&format!("<sip:{PROXY};lr>")]);
    p.handle_message(Instant::now(), request.clone(), alice());
    let out = sent(&mut p);
    assert_eq!(out.len(), 2, "the 100 and the INVITE");
    let (to, trying) = &out[0];
    assert_eq!((*to, trying.status()), (alice(), Some(100)));
    let expected = MessageBuilder::response_to(&request, 100, None).build().unwrap();
    assert_eq!(trying.to_bytes(), expected.to_bytes());
    let forwarded = &out[1].1;
    assert_eq!(
        forwarded.values(H::Via).nth(1),
        Some(&b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1;rport=5060;received=192.0.2.1"[..])
    );
}

#[test]
fn own_and_remembered_routes_are_popped_others_kept() {
    // §16.4: a Route naming the proxy goes, whatever its parameters; one naming another host
    // stays, and the answer does not change when the same value comes again.
    let mut p = proxy("sip:bob@192.0.2.20:5060");
    let now = Instant::now();
    for (i, route) in [
        format!("<sip:{PROXY};lr>"),
        format!("<sip:{PROXY};lr;lr>"),
        format!("<sip:{PROXY};lr;lr>"),
        format!("<sips:{PROXY};lr>"),
    ]
    .iter()
    .enumerate()
    {
        p.handle_message(now, invite("sip:bob@example.com", &format!("own{i}"), &[route]), alice());
        let out = sent(&mut p);
        let (to, forwarded) = out.last().unwrap();
        assert_eq!(*to, Target::udp("192.0.2.20:5060".parse().unwrap()), "{route}");
        assert!(!forwarded.has(H::Route), "{route}");
    }
    for i in 0..2 {
        let other = "<sip:192.0.2.99:5060;lr>";
        p.handle_message(now, invite("sip:bob@example.com", &format!("x{i}"), &[other]), alice());
        let out = sent(&mut p);
        let (to, forwarded) = out.last().unwrap();
        assert_eq!(*to, Target::udp("192.0.2.99:5060".parse().unwrap()));
        assert_eq!(forwarded.header(H::Route), Some(other.as_bytes()));
    }
}

#[test]
fn record_route_is_sips_for_a_sips_target_or_top_route() {
    // §16.6 step 4: a SIPS Request-URI or top Route gets a SIPS Record-Route.
    let now = Instant::now();
    let mut p = proxy("sips:bob@192.0.2.20:5061");
    p.handle_message(now, invite("sips:bob@example.com", "s1", &[]), alice());
    let out = sent(&mut p);
    let forwarded = &out.last().unwrap().1;
    assert_eq!(forwarded.request_uri_str(), Some("sips:bob@192.0.2.20:5061"));
    assert_eq!(forwarded.header_str(H::RecordRoute), Some(&*format!("<sips:{PROXY};lr>")));

    let mut p = proxy("sip:bob@192.0.2.20:5060");
    let route = "<sips:192.0.2.30:5061;lr>";
    p.handle_message(now, invite("sip:bob@example.com", "s2", &[route]), alice());
    let out = sent(&mut p);
    let (to, forwarded) = out.last().unwrap();
    assert_eq!(forwarded.header_str(H::RecordRoute), Some(&*format!("<sips:{PROXY};lr>")));
    assert_eq!(
        *to,
        Target::from_uri(&sip_message::SipUri::parse("sips:192.0.2.30:5061").unwrap()).unwrap()
    );

    let mut p = proxy("sip:bob@192.0.2.20:5060");
    p.handle_message(now, invite("sip:bob@example.com", "s3", &[]), alice());
    let out = sent(&mut p);
    let forwarded = &out.last().unwrap().1;
    assert_eq!(forwarded.header_str(H::RecordRoute), Some(&*format!("<sip:{PROXY};lr>")));
}

#[test]
fn an_idle_proxy_passes_events_through_untouched() {
    use sip_proxy::Proxy;
    use sip_transaction::{Event, Output as TxOutput, TransactionTable};

    let mut locations = StaticLocations::new();
    locations.add("sip:bob@example.com", Location::new("sip:bob@192.0.2.20:5060"));
    let config = ProxyConfig::new(&format!("sip:{PROXY}")).unwrap().domain("example.com");
    let mut proxy = Proxy::new(config, locations, StaticResolver::new());
    let mut table = TransactionTable::new(TransactionConfig::default());
    let now = Instant::now();
    let feed = |table: &mut TransactionTable, m: Message| {
        table.handle_message(now, m, alice());
        let mut events = Vec::new();
        while let Some(output) = table.poll_output() {
            if let TxOutput::Event(e) = output {
                events.push(e);
            }
        }
        events
    };
    let bye = MessageBuilder::request(&Method::Bye, "sip:bob@192.0.2.20")
        .header(H::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbye")
        .header(H::MaxForwards, "70")
        .header(H::To, "<sip:bob@example.com>;tag=b1")
        .header(H::From, "<sip:alice@example.com>;tag=a1")
        .header(H::CallId, "p1")
        .header(H::CSeq, "2 BYE")
        .build()
        .unwrap();
    let mut events = feed(&mut table, invite("sip:bob@example.com", "p1", &[]));
    events.extend(feed(&mut table, bye));
    assert_eq!(events.len(), 2);
    let stats = format!("{:?}", proxy.stats());
    for event in events {
        assert!(proxy.passes_through(&event), "{event:?}");
        let before = format!("{event:?}");
        let back = proxy.handle_event(now, &mut table, event).expect("handed back");
        assert_eq!(format!("{back:?}"), before);
        assert_eq!(proxy.poll_timeout(), None);
    }
    assert_eq!(format!("{:?}", proxy.stats()), stats);

    // A CANCEL is the proxy's to look at, idle or not.
    let mut invite2 = feed(&mut table, invite("sip:bob@example.com", "p2", &[]));
    let cancel = MessageBuilder::request(&Method::Cancel, "sip:bob@example.com")
        .header(H::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKp2;rport")
        .header(H::MaxForwards, "70")
        .header(H::To, "<sip:bob@example.com>")
        .header(H::From, "<sip:alice@example.com>;tag=a1")
        .header(H::CallId, "p2")
        .header(H::CSeq, "1 CANCEL")
        .build()
        .unwrap();
    let cancels = feed(&mut table, cancel);
    assert!(!cancels.is_empty());
    assert!(cancels.iter().all(|e| !proxy.passes_through(e)));
    // Once it proxies a request, every event goes to it.
    let Some(Event::Request { id, request, source }) = invite2.pop() else { panic!() };
    proxy.handle_request(now, &mut table, id, request, source);
    let more = feed(&mut table, invite("sip:bob@example.com", "p3", &[]));
    assert!(more.iter().all(|e| !proxy.passes_through(e)));
    assert!(!more.is_empty());
}
