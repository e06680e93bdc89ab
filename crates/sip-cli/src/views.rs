//! Typed views of header values for `sip parse`: each known header parsed with its typed parser
//! (through sip-message's one [`visit_typed`] dispatch) and shown as the parser sees it, or the
//! error it found.

use std::fmt::Debug;

use sip_message::{HeaderName, HeaderVisitor, TypedHeader, split_list, visit_typed};

/// Formats each value of a header line with its typed parser.
struct Show;

impl HeaderVisitor for Show {
    type Output = String;

    fn visit<'a, H: TypedHeader<'a> + Debug>(&mut self, value: &'a [u8]) -> String {
        let pieces: Vec<&[u8]> =
            if H::NAME.is_list() { split_list(value).collect() } else { vec![value] };
        pieces
            .into_iter()
            .map(|piece| match std::str::from_utf8(piece) {
                Ok(text) => match H::parse(text) {
                    Ok(v) => format!("{v:?}"),
                    Err(e) => format!("ERROR: {e}"),
                },
                Err(_) => "ERROR: not valid UTF-8".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// The typed view of one header line, or `None` for headers without a typed parser.
pub(crate) fn describe(name: HeaderName, value: &[u8]) -> Option<String> {
    visit_typed(name, value, &mut Show)
}
