//! Arbitrary and mutated messages fed to a proxy: it never panics, and once every timer has
//! run out nothing is left in it or in its transaction table.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sip_message::{Message, MessageBuilder};
use sip_proxy::{Location, Output, ProxyConfig, StandaloneProxy, StaticLocations, StaticResolver};
use sip_transaction::{Target, TransactionConfig};

const PROXY: &str = "192.0.2.10:5060";

fn proxy(stateless: bool) -> StandaloneProxy<StaticLocations, StaticResolver> {
    let mut locations = StaticLocations::new();
    locations.add("sip:bob@example.com", Location::new("sip:bob@192.0.2.201:5060"));
    locations.add("sip:bob@example.com", Location::new("sip:bob@192.0.2.202:5060"));
    locations.add("sip:carol@example.com", Location::new("sip:carol@other.example"));
    let mut resolver = StaticResolver::new();
    resolver.add("other.example", Target::udp("192.0.2.30:5060".parse().unwrap()));
    resolver.add("other.example", Target::tcp("192.0.2.31:5060".parse().unwrap()));
    let config = ProxyConfig::new(&format!("sip:{PROXY}"))
        .unwrap()
        .domain("example.com")
        .recursion(true, 3)
        .stateless(stateless);
    StandaloneProxy::new(config, TransactionConfig::default().rng_seed(5), locations, resolver)
}

const SEEDS: &[&str] = &[
    "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.101>\r\nContent-Length: 0\r\n\r\n",
    "CANCEL sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
    "ACK sip:bob@192.0.2.201:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa2\r\nRoute: <sip:192.0.2.10:5060;lr>\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>;tag=b\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
    "BYE sip:192.0.2.10:5060;lr SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa3\r\nRoute: <sip:bob@192.0.2.201>\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>;tag=b\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    "MESSAGE sip:carol@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa4\r\nMax-Forwards: 1\r\nProxy-Require: x\r\nTo: <sip:carol@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c2\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi",
    "OPTIONS sip:192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa5\r\nMax-Forwards: 0\r\nTo: <sip:192.0.2.10>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c3\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKzz.0123456789abcdef\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\r\nTo: <sip:bob@example.com>;tag=b\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
];

/// One random edit of a message's text.
fn mutate(rng: &mut ChaCha8Rng, text: &mut Vec<u8>) {
    const PIECES: &[&[u8]] = &[
        b"\r\n",
        b";lr",
        b"<sip:192.0.2.10:5060>",
        b",",
        b"Route: <sip:x@192.0.2.10>\r\n",
        b"0",
        b"99999999999",
        b"z9hG4bK",
        b";maddr=192.0.2.10",
        b"Max-Forwards: 0\r\n",
        b"sips:",
        b"Contact: <sip:c@192.0.2.9>;q=0.5\r\n",
        b"SIP/2.0 302 Moved\r\n",
        b"\r\n\r\n",
        b" ",
    ];
    if text.is_empty() {
        return;
    }
    let at = rng.random_range(0..text.len());
    match rng.random_range(0..5) {
        0 => text[at] = rng.random_range(0x20..0x7f),
        1 => {
            text.remove(at);
        }
        2 => {
            let piece = PIECES[rng.random_range(0..PIECES.len())];
            text.splice(at..at, piece.iter().copied());
        }
        3 => text.truncate(at),
        _ => {
            // Duplicate a line.
            let start = text[..at].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
            let end =
                text[at..].iter().position(|&c| c == b'\n').map_or(text.len(), |p| at + p + 1);
            let line = text[start..end].to_vec();
            text.splice(start..start, line);
        }
    }
}

/// Feeds `steps` random inputs, answering what the proxy sends with random statuses, then
/// lets every timer run out and checks that nothing is left.
fn drive(seed: u64, steps: usize, stateless: bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = proxy(stateless);
    let mut now = Instant::now();
    let mut sent: Vec<(Message, SocketAddr)> = Vec::new();
    let sources: [SocketAddr; 4] = [
        "192.0.2.101:5060".parse().unwrap(),
        "192.0.2.201:5060".parse().unwrap(),
        "192.0.2.202:5060".parse().unwrap(),
        "192.0.2.30:5060".parse().unwrap(),
    ];
    for _ in 0..steps {
        now += Duration::from_millis(rng.random_range(0..400));
        if p.poll_timeout().is_some_and(|t| t <= now) {
            p.handle_timeout(now);
        }
        let answer = !sent.is_empty() && rng.random_bool(0.5);
        let payload = if answer {
            let (request, to) = sent.swap_remove(rng.random_range(0..sent.len()));
            let status =
                [100, 180, 183, 200, 302, 401, 407, 486, 487, 503, 603][rng.random_range(0..11)];
            let mut b = MessageBuilder::response_to(&request, status, None);
            if status > 100 {
                b = b.to_tag(&format!("t{}", rng.random_range(0..3)));
            }
            if status == 302 {
                b = b.header(sip_message::HeaderName::Contact, "<sip:bob@192.0.2.202:5060>");
            }
            let Ok(response) = b.build() else { continue };
            if status < 200 && rng.random_bool(0.5) {
                sent.push((request, to));
            }
            let mut text = response.to_bytes().to_vec();
            if rng.random_bool(0.2) {
                mutate(&mut rng, &mut text);
            }
            (text, to)
        } else {
            let mut text = SEEDS[rng.random_range(0..SEEDS.len())].as_bytes().to_vec();
            for _ in 0..rng.random_range(0..4) {
                mutate(&mut rng, &mut text);
            }
            (text, sources[rng.random_range(0..sources.len())])
        };
        p.handle_datagram(now, Bytes::from(payload.0), Target::udp(payload.1));
        while let Some(output) = p.poll_output() {
            if let Output::Transmit(t) = output {
                if let (Target::Addr(_, to), Ok(m)) = (t.target, Message::parse(t.payload)) {
                    if m.is_request()
                        && m.method() != Some(&sip_message::Method::Ack)
                        && sent.len() < 64
                    {
                        sent.push((m, to));
                    }
                }
            }
        }
    }
    // Let every timer run out: Timer C, B, L, ... all end within minutes.
    for _ in 0..100_000 {
        let Some(at) = p.poll_timeout() else { break };
        now = now.max(at);
        p.handle_timeout(now);
        while p.poll_output().is_some() {}
    }
    assert!(p.poll_timeout().is_none(), "seed {seed}: timers never ran out");
    assert!(
        p.is_idle(),
        "seed {seed}: left {:?} / {:?}",
        p.proxy().stats(),
        p.transactions().stats()
    );
}

#[test]
fn mutated_traffic_never_panics_and_leaves_nothing_behind() {
    for seed in 0..6 {
        drive(seed, 400, false);
    }
}

#[test]
fn mutated_traffic_in_stateless_mode_leaves_nothing_behind() {
    for seed in 100..103 {
        drive(seed, 300, true);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn arbitrary_bytes_and_seeds_leave_the_proxy_clean(seed in any::<u64>(), junk in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut p = proxy(false);
        let now = Instant::now();
        p.handle_datagram(now, Bytes::from(junk), Target::udp("192.0.2.101:5060".parse().unwrap()));
        while p.poll_output().is_some() {}
        drive(seed, 40, false);
        let mut now = now;
        for _ in 0..10_000 {
            let Some(at) = p.poll_timeout() else { break };
            now = now.max(at);
            p.handle_timeout(now);
            while p.poll_output().is_some() {}
        }
        prop_assert!(p.is_idle());
    }
}
