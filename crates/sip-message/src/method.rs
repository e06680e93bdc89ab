//! Request methods (RFC 3261 §7.1, §27.4 and the extensions that register methods).

use std::fmt;

use bytes::Bytes;

use crate::chars::is_token_str;

/// A SIP method. Known methods are variants; any other token is kept as
/// [`Method::Extension`] (case-sensitive, RFC 3261 §7.1: methods are case-sensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `INVITE` (RFC 3261 §13).
    Invite,
    /// `ACK` (RFC 3261 §17.1.1.3, §13.2.2.4).
    Ack,
    /// `BYE` (RFC 3261 §15).
    Bye,
    /// `CANCEL` (RFC 3261 §9).
    Cancel,
    /// `REGISTER` (RFC 3261 §10).
    Register,
    /// `OPTIONS` (RFC 3261 §11).
    Options,
    /// `INFO` (RFC 6086).
    Info,
    /// `UPDATE` (RFC 3311).
    Update,
    /// `PRACK` (RFC 3262).
    Prack,
    /// `SUBSCRIBE` (RFC 6665).
    Subscribe,
    /// `NOTIFY` (RFC 6665).
    Notify,
    /// `REFER` (RFC 3515).
    Refer,
    /// `MESSAGE` (RFC 3428).
    Message,
    /// `PUBLISH` (RFC 3903).
    Publish,
    /// Any other token (`extension-method`, RFC 3261 §25.1).
    Extension(Bytes),
}

impl Method {
    /// Recognises a method token; `None` if `s` is not a token. Copies nothing for known
    /// methods; an extension method is kept as a slice of `src` when given, else copied.
    #[must_use]
    pub fn from_bytes(s: &[u8]) -> Option<Method> {
        Self::from_token(s, None)
    }

    /// Like [`Method::from_bytes`] but an extension method shares `buf` (`s` must lie in it).
    pub(crate) fn from_token(s: &[u8], buf: Option<&Bytes>) -> Option<Method> {
        let m = match s {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            b"OPTIONS" => Method::Options,
            b"INFO" => Method::Info,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"PUBLISH" => Method::Publish,
            _ if is_token_str(s) => Method::Extension(match buf {
                Some(b) => b.slice_ref(s),
                None => Bytes::copy_from_slice(s),
            }),
            _ => return None,
        };
        Some(m)
    }

    /// The method's name as sent on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            // Constructed only from token bytes, which are ASCII.
            Method::Extension(b) => std::str::from_utf8(b).unwrap_or("?"),
        }
    }

    /// The method's name as bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Method::Extension(b) => b,
            other => other.as_str().as_bytes(),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = crate::HeaderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::from_bytes(s.as_bytes()).ok_or(crate::HeaderError::new(
            crate::HeaderName::Other,
            "method is not a token",
            0,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_case_sensitive() {
        // RFC 3261 §7.1: "The method is case-sensitive."
        assert_eq!(Method::from_bytes(b"INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::from_bytes(b"invite"),
            Some(Method::Extension(Bytes::from_static(b"invite")))
        );
        assert_eq!(Method::from_bytes(b"IN VITE"), None);
        assert_eq!(Method::from_bytes(b""), None);
    }
}
