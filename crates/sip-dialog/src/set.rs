//! The dialogs one INVITE creates when a proxy forks it (RFC 3261 §12.1.2, §13.2.2.4).

use sip_message::Message;
use smallvec::SmallVec;

use crate::{Dialog, DialogError, DialogState, Known};

/// What a response did to a [`DialogSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogChange {
    /// A new dialog (early for a 1xx, confirmed for a 2xx) at this index.
    Created(usize),
    /// The early dialog at this index was confirmed by a 2xx.
    Confirmed(usize),
    /// The dialog at this index was already in this state; its target may have changed.
    Updated(usize),
    /// The response creates no dialog: a 100, a 1xx without a To tag, or a non-2xx final.
    None,
}

/// Every dialog created by the responses to one request: same Call-ID and local tag, one
/// dialog per remote tag (RFC 3261 §12.1.2: each fork's 1xx or 2xx with a new To tag makes a new
/// dialog). A non-2xx final ends all the early ones (§13.2.2.3).
#[derive(Clone, Debug, Default)]
pub struct DialogSet {
    /// One dialog inline: an INVITE that is not forked (the usual case) makes one, and a UAS
    /// has only one; the set then costs no allocation of its own.
    dialogs: SmallVec<[Dialog; 1]>,
}

impl DialogSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        DialogSet::default()
    }

    /// A set holding `dialog` (a UAS's one dialog).
    #[must_use]
    pub fn from_dialog(dialog: Dialog) -> Self {
        let mut dialogs = SmallVec::new();
        dialogs.push(dialog);
        DialogSet { dialogs }
    }

    /// UAC: feeds a response to `request`. A 1xx with a To tag or a 2xx finds the dialog with
    /// its To tag or creates one; a non-2xx final terminates every early dialog (§13.2.2.3).
    ///
    /// # Errors
    /// From [`Dialog::uac`] or [`Dialog::on_response`]; the set is unchanged.
    pub fn on_response(
        &mut self,
        request: &Message,
        response: &Message,
    ) -> Result<DialogChange, DialogError> {
        self.on_response_inner(request, response, Known::default())
    }

    /// [`DialogSet::on_response`] for a `request` whose From and To are known to parse: a
    /// new dialog is made with [`Dialog::uac_checked`]. The result is the one
    /// [`DialogSet::on_response`] gives.
    ///
    /// # Errors
    /// As [`DialogSet::on_response`].
    pub fn on_response_checked(
        &mut self,
        request: &Message,
        response: &Message,
    ) -> Result<DialogChange, DialogError> {
        self.on_response_inner(
            request,
            response,
            Known { request_addrs: true, response_contact: false },
        )
    }

    /// [`DialogSet::on_response`] for a `request` and `response` of which the caller knows
    /// what `known` says: a new dialog is made with [`Dialog::uac_known`]. The result is the
    /// one [`DialogSet::on_response`] gives.
    ///
    /// # Errors
    /// As [`DialogSet::on_response`].
    pub fn on_response_known(
        &mut self,
        request: &Message,
        response: &Message,
        known: Known,
    ) -> Result<DialogChange, DialogError> {
        self.on_response_inner(request, response, known)
    }

    fn on_response_inner(
        &mut self,
        request: &Message,
        response: &Message,
        known: Known,
    ) -> Result<DialogChange, DialogError> {
        let status = response.status().ok_or(DialogError::NotAResponse)?;
        match status {
            101..=299 => {}
            300..=699 => {
                for d in &mut self.dialogs {
                    if d.state() == DialogState::Early {
                        d.terminate();
                    }
                }
                return Ok(DialogChange::None);
            }
            _ => return Ok(DialogChange::None),
        }
        // The tag is a token: its bytes are its text.
        let tag = response.to_tag_bytes().unwrap_or_default();
        if status < 200 && tag.is_empty() {
            return Ok(DialogChange::None);
        }
        match self.position_bytes(tag) {
            Some(i) => {
                let dialog = self.dialogs.get_mut(i).ok_or(DialogError::NoSuchDialog)?;
                let before = dialog.state();
                dialog.on_response(response)?;
                Ok(if before == DialogState::Early && dialog.state() == DialogState::Confirmed {
                    DialogChange::Confirmed(i)
                } else {
                    DialogChange::Updated(i)
                })
            }
            None => {
                // `Dialog::uac_known`, its dialog moved straight into the set (not through
                // the `Result` it returns).
                match Dialog::uac_fast(request, response, known) {
                    Some(dialog) => self.dialogs.push(dialog),
                    None => self.dialogs.push(Dialog::uac_full(request, response, known)?),
                }
                Ok(DialogChange::Created(self.dialogs.len() - 1))
            }
        }
    }

    /// The index of the dialog whose remote tag is `tag`.
    #[must_use]
    pub fn position(&self, remote_tag: &str) -> Option<usize> {
        self.position_bytes(remote_tag.as_bytes())
    }

    /// [`DialogSet::position`] for a tag given as bytes (as
    /// [`Message::to_tag_bytes`] gives it).
    #[must_use]
    #[inline]
    pub fn position_bytes(&self, remote_tag: &[u8]) -> Option<usize> {
        self.dialogs.iter().position(|d| d.id().remote_tag_bytes() == remote_tag)
    }

    /// The dialog at `index`.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&Dialog> {
        self.dialogs.get(index)
    }

    /// The dialog at `index`, mutably.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Dialog> {
        self.dialogs.get_mut(index)
    }

    /// Removes and returns the dialog at `index`.
    pub fn remove(&mut self, index: usize) -> Option<Dialog> {
        (index < self.dialogs.len()).then(|| self.dialogs.remove(index))
    }

    /// The dialogs, in creation order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Dialog> + '_ {
        self.dialogs.iter()
    }

    /// How many dialogs the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.dialogs.len()
    }

    /// Whether the set holds no dialog.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dialogs.is_empty()
    }

    /// Heap bytes the set holds besides its own struct: dialogs beyond the one kept inline,
    /// and each dialog's [`Dialog::heap_bytes`] (for memory accounting).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        let spilled = if self.dialogs.spilled() { self.dialogs.capacity() } else { 0 };
        spilled * std::mem::size_of::<Dialog>()
            + self.dialogs.iter().map(Dialog::heap_bytes).sum::<usize>()
    }

    /// Drops terminated dialogs.
    pub fn prune(&mut self) {
        self.dialogs.retain(|d| d.state() != DialogState::Terminated);
    }
}
