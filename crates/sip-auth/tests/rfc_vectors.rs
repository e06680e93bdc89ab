//! The worked examples of RFC 2617 §3.5 and RFC 7616 §3.9, reproduced through the public API.

use std::time::Instant;

use sha2::{Digest, Sha512};
use sip_auth::{
    Algorithm, DigestRequest, DigestServer, DigestServerConfig, HashAlgorithm, MemoryStore,
    Outcome, Qop, UserCredentials, answer_challenge,
};
use sip_message::{Authorization, TypedHeader, WwwAuthenticate};

/// The `response` parameter of a credentials value.
fn response_of(value: &str) -> String {
    Authorization::parse(value).unwrap().response().unwrap().into_owned()
}

#[test]
fn rfc2617_section_3_5_mufasa() {
    let challenge = WwwAuthenticate::parse(
        "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .unwrap();
    let request = DigestRequest::new("GET", "/dir/index.html", b"");
    let creds = UserCredentials::new("Mufasa", "Circle Of Life");
    let value = answer_challenge(&challenge, &request, &creds, "0a4f113b", 1).unwrap();
    // The RFC's own Authorization, parameter for parameter (RFC 2617 §3.5; no algorithm was
    // named, so none is echoed).
    assert_eq!(
        value,
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
         response=\"6629fae49393a05397450978507c4ef1\", cnonce=\"0a4f113b\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001"
    );
}

#[test]
fn rfc2617_credentials_are_right_but_the_nonce_is_not_ours() {
    // A server for the same realm recomputes the RFC's digest and finds it right; the nonce is
    // not one it minted, so the answer is a stale challenge, not a failure (RFC 2617 §3.2.1).
    let mut store = MemoryStore::new();
    store.add_password("Mufasa", "testrealm@host.com", "Circle Of Life");
    let config = DigestServerConfig::new("testrealm@host.com", *b"0123456789abcdef")
        .algorithms([Algorithm::Md5])
        .qop([Qop::Auth, Qop::AuthInt]);
    let mut server = DigestServer::new(config, Instant::now()).unwrap();
    let rfc = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
               nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
               qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
               response=\"6629fae49393a05397450978507c4ef1\", \
               opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    let request = DigestRequest::new("GET", "/dir/index.html", b"");
    let now = Instant::now();
    assert_eq!(server.verify_parts(now, &request, [rfc], &store), Outcome::Stale);
    // One digit of the response changed: not stale, refused.
    let bad = rfc.replace("6629fae4", "6629fae5");
    assert_eq!(server.verify_parts(now, &request, [bad.as_str()], &store), Outcome::InvalidNonce);
}

const RFC7616_CHALLENGE: &str = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
     algorithm=ALG, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
     opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc7616_section_3_9_1(algorithm: &str) -> String {
    let text = RFC7616_CHALLENGE.replace("ALG", algorithm);
    let challenge = WwwAuthenticate::parse(&text).unwrap();
    let request = DigestRequest::new("GET", "/dir/index.html", b"");
    let creds = UserCredentials::new("Mufasa", "Circle of Life");
    answer_challenge(&challenge, &request, &creds, RFC7616_CNONCE, 1).unwrap()
}

#[test]
fn rfc7616_section_3_9_1_md5() {
    let value = rfc7616_section_3_9_1("MD5");
    assert_eq!(response_of(&value), "8ca523f5e9506fed4657c9700eebdbec");
    assert_eq!(
        value,
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
         nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", uri=\"/dir/index.html\", \
         response=\"8ca523f5e9506fed4657c9700eebdbec\", algorithm=MD5, \
         cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", qop=auth, nc=00000001"
    );
}

#[test]
fn rfc7616_section_3_9_1_sha256() {
    let value = rfc7616_section_3_9_1("SHA-256");
    assert_eq!(
        response_of(&value),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert!(value.contains(", algorithm=SHA-256, "));
}

/// RFC 7616 §3.9.2's inputs: SHA-512-256, UTF-8 username, userhash.
fn rfc7616_section_3_9_2() -> String {
    let challenge = WwwAuthenticate::parse(
        "Digest realm=\"api@example.org\", qop=\"auth\", algorithm=SHA-512-256, \
         nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\", \
         opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\", charset=UTF-8, userhash=true",
    )
    .unwrap();
    let request = DigestRequest::new("GET", "/doe.json", b"");
    let creds = UserCredentials::new("J\u{e4}s\u{f8}n Doe", "Secret, or not?");
    let cnonce = "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v";
    answer_challenge(&challenge, &request, &creds, cnonce, 1).unwrap()
}

#[test]
fn rfc7616_section_3_9_2_with_fips_sha512_256() {
    // The values below were computed independently (Python hashlib's sha512_256) from the
    // RFC's inputs with SHA-512/256 as FIPS 180-4 defines it, which RFC 7616 §3.2 names.
    let value = rfc7616_section_3_9_2();
    let creds = Authorization::parse(&value).unwrap();
    assert_eq!(
        creds.username().as_deref(),
        Some("793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b")
    );
    assert_eq!(creds.userhash(), Some(true));
    assert_eq!(
        creds.response().as_deref(),
        Some("3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5")
    );
}

/// The RFC's printed §3.9.2 values are SHA-512 cut to 256 bits, not SHA-512/256 (which has its
/// own initial values): this pins that reading of the erratum down, so nobody "fixes" our
/// SHA-512/256 to match the example. Same construction, other hash.
#[test]
fn rfc7616_section_3_9_2_printed_values_are_truncated_sha512() {
    let h = |data: &str| -> String {
        Sha512::digest(data.as_bytes()).iter().take(32).map(|b| format!("{b:02x}")).collect()
    };
    let (user, realm) = ("J\u{e4}s\u{f8}n Doe", "api@example.org");
    assert_eq!(
        h(&format!("{user}:{realm}")),
        "488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec"
    );
    let ha1 = h(&format!("{user}:{realm}:Secret, or not?"));
    let ha2 = h("GET:/doe.json");
    let response = h(&format!(
        "{ha1}:5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK:00000001:\
         NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v:auth:{ha2}"
    ));
    assert_eq!(response, "ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd");
    // And our SHA-512-256 is not that truncation.
    assert_ne!(
        HashAlgorithm::Sha512_256.hex(&[format!("{user}:{realm}").as_bytes()]),
        h(&format!("{user}:{realm}"))
    );
    let ours = rfc7616_section_3_9_2();
    assert!(!ours.contains("ae66e67d"));
}

#[test]
fn rfc3261_section_22_4_empty_body_hash_for_auth_int() {
    // RFC 3261 §22.4 item 7: with no body, H(entity-body) is MD5("").
    let challenge =
        WwwAuthenticate::parse("Digest realm=\"biloxi.com\", qop=\"auth-int\", nonce=\"n\"")
            .unwrap();
    let creds = UserCredentials::new("bob", "zanzibar");
    let request = DigestRequest::new("INVITE", "sip:bob@biloxi.com", b"");
    let value = answer_challenge(&challenge, &request, &creds, "c", 1).unwrap();
    let h = |s: &str| HashAlgorithm::Md5.hex(&[s.as_bytes()]);
    let ha1 = h("bob:biloxi.com:zanzibar");
    let ha2 = h("INVITE:sip:bob@biloxi.com:d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(response_of(&value), h(&format!("{ha1}:n:00000001:c:auth-int:{ha2}")));
    assert!(value.contains("qop=auth-int"));
}
