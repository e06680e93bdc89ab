//! Property tests: hostile header values never panic the verifier or the client, and no edit
//! of one valid credentials value authenticates twice.

mod common;

use common::{KEY, REALM, store};
use proptest::prelude::*;
use sip_auth::{
    AuthRole, ClientConfig, Decision, DigestClient, DigestRequest, DigestServer,
    DigestServerConfig, Qop, StaticCredentials, UserCredentials, answer_challenge,
};
use sip_message::{Authorization, ProxyAuthorization, TypedHeader, WwwAuthenticate};
use sip_testkit::Clock;

/// Text that looks like auth headers: their punctuation, quotes, escapes, folding, UTF-8.
fn headerish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Digest ".to_owned()),
        Just("realm=\"example.com\"".to_owned()),
        Just("nonce=\"".to_owned()),
        Just("algorithm=SHA-256".to_owned()),
        Just("algorithm=MD5-sess".to_owned()),
        Just("qop=\"auth,auth-int\"".to_owned()),
        Just("qop=auth-int".to_owned()),
        Just("nc=00000001".to_owned()),
        Just("nc=ffffffff".to_owned()),
        Just("stale=true".to_owned()),
        Just("userhash=true".to_owned()),
        Just("response=\"".to_owned()),
        Just("uri=\"sip:bob@example.com\"".to_owned()),
        Just(", ".to_owned()),
        Just("\r\n ".to_owned()),
        "[ -~\t\"\\\\=,äø\u{0}]{0,12}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

/// Random edits: (position, kind, byte).
fn edits() -> impl Strategy<Value = Vec<(usize, u8, char)>> {
    prop::collection::vec((any::<usize>(), 0u8..3, prop::char::range(' ', '~')), 1..6)
}

fn apply(value: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    for &(pos, kind, c) in edits {
        let at = pos % (chars.len() + 1);
        match kind {
            0 => chars.insert(at, c),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ if at < chars.len() => chars[at] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

fn new_server(clock: &Clock, role: AuthRole) -> DigestServer {
    let config = DigestServerConfig::new(REALM, KEY).role(role).qop([Qop::Auth, Qop::AuthInt]);
    DigestServer::new(config, clock.now()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn verifier_never_panics(
        values in prop::collection::vec(headerish(), 0..4),
        method in "[A-Z]{1,8}",
        uri in "[ -~]{0,40}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let clock = Clock::new();
        for role in [AuthRole::Uas, AuthRole::Proxy] {
            let mut server = new_server(&clock, role);
            let request = DigestRequest::new(&method, &uri, &body);
            let outcome = server.verify_parts(
                clock.now(),
                &request,
                values.iter().map(String::as_str),
                &store(),
            );
            // Random text never authenticates.
            prop_assert!(!outcome.is_authenticated());
            let _ = outcome.reply();
            let _ = outcome.to_string();
        }
    }

    #[test]
    fn an_edited_credential_authenticates_at_most_once(edits in prop::collection::vec(edits(), 1..8)) {
        let clock = Clock::new();
        let mut server = new_server(&clock, AuthRole::Uas);
        let challenge = server.challenge(clock.now(), false);
        let challenge = WwwAuthenticate::parse(&challenge.values()[0]).unwrap();
        let request = DigestRequest::new("INVITE", "sip:bob@example.com", b"v=0");
        let valid = answer_challenge(
            &challenge,
            &request,
            &UserCredentials::new("alice", "secret"),
            "0a4f113b",
            1,
        )
        .unwrap();
        let mut authenticated = 0;
        for e in &edits {
            let edited = apply(&valid, e);
            let outcome = server.verify_parts(clock.now(), &request, [edited.as_str()], &store());
            if outcome.is_authenticated() {
                authenticated += 1;
                let original = Authorization::parse(&valid).unwrap();
                let accepted = Authorization::parse(&edited).unwrap();
                // What the digest covers cannot have changed.
                prop_assert_eq!(accepted.response().map(|r| r.to_ascii_lowercase()), original.response().map(|r| r.into_owned()));
                prop_assert_eq!(accepted.nonce(), original.nonce());
                prop_assert_eq!(accepted.nc(), original.nc());
                prop_assert_eq!(accepted.cnonce(), original.cnonce());
            }
        }
        let again = server.verify_parts(clock.now(), &request, [valid.as_str()], &store());
        if again.is_authenticated() {
            authenticated += 1;
        }
        prop_assert_eq!(authenticated, 1, "exactly one use of nonce count 1");
    }

    #[test]
    fn client_never_panics(
        challenges in prop::collection::vec((any::<bool>(), headerish()), 0..4),
        sent in prop::collection::vec((any::<bool>(), headerish()), 0..3),
        info in headerish(),
        body in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let role = |proxy: bool| if proxy { AuthRole::Proxy } else { AuthRole::Uas };
        let mut client = DigestClient::new(ClientConfig::default());
        let mut provider = StaticCredentials::new().fallback("alice", "secret");
        let request = DigestRequest::new("INVITE", "sip:bob@example.com", &body);
        let decision = client.on_challenge_parts(
            &mut provider,
            &request,
            sent.iter().map(|(p, v)| (role(*p), v.as_str())),
            challenges.iter().map(|(p, v)| (role(*p), v.as_str())),
        );
        if let Decision::Retry(headers) = &decision {
            for h in headers {
                // Whatever the client writes is well-formed credentials.
                let ok = match h.name() {
                    sip_message::HeaderName::Authorization => Authorization::parse(h.value()).is_ok(),
                    _ => ProxyAuthorization::parse(h.value()).is_ok(),
                };
                prop_assert!(ok, "{}", h.value());
            }
        }
        let _ = client.authorize(&request);
        let _ = client.on_authentication_info(&request, sent.iter().map(|(_, v)| v.as_str()), &info, &body);
        for (_, c) in &challenges {
            if let Ok(c) = WwwAuthenticate::parse(c) {
                let creds = UserCredentials::new("a\"b\\c", "p");
                if let Ok(v) = answer_challenge(&c, &request, &creds, "x\"y", 1) {
                    prop_assert!(Authorization::parse(&v).is_ok(), "{}", v);
                }
            }
        }
    }

    #[test]
    fn edited_challenges_give_retry_with_valid_headers_or_fail(edits in edits()) {
        let clock = Clock::new();
        let mut server = new_server(&clock, AuthRole::Proxy);
        let challenge = server.challenge(clock.now(), false);
        let edited = apply(&challenge.values()[0], &edits);
        let mut client = DigestClient::new(ClientConfig::default());
        let mut provider = StaticCredentials::new().fallback("alice", "secret");
        let request = DigestRequest::new("INVITE", "sip:bob@example.com", b"");
        let decision = client.on_challenge_parts(
            &mut provider,
            &request,
            std::iter::empty(),
            [(AuthRole::Proxy, edited.as_str())],
        );
        if let Decision::Retry(headers) = decision {
            prop_assert_eq!(headers.len(), 1);
            prop_assert!(ProxyAuthorization::parse(headers[0].value()).is_ok());
        }
    }
}
