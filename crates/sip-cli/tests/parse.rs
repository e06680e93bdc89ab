//! `sip parse` as a user runs it: exit status 0 for valid messages, 1 for invalid ones (with
//! the error, its offset and the response a UAS sends), 2 for unreadable files; never a panic.

use std::process::Command;

fn sip(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sip")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn corpus(path: &str) -> String {
    format!("{}/../sip-message/tests/interop/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_readme_sample_is_valid() {
    let sample = format!("{}/../../samples/invite_sdp.sip", env!("CARGO_MANIFEST_DIR"));
    let (code, out, _) = sip(&["parse", &sample]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("valid"));
}

#[test]
fn a_torture_message_with_a_bad_content_length_exits_1_with_the_400() {
    let (code, out, _) = sip(&["parse", &corpus("invalid/rfc4475-ncl.dat")]);
    assert_eq!(code, 1);
    assert!(out.contains("INVALID: Bad Content-Length at byte"), "{out}");
    assert!(out.contains("a UAS answers: 400 Bad Request (Bad Content-Length)"), "{out}");
}

#[test]
fn a_cseq_mismatch_exits_1() {
    let (code, out, _) = sip(&["parse", "--quiet", &corpus("invalid/rfc4475-mismatch01.dat")]);
    assert_eq!(code, 1);
    assert!(out.contains("400 Bad Request (CSeq method does not match request method)"), "{out}");
}

#[test]
fn every_valid_torture_message_and_stdin_work() {
    let (code, out, _) = sip(&[
        "parse",
        "--quiet",
        &corpus("valid/rfc4475-wsinv.dat"),
        &corpus("valid/rfc4475-dblreq.dat"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 2);
}

#[test]
fn a_missing_file_is_a_one_line_error_and_exit_2() {
    let (code, _, err) = sip(&["parse", "/nonexistent/file.sip"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("sip: cannot read /nonexistent/file.sip"));
}

#[test]
fn stream_mode_frames_a_torture_message_that_has_a_content_length() {
    let (code, out, _) =
        sip(&["parse", "--stream", "--quiet", &corpus("valid/rfc4475-dblreq.dat")]);
    // On a stream the octets after the REGISTER are the next message, which is incomplete.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("#1"), "{out}");
}
