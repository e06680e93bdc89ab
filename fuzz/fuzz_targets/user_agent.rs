//! A user agent fed an arbitrary sequence of received messages (templates with fuzzer-chosen
//! methods, statuses, tags, CSeqs and bodies, or raw bytes), application commands (invite,
//! ring, answer, reject, cancel, bye, re-INVITE, OPTIONS) and clock jumps. Asserts: nothing
//! panics, live state stays bounded by what was created, and once the clock has run far past
//! every timer nothing is left but established calls, which a BYE then clears.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_transaction::{Target, TransactionConfig};
use sip_ua::{Body, CallId, Invite, UaConfig, UaEvent, UaOutput, UserAgent};

const METHODS: [&str; 8] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "REGISTER"];
const STATUSES: [u16; 10] = [100, 180, 183, 200, 302, 401, 486, 491, 500, 603];

fn request(method: &str, branch: u8, tag: u8, to_tag: Option<u8>, cseq: u8, body: bool) -> Bytes {
    let to = to_tag.map(|t| format!(";tag=t{t}")).unwrap_or_default();
    let body = if body { "v=0\r\n" } else { "" };
    let ct = if body.is_empty() { String::new() } else { "Content-Type: application/sdp\r\n".into() };
    Bytes::from(format!(
        "{method} sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@192.0.2.1>;tag=f{tag}\r\nTo: <sip:bob@192.0.2.2>{to}\r\n\
         Call-ID: c{tag}\r\nCSeq: {cseq} {method}\r\nContact: <sip:a@192.0.2.1>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

fuzz_target!(|data: &[u8]| {
    let peer = Target::udp("192.0.2.1:5060".parse().unwrap());
    let mut config = UaConfig::new("bob", "192.0.2.2:5060");
    config.max_calls = 64;
    let mut ua = UserAgent::new(config, TransactionConfig::default().rng_seed(1));
    let start = Instant::now();
    let mut now = start;
    let mut calls: Vec<CallId> = Vec::new();
    let mut sent: Vec<Bytes> = Vec::new();

    let drain = |ua: &mut UserAgent, calls: &mut Vec<CallId>, sent: &mut Vec<Bytes>| {
        while let Some(out) = ua.poll_output() {
            match out {
                UaOutput::Transmit(t) => {
                    if sent.len() < 64 {
                        sent.push(t.payload);
                    }
                }
                UaOutput::Event(UaEvent::IncomingCall { call, .. }) => calls.push(call),
                UaOutput::Event(_) => {}
            }
        }
    };

    for op in data.chunks(4) {
        let [code, a, b, c] = match op {
            [code, a, b, c] => [*code, *a, *b, *c],
            _ => break,
        };
        let call = calls.get(a as usize % calls.len().max(1)).copied();
        match code % 12 {
            0 | 1 | 2 => {
                let method = METHODS[a as usize % METHODS.len()];
                let to_tag = (b & 1 == 1).then_some(b >> 4);
                ua.handle_datagram(now, request(method, b, c % 8, to_tag, c, b & 2 == 2), peer);
            }
            3 => {
                // A response to something this UA sent: rewrite a sent request's start line.
                if let Some(msg) = sent.get(a as usize % sent.len().max(1)) {
                    let status = STATUSES[b as usize % STATUSES.len()];
                    let text = String::from_utf8_lossy(msg);
                    if let Some(rest) = text.split_once("\r\n").map(|(_, r)| r) {
                        let tag = if status > 100 { format!(";tag=r{c}") } else { String::new() };
                        let rest = rest.replacen("\r\nTo: <sip:", &format!("\r\nTo: <sip:"), 1);
                        let resp = format!("SIP/2.0 {status} X\r\n{rest}").replacen(">\r\nCall-ID", &format!(">{tag}\r\nCall-ID"), 1);
                        ua.handle_datagram(now, Bytes::from(resp), peer);
                    }
                }
            }
            4 => ua.handle_datagram(now, Bytes::copy_from_slice(&data[..data.len().min(c as usize)]), peer),
            5 => {
                let _ = ua.invite(now, Invite::to("sip:alice@192.0.2.1").body(Body::sdp("v=0\r\n")));
            }
            6 => {
                if let Some(call) = call {
                    let _ = ua.ring(now, call, 180 + u16::from(b % 4), None);
                }
            }
            7 => {
                if let Some(call) = call {
                    let _ = ua.answer(now, call, Some(Body::sdp("v=0\r\n")));
                }
            }
            8 => {
                if let Some(call) = call {
                    let _ = match b % 4 {
                        0 => ua.reject(now, call, 486),
                        1 => ua.cancel(now, call),
                        2 => ua.bye(now, call),
                        _ => ua.hangup(now, call),
                    };
                }
            }
            9 => {
                if let Some(call) = call {
                    let _ = ua.reinvite(now, call, None);
                }
            }
            10 => {
                let _ = ua.options(now, "sip:alice@192.0.2.1");
            }
            _ => {
                now += Duration::from_millis(u64::from(b) * 16 + u64::from(c));
                ua.handle_timeout(now);
            }
        }
        drain(&mut ua, &mut calls, &mut sent);
        assert!(ua.core().calls() <= 64 + 8, "live calls unbounded: {}", ua.core().calls());
    }
    // Run the clock out; hang up whatever is still up; run it out again: nothing left.
    for _ in 0..3 {
        now += Duration::from_secs(600);
        ua.handle_timeout(now);
        drain(&mut ua, &mut calls, &mut sent);
        for call in calls.clone() {
            let _ = ua.hangup(now, call);
        }
        drain(&mut ua, &mut calls, &mut sent);
        while let Some(at) = ua.poll_timeout() {
            if at > now + Duration::from_secs(3600) {
                break;
            }
            now = now.max(at);
            ua.handle_timeout(now);
            drain(&mut ua, &mut calls, &mut sent);
        }
    }
    assert!(ua.transactions().is_empty(), "transactions left: {:?} next timer {:?} now {:?}", ua.transactions().stats(), ua.poll_timeout().map(|t| t - start), now - start);
});
