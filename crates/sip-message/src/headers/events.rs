//! Event notification headers (RFC 6665 §8.2: Event, Subscription-State) and Replaces
//! (RFC 3891 §6.1).

use crate::{HeaderError, HeaderName, TypedHeader};

use super::params::{
    ParamList, Params, checked, delta_value, token_params, token_value, with_params,
};
use super::tokens::call_id;

/// `Event` (RFC 6665 §8.2.1): the event package a SUBSCRIBE or NOTIFY is about.
///
/// ```text
/// Event             =  ( "Event" / "o" ) HCOLON event-type *( SEMI event-param )
/// event-type        =  event-package *( "." event-template )
/// event-package     =  token-nodot
/// event-template    =  token-nodot
/// token-nodot       =  1*( alphanum / "-"  / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
/// event-param       =  generic-param / ( "id" EQUAL token )
/// ```
///
/// ```
/// use sip_message::{Event, TypedHeader};
/// let e = Event::parse("presence.winfo;id=7")?;
/// assert_eq!((e.package(), e.event_type(), e.id()), ("presence", "presence.winfo", Some("7")));
/// assert_eq!(e.templates().collect::<Vec<_>>(), ["winfo"]);
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event<'a> {
    event_type: &'a str,
    params: Params<'a>,
}

impl<'a> Event<'a> {
    /// The whole event type, package and templates (`presence.winfo`).
    #[must_use]
    pub fn event_type(&self) -> &'a str {
        self.event_type
    }

    /// The event package: the event type up to the first `.`.
    #[must_use]
    pub fn package(&self) -> &'a str {
        self.event_type.split('.').next().unwrap_or(self.event_type)
    }

    /// The event templates after the package, in order (`winfo` in `presence.winfo`).
    pub fn templates(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.event_type.split('.').skip(1)
    }

    /// The `id` parameter, which tells several subscriptions in one dialog apart.
    #[must_use]
    pub fn id(&self) -> Option<&'a str> {
        self.params.get("id").flatten()
    }

    /// All parameters.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for Event<'a> {
    const NAME: HeaderName = HeaderName::Event;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (event_type, params) =
            token_params(value, HeaderName::Event, "expected event type", is_event_type, |p| {
                checked(p, "id", "id is not a token", token_value).map(drop)
            })?;
        Ok(Event { event_type, params })
    }
}

/// The state of a subscription (RFC 6665 §8.2.3 `substate-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Substate<'a> {
    /// `active`: the subscription is accepted.
    Active,
    /// `pending`: the subscription awaits authorization.
    Pending,
    /// `terminated`: the subscription is over.
    Terminated,
    /// An extension state (to be treated as `active`, RFC 6665 §4.1.3).
    Other(&'a str),
}

/// `Subscription-State` (RFC 6665 §8.2.3): in a NOTIFY, where the subscription stands.
///
/// ```text
/// Subscription-State   = "Subscription-State" HCOLON substate-value *( SEMI subexp-params )
/// substate-value       = "active" / "pending" / "terminated" / extension-substate
/// subexp-params        =   ("reason" EQUAL event-reason-value)
///                        / ("expires" EQUAL delta-seconds)
///                        / ("retry-after" EQUAL delta-seconds)
///                        / generic-param
/// event-reason-value   = "deactivated" / "probation" / "rejected" / "timeout" / "giveup"
///                        / "noresource" / "invariant" / event-reason-extension
/// ```
///
/// ```
/// use sip_message::{Substate, SubscriptionState, TypedHeader};
/// let s = SubscriptionState::parse("terminated;reason=timeout;retry-after=30")?;
/// assert_eq!(s.state(), Substate::Terminated);
/// assert_eq!((s.reason(), s.retry_after()), (Some("timeout"), Some(30)));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionState<'a> {
    state: &'a str,
    params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    /// The state; known values compare case-insensitively.
    #[must_use]
    pub fn state(&self) -> Substate<'a> {
        match self.state {
            s if s.eq_ignore_ascii_case("active") => Substate::Active,
            s if s.eq_ignore_ascii_case("pending") => Substate::Pending,
            s if s.eq_ignore_ascii_case("terminated") => Substate::Terminated,
            s => Substate::Other(s),
        }
    }

    /// The state token as it appears on the wire.
    #[must_use]
    pub fn state_str(&self) -> &'a str {
        self.state
    }

    /// The `expires` parameter: seconds the subscription has left.
    #[must_use]
    pub fn expires(&self) -> Option<u32> {
        self.params.get("expires").and_then(delta_value)
    }

    /// The `retry-after` parameter: seconds before a new subscription may be tried.
    #[must_use]
    pub fn retry_after(&self) -> Option<u32> {
        self.params.get("retry-after").and_then(delta_value)
    }

    /// The `reason` parameter (`deactivated`, `probation`, `rejected`, `timeout`, `giveup`,
    /// `noresource`, `invariant` or an extension).
    #[must_use]
    pub fn reason(&self) -> Option<&'a str> {
        self.params.get("reason").flatten()
    }

    /// All parameters.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for SubscriptionState<'a> {
    const NAME: HeaderName = HeaderName::SubscriptionState;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (state, params) = token_params(
            value,
            HeaderName::SubscriptionState,
            "expected subscription state",
            |_| true,
            |p| {
                checked(p, "reason", "reason is not a token", token_value)?;
                checked(p, "expires", "invalid expires", delta_value)?;
                checked(p, "retry-after", "invalid retry-after", delta_value).map(drop)
            },
        )?;
        Ok(SubscriptionState { state, params })
    }
}

/// `Replaces` (RFC 3891 §6.1): the dialog an INVITE replaces.
///
/// ```text
/// Replaces        = "Replaces" HCOLON callid *(SEMI replaces-param)
/// replaces-param  = to-tag / from-tag / early-flag / generic-param
/// to-tag          = "to-tag" EQUAL token
/// from-tag        = "from-tag" EQUAL token
/// early-flag      = "early-only"
/// ```
///
/// Exactly one `to-tag` and one `from-tag` are required (RFC 3891 §3); a value without them
/// is an error.
///
/// ```
/// use sip_message::{Replaces, TypedHeader};
/// let v = "98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only";
/// let r = Replaces::parse(v)?;
/// assert_eq!(r.call_id(), "98732@sip.example.com");
/// assert_eq!((r.to_tag(), r.from_tag()), ("ff87ff", "r33th4x0r"));
/// assert!(r.is_early_only());
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Replaces<'a> {
    call_id: &'a str,
    to_tag: &'a str,
    from_tag: &'a str,
    params: Params<'a>,
}

impl<'a> Replaces<'a> {
    /// The Call-ID of the dialog to replace.
    #[must_use]
    pub fn call_id(&self) -> &'a str {
        self.call_id
    }

    /// The dialog's To tag.
    #[must_use]
    pub fn to_tag(&self) -> &'a str {
        self.to_tag
    }

    /// The dialog's From tag.
    #[must_use]
    pub fn from_tag(&self) -> &'a str {
        self.from_tag
    }

    /// `early-only`: replace the dialog only if it is still early (RFC 3891 §3).
    #[must_use]
    pub fn is_early_only(&self) -> bool {
        self.params.contains("early-only")
    }

    /// All parameters, the tags included.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for Replaces<'a> {
    const NAME: HeaderName = HeaderName::Replaces;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let tags = |params: &ParamList<'a>| {
            let tag = |name: &str, what: &'static str| {
                let mut values = params.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
                match (values.next(), values.next()) {
                    (Some((_, v)), None) => token_value(v).ok_or(what),
                    _ => Err(what),
                }
            };
            Ok((
                tag("to-tag", "expected exactly one to-tag token")?,
                tag("from-tag", "expected exactly one from-tag token")?,
            ))
        };
        let (call_id, params, (to_tag, from_tag)) =
            with_params(value, HeaderName::Replaces, call_id, tags)?;
        Ok(Replaces { call_id, to_tag, from_tag, params })
    }
}

/// `event-type = event-package *( "." event-template )`: a token whose dot-separated parts
/// are all non-empty (RFC 6665 §8.2.1).
pub(crate) fn is_event_type(s: &str) -> bool {
    s.split('.').all(|part| !part.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_with_params() {
        // RFC 6665 §8.2.1.
        let e = Event::parse("dialog;call-id=\"x@y\" ; include-session-description").unwrap();
        assert_eq!(e.package(), "dialog");
        assert_eq!(e.templates().count(), 0);
        assert!(e.params().contains("include-session-description"));
    }

    #[test]
    fn event_type_rejects_empty_parts_and_bad_id() {
        assert!(Event::parse("presence..winfo").is_err());
        assert!(Event::parse("").is_err());
        assert!(Event::parse("refer;id=\"93809824\"").is_err());
        assert_eq!(Event::parse("refer;id=93809824").unwrap().id(), Some("93809824"));
    }

    #[test]
    fn subscription_state_values() {
        // RFC 6665 §8.2.3.
        let s = SubscriptionState::parse("active;expires=3600").unwrap();
        assert_eq!((s.state(), s.expires()), (Substate::Active, Some(3600)));
        assert_eq!(SubscriptionState::parse("Pending").unwrap().state(), Substate::Pending);
        assert_eq!(
            SubscriptionState::parse("waiting").unwrap().state(),
            Substate::Other("waiting")
        );
    }

    #[test]
    fn subscription_state_params_are_checked() {
        assert!(SubscriptionState::parse("active;expires=-1").is_err());
        assert!(SubscriptionState::parse("terminated;retry-after=soon").is_err());
        assert!(SubscriptionState::parse("terminated;reason=\"quoted\"").is_err());
        assert!(SubscriptionState::parse("").is_err());
    }

    #[test]
    fn replaces_from_a_polycom_invite() {
        // resiprocate L2351 (Polycom SoundPoint IP 601).
        let r = Replaces::parse(
            "MDQ5MDJmZGEyYTkyNTBhZjBhNDg0NjUyMzE1MTc2Mjk.;to-tag=cf71d002;from-tag=1394930945",
        )
        .unwrap();
        assert_eq!(r.call_id(), "MDQ5MDJmZGEyYTkyNTBhZjBhNDg0NjUyMzE1MTc2Mjk.");
        assert_eq!((r.to_tag(), r.from_tag()), ("cf71d002", "1394930945"));
        assert!(!r.is_early_only());
    }

    #[test]
    fn replaces_needs_exactly_one_of_each_tag() {
        // RFC 3891 §3.
        assert!(Replaces::parse("98732@sip.example.com;to-tag=a").is_err());
        assert!(Replaces::parse("98732@sip.example.com;from-tag=b").is_err());
        assert!(Replaces::parse("98732@sip.example.com;to-tag=a;from-tag=b;to-tag=c").is_err());
        assert!(Replaces::parse("98732@sip.example.com;to-tag;from-tag=b").is_err());
        assert!(Replaces::parse(";to-tag=a;from-tag=b").is_err());
    }
}
