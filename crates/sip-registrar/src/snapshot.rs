//! Saving and restoring bindings across restarts, as plain data and as a line-based text form.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sip_message::Q;

use crate::binding::add_secs;
use crate::{Aor, Binding, BindingStore, StoreError};

/// The bindings of a store at one moment, with expiry as wall-clock time so that a restore
/// after downtime counts the downtime (a binding that expired while the process was down is
/// not restored).
///
/// [`Snapshot::to_text`] and [`Snapshot::from_text`] write and read a simple line format; the
/// struct is plain data for any other format.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use sip_registrar::{Aor, Binding, BindingStore, MemoryStore, Snapshot};
///
/// let (now, wall) = (Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let aor = Aor::parse("sip:bob@biloxi.example.com")?;
/// let mut store = MemoryStore::new();
/// store.update(&aor, &mut |list| {
///     list.push(Binding {
///         uri: "sip:bob@192.0.2.4".into(),
///         contact: "<sip:bob@192.0.2.4>".into(),
///         q: None,
///         expires_at: now + Duration::from_secs(3600),
///         call_id: "a84b4c76e66710".into(),
///         cseq: 1,
///         path: Vec::new(),
///         source: None,
///     });
///     true
/// })?;
///
/// let text = store.snapshot(now, wall).to_text();
///
/// // Later, in a new process, ten minutes on:
/// let (now2, wall2) = (Instant::now(), wall + Duration::from_secs(600));
/// let mut restored = MemoryStore::new();
/// let report = restored.restore(&Snapshot::from_text(&text)?, now2, wall2);
/// assert_eq!(report.restored, 1);
/// assert_eq!(restored.bindings(&aor)?[0].remaining_secs(now2), 3000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The bindings, grouped by AOR, each AOR's in registration order.
    pub bindings: Vec<SavedBinding>,
}

/// One binding in a [`Snapshot`]: a [`Binding`] with its AOR, and its expiry as wall-clock
/// time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedBinding {
    /// The canonical AOR ([`Aor::as_str`]).
    pub aor: String,
    /// [`Binding::uri`].
    pub uri: String,
    /// [`Binding::contact`].
    pub contact: String,
    /// [`Binding::q`].
    pub q: Option<Q>,
    /// When the binding expires, on the wall clock (millisecond precision in the text form).
    pub expires: SystemTime,
    /// [`Binding::call_id`].
    pub call_id: String,
    /// [`Binding::cseq`].
    pub cseq: u32,
    /// [`Binding::path`].
    pub path: Vec<String>,
    /// [`Binding::source`].
    pub source: Option<String>,
}

/// What [`Snapshot::restore_into`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreReport {
    /// Bindings restored.
    pub restored: usize,
    /// Bindings skipped because they had expired by the time of the restore.
    pub expired: usize,
    /// Bindings skipped because their AOR is not a SIP or SIPS URI.
    pub invalid: usize,
}

/// Why snapshot text could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotError {
    line: usize,
    what: &'static str,
}

impl SnapshotError {
    /// The 1-based line number.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// What was wrong with it.
    #[must_use]
    pub fn what(&self) -> &'static str {
        self.what
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snapshot line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for SnapshotError {}

/// First line of the text form.
const HEADER: &str = "# sip-registrar snapshot v1";

impl Snapshot {
    /// The live bindings of `store` at `now`, whose wall-clock time is `wall`.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    pub fn capture<S: BindingStore + ?Sized>(
        store: &S,
        now: Instant,
        wall: SystemTime,
    ) -> Result<Snapshot, StoreError> {
        let mut bindings = Vec::new();
        store.for_each(&mut |aor, list| {
            for b in list.iter().filter(|b| b.is_alive(now)) {
                let left = b.remaining(now);
                bindings.push(SavedBinding {
                    aor: aor.as_str().to_owned(),
                    uri: b.uri.clone(),
                    contact: b.contact.clone(),
                    q: b.q,
                    expires: wall.checked_add(left).unwrap_or(wall),
                    call_id: b.call_id.clone(),
                    cseq: b.cseq,
                    path: b.path.clone(),
                    source: b.source.clone(),
                });
            }
        })?;
        Ok(Snapshot { bindings })
    }

    /// Puts the bindings back into `store` at `now`, whose wall-clock time is `wall`: each
    /// binding gets the time it had left (`expires - wall`); those already expired are
    /// skipped. A binding whose URI equals (§19.1.4) one the store already has for the AOR
    /// replaces it; the others are appended. Each AOR is one atomic update.
    ///
    /// # Errors
    /// A [`StoreError`] if the store fails; AORs updated before it stay restored.
    pub fn restore_into<S: BindingStore + ?Sized>(
        &self,
        store: &mut S,
        now: Instant,
        wall: SystemTime,
    ) -> Result<RestoreReport, StoreError> {
        let mut report = RestoreReport::default();
        let mut by_aor: BTreeMap<Aor, Vec<Binding>> = BTreeMap::new();
        for saved in &self.bindings {
            let Ok(aor) = Aor::parse(&saved.aor) else {
                report.invalid += 1;
                continue;
            };
            let left = saved.expires.duration_since(wall).unwrap_or(Duration::ZERO);
            if left.is_zero() {
                report.expired += 1;
                continue;
            }
            let expires_at = now.checked_add(left).unwrap_or_else(|| {
                add_secs(now, u32::try_from(left.as_secs()).unwrap_or(u32::MAX))
            });
            by_aor.entry(aor).or_default().push(Binding {
                uri: saved.uri.clone(),
                contact: saved.contact.clone(),
                q: saved.q,
                expires_at,
                call_id: saved.call_id.clone(),
                cseq: saved.cseq,
                path: saved.path.clone(),
                source: saved.source.clone(),
            });
        }
        for (aor, restored) in by_aor {
            store.update(&aor, &mut |list| {
                for b in &restored {
                    match list.iter_mut().find(|old| old.matches_uri(&b.uri)) {
                        Some(old) => old.clone_from(b),
                        None => list.push(b.clone()),
                    }
                }
                true
            })?;
            report.restored += restored.len();
        }
        Ok(report)
    }

    /// The text form: a header line `# sip-registrar snapshot v1`, then one line per binding
    /// with tab-separated fields
    ///
    /// ```text
    /// aor  uri  contact  q  expires  call-id  cseq  source  path...
    /// ```
    ///
    /// where `q` is in thousandths (empty when absent), `expires` is milliseconds since the
    /// Unix epoch, `source` is empty when absent and `=` followed by the value otherwise, and
    /// each Path value is one more field. In every text field `%`, tab, CR and LF are written
    /// `%25`, `%09`, `%0D`, `%0A`.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::from(HEADER);
        out.push('\n');
        for b in &self.bindings {
            let ms = b.expires.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
            let fields = [
                escape(&b.aor),
                escape(&b.uri),
                escape(&b.contact),
                b.q.map(|q| q.thousandths().to_string()).unwrap_or_default(),
                ms.to_string(),
                escape(&b.call_id),
                b.cseq.to_string(),
                b.source.as_deref().map(|s| format!("={}", escape(s))).unwrap_or_default(),
            ];
            out.push_str(&fields.join("\t"));
            for p in &b.path {
                out.push('\t');
                out.push_str(&escape(p));
            }
            out.push('\n');
        }
        out
    }

    /// Reads the text form of [`Snapshot::to_text`]. Blank lines and lines starting with `#`
    /// are skipped.
    ///
    /// # Errors
    /// A [`SnapshotError`] naming the first bad line.
    pub fn from_text(text: &str) -> Result<Snapshot, SnapshotError> {
        let mut bindings = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |what| SnapshotError { line: i + 1, what };
            let mut fields = line.split('\t');
            let mut next = |what| fields.next().ok_or(err(what));
            let aor = unescape(next("missing AOR")?).ok_or(err("bad escape"))?;
            let uri = unescape(next("missing URI")?).ok_or(err("bad escape"))?;
            let contact = unescape(next("missing contact")?).ok_or(err("bad escape"))?;
            let q = match next("missing q")? {
                "" => None,
                q => Some(
                    q.parse::<u16>()
                        .ok()
                        .and_then(Q::from_thousandths)
                        .ok_or(err("q is not 0..=1000"))?,
                ),
            };
            let ms: u64 = next("missing expiry")?.parse().map_err(|_| err("bad expiry"))?;
            let expires = UNIX_EPOCH
                .checked_add(Duration::from_millis(ms))
                .ok_or(err("expiry out of range"))?;
            let call_id = unescape(next("missing Call-ID")?).ok_or(err("bad escape"))?;
            let cseq = next("missing CSeq")?.parse().map_err(|_| err("bad CSeq"))?;
            let source = match next("missing source")? {
                "" => None,
                s => Some(
                    s.strip_prefix('=')
                        .and_then(unescape)
                        .ok_or(err("source must start with '='"))?,
                ),
            };
            let path = fields
                .map(|p| unescape(p).ok_or(err("bad escape")))
                .collect::<Result<Vec<_>, _>>()?;
            bindings.push(SavedBinding {
                aor,
                uri,
                contact,
                q,
                expires,
                call_id,
                cseq,
                path,
                source,
            });
        }
        Ok(Snapshot { bindings })
    }
}

impl crate::MemoryStore {
    /// [`Snapshot::capture`] of this store.
    #[must_use]
    pub fn snapshot(&self, now: Instant, wall: SystemTime) -> Snapshot {
        // The in-memory store cannot fail.
        Snapshot::capture(self, now, wall).unwrap_or_default()
    }

    /// [`Snapshot::restore_into`] this store.
    pub fn restore(
        &mut self,
        snapshot: &Snapshot,
        now: Instant,
        wall: SystemTime,
    ) -> RestoreReport {
        // The in-memory store cannot fail.
        snapshot.restore_into(self, now, wall).unwrap_or_default()
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\t' => out.push_str("%09"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('%') {
        out.push_str(rest.get(..at)?);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "09" => '\t',
            "0D" | "0d" => '\r',
            "0A" | "0a" => '\n',
            _ => return None,
        });
        rest = rest.get(at + 3..)?;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        for s in ["", "plain", "a%b\tc\r\nd", "%%%", "é\t€"] {
            assert_eq!(unescape(&escape(s)).as_deref(), Some(s));
        }
        assert_eq!(unescape("%4"), None);
        assert_eq!(unescape("%41"), None);
    }

    #[test]
    fn text_round_trips_and_rejects_bad_lines() {
        let snap = Snapshot {
            bindings: vec![SavedBinding {
                aor: "sip:bob@biloxi.example.com".into(),
                uri: "sip:bob@192.0.2.4".into(),
                contact: "\"Bob\t100%\" <sip:bob@192.0.2.4>;q=0.5".into(),
                q: Q::from_thousandths(500),
                expires: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
                call_id: "x@y".into(),
                cseq: 7,
                path: vec!["<sip:edge.example.com;lr>".into(), "<sip:p2;lr>".into()],
                source: Some(String::new()),
            }],
        };
        let text = snap.to_text();
        assert!(text.starts_with(HEADER));
        assert_eq!(Snapshot::from_text(&text), Ok(snap));
        let bad = Snapshot::from_text("# x\nsip:a@b\tsip:c\t<sip:c>\t2000\t0\tid\t1\t\n");
        assert_eq!(bad.map_err(|e| (e.line(), e.what())), Err((2, "q is not 0..=1000")));
        assert!(Snapshot::from_text("sip:a@b\tsip:c\n").is_err());
    }
}
