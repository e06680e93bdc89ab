//! `sip serve` with `sip register`, `sip options` and `sip call` as a user runs them: real
//! processes talking UDP on 127.0.0.1 with ports the OS picks (`--listen udp:127.0.0.1:0`,
//! read back from the `listening on` lines), ended with SIGTERM.

mod common;

use std::process::Command;

use common::*;

#[test]
fn register_options_and_a_call_then_sigterm_ends_cleanly_with_final_stats() {
    let mut server = Server::start(&["--stats", "0.2"]);
    let (code, out) = sip(&["register", &server.uri(""), "--user", "alice", "--expires", "600"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("<- 200 OK (1 REGISTER)"), "{out}");
    assert!(out.contains("registered for 600 s"), "{out}");

    let (code, out) = sip(&["options", &server.uri("")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("<- 200 OK (1 OPTIONS)"), "{out}");

    // RFC 3261 §13.3.1: the server's own UA answers bob (no binding): 100, 180, 200, then
    // the BYE after the duration gets 200.
    let (code, out) = sip(&["call", &server.uri("bob"), "--duration", "0.2"]);
    assert_eq!(code, 0, "{out}");
    for expected in ["<- 180 Ringing (1 INVITE)", "<- 200 OK (1 INVITE)", "<- 200 OK (2 BYE)"] {
        assert!(out.contains(expected), "{expected:?} missing in {out}");
    }

    let stats = server.wait_for("stats: ");
    assert!(stats.contains("calls/s") && stats.contains("1 bindings"), "{stats}");
    let (code, lines) = server.stop();
    assert_eq!(code, 0, "{lines:#?}");
    let last = lines.last().cloned().unwrap_or_default();
    assert!(last.starts_with("final stats: "), "{lines:#?}");
    assert!(last.contains("(1 calls,"), "{last}");
}

#[test]
fn a_registered_user_is_reached_through_the_proxy_and_through_a_redirect() {
    // The "phone" is a second server whose UA answers everything.
    let phone = Server::start(&[]);
    let contact = phone.uri("alice");
    for redirect in [false, true] {
        let mut args = vec!["-v"];
        if redirect {
            args.push("--redirect");
        }
        let mut server = Server::start(&args);
        let (code, out) =
            sip(&["register", &server.uri(""), "--user", "alice", "--contact", &contact]);
        assert_eq!(code, 0, "{out}");
        let (code, out) = sip(&["call", &server.uri("alice"), "--duration", "0.1"]);
        assert_eq!(code, 0, "{out}");
        if redirect {
            assert!(out.contains("<- 302 Moved Temporarily (1 INVITE)"), "{out}");
            server.wait_for("-> Redirect");
        } else {
            // RFC 3261 §16.6 step 4: the proxy record-routed, so the BYE came through it too.
            server.wait_for("INVITE sip:alice@127.0.0.1");
            server.wait_for("proxied request finished: 200");
            server.wait_for("BYE sip:");
        }
        let (code, _) = server.stop();
        assert_eq!(code, 0);
    }
    let (code, _) = phone.stop();
    assert_eq!(code, 0);
}

#[test]
fn digest_auth_and_a_configured_rejection() {
    let dir = std::env::temp_dir().join(format!("sip-cli-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users");
    std::fs::write(&users, "# test users\nalice:secret\n").unwrap();
    let server = Server::start(&[
        "--auth",
        users.to_str().unwrap(),
        "--realm",
        "test.invalid",
        "--answer",
        "486",
    ]);
    let registrar = server.uri("");
    // RFC 3261 §22.1: a wrong password is retried once, then the registration fails.
    let (code, out) =
        sip(&["register", &registrar, "--user", "alice", "--password", "wrong", "--timeout", "5"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.matches("401 Unauthorized").count(), 2, "{out}");
    let (code, out) = sip(&["register", &registrar, "--user", "alice", "--password", "secret"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("<- 200 OK (2 REGISTER)"), "{out}");
    let (code, out) =
        sip(&["register", &registrar, "--user", "alice", "--password", "secret", "--expires", "0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("unregistered"), "{out}");

    // The INVITE is challenged, then refused with the configured 486.
    let (code, out) = sip(&[
        "call",
        &server.uri("bob"),
        "--user",
        "alice",
        "--password",
        "secret",
        "--duration",
        "0",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("<- 401 Unauthorized (1 INVITE)"), "{out}");
    assert!(out.contains("<- 486 Busy Here (2 INVITE)"), "{out}");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nobody_listening_is_a_timeout_and_bad_arguments_are_exit_2() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = format!("sip:127.0.0.1:{}", socket.local_addr().unwrap().port());
    let (code, out) = sip(&["options", &silent, "--timeout", "0.6"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("timed out"), "{out}");
    let (code, _) = sip(&["call", "mailto:x@example.com"]);
    assert_eq!(code, 2);
    let out = Command::new(SIP).args(["serve", "--answer", "180"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_call_that_outlasts_max_call_duration_is_hung_up_by_the_server() {
    // A caller that never sends BYE (crashed, say) would otherwise hold the dialog for good.
    let mut server = Server::start(&["--max-call-duration", "0.5", "--stats", "0.2", "-v"]);
    let started = std::time::Instant::now();
    let (code, out) = sip(&["call", &server.uri("bob"), "--duration", "20"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("call ended by the far end"), "{out}");
    assert!(took.as_secs_f64() >= 0.5 && took.as_secs_f64() < 5.0, "{took:?}");
    server.wait_for("reached --max-call-duration: hung up");
    // Its dialog is gone once the BYE is answered.
    server.wait_for(" 0 dialogs");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}
