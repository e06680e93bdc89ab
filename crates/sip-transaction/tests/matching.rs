//! Matching: responses to client transactions (RFC 3261 §17.1.3), requests to server
//! transactions (§17.2.3, RFC 2543 fallback included), CANCEL to its INVITE (§9.2) and merged
//! requests (§8.2.2.2).

mod common;

use common::*;
use sip_message::{HeaderName as H, Message, Method};
use sip_transaction::{Event, TransactionId, TransactionKind, TransactionState};

fn new_server(run: &mut Run, req: &Message) -> TransactionId {
    let out = run.receive(req.clone(), udp());
    match events(&out)[..] {
        [Event::Request { id, .. }] => *id,
        _ => panic!("expected a new server transaction, got {out:?}"),
    }
}

/// An RFC 2543 request: no branch at all.
fn legacy(method: Method, cseq: u32) -> Message {
    request_from(method, None, "old.example.com:5060", cseq)
}

#[test]
fn response_matches_by_top_via_branch() {
    // §17.1.3 rule 1: the branch of the top Via.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    let mut other = reply(&run.sent(id), 200);
    other.pop_front(H::Via);
    other.push_front(H::Via, "SIP/2.0/UDP client.example.com:5060;branch=z9hG4bKother").unwrap();
    let out = run.receive(other, udp());
    assert!(matches!(events(&out)[..], [Event::StrayResponse { .. }]));
    assert_eq!(run.table.state(id), Some(TransactionState::Trying));
    assert_eq!(run.table.stats().stray_responses, 1);
}

#[test]
fn response_matches_by_cseq_method_so_cancel_and_invite_stay_apart() {
    // §17.1.3 rule 2: "a CANCEL request constitutes a different transaction, but shares the same
    // value of the branch parameter".
    let mut run = Run::new();
    let (invite, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(invite), 180), udp());
    let cancel = run.table.cancel_request(invite).unwrap();
    assert_eq!(cancel.via_branch(), run.sent(invite).via_branch());
    let (cancel_id, _) = run.send(cancel, udp());
    assert_eq!(run.table.kind(cancel_id), Some(TransactionKind::ClientNonInvite));

    let out = run.receive(reply(&run.sent(cancel_id), 200), udp());
    assert!(matches!(events(&out)[..], [Event::Final { id, .. }] if *id == cancel_id));
    assert_eq!(run.table.state(invite), Some(TransactionState::Proceeding));
    let out = run.receive(reply(&run.sent(invite), 487), udp());
    assert!(matches!(events(&out)[..], [Event::Final { id, .. }] if *id == invite));
}

#[test]
fn cancel_request_copies_what_9_1_requires() {
    // §9.1: Request-URI, Call-ID, To, From, CSeq number, single Via = top Via, Route.
    let mut run = Run::new();
    let (invite, _) = run.send(request(Method::Invite, None), udp());
    let original = run.sent(invite);
    let cancel = run.table.cancel_request(invite).unwrap();
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(cancel.request_uri_str(), original.request_uri_str());
    assert_eq!(cancel.to_header(), original.to_header());
    assert_eq!(cancel.from_header(), original.from_header());
    assert_eq!(cancel.call_id(), original.call_id());
    assert_eq!((cancel.cseq_number(), cancel.cseq_method()), (Some(1), Some(&Method::Cancel)));
    assert_eq!(cancel.header_lines(H::Via).collect::<Vec<_>>(), [original.top_via().unwrap()]);
    assert_eq!(cancel.header(H::Route), original.header(H::Route));
    let (options, _) = run.send(request(Method::Options, None), udp());
    assert!(run.table.cancel_request(options).is_err());
}

#[test]
fn request_matches_by_branch_sent_by_and_method() {
    // §17.2.3: all three must match; a retransmission is absorbed.
    let mut run = Run::new();
    let req = request_from(Method::Options, Some("z9hG4bKsame"), "a.example.com:5060", 1);
    let id = new_server(&mut run, &req);
    assert!(run.receive(req, udp()).is_empty());
    // Same branch from another sent-by: "accidental or malicious duplication".
    let other_host = request_from(Method::Options, Some("z9hG4bKsame"), "b.example.com:5060", 1);
    let other = new_server(&mut run, &other_host);
    assert_ne!(other, id);
    // Same branch, another method.
    let info = request_from(Method::Info, Some("z9hG4bKsame"), "a.example.com:5060", 1);
    assert_ne!(new_server(&mut run, &info), id);
    assert_eq!(run.table.stats().server_non_invite, 3);
}

#[test]
fn sent_by_comparison_ignores_host_case_and_whitespace() {
    let mut run = Run::new();
    let req = request_from(Method::Options, Some("z9hG4bKcase"), "A.Example.com:5060", 1);
    new_server(&mut run, &req);
    let again = request_from(Method::Options, Some("z9hG4bKcase"), "a.example.COM:5060", 1);
    assert!(run.receive(again, udp()).is_empty());
}

#[test]
fn ack_matches_the_invite_transaction_by_branch() {
    // §17.2.3 rule 3: "except for ACK, where the method of the request that created the
    // transaction is INVITE".
    let mut run = Run::new();
    let invite = request(Method::Invite, Some("z9hG4bKinv"));
    let id = new_server(&mut run, &invite);
    run.respond(id, reply(&invite, 404)).unwrap();
    run.receive(request(Method::Ack, Some("z9hG4bKinv")), udp());
    assert_eq!(run.table.state(id), Some(TransactionState::Confirmed));
}

#[test]
fn ack_for_2xx_with_its_own_branch_goes_to_the_tu() {
    // §17.1.1.3, §13.2.2.4: the ACK for a 2xx is a new transaction-less request: up to the TU.
    let mut run = Run::new();
    let invite = request(Method::Invite, Some("z9hG4bKinv"));
    let id = new_server(&mut run, &invite);
    run.respond(id, reply(&invite, 200)).unwrap();
    let out = run.receive(request(Method::Ack, Some("z9hG4bKack2xx")), udp());
    assert!(matches!(events(&out)[..], [Event::Ack { id: None, .. }]));
    assert_eq!(run.table.stats().stray_acks, 1);
    assert_eq!(run.table.stats().server_non_invite, 0, "an ACK creates no transaction");
}

#[test]
fn cancel_is_its_own_transaction_and_finds_its_invite() {
    // §9.2, §17.2.3: a CANCEL creates a server transaction; the TU maps it to the INVITE.
    let mut run = Run::new();
    let invite = request(Method::Invite, Some("z9hG4bKc1"));
    let id = new_server(&mut run, &invite);
    let cancel = request(Method::Cancel, Some("z9hG4bKc1"));
    let cancel_id = new_server(&mut run, &cancel);
    assert_ne!(cancel_id, id);
    assert_eq!(run.table.kind(cancel_id), Some(TransactionKind::ServerNonInvite));
    assert_eq!(run.table.find_invite_for_cancel(&cancel), Some(id));
    let unknown = request(Method::Cancel, Some("z9hG4bKnothing"));
    assert_eq!(run.table.find_invite_for_cancel(&unknown), None);
    assert_eq!(run.table.find_invite_for_cancel(&invite), None, "not a CANCEL");
}

#[test]
fn rfc2543_invite_retransmission_matches_without_a_cookie() {
    // §17.2.3: Request-URI, To tag, From tag, Call-ID, CSeq and top Via.
    let mut run = Run::new();
    let invite = legacy(Method::Invite, 7);
    let id = new_server(&mut run, &invite);
    assert_eq!(run.table.branch(id), Some(""));
    assert!(run.receive(invite.clone(), udp()).is_empty());
    // Another CSeq is another transaction.
    assert_ne!(new_server(&mut run, &legacy(Method::Invite, 8)), id);
    // A non-cookie branch is just part of the top Via.
    let branch_2543 = request_from(Method::Invite, Some("1234"), "old.example.com:5060", 7);
    assert_ne!(new_server(&mut run, &branch_2543), id);
}

#[test]
fn rfc2543_ack_matches_by_the_to_tag_of_the_response() {
    // §17.2.3: the ACK matches when its To tag is the tag of the response sent.
    let mut run = Run::new();
    let invite = legacy(Method::Invite, 7);
    let id = new_server(&mut run, &invite);
    run.respond(id, reply_tagged(&invite, 486, "t486")).unwrap();
    let mut wrong = legacy(Method::Ack, 7);
    wrong.set(H::To, "Bob <sip:bob@example.com>;tag=other").unwrap();
    let out = run.receive(wrong, udp());
    assert!(matches!(events(&out)[..], [Event::Ack { id: None, .. }]));
    let mut ack = legacy(Method::Ack, 7);
    ack.set(H::To, "Bob <sip:bob@example.com>;tag=t486").unwrap();
    assert!(run.receive(ack, udp()).is_empty());
    assert_eq!(run.table.state(id), Some(TransactionState::Confirmed));
}

#[test]
fn rfc2543_ack_in_accepted_goes_to_the_tu() {
    // RFC 6026 §6: an ACK without cookie matching an Accepted transaction is passed to the TU.
    let mut run = Run::new();
    let invite = legacy(Method::Invite, 7);
    let id = new_server(&mut run, &invite);
    run.respond(id, reply_tagged(&invite, 200, "t200")).unwrap();
    let mut ack = legacy(Method::Ack, 7);
    ack.set(H::To, "Bob <sip:bob@example.com>;tag=t200").unwrap();
    let out = run.receive(ack, udp());
    assert!(matches!(events(&out)[..], [Event::Ack { id: Some(a), .. }] if *a == id));
}

#[test]
fn rfc2543_cancel_finds_its_invite() {
    let mut run = Run::new();
    let invite = legacy(Method::Invite, 7);
    let id = new_server(&mut run, &invite);
    let cancel = legacy(Method::Cancel, 7);
    let cancel_id = new_server(&mut run, &cancel);
    assert_ne!(cancel_id, id);
    assert_eq!(run.table.find_invite_for_cancel(&cancel), Some(id));
}

#[test]
fn merged_request_is_detected_by_from_tag_call_id_and_cseq() {
    // §8.2.2.2: same From tag, Call-ID and CSeq, no To tag, but another transaction (it came
    // another way, so another branch): the UAS answers it 482.
    let mut run = Run::new();
    let first = request_from(Method::Invite, Some("z9hG4bKpath1"), "p1.example.com", 1);
    let second = request_from(Method::Invite, Some("z9hG4bKpath2"), "p2.example.com", 1);
    let a = new_server(&mut run, &first);
    let b = new_server(&mut run, &second);
    assert_eq!(run.table.find_merged(b), Some(a));
    assert_eq!(run.table.merge_key(a), run.table.merge_key(b));
    let key = run.table.merge_key(a).unwrap();
    assert_eq!((key.from_tag(), key.call_id(), key.cseq()), ("a1", "call-1@example.com", 1));
    run.respond(b, reply(&second, 482)).unwrap();
    // A different CSeq is no merge.
    let third = request_from(Method::Invite, Some("z9hG4bKpath3"), "p3.example.com", 2);
    let c = new_server(&mut run, &third);
    assert_eq!(run.table.find_merged(c), None);
}

#[test]
fn request_with_a_to_tag_is_never_merged() {
    // §8.2.2.2 applies to requests without a To tag only.
    let mut run = Run::new();
    let mut first = request_from(Method::Bye, Some("z9hG4bKq1"), "p1.example.com", 5);
    first.set(H::To, "<sip:bob@example.com>;tag=x").unwrap();
    let mut second = request_from(Method::Bye, Some("z9hG4bKq2"), "p2.example.com", 5);
    second.set(H::To, "<sip:bob@example.com>;tag=x").unwrap();
    let a = new_server(&mut run, &first);
    let b = new_server(&mut run, &second);
    assert_eq!(run.table.find_merged(b), None);
    // The key of a request with a To tag is still there to read (from the kept bytes), the
    // same as the request's own.
    let key = run.table.merge_key(b).cloned();
    assert_eq!(key, sip_transaction::MergeKey::of(&second));
    assert_eq!(run.table.merge_key(a), key.as_ref(), "same From tag, Call-ID and CSeq");
    let key = key.unwrap();
    assert_eq!((key.from_tag(), key.cseq(), key.method()), ("a1", 5, &Method::Bye));
}
