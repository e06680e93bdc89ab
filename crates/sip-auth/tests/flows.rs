//! Server and client together, through the public API, on a virtual clock.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{
    Counting, KEY, REALM, challenge_response, config, ok_response, request, server, store,
    with_auth,
};
use sip_auth::{
    Algorithm, AlgorithmSelection, AuthFailure, AuthHeader, AuthRole, ClientConfig, ConfigError,
    Decision, DigestClient, DigestRequest, DigestServer, DigestServerConfig, Malformation,
    MemoryStore, MutualAuth, Outcome, Qop, Reply, StaticCredentials, UriCheck, UserCredentials,
    answer_challenge,
};
use sip_message::{
    Authorization, HeaderName, Message, ProxyAuthenticate, TypedHeader, WwwAuthenticate,
};
use sip_testkit::{Clock, secs};

fn retry(decision: Decision) -> Vec<AuthHeader> {
    match decision {
        Decision::Retry(headers) => headers,
        Decision::Fail(f) => panic!("expected a retry, got {f:?}"),
    }
}

/// First request, its challenge, the client's answer: the authorized second request.
fn first_round(
    server: &mut DigestServer,
    client: &mut DigestClient,
    provider: &mut Counting,
    clock: &Clock,
    method: &str,
    body: &[u8],
) -> Message {
    let first = request(method, "sip:bob@example.com", 1, body);
    let outcome = server.verify(clock.now(), &first, &store());
    assert_eq!(outcome, Outcome::NoCredentials);
    let challenge = server.challenge_for(clock.now(), &outcome).unwrap();
    let headers = retry(client.on_challenge(provider, &first, &challenge_response(&[&challenge])));
    with_auth(request(method, "sip:bob@example.com", 2, body), &headers)
}

/// A response carrying raw challenge values.
fn raw_challenge(status: u16, name: HeaderName, values: &[String]) -> Message {
    let mut msg = Message::parse(Bytes::from(format!(
        "SIP/2.0 {status} Auth\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )))
    .unwrap();
    for v in values {
        msg.push_back(name, v.clone()).unwrap();
    }
    msg
}

#[test]
fn round_trip_every_algorithm_role_and_qop() {
    let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.4\r\n";
    for role in [AuthRole::Uas, AuthRole::Proxy] {
        for algorithm in Algorithm::ALL {
            for qop in [Some(Qop::Auth), Some(Qop::AuthInt), None] {
                if qop.is_none() && algorithm.is_session() {
                    continue; // RFC 3261 §22.4 item 8; covered below
                }
                let clock = Clock::new();
                let config =
                    config().role(role).algorithms([algorithm]).qop([qop.unwrap_or(Qop::Auth)]);
                let mut server = server(config, &clock);
                let mut client = DigestClient::new(ClientConfig::default().rng_seed(3));
                let mut provider = Counting::new("alice", "secret");
                let challenge = server.challenge(clock.now(), false);
                assert_eq!(challenge.status(), role.status());
                assert_eq!(challenge.name(), role.challenge_header());
                // Without qop: an RFC 2069-era challenge (our server always sends qop).
                let values: Vec<String> = challenge
                    .values()
                    .iter()
                    .map(
                        |v| if qop.is_none() { v.replace(", qop=\"auth\"", "") } else { v.clone() },
                    )
                    .collect();
                let first = request("MESSAGE", "sip:bob@example.com", 1, body);
                let response = raw_challenge(challenge.status(), challenge.name(), &values);
                let headers = retry(client.on_challenge(&mut provider, &first, &response));
                assert_eq!(headers.len(), 1);
                assert_eq!(headers[0].name(), role.credentials_header());
                let second =
                    with_auth(request("MESSAGE", "sip:bob@example.com", 2, body), &headers);
                let outcome = server.verify(clock.now(), &second, &store());
                let what = format!("{role:?} {algorithm} {qop:?}");
                let user = outcome.authenticated().unwrap_or_else(|| panic!("{what}: {outcome}"));
                assert_eq!(user.username(), "alice", "{what}");
                assert_eq!(user.algorithm(), algorithm, "{what}");
                assert_eq!(user.qop(), qop, "{what}");
                assert_eq!(user.nc(), qop.map(|_| 1), "{what}");
                // Mutual authentication for the qop forms (RFC 7616 §3.5).
                if role == AuthRole::Uas {
                    let info = server.authentication_info(clock.now(), user, b"ok", false);
                    assert_eq!(info.is_some(), qop.is_some(), "{what}");
                    let ok = ok_response(info.as_deref(), b"ok");
                    let expect =
                        if qop.is_some() { MutualAuth::Verified } else { MutualAuth::Absent };
                    assert_eq!(client.on_success(&second, &ok), expect, "{what}");
                }
                assert_eq!(provider.calls, 1);
            }
        }
    }
}

#[test]
fn wrong_password_is_refused_and_the_client_gives_up_after_one_retry() {
    // RFC 3261 §22.1: no second attempt with rejected credentials.
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "wrong");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    let outcome = server.verify(clock.now(), &second, &store());
    assert_eq!(outcome, Outcome::WrongPassword);
    assert_eq!(outcome.reply(), Reply::Challenge { stale: false });
    let again = server.challenge_for(clock.now(), &outcome).unwrap();
    let decision = client.on_challenge(&mut provider, &second, &challenge_response(&[&again]));
    assert_eq!(
        decision,
        Decision::Fail(AuthFailure::Rejected { role: AuthRole::Uas, realm: REALM.into() })
    );
    assert_eq!(provider.calls, 1);
    assert_eq!(client.cached_realms().count(), 0, "rejected credentials are forgotten");
    assert!(client.authorize(&DigestRequest::new("REGISTER", "sip:x", b"")).is_empty());
}

#[test]
fn unknown_user_looks_like_a_wrong_password_on_the_wire() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("mallory", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "INVITE", b"");
    let outcome = server.verify(clock.now(), &second, &store());
    assert_eq!(outcome, Outcome::UnknownUser);
    assert_eq!(outcome.reply(), Outcome::WrongPassword.reply());
}

#[test]
fn replayed_credentials_are_refused() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    assert!(server.verify(clock.now(), &second, &store()).is_authenticated());
    let replay = server.verify(clock.now(), &second, &store());
    assert_eq!(replay, Outcome::Replay);
    assert_eq!(replay.reply(), Reply::Challenge { stale: true });
    assert_eq!(server.stats().replays, 1);
    assert_eq!(server.stats().authenticated, 1);
}

#[test]
fn lower_nonce_count_is_a_replay_unless_a_window_allows_it_once() {
    for window in [0_u8, 8] {
        let clock = Clock::new();
        let mut server = server(config().nc_window(window), &clock);
        let mut client = DigestClient::new(ClientConfig::default());
        let mut provider = Counting::new("alice", "secret");
        let second = first_round(&mut server, &mut client, &mut provider, &clock, "OPTIONS", b"");
        let r = DigestRequest::new("OPTIONS", "sip:bob@example.com", b"");
        let nc2 = client.authorize(&r); // nc=2
        let nc3 = client.authorize(&r); // nc=3
        let at = |h: &[AuthHeader], cseq| {
            with_auth(request("OPTIONS", "sip:bob@example.com", cseq, b""), h)
        };
        assert!(server.verify(clock.now(), &at(&nc3, 4), &store()).is_authenticated());
        let late = server.verify(clock.now(), &at(&nc2, 3), &store());
        let late_again = server.verify(clock.now(), &at(&nc2, 3), &store());
        let first_late = server.verify(clock.now(), &second, &store());
        if window == 0 {
            assert_eq!(late, Outcome::Replay);
        } else {
            assert!(late.is_authenticated(), "nc 2 after 3 within the window");
        }
        assert_eq!(late_again, Outcome::Replay);
        if window == 0 {
            assert_eq!(first_late, Outcome::Replay);
        } else {
            assert!(first_late.is_authenticated());
        }
    }
}

#[test]
fn expired_nonce_is_stale_and_the_client_retries_once_without_asking() {
    let mut clock = Clock::new();
    let mut server = server(config().nonce_lifetime(secs(300)), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    assert!(server.verify(clock.now(), &second, &store()).is_authenticated());

    // Just inside the lifetime a preemptive request works...
    clock.advance(secs(300));
    let r = DigestRequest::new("REGISTER", "sip:bob@example.com", b"");
    let third =
        with_auth(request("REGISTER", "sip:bob@example.com", 3, b""), &client.authorize(&r));
    assert!(server.verify(clock.now(), &third, &store()).is_authenticated());

    // ...a millisecond past it, the nonce is stale.
    clock.advance(Duration::from_millis(1));
    let fourth =
        with_auth(request("REGISTER", "sip:bob@example.com", 4, b""), &client.authorize(&r));
    let outcome = server.verify(clock.now(), &fourth, &store());
    assert_eq!(outcome, Outcome::Stale);
    let challenge = server.challenge_for(clock.now(), &outcome).unwrap();
    assert!(challenge.values().iter().all(|v| v.ends_with(", stale=true")));
    let headers =
        retry(client.on_challenge(&mut provider, &fourth, &challenge_response(&[&challenge])));
    assert_eq!(provider.calls, 1, "stale=true: no new credentials asked for");
    assert!(headers[0].value().contains("nc=00000001"));
    let fifth = with_auth(request("REGISTER", "sip:bob@example.com", 5, b""), &headers);
    assert!(server.verify(clock.now(), &fifth, &store()).is_authenticated());
    assert_eq!(server.stats().stale, 1);
}

#[test]
fn stale_again_for_the_nonce_a_stale_challenge_gave_is_a_failure() {
    let mut clock = Clock::new();
    let mut server = server(config().nonce_lifetime(secs(10)), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let mut sent = first_round(&mut server, &mut client, &mut provider, &clock, "INVITE", b"");
    let mut decisions = Vec::new();
    // A server (or a clock) so slow that every nonce is stale when it is checked.
    for cseq in 3..10 {
        clock.advance(secs(11));
        let outcome = server.verify(clock.now(), &sent, &store());
        assert_eq!(outcome, Outcome::Stale);
        let challenge = server.challenge_for(clock.now(), &outcome).unwrap();
        match client.on_challenge(&mut provider, &sent, &challenge_response(&[&challenge])) {
            Decision::Retry(h) => {
                decisions.push("retry");
                sent = with_auth(request("INVITE", "sip:bob@example.com", cseq, b""), &h);
            }
            Decision::Fail(f) => {
                assert_eq!(f, AuthFailure::StaleAgain { role: AuthRole::Uas, realm: REALM.into() });
                decisions.push("fail");
                break;
            }
        }
    }
    assert_eq!(decisions, ["retry", "fail"]);
    assert_eq!(provider.calls, 1);
}

#[test]
fn concurrent_requests_with_one_expired_nonce_both_retry() {
    let mut clock = Clock::new();
    let mut server = server(config().nonce_lifetime(secs(10)), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "SUBSCRIBE", b"");
    assert!(server.verify(clock.now(), &second, &store()).is_authenticated());
    clock.advance(secs(20));
    let r = DigestRequest::new("SUBSCRIBE", "sip:bob@example.com", b"");
    let a = with_auth(request("SUBSCRIBE", "sip:bob@example.com", 3, b""), &client.authorize(&r));
    let b = with_auth(request("SUBSCRIBE", "sip:bob@example.com", 4, b""), &client.authorize(&r));
    for sent in [&a, &b] {
        let outcome = server.verify(clock.now(), sent, &store());
        assert_eq!(outcome, Outcome::Stale);
        let challenge = server.challenge_for(clock.now(), &outcome).unwrap();
        let headers =
            retry(client.on_challenge(&mut provider, sent, &challenge_response(&[&challenge])));
        let again = with_auth(request("SUBSCRIBE", "sip:bob@example.com", 9, b""), &headers);
        assert!(server.verify(clock.now(), &again, &store()).is_authenticated());
    }
}

#[test]
fn tampered_nonce_is_refused() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "INVITE", b"");
    let value = second.header_str(HeaderName::Authorization).unwrap().to_owned();
    let nonce = Authorization::parse(&value).unwrap().nonce().unwrap().into_owned();
    // Bump the timestamp's last digit: a nonce from the future, or a longer-lived one.
    let mut forged = nonce.clone().into_bytes();
    forged[15] = if forged[15] == b'f' { b'0' } else { b'f' };
    let forged = String::from_utf8(forged).unwrap();
    let tampered = value.replace(&nonce, &forged);
    let req = DigestRequest::new("INVITE", "sip:bob@example.com", b"");
    assert_eq!(
        server.verify_parts(clock.now(), &req, [tampered.as_str()], &store()),
        Outcome::InvalidNonce
    );
    // Even with a response recomputed for the forged nonce (the password is known), the
    // forged nonce gets no further than a stale challenge.
    let text =
        format!("Digest realm=\"{REALM}\", nonce=\"{forged}\", algorithm=SHA-256, qop=\"auth\"");
    let challenge = WwwAuthenticate::parse(&text).unwrap();
    let creds = UserCredentials::new("alice", "secret");
    let recomputed = answer_challenge(&challenge, &req, &creds, "c", 1).unwrap();
    assert_eq!(
        server.verify_parts(clock.now(), &req, [recomputed.as_str()], &store()),
        Outcome::Stale
    );
    // Garbage nonces of every shape are InvalidNonce too.
    for junk in ["", "abc", "zz", &"0".repeat(64), &format!("{nonce}00")] {
        let v = value.replace(&nonce, junk);
        let outcome = server.verify_parts(clock.now(), &req, [v.as_str()], &store());
        assert_eq!(outcome, Outcome::InvalidNonce, "{junk:?}");
    }
}

#[test]
fn uri_mismatch_is_refused_with_400() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "INVITE", b"");
    let creds = second.header_str(HeaderName::Authorization).unwrap().to_owned();
    let elsewhere = DigestRequest::new("INVITE", "sip:carol@example.com", b"");
    let outcome = server.verify_parts(clock.now(), &elsewhere, [creds.as_str()], &store());
    assert_eq!(outcome, Outcome::UriMismatch);
    assert_eq!(outcome.reply(), Reply::BadRequest);
    assert!(server.challenge_for(clock.now(), &outcome).is_none());
}

#[test]
fn uri_check_policies() {
    // The digest covers `sip:bob@EXAMPLE.com`; the request line differs in host case and has a
    // parameter the other lacks (RFC 3261 §19.1.4: still equivalent).
    let digest_uri = "sip:bob@EXAMPLE.com";
    let request_uri = "sip:bob@example.com;lr";
    for (check, expect_ok) in
        [(UriCheck::Equivalent, true), (UriCheck::Exact, false), (UriCheck::Off, true)]
    {
        let clock = Clock::new();
        let mut server = server(config().uri_check(check), &clock);
        let challenge = server.challenge(clock.now(), false);
        let challenge = WwwAuthenticate::parse(&challenge.values()[0]).unwrap();
        let signed = DigestRequest::new("BYE", digest_uri, b"");
        let value =
            answer_challenge(&challenge, &signed, &UserCredentials::new("alice", "secret"), "c", 1)
                .unwrap();
        let arrived = DigestRequest::new("BYE", request_uri, b"");
        let outcome = server.verify_parts(clock.now(), &arrived, [value.as_str()], &store());
        assert_eq!(outcome.is_authenticated(), expect_ok, "{check:?}: {outcome}");
    }
    // Another host is another resource.
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let challenge = server.challenge(clock.now(), false);
    let challenge = WwwAuthenticate::parse(&challenge.values()[0]).unwrap();
    let signed = DigestRequest::new("BYE", "sip:bob@example.com", b"");
    let value =
        answer_challenge(&challenge, &signed, &UserCredentials::new("alice", "secret"), "c", 1)
            .unwrap();
    let other = DigestRequest::new("BYE", "sip:bob@example.net", b"");
    assert_eq!(
        server.verify_parts(clock.now(), &other, [value.as_str()], &store()),
        Outcome::UriMismatch
    );
}

#[test]
fn auth_int_body_tamper_is_refused() {
    let clock = Clock::new();
    let mut server = server(config().qop([Qop::AuthInt]), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let body = b"v=0\r\nc=IN IP4 192.0.2.4\r\n";
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "INVITE", body);
    assert!(second.header_str(HeaderName::Authorization).unwrap().contains("qop=auth-int"));
    let creds = second.header_str(HeaderName::Authorization).unwrap().to_owned();
    let tampered =
        DigestRequest::new("INVITE", "sip:bob@example.com", b"v=0\r\nc=IN IP4 203.0.113.9\r\n");
    assert_eq!(
        server.verify_parts(clock.now(), &tampered, [creds.as_str()], &store()),
        Outcome::WrongPassword
    );
    assert!(server.verify(clock.now(), &second, &store()).is_authenticated());
}

#[test]
fn method_is_covered_by_the_digest() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "INVITE", b"");
    let creds = second.header_str(HeaderName::Authorization).unwrap().to_owned();
    let bye = DigestRequest::new("BYE", "sip:bob@example.com", b"");
    assert_eq!(
        server.verify_parts(clock.now(), &bye, [creds.as_str()], &store()),
        Outcome::WrongPassword
    );
}

#[test]
fn refusals_for_bad_or_foreign_credentials() {
    let clock = Clock::new();
    let mut server = server(config().algorithms([Algorithm::Sha256]).allow_rfc2069(false), &clock);
    let nonce = {
        let c = server.challenge(clock.now(), false);
        WwwAuthenticate::parse(&c.values()[0]).unwrap().nonce().unwrap().into_owned()
    };
    let req = DigestRequest::new("INVITE", "sip:bob@example.com", b"");
    let good = |alg: &str, qop: &str| {
        let text = format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm={alg}{qop}");
        let challenge = WwwAuthenticate::parse(&text).unwrap();
        answer_challenge(&challenge, &req, &UserCredentials::new("alice", "secret"), "cn", 1)
            .unwrap()
    };
    let mut check = |value: &str, expect: Outcome| {
        let got = server.verify_parts(clock.now(), &req, [value], &store());
        assert_eq!(got, expect, "{value}");
    };
    check("Basic YWxpY2U6c2VjcmV0", Outcome::NoCredentials); // RFC 3261 §22: never Basic
    check(&good("SHA-256", ", qop=\"auth\"").replace(REALM, "example.net"), Outcome::WrongRealm);
    check(&good("MD5", ", qop=\"auth\""), Outcome::UnsupportedAlgorithm); // no downgrade
    check(
        &good("SHA-256", ", qop=\"auth\"").replace("SHA-256", "SHA-1"),
        Outcome::UnsupportedAlgorithm,
    );
    check(&good("SHA-256", ", qop=\"auth-int\""), Outcome::UnsupportedQop);
    check(&good("SHA-256", ""), Outcome::UnsupportedQop); // RFC 2069 form refused by config
    check("Digest username=\"alice\"", Outcome::Malformed(Malformation::Unparseable)); // no realm
    check("Digest realm=\"example.com\" nonce", Outcome::Malformed(Malformation::Unparseable));
    let ok = good("SHA-256", ", qop=\"auth\"");
    for (param, what) in [
        ("username", "username"),
        ("nonce", "nonce"),
        ("uri", "uri"),
        ("response", "response"),
        ("cnonce", "cnonce"),
        ("nc", "nc"),
    ] {
        let stripped = strip_param(&ok, param);
        check(&stripped, Outcome::Malformed(Malformation::MissingParameter(what)));
    }
    check(
        &ok.replace("nc=00000001", "nc=00000000"),
        Outcome::Malformed(Malformation::BadNonceCount),
    );
    check(&ok.replace("nc=00000001", "nc=1"), Outcome::Malformed(Malformation::BadNonceCount));
    check(
        &format!("{ok}, username*=UTF-8''al%C3%AFce"),
        Outcome::Malformed(Malformation::ExtendedUsername),
    );
    let response = Authorization::parse(&ok).unwrap().response().unwrap().into_owned();
    check(&ok.replace(&response, &response[..32]), Outcome::Malformed(Malformation::BadResponse));
    check(&ok.replace(&response, &"x".repeat(64)), Outcome::Malformed(Malformation::BadResponse));
    // Upper-case hex from a lenient client is fine.
    let upper = ok.replace(&response, &response.to_ascii_uppercase());
    assert!(server.verify_parts(clock.now(), &req, [upper.as_str()], &store()).is_authenticated());
    assert_eq!(server.stats().rejected, 18);
}

fn strip_param(value: &str, name: &str) -> String {
    let (scheme, params) = value.split_once(' ').unwrap();
    let kept: Vec<&str> = params
        .split(", ")
        .filter(|p| !p.to_ascii_lowercase().starts_with(&format!("{name}=")))
        .collect();
    format!("{scheme} {}", kept.join(", "))
}

#[test]
fn sess_without_qop_is_malformed_and_ack_cancel_are_exempt() {
    let clock = Clock::new();
    let mut server = server(config().algorithms([Algorithm::Sha256Sess]), &clock);
    let req = DigestRequest::new("INVITE", "sip:bob@example.com", b"");
    let value = "Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", \
                 uri=\"sip:bob@example.com\", response=\"00\", algorithm=SHA-256-sess";
    assert_eq!(
        server.verify_parts(clock.now(), &req, [value], &store()),
        Outcome::Malformed(Malformation::SessionWithoutQop)
    );
    for method in ["ACK", "CANCEL"] {
        let msg = request(method, "sip:bob@example.com", 1, b"");
        let outcome = server.verify(clock.now(), &msg, &store());
        assert_eq!(outcome, Outcome::Exempt);
        assert_eq!(outcome.reply(), Reply::Proceed);
    }
}

#[test]
fn proxy_and_uas_challenges_in_one_response_are_both_answered() {
    // RFC 3261 §22.3: a forking proxy merges challenges; the UAC answers each realm.
    let clock = Clock::new();
    let mut proxy = DigestServer::new(
        DigestServerConfig::new("proxy.example.net", KEY).role(AuthRole::Proxy).rng_seed(1),
        clock.now(),
    )
    .unwrap();
    let mut uas = server(config(), &clock);
    let mut proxy_store = MemoryStore::new();
    proxy_store.add_password("alice-p", "proxy.example.net", "psecret");
    let mut provider = StaticCredentials::new()
        .realm("proxy.example.net", "alice-p", "psecret")
        .realm(REALM, "alice", "secret");
    let mut client = DigestClient::new(ClientConfig::default());
    let first = request("INVITE", "sip:bob@example.com", 1, b"");
    let response = challenge_response(&[
        &proxy.challenge(clock.now(), false),
        &uas.challenge(clock.now(), false),
    ]);
    let headers = retry(client.on_challenge(&mut provider, &first, &response));
    let names: Vec<_> = headers.iter().map(AuthHeader::name).collect();
    assert!(
        names.contains(&HeaderName::ProxyAuthorization)
            && names.contains(&HeaderName::Authorization)
    );
    let second = with_auth(request("INVITE", "sip:bob@example.com", 2, b""), &headers);
    let p = proxy.verify(clock.now(), &second, &proxy_store);
    assert_eq!(p.authenticated().map(|a| a.username()), Some("alice-p"));
    let u = uas.verify(clock.now(), &second, &store());
    assert_eq!(u.authenticated().map(|a| a.username()), Some("alice"));
    // A proxy of another realm leaves the credentials alone.
    let mut other = DigestServer::new(
        DigestServerConfig::new("other.example.org", KEY).role(AuthRole::Proxy),
        clock.now(),
    )
    .unwrap();
    assert_eq!(other.verify(clock.now(), &second, &proxy_store), Outcome::WrongRealm);
}

#[test]
fn authentication_info_rspauth_and_nextnonce() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    let outcome = server.verify(clock.now(), &second, &store());
    let user = outcome.authenticated().unwrap();
    let info = server.authentication_info(clock.now(), user, b"", true).unwrap();
    assert!(info.starts_with("nextnonce=\""));
    assert!(info.contains(", qop=auth, rspauth=\"") && info.ends_with(", nc=00000001"));
    let next_nonce =
        sip_message::AuthenticationInfo::parse(&info).unwrap().next_nonce().unwrap().into_owned();

    // A forged rspauth is caught, and its nextnonce is not taken.
    let rsp =
        sip_message::AuthenticationInfo::parse(&info).unwrap().rspauth().unwrap().into_owned();
    let forged = info.replace(&rsp, &"0".repeat(rsp.len()));
    assert_eq!(client.on_success(&second, &ok_response(Some(&forged), b"")), MutualAuth::Mismatch);
    let r = DigestRequest::new("REGISTER", "sip:bob@example.com", b"");
    assert!(!client.authorize(&r)[0].value().contains(&next_nonce));

    assert_eq!(client.on_success(&second, &ok_response(Some(&info), b"")), MutualAuth::Verified);
    let headers = client.authorize(&r);
    assert!(headers[0].value().contains(&next_nonce));
    assert!(headers[0].value().contains("nc=00000001"));
    let third = with_auth(request("REGISTER", "sip:bob@example.com", 3, b""), &headers);
    assert!(server.verify(clock.now(), &third, &store()).is_authenticated());
    assert_eq!(client.on_success(&third, &ok_response(None, b"")), MutualAuth::Absent);
}

#[test]
fn userhash_round_trip() {
    // RFC 7616 §3.4.4.
    let clock = Clock::new();
    let mut server = server(config().userhash(true).algorithms([Algorithm::Sha512_256]), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    let value = second.header_str(HeaderName::Authorization).unwrap();
    assert!(value.contains("userhash=true") && !value.contains("\"alice\""));
    let outcome = server.verify(clock.now(), &second, &store());
    let user = outcome.authenticated().unwrap();
    assert_eq!(user.username(), "alice");
    assert!(user.is_userhash());
}

#[test]
fn replay_table_is_bounded_and_never_trusts_an_evicted_nonce() {
    let mut clock = Clock::new();
    let mut server = server(config().replay_capacity(4).nonce_lifetime(secs(3600)), &clock);
    let mut provider = Counting::new("alice", "secret");
    let mut first_client = DigestClient::new(ClientConfig::default().rng_seed(100));
    let second =
        first_round(&mut server, &mut first_client, &mut provider, &clock, "REGISTER", b"");
    assert!(server.verify(clock.now(), &second, &store()).is_authenticated());
    for seed in 0..40 {
        clock.advance(secs(1));
        let mut client = DigestClient::new(ClientConfig::default().rng_seed(seed));
        let sent = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
        assert!(server.verify(clock.now(), &sent, &store()).is_authenticated());
        assert!(server.stats().tracked_nonces <= 4);
    }
    assert_eq!(server.stats().tracked_nonces, 4);
    assert_eq!(server.stats().evictions, 37);
    // The first nonce was evicted: its next count is not trusted, nor its old one.
    assert_eq!(server.verify(clock.now(), &second, &store()), Outcome::Stale);
    let r = DigestRequest::new("REGISTER", "sip:bob@example.com", b"");
    let again =
        with_auth(request("REGISTER", "sip:bob@example.com", 3, b""), &first_client.authorize(&r));
    assert_eq!(server.verify(clock.now(), &again, &store()), Outcome::Stale);
    // Expired nonces leave the table on the next check.
    clock.advance(secs(3601));
    let mut client = DigestClient::new(ClientConfig::default().rng_seed(999));
    let sent = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    assert!(server.verify(clock.now(), &sent, &store()).is_authenticated());
    assert_eq!(server.stats().tracked_nonces, 1);
}

#[test]
fn rfc2069_nonce_is_good_once() {
    let clock = Clock::new();
    let mut server = server(config().algorithms([Algorithm::Md5]), &clock);
    let challenge = server.challenge(clock.now(), false).values()[0].replace(", qop=\"auth\"", "");
    let challenge = WwwAuthenticate::parse(&challenge).unwrap();
    let req = DigestRequest::new("REGISTER", "sip:example.com", b"");
    let value =
        answer_challenge(&challenge, &req, &UserCredentials::new("alice", "secret"), "ignored", 1)
            .unwrap();
    assert!(!value.contains("cnonce") && !value.contains("nc=") && !value.contains("qop"));
    let outcome = server.verify_parts(clock.now(), &req, [value.as_str()], &store());
    assert!(outcome.is_authenticated());
    assert_eq!(
        server.authentication_info(clock.now(), outcome.authenticated().unwrap(), b"", false),
        None
    );
    assert_eq!(server.verify_parts(clock.now(), &req, [value.as_str()], &store()), Outcome::Replay);
}

#[test]
fn opaque_is_sent_and_required_back() {
    let clock = Clock::new();
    let mut server =
        server(config().opaque(Some("5ccc069c403ebaf9f0171e9517f40e41".into())), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    let value = second.header_str(HeaderName::Authorization).unwrap().to_owned();
    assert!(value.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    let req = DigestRequest::from_message(&second).unwrap();
    let changed = value.replace("5ccc069c", "5ccc069d");
    assert_eq!(
        server.verify_parts(clock.now(), &req, [changed.as_str()], &store()),
        Outcome::OpaqueMismatch
    );
    let dropped = strip_param(&value, "opaque");
    assert_eq!(
        server.verify_parts(clock.now(), &req, [dropped.as_str()], &store()),
        Outcome::OpaqueMismatch
    );
    assert!(server.verify(clock.now(), &second, &store()).is_authenticated());
}

#[test]
fn algorithm_selection_policies() {
    let clock = Clock::new();
    // The server lists MD5 first.
    let mut server = server(
        config().algorithms([Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256]),
        &clock,
    );
    let challenge = server.challenge(clock.now(), false);
    let response = challenge_response(&[&challenge]);
    let first = request("INVITE", "sip:bob@example.com", 1, b"");
    let pick = |config: ClientConfig| {
        let mut client = DigestClient::new(config);
        let mut provider = Counting::new("alice", "secret");
        let headers = retry(client.on_challenge(&mut provider, &first, &response));
        Authorization::parse(headers[0].value()).unwrap().algorithm().unwrap_or("MD5").to_owned()
    };
    assert_eq!(pick(ClientConfig::default()), "SHA-512-256");
    assert_eq!(pick(ClientConfig::default().selection(AlgorithmSelection::ServerOrder)), "MD5");
    assert_eq!(pick(ClientConfig::default().algorithms([Algorithm::Sha256])), "SHA-256");
    let mut client = DigestClient::new(ClientConfig::default().algorithms([Algorithm::Sha256Sess]));
    let mut provider = Counting::new("alice", "secret");
    assert_eq!(
        client.on_challenge(&mut provider, &first, &response),
        Decision::Fail(AuthFailure::NoUsableChallenge)
    );
}

#[test]
fn challenge_format() {
    let clock = Clock::new();
    let mut uas = server(
        config()
            .algorithms([Algorithm::Sha256, Algorithm::Md5])
            .qop([Qop::Auth, Qop::AuthInt])
            .domain(Some("sip:example.com sip:example.net".into()))
            .opaque(Some("op".into())),
        &clock,
    );
    let c = uas.challenge(clock.now(), false);
    assert_eq!(c.values().len(), 2);
    let nonce = WwwAuthenticate::parse(&c.values()[0]).unwrap().nonce().unwrap().into_owned();
    assert_eq!(nonce.len(), 64);
    assert_eq!(
        c.values()[0],
        format!(
            "Digest realm=\"example.com\", domain=\"sip:example.com sip:example.net\", \
             nonce=\"{nonce}\", opaque=\"op\", algorithm=SHA-256, qop=\"auth,auth-int\""
        )
    );
    assert_eq!(c.values()[1], c.values()[0].replace("SHA-256", "MD5"));
    for v in c.values() {
        let p = WwwAuthenticate::parse(v).unwrap();
        assert_eq!(p.qop().collect::<Vec<_>>(), ["auth", "auth-int"]);
        assert_eq!(p.stale(), None);
    }
    let stale = uas.challenge(clock.now(), true);
    assert_ne!(WwwAuthenticate::parse(&stale.values()[0]).unwrap().nonce().unwrap(), nonce);
    assert_eq!(WwwAuthenticate::parse(&stale.values()[0]).unwrap().stale(), Some(true));

    let mut proxy = server(
        DigestServerConfig::new("a \"quoted\" realm", KEY)
            .role(AuthRole::Proxy)
            .domain(Some("sip:ignored".into()))
            .userhash(true),
        &clock,
    );
    let p = proxy.challenge(clock.now(), false);
    assert_eq!((p.status(), p.name()), (407, HeaderName::ProxyAuthenticate));
    let parsed = ProxyAuthenticate::parse(&p.values()[0]).unwrap();
    assert_eq!(parsed.realm().as_deref(), Some("a \"quoted\" realm"));
    assert_eq!(parsed.domain(), None, "RFC 7616 §3.3: domain is meaningless for proxies");
    assert_eq!(parsed.userhash(), Some(true));
    assert_eq!(proxy.stats().challenges, 1);
}

#[test]
fn quoted_realm_round_trips_through_the_client() {
    let clock = Clock::new();
    let realm = "weird \"realm\" \\ here";
    let mut server = server(DigestServerConfig::new(realm, KEY), &clock);
    let mut store = MemoryStore::new();
    store.add_password("al\"ice", realm, "pw");
    let first = request("REGISTER", "sip:example.com", 1, b"");
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("al\"ice", "pw");
    let response = challenge_response(&[&server.challenge(clock.now(), false)]);
    let headers = retry(client.on_challenge(&mut provider, &first, &response));
    let second = with_auth(request("REGISTER", "sip:example.com", 2, b""), &headers);
    let outcome = server.verify(clock.now(), &second, &store);
    assert_eq!(outcome.authenticated().map(|a| a.username()), Some("al\"ice"));
}

#[test]
fn config_errors() {
    let now = Clock::new().now();
    let err = |c: DigestServerConfig| DigestServer::new(c, now).unwrap_err();
    assert_eq!(err(DigestServerConfig::new(REALM, *b"short")), ConfigError::KeyTooShort);
    assert_eq!(err(config().algorithms([])), ConfigError::NoAlgorithms);
    assert_eq!(
        err(config().algorithms([Algorithm::Md5, Algorithm::Md5])),
        ConfigError::DuplicateAlgorithm(Algorithm::Md5)
    );
    assert_eq!(err(config().qop([])), ConfigError::NoQop);
    assert_eq!(err(DigestServerConfig::new("a\r\nb", KEY)), ConfigError::Unquotable("realm"));
    assert_eq!(err(config().opaque(Some("\n".into()))), ConfigError::Unquotable("opaque"));
    assert_eq!(err(config().nonce_lifetime(Duration::ZERO)), ConfigError::NonceLifetime);
    assert!(err(config().qop([])).to_string().contains("qop"));
    let debug = format!("{:?}", config());
    assert!(!debug.contains("secret nonce key"), "the key is not printed");
}

#[test]
fn same_seeds_same_bytes() {
    let run = || {
        let clock = Clock::new();
        let mut server = server(config(), &clock);
        let mut client = DigestClient::new(ClientConfig::default().rng_seed(5));
        let mut provider = Counting::new("alice", "secret");
        let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
        second.header_str(HeaderName::Authorization).unwrap().to_owned()
    };
    assert_eq!(run(), run());
}

#[test]
fn client_failures() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let first = request("INVITE", "sip:bob@example.com", 1, b"");
    let response = challenge_response(&[&server.challenge(clock.now(), false)]);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut nobody = StaticCredentials::new().realm("elsewhere", "x", "y");
    assert_eq!(
        client.on_challenge(&mut nobody, &first, &response),
        Decision::Fail(AuthFailure::NoCredentials { role: AuthRole::Uas, realm: REALM.into() })
    );
    let mut crlf = StaticCredentials::new().fallback("a\r\nb", "x");
    assert!(matches!(
        client.on_challenge(&mut crlf, &first, &response),
        Decision::Fail(AuthFailure::Unusable(_))
    ));
    for challenge in [
        "Basic realm=\"example.com\"",
        "Digest realm=\"example.com\", nonce=\"n\", algorithm=AKAv1-MD5",
        "Digest realm=\"example.com\", nonce=\"n\", qop=\"auth-conf\"",
        "Digest nonce=\"n\"",
        "Digest realm=\"example.com\"",
        "Digest realm=\"example.com\", nonce=\"n\", algorithm=MD5-sess",
        "not a challenge at all ,,,",
    ] {
        let response = raw_challenge(401, HeaderName::WwwAuthenticate, &[challenge.to_owned()]);
        let mut provider = Counting::new("alice", "secret");
        assert_eq!(
            client.on_challenge(&mut provider, &first, &response),
            Decision::Fail(AuthFailure::NoUsableChallenge),
            "{challenge}"
        );
        assert_eq!(provider.calls, 0);
    }
    // A response without challenges, and a response given as the "sent request".
    let plain = ok_response(None, b"");
    let mut provider = Counting::new("alice", "secret");
    assert_eq!(
        client.on_challenge(&mut provider, &first, &plain),
        Decision::Fail(AuthFailure::NoUsableChallenge)
    );
    assert_eq!(
        client.on_challenge(&mut provider, &plain, &response),
        Decision::Fail(AuthFailure::NoUsableChallenge)
    );
}

#[test]
fn preemptive_credentials_count_up_and_can_be_forgotten() {
    let clock = Clock::new();
    let mut server = server(config(), &clock);
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let _ = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    let r = DigestRequest::new("OPTIONS", "sip:bob@example.com", b"");
    let counts: Vec<u32> = (0..3)
        .map(|_| Authorization::parse(client.authorize(&r)[0].value()).unwrap().nc().unwrap())
        .collect();
    assert_eq!(counts, [2, 3, 4]);
    let cnonces: Vec<String> = (0..2)
        .map(|_| {
            Authorization::parse(client.authorize(&r)[0].value())
                .unwrap()
                .cnonce()
                .unwrap()
                .into_owned()
        })
        .collect();
    assert_ne!(cnonces[0], cnonces[1]);
    assert_eq!(client.cached_realms().collect::<Vec<_>>(), [(AuthRole::Uas, REALM)]);
    assert!(client.forget(AuthRole::Uas, REALM));
    assert!(!client.forget(AuthRole::Uas, REALM));
    assert!(client.authorize(&r).is_empty());
}

#[test]
fn a_now_earlier_than_the_last_is_the_last() {
    let mut clock = Clock::new();
    let start = clock.now();
    let mut server = server(config(), &clock);
    clock.advance(secs(100));
    let mut client = DigestClient::new(ClientConfig::default());
    let mut provider = Counting::new("alice", "secret");
    let second = first_round(&mut server, &mut client, &mut provider, &clock, "REGISTER", b"");
    // Going back in time does not make the nonce come from the future, nor panic.
    assert!(server.verify(start, &second, &store()).is_authenticated());
}
