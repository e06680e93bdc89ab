//! Two runtimes, each driving a `TransactionStack`, exchange OPTIONS over UDP and TCP: the
//! client's Via comes from the bound addresses, the server stamps it, and the response finds its
//! way back to the client transaction (RFC 3261 §18, RFC 3581).

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use sip_message::{HeaderName as H, MessageBuilder, Method};
use sip_runtime::{
    Runtime, RuntimeConfig, RuntimeHandle, TransactionStack, TransactionUser, TuContext,
};
use sip_transaction::{Event, Target, TransactionConfig, Transport};

/// Answers requests 200; sends OPTIONS to the commanded target; reports finals and what the
/// server side saw of the top Via.
struct Tu;

#[derive(Debug, PartialEq)]
enum Report {
    Final(u16),
    Served { via: String, source: Target },
    Failed,
}

impl TransactionUser for Tu {
    type Command = Target;
    type Event = Report;

    fn handle_event(&mut self, cx: &mut TuContext<'_, Report>, event: Event) {
        match event {
            Event::Request { id, request, source } => {
                let via = String::from_utf8_lossy(request.top_via().unwrap()).into_owned();
                cx.emit(Report::Served { via, source });
                let ok =
                    MessageBuilder::response_to(&request, 200, None).to_tag("s").build().unwrap();
                let now = cx.now();
                cx.table().send_response(now, id, ok).unwrap();
            }
            Event::Final { response, .. } => cx.emit(Report::Final(response.status().unwrap())),
            Event::TimedOut { .. } | Event::TransportFailed { .. } => cx.emit(Report::Failed),
            _ => {}
        }
    }

    fn handle_command(&mut self, cx: &mut TuContext<'_, Report>, target: Target) {
        let via = cx.via(&target).expect("a socket for the target");
        let request = MessageBuilder::request(&Method::Options, "sip:server@127.0.0.1")
            .header(H::Via, via)
            .header(H::MaxForwards, "70")
            .header(H::To, "<sip:server@127.0.0.1>")
            .header(H::From, "<sip:client@127.0.0.1>;tag=c")
            .header(H::CallId, format!("call-{target}"))
            .header(H::CSeq, "1 OPTIONS")
            .build()
            .unwrap();
        let now = cx.now();
        cx.table().send_request(now, request, target).unwrap();
    }
}

struct Node {
    handle: RuntimeHandle<Target>,
    reports: mpsc::Receiver<Report>,
    udp: std::net::SocketAddr,
    tcp: std::net::SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Node {
    fn start(seed: u64) -> Node {
        let config = RuntimeConfig::new()
            .listen("udp:127.0.0.1:0".parse().unwrap())
            .listen("tcp:127.0.0.1:0".parse().unwrap());
        let stack = TransactionStack::new(TransactionConfig::default().rng_seed(seed), Tu);
        let mut runtime = Runtime::bind(config, stack).unwrap();
        let (udp, tcp) = (runtime.local_addrs()[0].addr, runtime.local_addrs()[1].addr);
        let handle = runtime.handle();
        let (tx, reports) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            runtime.run(|r| tx.send(r).unwrap()).unwrap();
        });
        Node { handle, reports, udp, tcp, thread: Some(thread) }
    }

    fn next(&self) -> Report {
        self.reports.recv_timeout(Duration::from_millis(1500)).expect("a report in time")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn options_over_udp_round_trips_through_two_runtimes() {
    let (client, server) = (Node::start(1), Node::start(2));
    client.handle.send(Target::udp(server.udp)).unwrap();
    let Report::Served { via, source } = server.next() else { panic!("the server saw nothing") };
    // RFC 3581 §4: the client asked for rport; the server filled it and added received.
    let port = client.udp.port();
    assert!(
        via.starts_with(&format!("SIP/2.0/UDP {};rport={port};branch=z9hG4bK", client.udp)),
        "{via}"
    );
    assert!(via.ends_with(";received=127.0.0.1"), "{via}");
    assert_eq!(source, Target::udp(client.udp), "the request left from the bound socket");
    assert_eq!(client.next(), Report::Final(200));
}

#[test]
fn options_over_tcp_is_answered_on_the_same_connection() {
    let (client, server) = (Node::start(3), Node::start(4));
    client.handle.send(Target::tcp(server.tcp)).unwrap();
    let Report::Served { via, source } = server.next() else { panic!("the server saw nothing") };
    assert!(via.starts_with(&format!("SIP/2.0/TCP {};rport=", client.tcp)), "{via}");
    assert!(matches!(source, Target::Flow(Transport::Tcp, _)));
    assert_eq!(client.next(), Report::Final(200));
    let (c, s) = (client.handle.stats(), server.handle.stats());
    assert_eq!((c.connections_opened, s.connections_accepted), (1, 1));
    assert_eq!((c.datagrams_out, s.datagrams_out), (0, 0));
}

/// The default `TransactionUser::handle_parse_error` answers an unparsable request 400 once,
/// back to its sender (RFC 3261 §8.2, §18.3), and nothing else.
#[test]
fn an_unparsable_request_is_answered_400_by_default() {
    let server = Node::start(5);
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let me = peer.local_addr().unwrap();
    let request = format!(
        "OPTIONS sip:server@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbad\r\n\
         To: <sip:server@127.0.0.1>\r\nFrom: <sip:c@127.0.0.1>;tag=1\r\nCall-ID: bad\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: -1\r\n\r\n"
    );
    peer.send_to(request.as_bytes(), server.udp).unwrap();
    let response = request.replace("OPTIONS sip:server@127.0.0.1 SIP/2.0", "SIP/2.0 200 OK");
    peer.send_to(response.as_bytes(), server.udp).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = peer.recv_from(&mut buf).expect("a 400");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 400 Bad Request (Bad Content-Length)\r\n"), "{text}");
    assert!(peer.recv_from(&mut buf).is_err(), "one answer, and none to the response");
    assert_eq!(server.handle.stats().parse_errors, 2);
}
