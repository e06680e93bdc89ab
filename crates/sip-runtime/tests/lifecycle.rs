//! Binding, commands from other threads, the stack's timer, and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use sip_runtime::{Runtime, RuntimeConfig};
use sip_transaction::{Target, Transmit, Transport};

#[test]
fn port_zero_binds_and_reports_the_chosen_ports() {
    let rt = start(loopback(), Recorder::default());
    assert_eq!(rt.local.len(), 2);
    assert_eq!(rt.local[0].transport, Transport::Udp);
    assert_eq!(rt.local[1].transport, Transport::Tcp);
    assert!(rt.local.iter().all(|l| l.addr.port() != 0 && l.addr.ip().is_loopback()));
}

#[test]
fn a_busy_address_names_itself_in_the_error() {
    let first = Runtime::bind(loopback(), Recorder::default()).unwrap();
    let taken = first.local_addrs()[0];
    let err = Runtime::bind(RuntimeConfig::new().listen(taken), Recorder::default()).unwrap_err();
    assert_eq!(err.listen_addr(), Some(taken));
    assert_eq!(err.io_error().kind(), std::io::ErrorKind::AddrInUse);
    assert!(err.to_string().starts_with(&format!("cannot listen on {taken}")));
}

#[test]
fn a_command_from_another_thread_wakes_the_loop() {
    let rt = start(loopback(), Recorder::default());
    // Let the loop go to sleep with no timer at all.
    assert!(rt.nothing_for(Duration::from_millis(50)));
    let handle = rt.handle.clone();
    let sent = Instant::now();
    std::thread::spawn(move || handle.send(Cmd::Note("hi".into())).unwrap()).join().unwrap();
    let Seen::Command(note) = rt.next() else { panic!("expected the command") };
    assert_eq!(note, "hi");
    assert!(sent.elapsed() < Duration::from_millis(500));
}

#[test]
fn the_stack_timer_fires_on_time() {
    let rt = start(loopback(), Recorder::default());
    let asked = Instant::now();
    rt.send(Cmd::SetTimer(Duration::from_millis(100)));
    let Seen::Timeout(at) = rt.next() else { panic!("expected the timeout") };
    let fired = Instant::now();
    assert!(at >= asked + Duration::from_millis(100));
    assert!(fired >= at);
    assert!(fired - asked < Duration::from_millis(600), "fired late: {:?}", fired - asked);
}

#[test]
fn shutdown_flushes_what_the_stack_sends_and_returns_promptly() {
    let peer = udp_peer("127.0.0.1:0");
    let goodbye = Transmit {
        target: Target::udp(peer.local_addr().unwrap()),
        payload: Bytes::from_static(b"BYE sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"),
        transaction: None,
    };
    let mut stack = Recorder::default();
    stack.on_shutdown = Some(goodbye);
    let rt = start(loopback().shutdown_grace(Duration::from_secs(1)), stack);
    let tcp = rt.addr(Transport::Tcp);
    let handle = rt.handle.clone();
    let began = Instant::now();
    let runtime = rt.stop();
    assert!(began.elapsed() < Duration::from_millis(500), "took {:?}", began.elapsed());
    assert!(runtime.stack().on_shutdown.is_none(), "handle_shutdown ran");
    let mut buf = [0u8; 256];
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"BYE "));
    // The listener is closed and the handle now reports the runtime gone.
    assert!(std::net::TcpStream::connect(tcp).is_err());
    drop(runtime);
    let err = handle.send(Cmd::Note("late".into())).unwrap_err();
    assert!(matches!(err.into_command(), Some(Cmd::Note(n)) if n == "late"));
    handle.shutdown(); // harmless
}

#[test]
fn run_after_shutdown_returns_at_once() {
    let rt = start(loopback(), Recorder::default());
    let mut runtime = rt.stop();
    let began = Instant::now();
    runtime.run(|_| panic!("no events after shutdown")).unwrap();
    assert!(began.elapsed() < Duration::from_millis(100));
}
