//! The protocol crates embed in any event loop: a `TransactionTable` driven by a hand-written
//! loop over a blocking `std::net::UdpSocket` — no mio, no `sip-runtime`.
//!
//! ```text
//! cargo run -p sip-runtime --example bare_loop -- [BIND] [PEER]
//! ```
//!
//! It answers every OPTIONS with 200 (other requests with 501) on `BIND` (default
//! `127.0.0.1:5060`). Given `PEER`, it also sends one OPTIONS there (retransmitted on Timer E)
//! and exits at the final response, or when Timer F gives up after 64*T1 = 32 s.
//!
//! The loop is the one every driver has (ARCHITECTURE.md): drain `poll_output`, sleep until
//! `poll_timeout` (here: the socket's read timeout), feed what arrived, `handle_timeout`. What
//! it leaves out and `sip-runtime` does: stamping `received`/`rport` on requests and routing
//! responses by their Via (RFC 3261 §18.2), TCP, keep-alives, commands from other threads.

use std::error::Error;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_transaction::{
    Event, Output, Target, TransactionConfig, TransactionId, TransactionTable, Transport,
};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let bind: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:5060").parse()?;
    let peer: Option<SocketAddr> = args.next().map(|s| s.parse()).transpose()?;

    let socket = UdpSocket::bind(bind)?;
    let local = socket.local_addr()?;
    println!("listening on udp:{local}");

    // Branches must differ between runs of this program, so the seed comes from the wall
    // clock; the table itself never reads a clock (a simulation passes a fixed seed).
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut table = TransactionTable::new(TransactionConfig::default().rng_seed(seed));

    let mut probe: Option<TransactionId> = None;
    if let Some(peer) = peer {
        let request = MessageBuilder::request(&Method::Options, &format!("sip:{peer}"))
            .header(H::Via, format!("SIP/2.0/UDP {local};rport")) // the table adds the branch
            .header(H::MaxForwards, "70")
            .header(H::To, format!("<sip:{peer}>"))
            .header(H::From, format!("<sip:probe@{local}>;tag={seed:x}"))
            .header(H::CallId, format!("{seed:x}@{local}"))
            .header(H::CSeq, "1 OPTIONS")
            .build()?;
        probe = Some(table.send_request(Instant::now(), request, Target::udp(peer))?);
    }

    let mut buf = vec![0u8; 65_535];
    loop {
        // 1. Drain: send what the table queued, act on its events.
        while let Some(output) = table.poll_output() {
            match output {
                Output::Transmit(t) => {
                    let Target::Addr(Transport::Udp, to) = t.target else { continue };
                    if socket.send_to(&t.payload, to).is_err() {
                        if let Some(id) = t.transaction {
                            // RFC 3261 §17.1.4: the transaction learns of the failure.
                            table.handle_transport_error(Instant::now(), id);
                        }
                    }
                }
                Output::Event(event) => {
                    if answer(&mut table, event, probe)? {
                        return Ok(());
                    }
                }
            }
        }
        // 2. Sleep until a datagram arrives or the next timer is due.
        let now = Instant::now();
        let timeout = table.poll_timeout().map(|at| at.saturating_duration_since(now));
        // A zero read timeout is an error for std sockets: wait at least a millisecond.
        socket.set_read_timeout(timeout.map(|d| d.max(Duration::from_millis(1))))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let bytes = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                table.handle_datagram(Instant::now(), bytes, Target::udp(from));
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
        // 3. Fire whatever timers are due (early calls do nothing).
        table.handle_timeout(Instant::now());
    }
}

/// The TU: answers requests, reports the probe's outcome. Returns `true` when the probe is
/// done.
fn answer(
    table: &mut TransactionTable,
    event: Event,
    probe: Option<TransactionId>,
) -> Result<bool, Box<dyn Error>> {
    match event {
        Event::Request { id, request, source } => {
            println!("{} from {source}", request.method().map_or("?", Method::as_str));
            let status = if request.method() == Some(&Method::Options) { 200 } else { 501 };
            let response = MessageBuilder::response_to(&request, status, None)
                .to_tag("bare")
                .header(H::Allow, "OPTIONS")
                .build()?;
            table.send_response(Instant::now(), id, response)?;
        }
        // The probe is done at its final response; Timer K would keep the transaction a few
        // seconds longer only to absorb retransmitted finals.
        Event::Final { id, response } => {
            print_final(&response);
            return Ok(Some(id) == probe);
        }
        Event::TimedOut { id, timer } => {
            println!("no answer (Timer {timer:?})");
            return Ok(Some(id) == probe);
        }
        Event::TransportFailed { .. } => println!("could not send"),
        Event::Terminated { id } => return Ok(Some(id) == probe),
        _ => {}
    }
    Ok(false)
}

fn print_final(response: &Message) {
    println!(
        "answered: {} {}",
        response.status().unwrap_or_default(),
        response.reason().unwrap_or_default()
    );
}
