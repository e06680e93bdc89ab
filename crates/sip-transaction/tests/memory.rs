//! Bytes of memory per live transaction besides the message buffer, for each of the four kinds
//! (the transaction issue's bar: under 1 KiB).
//!
//! A counting global allocator (`stats_alloc`) measures the bytes requested and not yet freed
//! while a table goes from empty to `N` live transactions. The messages, and so their buffers,
//! are made before the measurement and stay alive until after it, so what is counted is the
//! table's own memory: its slab slot per transaction, index, timer queue and output queue
//! growth, server keys, and nothing of the buffers it shares by reference count. Capacity slack
//! of the table's vectors (the slab holds 16,384 slots for 10,000 transactions) is counted
//! against it. malloc's own per-allocation header (8 to 16 bytes) is not.
//!
//! Run `cargo test -p sip-transaction --test memory -- --nocapture` to see the figures. This
//! binary holds one test so that no other test allocates while it counts.

use std::alloc::System;
use std::time::Instant;

use bytes::Bytes;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_transaction::{Target, TransactionConfig, TransactionKind, TransactionTable};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live transactions per measurement.
const N: usize = 10_000;

/// The bar.
const KIB: usize = 1024;

const SDP: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n\
                   c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0 8 97\r\n\
                   a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:97 iLBC/8000\r\n";

/// A request as a softphone sends it, with a branch of the usual length (cookie plus 16).
fn request(method: &Method, i: usize) -> Message {
    let b = MessageBuilder::request(method, "sip:bob@biloxi.example.com")
        .header(H::Via, format!("SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK{i:016x};rport"))
        .header(H::MaxForwards, "70")
        .header(H::To, "Bob <sip:bob@biloxi.example.com>")
        .header(H::From, "Alice <sip:alice@atlanta.example.com>;tag=1928301774")
        .header(H::CallId, format!("a84b4c76e66710-{i}@pc33.atlanta.example.com"))
        .header(H::CSeq, format!("314159 {method}"))
        .header(H::Contact, "<sip:alice@192.0.2.101:5060>");
    let b = if *method == Method::Invite { b.body("application/sdp", SDP) } else { b };
    let message = b.build().unwrap();
    // Share the buffer once now: the first clone of a fresh buffer allocates its reference
    // count, which belongs to the buffer, not to the transaction.
    drop(message.buffer().clone());
    message
}

/// Bytes requested and not yet freed since `region` began.
fn in_use(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize
}

fn drain(table: &mut TransactionTable) {
    while table.poll_output().is_some() {}
}

/// Table memory per live transaction of `kind`, and the size of each request's buffer.
fn measure(kind: TransactionKind) -> (usize, usize) {
    let method = if kind.is_invite() { Method::Invite } else { Method::Options };
    let mut requests: Vec<Message> = (0..N).map(|i| request(&method, i)).collect();
    let buffer = requests.first().map_or(0, |r| r.to_bytes().len());
    let datagrams: Vec<Bytes> = requests.iter().map(Message::to_bytes).collect();
    if !kind.is_client() {
        requests.clear();
    }
    let peer = Target::udp("192.0.2.7:5060".parse().unwrap());
    let now = Instant::now();
    let region = Region::new(GLOBAL);
    let mut table = TransactionTable::new(TransactionConfig::default().rng_seed(7));
    if kind.is_client() {
        // The table gets a clone made inside the counted region: what it keeps of the request
        // (its buffer is shared with `requests`, its header index is its own) is counted, and
        // what it drops nets to zero. The originals are dropped after the count.
        for request in &requests {
            table.send_request(now, request.clone(), peer).unwrap();
            drain(&mut table);
        }
    } else {
        for datagram in &datagrams {
            table.handle_datagram(now, datagram.clone(), peer);
            drain(&mut table);
        }
    }
    let bytes = in_use(&region);
    assert_eq!(table.stats().live_of(kind), N, "{kind:?}");
    drop((table, requests, datagrams));
    let per = usize::try_from(bytes).unwrap() / N;
    (per, buffer)
}

#[test]
fn each_live_transaction_costs_under_one_kib_besides_its_message_buffer() {
    let kinds = [
        TransactionKind::ClientNonInvite,
        TransactionKind::ClientInvite,
        TransactionKind::ServerNonInvite,
        TransactionKind::ServerInvite,
    ];
    println!("bytes per live transaction besides the message buffer ({N} live, UDP):");
    let mut worst = 0;
    for kind in kinds {
        let (per, buffer) = measure(kind);
        println!("  {kind:?}: {per} bytes (the request buffer it shares: {buffer} bytes)");
        worst = worst.max(per);
        assert!(per < KIB, "{kind:?}: {per} bytes per live transaction");
        // A transaction is more than nothing: the slot alone holds the machine and the keys.
        assert!(per > 100, "{kind:?}: {per} bytes is implausibly small: is anything counted?");
    }
    println!("  worst: {worst} bytes");
}
