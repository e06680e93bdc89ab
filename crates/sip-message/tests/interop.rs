//! The interop corpus (tests/interop, copied from shared/corpus/interop): 196 labelled messages
//! from RFC 4475 and the test suites of sofia-sip, Kamailio, reSIProcate, PJSIP, sipgo and
//! SIPSorcery, plus real devices. `valid` ones must parse (and, unless the manifest's note says
//! `semantic:`, validate: a semantic problem such as a missing Max-Forwards may be refused by
//! `Message::validate` as RFC 3261 §8.1.1 requires); `invalid` ones must be refused by the
//! parser or the validator.
//! Every message must also survive a serialise/parse round trip unchanged.

use bytes::Bytes;
use sip_message::Message;

struct Row {
    file: String,
    valid: bool,
    note: String,
}

fn manifest() -> Vec<Row> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    let text = std::fs::read_to_string(format!("{dir}/MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Row {
                file: format!("{dir}/{}", cols[0]),
                valid: cols[1] == "valid",
                note: cols[3].to_owned(),
            }
        })
        .collect()
}

/// Valid rows that the validator refuses although the manifest has no `semantic:` prefix, with
/// the reason we agree with the refusal.
const VALID_BUT_REFUSED: &[(&str, &str)] = &[];

#[test]
fn every_labelled_message_gets_its_verdict() {
    let rows = manifest();
    assert_eq!(rows.len(), 196);
    let mut failures = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for row in &rows {
        let data = Bytes::from(std::fs::read(&row.file).unwrap());
        let parsed = Message::parse(data);
        let verdict = match &parsed {
            Ok(m) => m.validate().map_err(|r| r.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let name = row.file.rsplit('/').next().unwrap_or_default();
        if row.valid {
            let semantic = row.note.contains("semantic:");
            let allowed = VALID_BUT_REFUSED.iter().any(|(f, _)| *f == name);
            match (&parsed, &verdict) {
                (Err(e), _) => failures.push(format!("{name}: valid but parse failed: {e}")),
                (Ok(_), Err(r)) if !semantic && !allowed => {
                    failures.push(format!("{name}: valid but refused: {r}"))
                }
                _ => accepted += 1,
            }
        } else if verdict.is_ok() {
            failures.push(format!("{name}: invalid but accepted ({})", row.note));
        } else {
            refused += 1;
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert_eq!((accepted, refused), (83, 113));
}

#[test]
fn every_parsed_message_round_trips() {
    for row in manifest() {
        let data = Bytes::from(std::fs::read(&row.file).unwrap());
        let Ok(m) = Message::parse(data) else { continue };
        let again = Message::parse(m.to_bytes()).unwrap_or_else(|e| panic!("{}: {e}", row.file));
        assert_eq!(again, m, "{}", row.file);
        assert_eq!(again.content_length(), Some(m.body().len() as u32));
        assert_eq!(again.to_bytes(), m.to_bytes(), "{}", row.file);
    }
}
