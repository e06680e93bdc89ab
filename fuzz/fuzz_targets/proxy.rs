//! The proxy core (`StandaloneProxy`, stateful and stateless) fed fuzzer-chosen messages:
//! template requests with byte edits, responses to what it forwarded with fuzzer-chosen
//! statuses and tags, raw bytes, and clock jumps. Asserts: nothing panics, and once every
//! timer has run out nothing is left in the proxy or its transaction table.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_proxy::{Location, Output, ProxyConfig, StandaloneProxy, StaticLocations, StaticResolver};
use sip_transaction::{Target, TransactionConfig};

const PROXY: &str = "192.0.2.10:5060";
const STATUSES: [u16; 11] = [100, 180, 183, 200, 302, 401, 407, 486, 487, 503, 603];

const SEEDS: &[&str] = &[
    "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.101>\r\nContent-Length: 0\r\n\r\n",
    "CANCEL sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
    "ACK sip:bob@192.0.2.201:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa2\r\nRoute: <sip:192.0.2.10:5060;lr>\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>;tag=b\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
    "BYE sip:192.0.2.10:5060;lr SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa3\r\nRoute: <sip:bob@192.0.2.201>\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>;tag=b\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    "MESSAGE sip:carol@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa4\r\nMax-Forwards: 1\r\nProxy-Require: x\r\nTo: <sip:carol@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c2\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi",
    "OPTIONS sip:192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa5\r\nMax-Forwards: 0\r\nTo: <sip:192.0.2.10>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c3\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKzz.0123456789abcdef\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\r\nTo: <sip:bob@example.com>;tag=b\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
];

fn proxy(stateless: bool) -> StandaloneProxy<StaticLocations, StaticResolver> {
    let mut locations = StaticLocations::new();
    locations.add("sip:bob@example.com", Location::new("sip:bob@192.0.2.201:5060"));
    locations.add("sip:bob@example.com", Location::new("sip:bob@192.0.2.202:5060"));
    locations.add("sip:carol@example.com", Location::new("sip:carol@other.example"));
    let mut resolver = StaticResolver::new();
    resolver.add("other.example", Target::udp("192.0.2.30:5060".parse().unwrap()));
    let config = ProxyConfig::new(&format!("sip:{PROXY}"))
        .unwrap()
        .domain("example.com")
        .recursion(true, 3)
        .stateless(stateless);
    StandaloneProxy::new(config, TransactionConfig::default().rng_seed(5), locations, resolver)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else { return };
    let mut p = proxy(mode & 1 == 1);
    let start = Instant::now();
    let mut now = start;
    let mut sent: Vec<(Message, SocketAddr)> = Vec::new();
    let sources: [SocketAddr; 4] = [
        "192.0.2.101:5060".parse().unwrap(),
        "192.0.2.201:5060".parse().unwrap(),
        "192.0.2.202:5060".parse().unwrap(),
        "192.0.2.30:5060".parse().unwrap(),
    ];
    for op in data.chunks(4) {
        let [code, a, b, c] = match op {
            [code, a, b, c] => [*code, *a, *b, *c],
            _ => break,
        };
        let (payload, from) = match code % 4 {
            0 => {
                let mut text = SEEDS[a as usize % SEEDS.len()].as_bytes().to_vec();
                if b & 0x80 != 0 {
                    let at = c as usize * text.len() / 256;
                    text[at] = b & 0x7f;
                }
                (text, sources[b as usize % 4])
            }
            1 => {
                if sent.is_empty() {
                    continue;
                }
                let (request, to) = sent.swap_remove(a as usize % sent.len());
                let status = STATUSES[b as usize % STATUSES.len()];
                let mut builder = MessageBuilder::response_to(&request, status, None);
                if status > 100 {
                    builder = builder.to_tag(&format!("t{}", c % 3));
                }
                if status == 302 {
                    builder = builder.header(H::Contact, "<sip:bob@192.0.2.202:5060>");
                }
                let Ok(response) = builder.build() else { continue };
                if status < 200 && c & 4 == 4 {
                    sent.push((request, to));
                }
                (response.to_bytes().to_vec(), to)
            }
            2 => (data[..data.len().min(usize::from(c))].to_vec(), sources[a as usize % 4]),
            _ => {
                now += Duration::from_millis(u64::from(a) * 256 + u64::from(b));
                p.handle_timeout(now);
                (Vec::new(), sources[0])
            }
        };
        if !payload.is_empty() {
            p.handle_datagram(now, Bytes::from(payload), Target::udp(from));
        }
        while let Some(output) = p.poll_output() {
            if let Output::Transmit(t) = output
                && let (Target::Addr(_, to), Ok(m)) = (t.target, Message::parse(t.payload))
                && m.is_request()
                && m.method() != Some(&Method::Ack)
                && sent.len() < 64
            {
                sent.push((m, to));
            }
        }
    }
    // Let every timer run out: nothing may be left.
    let mut guard = 0;
    while let Some(at) = p.poll_timeout() {
        guard += 1;
        assert!(guard < 100_000, "timers never run out");
        now = now.max(at);
        p.handle_timeout(now);
        while p.poll_output().is_some() {}
    }
    assert!(p.is_idle(), "state left in the proxy");
});
