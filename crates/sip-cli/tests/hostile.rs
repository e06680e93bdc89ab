//! `sip serve` on a hostile network (issue 8): garbage, oversized messages, floods beyond
//! `--max-transactions`, idle and half-open TCP connections, and `--state` across a SIGTERM.
//! Real processes on 127.0.0.1, bounded in count and time.

mod common;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use sip_message::HeaderName;

/// RFC 3261 §8.2, §18.3, §21.4.1: every request that can be answered gets exactly one 400
/// (505, 513) whose reason names the problem, sent to where it came from (§18.2.2, RFC 3581);
/// responses, junk and requests without the headers a response needs get nothing; the stats
/// account for every datagram.
#[test]
fn garbage_gets_one_named_400_where_answerable_and_nothing_else() {
    let server = Server::start(&["--stats", "60"]);
    let client = udp_client(Duration::from_millis(400));
    let me = client.local_addr().unwrap();
    // The Via names a port nobody listens on: the answer must come back to the source port
    // (rport, RFC 3581) all the same.
    let via = "SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKg";
    let ok = |method: &str, id: &str| {
        format!("{method} sip:bob@127.0.0.1 SIP/2.0\r\n{}", headers(method, via, id))
    };
    let answerable: [(String, &str); 5] = [
        (ok("INVITE", "g1") + "Content-Length: 9223372036854775808\r\n\r\n", "Bad Content-Length"),
        (
            ok("OPTIONS", "g2") + "Content-Length: 40\r\n\r\nshort",
            "Content-Length larger than body",
        ),
        (
            ok("OPTIONS", "g3") + "Content-Length: 0\r\nno colon here\r\n\r\n",
            "Header line without colon",
        ),
        (
            ok("MESSAGE", "g4").replace("\r\nMax-Forwards", "\nMax-Forwards") + "\r\n",
            "Line not terminated by CRLF",
        ),
        (
            ok("OPTIONS", "g5").replace("SIP/2.0\r\n", "SIP/3.0\r\n") + "\r\n",
            "Unsupported SIP version",
        ),
    ];
    let silent: [String; 6] = [
        // A response, even one that does not parse.
        format!("SIP/2.0 200 OK\r\n{}Content-Length: x\r\n\r\n", headers("INVITE", via, "s1")),
        // An ACK is never answered.
        ok("ACK", "s2") + "Content-Length: x\r\n\r\n",
        // No Call-ID.
        ok("OPTIONS", "s3").replace("Call-ID: s3\r\n", "") + "Content-Length: x\r\n\r\n",
        // A Via that does not parse.
        ok("OPTIONS", "s4").replace("SIP/2.0/UDP 127", "garbage") + "Content-Length: x\r\n\r\n",
        // Binary junk, and a truncated start line.
        String::from_utf8_lossy(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, b' ', 0x02]).into_owned(),
        "INVITE sip:bob@127.0.0.1".to_owned(),
    ];
    for (bytes, _) in &answerable {
        client.send_to(bytes.as_bytes(), server.udp_addr()).unwrap();
    }
    for bytes in &silent {
        client.send_to(bytes.as_bytes(), server.udp_addr()).unwrap();
    }
    // A keep-alive and a valid request, for the accounting.
    client.send_to(b"\r\n\r\n", server.udp_addr()).unwrap();
    client
        .send_to((ok("OPTIONS", "v1") + "Content-Length: 0\r\n\r\n").as_bytes(), server.udp_addr())
        .unwrap();

    let mut got = Vec::new();
    while let Some(response) = recv_message(&client) {
        got.push(response);
    }
    let valid = got.iter().filter(|r| r.call_id() == Some("v1")).count();
    assert_eq!(valid, 1, "the valid OPTIONS is answered once");
    let rejected: Vec<_> = got.iter().filter(|r| r.call_id() != Some("v1")).collect();
    assert_eq!(rejected.len(), answerable.len(), "one answer per answerable datagram: {got:#?}");
    for (i, (_, problem)) in answerable.iter().enumerate() {
        let id = format!("g{}", i + 1);
        let r = rejected.iter().find(|r| r.call_id() == Some(&id)).expect(&id);
        let status = if problem.contains("version") { 505 } else { 400 };
        assert_eq!(r.status(), Some(status), "{id}");
        let reason = r.reason().unwrap();
        assert!(reason.ends_with(&format!("({problem})")), "{id}: {reason}");
        assert!(r.to_tag().is_some(), "§8.2.6.2: a To tag");
        let top = r.header_str(HeaderName::Via).unwrap();
        assert!(top.contains(&format!("rport={}", me.port())), "{top}");
        assert!(top.contains("received=127.0.0.1"), "{top}");
    }

    let (code, lines) = server.stop();
    assert_eq!(code, 0);
    let last = lines.last().unwrap();
    assert!(last.starts_with("final stats: "), "{lines:#?}");
    let datagrams = (answerable.len() + silent.len() + 2) as u64;
    assert_eq!(stat(last, "datagrams"), datagrams, "{last}");
    assert_eq!(stat(last, "keep-alives"), 1, "{last}");
    assert_eq!(stat(last, "parsed"), 1, "{last}");
    assert_eq!(stat(last, "unparsable"), datagrams - 2, "{last}");
    assert_eq!(stat(last, "answered"), answerable.len() as u64, "{last}");
    assert_eq!(stat(last, "dropped"), silent.len() as u64, "{last}");
}

/// RFC 3261 §18.3: a stream that cannot be framed gets its 400 on the connection, which then
/// closes; a frame that does not parse gets its 400 and the connection lives on.
#[test]
fn tcp_garbage_is_answered_on_the_connection() {
    let server = Server::start(&[]);
    let via = "SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKt";
    let mut client = TcpClient::connect(server.tcp_addr());
    let bad_frame = format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n{}Bad\r\nContent-Length: 0\r\n\r\n",
        headers("OPTIONS", via, "t1")
    );
    client.send(bad_frame.as_bytes());
    let r = client.recv().expect("a 400");
    assert_eq!(r.reason(), Some("Bad Request (Header line without colon)"));
    let fine = format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
        headers("OPTIONS", via, "t2")
    );
    client.send(fine.as_bytes());
    assert_eq!(client.recv().expect("a 200").status(), Some(200));
    let no_length =
        format!("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n{}\r\n", headers("OPTIONS", via, "t3"));
    client.send(no_length.as_bytes());
    let r = client.recv().expect("a 400");
    assert_eq!(r.reason(), Some("Bad Request (Missing Content-Length on stream transport)"));
    assert!(client.closed(), "§18.3: the connection closes");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

/// Issue 8 scenario 5: a 70 KB message over TCP, a 100 KB header line, 10,000 headers, a
/// Content-Length of 2^63, and over UDP a datagram above `--max-message-size`: each refused
/// with its status (the connection closed where the stream cannot go on), and the server
/// serves the next client.
#[test]
fn oversized_messages_are_refused() {
    let server = Server::start(&["--max-message-size", "8192"]);
    let via_tcp = "SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKo";
    let start = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n";

    // TCP: 70 KB announced (and sent): refused from the Content-Length, before the body.
    let mut c = TcpClient::connect(server.tcp_addr());
    let big = format!("{start}{}Content-Length: 70000\r\n\r\n", headers("INVITE", via_tcp, "o1"));
    c.send(big.as_bytes());
    let r = c.recv().expect("a 513");
    assert_eq!(
        (r.status(), r.reason()),
        (Some(513), Some("Message Too Large (Message too large)"))
    );
    let _ = c.stream.write_all_ignoring_reset(&vec![b'x'; 70_000]);
    assert!(c.closed());

    // TCP: a 100 KB header line, after the headers a response needs.
    let mut c = TcpClient::connect(server.tcp_addr());
    let long = format!("{start}{}Subject: ", headers("INVITE", via_tcp, "o2"));
    c.send(long.as_bytes());
    let _ = c.stream.write_all_ignoring_reset(&vec![b'a'; 100_000]);
    let r = c.recv().expect("a 513");
    assert_eq!(r.status(), Some(513));
    assert!(c.closed());

    // TCP: 10,000 headers.
    let mut c = TcpClient::connect(server.tcp_addr());
    let many: String = (0..10_000).map(|i| format!("X-{i}: v\r\n")).collect();
    let msg = format!("{start}{}{many}Content-Length: 0\r\n\r\n", headers("INVITE", via_tcp, "o3"));
    let _ = c.stream.write_all_ignoring_reset(msg.as_bytes());
    let r = c.recv().expect("a 513");
    assert_eq!(r.status(), Some(513));
    assert!(c.closed());

    // TCP: Content-Length 2^63.
    let mut c = TcpClient::connect(server.tcp_addr());
    let huge = format!(
        "{start}{}Content-Length: 9223372036854775808\r\n\r\n",
        headers("INVITE", via_tcp, "o4")
    );
    c.send(huge.as_bytes());
    let r = c.recv().expect("a 400");
    assert_eq!(r.reason(), Some("Bad Request (Bad Content-Length)"));
    assert!(c.closed());

    // UDP: 20 KB over an 8 KB limit gets 513; 300 headers get 400 (more than 256).
    let udp = udp_client(Duration::from_secs(2));
    let via_udp = "SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKu";
    let body = "v=0\r\n".repeat(4000);
    let big = format!(
        "{start}{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        headers("INVITE", via_udp, "u1"),
        body.len()
    );
    udp.send_to(big.as_bytes(), server.udp_addr()).unwrap();
    let r = recv_message(&udp).expect("a 513");
    assert_eq!((r.status(), r.call_id()), (Some(513), Some("u1")));
    let many: String = (0..300).map(|i| format!("a:{i}\r\n")).collect();
    let msg = format!("{start}{}{many}Content-Length: 0\r\n\r\n", headers("INVITE", via_udp, "u2"));
    assert!(msg.len() < 8192);
    udp.send_to(msg.as_bytes(), server.udp_addr()).unwrap();
    let r = recv_message(&udp).expect("a 400");
    assert_eq!(r.reason(), Some("Bad Request (Too many headers)"));

    // Still serving.
    let (code, out) = sip(&["options", &server.uri("")]);
    assert_eq!(code, 0, "{out}");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

/// Writes everything, or stops quietly when the peer closed the connection (as a server
/// refusing an oversized message does while it is still being sent).
trait WriteIgnoringReset {
    fn write_all_ignoring_reset(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl WriteIgnoringReset for TcpStream {
    fn write_all_ignoring_reset(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        match self.write_all(bytes) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}

/// Issue 8 scenario 2, at `--max-transactions`: transactions that only linger after their
/// final response are evicted, oldest first, to admit new requests; when every live one is
/// still working, new INVITEs and REGISTERs get 503 with Retry-After and leave nothing
/// behind, while the responses and ACKs of the working ones are still served; once those end,
/// new requests are served again at once.
#[test]
fn at_max_transactions_lingering_ones_are_evicted_and_then_load_is_shed_with_503() {
    let server = Server::start(&["--max-transactions", "2", "--answer", "486"]);
    let mut c = TcpClient::connect(server.tcp_addr());
    let callee = udp_client(Duration::from_secs(3));
    let callee_port = callee.local_addr().unwrap().port();
    let request = |method: &str, user: &str, id: &str| {
        let via = format!("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{id}");
        let contact = if method == "REGISTER" {
            format!("<sip:{user}@127.0.0.1:{callee_port}>")
        } else {
            "<sip:t@127.0.0.1:9;transport=tcp>".to_owned()
        };
        let uri = if method == "REGISTER" {
            "sip:127.0.0.1".to_owned()
        } else {
            format!("sip:{user}@127.0.0.1")
        };
        format!(
            "{method} {uri} SIP/2.0\r\n{}Contact: {contact}\r\nContent-Length: 0\r\n\r\n",
            headers(method, &via, id).replace("sip:bob@", &format!("sip:{user}@"))
        )
    };
    let final_for = |c: &mut TcpClient, id: &str| loop {
        let r = c.recv().unwrap_or_else(|| panic!("no final response for {id}"));
        if r.status().is_some_and(|s| s >= 200) {
            assert_eq!(r.call_id(), Some(id));
            return r;
        }
    };
    let ack = |c: &mut TcpClient, r: &sip_message::Message, id: &str| {
        let via = format!("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{id}");
        let ack = format!(
            "ACK {} SIP/2.0\r\nVia: {via}\r\nFrom: <sip:tester@127.0.0.1>;tag=t{id}\r\n\
             To: {}\r\nCall-ID: {id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            "sip:x@127.0.0.1",
            r.header_str(HeaderName::To).unwrap()
        );
        c.send(ack.as_bytes());
    };
    // The callee registers (over TCP its transaction ends with its 200, Timer J = 0).
    c.send(request("REGISTER", "callee", "reg").as_bytes());
    assert_eq!(final_for(&mut c, "reg").status(), Some(200));
    // Two calls to an unregistered user, answered 486, wait for ACKs nobody sends (Timer H):
    // two lingering transactions fill the cap.
    for id in ["a", "b"] {
        c.send(request("INVITE", "bob", id).as_bytes());
        assert_eq!(final_for(&mut c, id).status(), Some(486));
    }
    // A third is served all the same: the oldest lingering one makes room.
    c.send(request("INVITE", "bob", "c").as_bytes());
    assert_eq!(final_for(&mut c, "c").status(), Some(486));
    // A call to the callee is proxied (its server transaction evicts one more): its server
    // and client transactions both wait for the callee, who says nothing yet.
    c.send(request("INVITE", "callee", "p").as_bytes());
    let proxied = recv_message(&callee).expect("the proxied INVITE");
    assert_eq!(proxied.call_id(), Some("p"));
    // The next evicts the last lingering one, and is ACKed (over TCP its transaction ends at
    // once, Timer I = 0): both live transactions now work.
    c.send(request("INVITE", "bob", "d").as_bytes());
    let d = final_for(&mut c, "d");
    assert_eq!(d.status(), Some(486));
    ack(&mut c, &d, "d");
    // Beyond the cap with nothing lingering: 503 with Retry-After, for INVITE and REGISTER.
    for (method, id) in [("INVITE", "e"), ("REGISTER", "f"), ("INVITE", "i")] {
        c.send(request(method, "bob", id).as_bytes());
        let r = final_for(&mut c, id);
        assert_eq!(r.status(), Some(503), "{id}");
        assert_eq!(r.header_str(HeaderName::RetryAfter), Some("5"), "{id}");
        assert!(r.to_tag().is_some());
    }
    // The working call still completes: the callee's 486 reaches the caller, whose ACK ends
    // the server transaction.
    let busy = sip_message::MessageBuilder::response_to(&proxied, 486, None)
        .to_tag("callee")
        .build()
        .unwrap();
    callee.send_to(&busy.to_bytes(), server.udp_addr()).unwrap();
    let r = final_for(&mut c, "p");
    assert_eq!(r.status(), Some(486));
    ack(&mut c, &r, "p");
    // Service resumes at once: what is left lingers.
    c.send(request("REGISTER", "tester", "g").as_bytes());
    assert_eq!(final_for(&mut c, "g").status(), Some(200));
    c.send(request("INVITE", "bob", "h").as_bytes());
    assert_eq!(final_for(&mut c, "h").status(), Some(486));
    let (code, lines) = server.stop();
    assert_eq!(code, 0);
    let last = lines.last().unwrap();
    assert_eq!(stat(last, "shed 503"), 3, "{last}");
    assert!(stat(last, "lingering transactions evicted") >= 3, "{last}");
}

/// Issue 8 scenario 4: connections that never send, or send half a message, are reaped after
/// `--tcp-idle`, while a normal client is served all the while; beyond `--max-connections`,
/// a new connection is closed at once.
#[test]
fn idle_and_half_open_connections_are_reaped_and_capped() {
    let server = Server::start(&["--tcp-idle", "0.5", "--max-connections", "6"]);
    let mut silent: Vec<TcpClient> =
        (0..3).map(|_| TcpClient::connect(server.tcp_addr())).collect();
    let mut half: Vec<TcpClient> = (0..2).map(|_| TcpClient::connect(server.tcp_addr())).collect();
    for c in &mut half {
        c.send(b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;bra");
    }
    // One more is the sixth: a normal client, served while the others hang.
    let mut normal = TcpClient::connect(server.tcp_addr());
    let options = |id: &str| {
        let via = format!("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{id}");
        format!(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
            headers("OPTIONS", &via, id)
        )
    };
    normal.send(options("n1").as_bytes());
    assert_eq!(normal.recv().map(|r| r.status()), Some(Some(200)));
    // The seventh is over the cap: closed at once.
    let mut over = TcpClient::connect(server.tcp_addr());
    assert!(over.closed(), "beyond --max-connections");
    // The normal client keeps talking more often than the idle timer; the others are reaped.
    let started = Instant::now();
    for i in 0..6 {
        sleep(Duration::from_millis(200));
        normal.send(options(&format!("n{}", i + 2)).as_bytes());
        assert_eq!(normal.recv().map(|r| r.status()), Some(Some(200)));
    }
    for c in silent.iter_mut().chain(half.iter_mut()) {
        assert!(c.closed(), "an idle connection is reaped");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // With the idle ones gone there is room again.
    let mut again = TcpClient::connect(server.tcp_addr());
    again.send(options("a1").as_bytes());
    assert_eq!(again.recv().map(|r| r.status()), Some(Some(200)));
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

/// Issue 8 scenario 7: with `--state FILE`, bindings answered 200 survive a SIGTERM and a
/// restart, including ones registered while the SIGTERM arrives; a corrupt FILE is a
/// one-line error and exit 2.
#[test]
fn bindings_answered_200_survive_sigterm_and_restart() {
    let dir = std::env::temp_dir().join(format!("sip-cli-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("bindings");
    let _ = std::fs::remove_file(&state);
    let state_arg = state.to_str().unwrap();

    let server = Server::start(&["--state", state_arg]);
    let (code, out) = sip(&["register", &server.uri(""), "--user", "alice", "--expires", "600"]);
    assert_eq!(code, 0, "{out}");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("sip:alice@127.0.0.1"), "written before the 200: {saved}");

    // A burst of REGISTERs, with SIGTERM in the middle: every one answered 200 is kept.
    let client = udp_client(Duration::from_millis(300));
    let addr = server.udp_addr();
    let me = client.local_addr().unwrap();
    let count = 300;
    let mut ok = 0u64;
    let mut sent = 0;
    let pid = server.child.id().to_string();
    while sent < count {
        for _ in 0..20 {
            let user = format!("u{sent}");
            let via = format!("SIP/2.0/UDP {me};rport;branch=z9hG4bKs{sent}");
            let register = format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\r\n{}Contact: <sip:{user}@{me}>\r\n\
                 Expires: 600\r\nContent-Length: 0\r\n\r\n",
                headers("REGISTER", &via, &format!("s{sent}"))
                    .replace("sip:tester@", &format!("sip:{user}@"))
                    .replace("sip:bob@", &format!("sip:{user}@"))
            );
            client.send_to(register.as_bytes(), addr).unwrap();
            sent += 1;
        }
        if sent == 160 {
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        }
        while let Some(r) = recv_message_quick(&client) {
            if r.status() == Some(200) {
                ok += 1;
            }
        }
    }
    while let Some(r) = recv_message(&client) {
        if r.status() == Some(200) {
            ok += 1;
        }
    }
    let (code, _) = server.stop_already_signalled();
    assert_eq!(code, 0);
    assert!(ok >= 100, "most of the burst before the SIGTERM was answered: {ok}");

    let server = Server::start(&["--state", state_arg]);
    let (code, lines) = server.stop();
    assert_eq!(code, 0);
    let last = lines.last().unwrap();
    assert!(stat(last, "bindings") > ok, "alice and every 200 of the burst: {ok}, {last}");

    std::fs::write(&state, "this is not a snapshot\n").unwrap();
    let out = Command::new(SIP)
        .args(["serve", "--listen", "udp:127.0.0.1:0", "--state", state_arg])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("sip: --state "), "{stderr}");
    // A FILE that cannot be written is refused at start, not at the first REGISTER.
    let nowhere = dir.join("no/such/dir/bindings");
    let out = Command::new(SIP)
        .args(["serve", "--listen", "udp:127.0.0.1:0", "--state", nowhere.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write") && stderr.lines().count() == 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A datagram already waiting, or `None` after a short wait.
fn recv_message_quick(socket: &std::net::UdpSocket) -> Option<sip_message::Message> {
    socket.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let got = recv_message(socket);
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    got
}

/// When `--state` FILE cannot be written, a REGISTER that changed bindings gets 500, not a
/// 200 that a restart would break.
#[test]
fn a_failed_save_answers_500_instead_of_200() {
    let dir = std::env::temp_dir().join(format!("sip-cli-state-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("bindings");
    let _ = std::fs::remove_file(&state);
    let server = Server::start(&["--state", state.to_str().unwrap()]);
    // The FILE becomes a non-empty directory: the rename over it fails.
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir_all(state.join("x")).unwrap();
    let (code, out) = sip(&["register", &server.uri(""), "--user", "bob", "--timeout", "3"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("500 Server Internal Error (bindings not saved)"), "{out}");
    let (code, _) = server.stop();
    assert_eq!(code, 1, "the final save failed too: exit 1");
    let _ = std::fs::remove_dir_all(&dir);
}
