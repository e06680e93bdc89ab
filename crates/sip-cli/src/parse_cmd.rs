//! `sip parse`: a readable summary of each message, its errors, and the response a UAS sends.

use std::fmt::Write as _;
use std::process::ExitCode;

use bytes::{Bytes, BytesMut};
use sip_message::{Frame, Framer, Limits, Message, Rejection};

/// Arguments of `sip parse`.
#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// Files to read, each one datagram; `-` reads standard input.
    #[arg(required = true)]
    files: Vec<String>,
    /// Frame the input as a TCP byte stream and report every message found.
    #[arg(long)]
    stream: bool,
    /// Accept bare LF line endings (not RFC 3261, but sent by some devices).
    #[arg(long)]
    lenient_eol: bool,
    /// Print only one line per message.
    #[arg(short, long)]
    quiet: bool,
}

pub(crate) fn run(args: &ParseArgs) -> ExitCode {
    let limits = Limits::default().allow_bare_lf(args.lenient_eol);
    let mut all_valid = true;
    let mut io_error = false;
    for path in &args.files {
        let data = match crate::read_input(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("sip: cannot read {path}: {e}");
                io_error = true;
                continue;
            }
        };
        let mut out = String::new();
        let valid = if args.stream {
            report_stream(&mut out, path, data, &limits, args.quiet)
        } else {
            report_datagram(&mut out, path, Bytes::from(data), &limits, args.quiet)
        };
        all_valid &= valid;
        print!("{out}");
    }
    if io_error {
        ExitCode::from(2)
    } else if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn report_stream(
    out: &mut String,
    path: &str,
    data: Vec<u8>,
    limits: &Limits,
    quiet: bool,
) -> bool {
    let mut framer = Framer::new(*limits);
    let mut buf = BytesMut::from(&data[..]);
    let mut valid = true;
    let mut index = 0usize;
    let mut consumed = 0usize;
    loop {
        let before = buf.len();
        match framer.decode(&mut buf) {
            Ok(Some(Frame::Message(bytes))) => {
                index += 1;
                let label = format!("{path}#{index} (stream offset {consumed})");
                valid &= report_datagram(out, &label, bytes, limits, quiet);
            }
            Ok(Some(Frame::Ping)) => {
                let _ = writeln!(out, "{path}: keep-alive ping (CRLFCRLF) at offset {consumed}");
            }
            Ok(Some(Frame::Pong)) => {
                let _ = writeln!(out, "{path}: keep-alive pong (CRLF) at offset {consumed}");
            }
            Ok(Some(other)) => {
                let _ = writeln!(out, "{path}: {other:?} at offset {consumed}");
            }
            Ok(None) => {
                if !buf.is_empty() {
                    let _ = writeln!(
                        out,
                        "{path}: {} trailing bytes at offset {consumed} do not complete a message",
                        buf.len()
                    );
                    valid = false;
                }
                break;
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{path}: framing error at stream offset {consumed}: {e} (connection closed)"
                );
                valid = false;
                break;
            }
        }
        consumed += before - buf.len();
    }
    let _ = writeln!(out, "{path}: {index} message(s) framed");
    valid
}

fn report_datagram(
    out: &mut String,
    label: &str,
    data: Bytes,
    limits: &Limits,
    quiet: bool,
) -> bool {
    let msg = match Message::parse_with(data, limits) {
        Ok(m) => m,
        Err(e) => {
            let rejection = Rejection::from(e);
            let _ = writeln!(out, "{label}: INVALID: {} at byte {}", e.kind().reason(), e.offset());
            let _ = writeln!(out, "  a UAS answers: {} {rejection}", rejection.status());
            return false;
        }
    };
    let verdict = msg.validate();
    if quiet {
        let start = start_line(&msg);
        match &verdict {
            Ok(()) => {
                let _ = writeln!(out, "{label}: valid: {start}");
            }
            Err(r) => {
                let _ = writeln!(out, "{label}: INVALID: {start}: {} {r}", r.status());
            }
        }
        return verdict.is_ok();
    }
    let _ = writeln!(out, "{label}:");
    let _ = writeln!(out, "  {}", start_line(&msg));
    for line in msg.lines() {
        let name = String::from_utf8_lossy(line.name_text);
        let value = String::from_utf8_lossy(line.value).replace("\r\n", "\\r\\n");
        let _ = writeln!(out, "  {name}: {value}");
        if let Some(view) = crate::views::describe(line.name, line.value) {
            let _ = writeln!(out, "      = {view}");
        }
    }
    let _ = writeln!(out, "  body: {} bytes", msg.body().len());
    let keys = [
        ("branch", msg.via_branch().map(str::to_owned)),
        ("from-tag", msg.from_tag().map(str::to_owned)),
        ("to-tag", msg.to_tag().map(str::to_owned)),
        ("call-id", msg.call_id().map(str::to_owned)),
        ("cseq", msg.cseq_number().zip(msg.cseq_method()).map(|(n, m)| format!("{n} {m}"))),
        ("max-forwards", msg.max_forwards().map(|n| n.to_string())),
    ];
    let keys: Vec<String> =
        keys.into_iter().filter_map(|(k, v)| v.map(|v| format!("{k}={v}"))).collect();
    let _ = writeln!(out, "  keys: {}", keys.join(" "));
    match verdict {
        Ok(()) => {
            let _ = writeln!(out, "  valid");
            true
        }
        Err(r) => {
            let _ = writeln!(out, "  INVALID: {}{}", r.problem(), problem_offset(&msg, &r));
            if msg.is_request() && msg.method() != Some(&sip_message::Method::Ack) {
                let _ = writeln!(out, "  a UAS answers: {} {r}", r.status());
            } else {
                let _ = writeln!(out, "  a UAS drops it (RFC 3261 §18.1.2)");
            }
            false
        }
    }
}

/// Where in the message a malformed header's problem lies, as ` at byte N` (the first line of
/// that header whose typed parse fails), or nothing when the problem has no position.
fn problem_offset(msg: &Message, rejection: &Rejection) -> String {
    let sip_message::Problem::Malformed(e) = rejection.problem() else { return String::new() };
    let base = msg.buffer().as_ptr() as usize;
    msg.lines()
        .filter(|l| l.name == e.name())
        .find(|l| crate::views::describe(l.name, l.value).is_some_and(|v| v.contains("ERROR")))
        .map(|l| format!(" at byte {}", l.value.as_ptr() as usize - base + e.offset()))
        .unwrap_or_default()
}

fn start_line(msg: &Message) -> String {
    match (msg.method(), msg.status()) {
        (Some(m), _) => format!("{m} {} SIP/2.0", msg.request_uri_str().unwrap_or("?")),
        (None, Some(code)) => format!("SIP/2.0 {code} {}", msg.reason().unwrap_or("")),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = include_bytes!("../../../samples/invite_sdp.sip");

    #[test]
    fn a_valid_invite_reports_valid_and_its_keys() {
        let mut out = String::new();
        assert!(report_datagram(
            &mut out,
            "x",
            Bytes::from_static(INVITE),
            &Limits::default(),
            false
        ));
        assert!(out.contains("keys: branch=z9hG4bK74bf9a1c2e3d8f"), "{out}");
        assert!(out.contains("body: 280 bytes"), "{out}");
    }

    #[test]
    fn a_cseq_mismatch_reports_the_400() {
        let bad = String::from_utf8_lossy(INVITE).replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
        let mut out = String::new();
        assert!(!report_datagram(&mut out, "x", Bytes::from(bad), &Limits::default(), false));
        assert!(
            out.contains("400 Bad Request (CSeq method does not match request method)"),
            "{out}"
        );
    }

    #[test]
    fn a_malformed_header_is_reported_with_its_byte_offset() {
        let bad = String::from_utf8_lossy(INVITE).replace("CSeq: 1 INVITE", "CSeq: x INVITE");
        let at = bad.find("x INVITE").unwrap();
        let mut out = String::new();
        assert!(!report_datagram(&mut out, "x", Bytes::from(bad), &Limits::default(), false));
        assert!(out.contains(&format!("at byte {at}")), "{out}");
    }

    #[test]
    fn a_stream_of_two_messages_is_framed() {
        let mut data = INVITE.to_vec();
        data.extend_from_slice(b"\r\n\r\n");
        data.extend_from_slice(INVITE);
        let mut out = String::new();
        assert!(report_stream(&mut out, "s", data, &Limits::default(), true));
        assert!(out.contains("2 message(s) framed"), "{out}");
        assert!(out.contains("keep-alive ping"), "{out}");
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        let mut out = String::new();
        assert!(!report_datagram(
            &mut out,
            "g",
            Bytes::from_static(b"\x00\xff garbage"),
            &Limits::default(),
            false
        ));
        assert!(out.contains("INVALID"), "{out}");
    }
}
