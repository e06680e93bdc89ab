//! RFC 4475 (SIP torture tests): every message of §3, extracted byte-exact from the archive of
//! its Appendix A, is a test. Valid messages parse and their key fields are asserted; invalid
//! ones are rejected by the parser with the error the RFC describes, or parse and then fail
//! validation with the 4xx a UAS should send.

use bytes::Bytes;
use sip_message::{HeaderName, Message, Method, ParseErrorKind as K, Problem, Uri};

fn load(name: &str) -> Bytes {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    let path = ["valid", "invalid"]
        .iter()
        .map(|d| format!("{dir}/{d}/rfc4475-{name}.dat"))
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| panic!("no torture message {name}"));
    Bytes::from(std::fs::read(path).unwrap())
}

fn parse(name: &str) -> Message {
    Message::parse(load(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn valid(name: &str) -> Message {
    let msg = parse(name);
    if let Err(r) = msg.validate() {
        panic!("{name}: {r}");
    }
    msg
}

fn parse_error(name: &str) -> K {
    match Message::parse(load(name)) {
        Ok(m) => panic!("{name} parsed: {m:?}"),
        Err(e) => e.kind(),
    }
}

fn rejected(name: &str) -> (u16, Problem) {
    let msg = parse(name);
    let r = msg.validate().expect_err(name);
    (r.status(), r.problem())
}

fn malformed(name: &str) -> HeaderName {
    match rejected(name) {
        (400, Problem::Malformed(e)) => e.name(),
        other => panic!("{name}: {other:?}"),
    }
}

// ---- §3.1.1 Valid messages --------------------------------------------------------------

#[test]
fn s3_1_1_1_wsinv_short_tortuous_invite() {
    let m = valid("wsinv");
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.request_uri_str(), Some("sip:vivekg@chair-dnrc.example.com;unknownparam"));
    assert_eq!(m.via_branch(), Some("390skdjuw"));
    assert_eq!(m.from_tag(), Some("98asjd8"));
    assert_eq!(m.to_tag(), Some("1918181833n"));
    assert_eq!(m.call_id(), Some("wsinv.ndaksdj@192.0.2.1"));
    assert_eq!((m.cseq_number(), m.cseq_method()), (Some(9), Some(&Method::Invite)));
    assert_eq!(m.max_forwards(), Some(68)); // "0068"
    assert_eq!(m.body().len(), 150);
    // Folded Via with LWS around the slashes still parses as a typed view.
    let via = m.typed::<sip_message::Via>().unwrap().unwrap();
    assert_eq!(via.transport(), "UDP");
    // Unknown headers are kept verbatim, in order, and found by name in any case.
    assert_eq!(m.header_lines(HeaderName::Other).count(), 2);
    assert_eq!(m.headers_named("newfangledheader").count(), 1);
}

#[test]
fn s3_1_1_2_intmeth_wide_range_of_valid_characters() {
    let m = valid("intmeth");
    assert_eq!(m.method().map(Method::as_str), Some("!interesting-Method0123456789_*+`.%indeed'~"));
    assert_eq!(m.via_branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(m.from_tag(), Some("_token~1'+`*%!-."));
    assert_eq!(m.call_id(), Some("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
    assert_eq!(m.cseq_number(), Some(139122385));
    assert_eq!(m.cseq_method(), m.method());
    assert_eq!(m.max_forwards(), Some(255));
    let uri = m.request_uri().unwrap().unwrap();
    let sip = uri.as_sip().unwrap();
    assert_eq!(sip.user_raw(), Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
    assert_eq!(sip.password_raw(), Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
}

#[test]
fn s3_1_1_3_esc01_valid_escaping() {
    let m = valid("esc01");
    let uri = m.request_uri().unwrap().unwrap();
    assert_eq!(uri.as_sip().unwrap().user().as_deref(), Some("sips:user@example.com"));
    assert_eq!(m.from_tag(), Some("938"));
}

#[test]
fn s3_1_1_4_escnull_escaped_nulls_in_uris() {
    let m = valid("escnull");
    assert_eq!(m.method(), Some(&Method::Register));
    let to = m.typed::<sip_message::To>().unwrap().unwrap();
    let uri = to.uri();
    assert_eq!(uri.as_sip().unwrap().user().as_deref(), Some("null-\0-null"));
}

#[test]
fn s3_1_1_5_esc02_percent_that_is_not_an_escape() {
    let m = valid("esc02");
    // RE%47IST%45R is an unknown method, not REGISTER.
    assert_eq!(m.method().map(Method::as_str), Some("RE%47IST%45R"));
    assert_ne!(m.method(), Some(&Method::Register));
    // C%6Fntact is an unknown header, not Contact.
    assert_eq!(m.headers_named("C%6Fntact").count(), 1);
    assert_eq!(m.header_lines(HeaderName::Contact).count(), 2);
}

#[test]
fn s3_1_1_6_lwsdisp_no_lws_between_display_name_and_laquot() {
    let m = valid("lwsdisp");
    let from = m.typed::<sip_message::From>().unwrap().unwrap();
    assert_eq!(from.display_name().as_deref(), Some("caller"));
    assert_eq!(m.from_tag(), Some("323"));
}

#[test]
fn s3_1_1_7_longreq_long_values() {
    let m = valid("longreq");
    assert_eq!(m.via_branch(), None); // the top Via has no branch
    assert!(m.from_tag().unwrap().len() > 150);
    assert!(m.values(HeaderName::Via).count() > 30);
    assert!(m.call_id().unwrap().starts_with("longreq.onereally"));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn s3_1_1_8_dblreq_extra_octets_after_body_are_discarded() {
    let m = valid("dblreq");
    assert_eq!(m.method(), Some(&Method::Register));
    assert_eq!(m.content_length(), Some(0));
    assert!(m.body().is_empty());
    assert_eq!(m.via_branch(), Some("z9hG4bKkdjuw23492"));
}

#[test]
fn s3_1_1_9_semiuri_semicolons_in_user_part() {
    let m = valid("semiuri");
    let uri = m.request_uri().unwrap().unwrap();
    let sip = uri.as_sip().unwrap();
    assert_eq!(sip.user_raw(), Some("user;par=u%40example.net"));
    assert_eq!(sip.params().count(), 0);
}

#[test]
fn s3_1_1_10_transports_varied_and_unknown() {
    let m = valid("transports");
    let transports: Vec<String> =
        m.typed_all::<sip_message::Via>().map(|v| v.unwrap().transport().to_owned()).collect();
    assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
}

#[test]
fn s3_1_1_11_mpart01_multipart_body_with_binary() {
    let m = valid("mpart01");
    assert_eq!(m.body().len(), 553);
    let ct = m.typed::<sip_message::ContentType>().unwrap().unwrap();
    assert!(ct.param("boundary").is_some());
}

#[test]
fn s3_1_1_12_unreason_utf8_reason_phrase() {
    let m = valid("unreason");
    assert_eq!(m.status(), Some(200));
    assert!(!m.reason().unwrap().is_ascii());
    assert_eq!(m.to_tag(), Some("2229"));
}

#[test]
fn s3_1_1_13_noreason_empty_reason_phrase() {
    let m = valid("noreason");
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(""));
}

// ---- §3.1.2 Invalid messages ------------------------------------------------------------

#[test]
fn s3_1_2_1_badinv01_extraneous_separators() {
    assert_eq!(malformed("badinv01"), HeaderName::Via);
}

#[test]
fn s3_1_2_2_clerr_content_length_larger_than_message() {
    assert_eq!(parse_error("clerr"), K::BodyTruncated);
}

#[test]
fn s3_1_2_3_ncl_negative_content_length() {
    assert_eq!(parse_error("ncl"), K::ContentLength);
}

#[test]
fn s3_1_2_4_scalar02_overlarge_request_values() {
    let name = malformed("scalar02");
    assert!(
        [HeaderName::CSeq, HeaderName::MaxForwards, HeaderName::Expires, HeaderName::Contact]
            .contains(&name),
        "{name}"
    );
    assert_eq!(parse("scalar02").cseq_number(), None);
    assert_eq!(parse("scalar02").max_forwards(), None);
}

#[test]
fn s3_1_2_5_scalarlg_overlarge_response_values() {
    let name = malformed("scalarlg");
    assert!([HeaderName::CSeq, HeaderName::RetryAfter, HeaderName::Warning].contains(&name));
}

#[test]
fn s3_1_2_6_quotbal_unterminated_quoted_string() {
    assert_eq!(malformed("quotbal"), HeaderName::To);
}

#[test]
fn s3_1_2_7_ltgtruri_request_uri_in_angle_brackets() {
    assert_eq!(parse_error("ltgtruri"), K::RequestUri);
}

#[test]
fn s3_1_2_8_lwsruri_lws_in_request_uri() {
    assert_eq!(parse_error("lwsruri"), K::RequestUri);
}

#[test]
fn s3_1_2_9_lwsstart_multiple_sp_in_request_line() {
    assert_eq!(parse_error("lwsstart"), K::RequestUri);
}

#[test]
fn s3_1_2_10_trws_trailing_sp_in_request_line() {
    assert_eq!(parse_error("trws"), K::StartLine);
}

#[test]
fn s3_1_2_11_escruri_escaped_headers_in_request_uri() {
    assert_eq!(rejected("escruri"), (400, Problem::RequestUriHeaders));
}

#[test]
fn s3_1_2_12_baddate_time_zone_not_gmt() {
    assert_eq!(malformed("baddate"), HeaderName::Date);
}

#[test]
fn s3_1_2_13_regbadct_addr_spec_with_question_mark() {
    assert_eq!(malformed("regbadct"), HeaderName::Contact);
}

#[test]
fn s3_1_2_14_badaspec_whitespace_inside_angle_brackets() {
    let name = malformed("badaspec");
    assert!([HeaderName::To, HeaderName::From].contains(&name), "{name}");
}

#[test]
fn s3_1_2_15_baddn_non_token_display_name() {
    // The archived file lacks the empty line that ends the header section.
    assert_eq!(parse_error("baddn"), K::Truncated);
    let mut fixed = load("baddn").to_vec();
    fixed.extend_from_slice(b"\r\n");
    let m = Message::parse(Bytes::from(fixed)).unwrap();
    match m.validate().unwrap_err().problem() {
        Problem::Malformed(e) => assert_eq!(e.name(), HeaderName::From),
        other => panic!("{other:?}"),
    }
}

#[test]
fn s3_1_2_16_badvers_unknown_version_answered_505() {
    let e = Message::parse(load("badvers")).unwrap_err();
    assert_eq!(e.kind(), K::Version);
    assert_eq!(e.kind().status(), 505);
}

#[test]
fn s3_1_2_17_mismatch01_cseq_method_mismatch() {
    assert_eq!(rejected("mismatch01"), (400, Problem::CSeqMethodMismatch));
}

#[test]
fn s3_1_2_18_mismatch02_unknown_method_cseq_mismatch() {
    assert_eq!(rejected("mismatch02"), (400, Problem::CSeqMethodMismatch));
}

#[test]
fn s3_1_2_19_bigcode_overlarge_status_code() {
    assert_eq!(parse_error("bigcode"), K::StatusCode);
}

// ---- §3.2 Transaction layer semantics ---------------------------------------------------

#[test]
fn s3_2_1_badbranch_cookie_only_branch_parses() {
    let m = valid("badbranch");
    assert_eq!(m.via_branch(), Some("z9hG4bK"));
}

// ---- §3.3 Application layer semantics ---------------------------------------------------

#[test]
fn s3_3_1_insuf_missing_required_headers_is_400() {
    let (status, problem) = rejected("insuf");
    assert_eq!(status, 400);
    assert!(matches!(problem, Problem::Missing(_)), "{problem:?}");
}

#[test]
fn s3_3_2_unkscm_unknown_scheme_is_416() {
    let m = parse("unkscm");
    assert!(matches!(m.request_uri().unwrap().unwrap(), Uri::Other(_)));
    assert_eq!(m.validate().unwrap_err().status(), 416);
}

#[test]
fn s3_3_3_novelsc_registered_but_unusual_scheme_is_416() {
    assert_eq!(parse("novelsc").validate().unwrap_err().status(), 416);
}

#[test]
fn s3_3_4_unksm2_unknown_schemes_in_headers_parse() {
    let m = valid("unksm2");
    let to = m.typed::<sip_message::To>().unwrap().unwrap();
    assert!(!to.uri().is_sip_or_sips());
}

#[test]
fn s3_3_5_bext01_unknown_option_tags_parse() {
    let m = valid("bext01");
    let tags: Vec<_> = m.typed_all::<sip_message::Require>().map(|t| t.unwrap()).collect();
    assert!(!tags.is_empty());
    assert!(m.has(HeaderName::ProxyRequire));
}

#[test]
fn s3_3_6_invut_unknown_content_type_parses() {
    let m = valid("invut");
    let ct = m.typed::<sip_message::ContentType>().unwrap().unwrap();
    assert_ne!(ct.subtype(), "sdp");
}

#[test]
fn s3_3_7_regaut01_unknown_authorization_scheme() {
    let m = valid("regaut01");
    let auth = m.typed::<sip_message::Authorization>().unwrap().unwrap();
    assert!(!auth.scheme().eq_ignore_ascii_case("Digest"));
}

#[test]
fn s3_3_8_multi01_multiple_single_value_headers_is_400() {
    assert!(matches!(rejected("multi01"), (400, Problem::Multiple(_))));
}

#[test]
fn s3_3_9_mcl01_conflicting_content_lengths() {
    assert_eq!(parse_error("mcl01"), K::ConflictingContentLength);
}

#[test]
fn s3_3_10_bcast_broadcast_via_parses() {
    let m = valid("bcast");
    assert_eq!(m.values(HeaderName::Via).count(), 2);
}

#[test]
fn s3_3_11_zeromf_max_forwards_zero() {
    assert_eq!(valid("zeromf").max_forwards(), Some(0));
}

#[test]
fn s3_3_12_cparam01_contact_param_outside_addr_spec() {
    let m = valid("cparam01");
    let c = m.typed::<sip_message::Contact>().unwrap().unwrap();
    assert!(c.params().get("unknownparam").is_some());
}

#[test]
fn s3_3_13_cparam02_url_param_inside_brackets() {
    valid("cparam02");
}

#[test]
fn s3_3_14_regescrt_escaped_route_in_contact_uri() {
    let m = valid("regescrt");
    let c = m.typed::<sip_message::Contact>().unwrap().unwrap();
    assert!(c.uri().unwrap().as_sip().unwrap().has_headers());
}

#[test]
fn s3_3_15_sdp01_accept_without_sdp_parses() {
    valid("sdp01");
}

// ---- §3.4 Backward compatibility ---------------------------------------------------------

#[test]
fn s3_4_1_inv2543_rfc2543_invite_is_accepted() {
    let m = valid("inv2543");
    assert_eq!(m.via_branch(), None);
    assert_eq!(m.from_tag(), None);
    assert_eq!(m.max_forwards(), None);
    assert_eq!(m.content_length(), None);
    assert_eq!(m.body().len(), 105); // the rest of the datagram
}

#[test]
fn appendix_test_dat_no_version_no_colon() {
    assert_eq!(parse_error("test"), K::StartLine);
}
