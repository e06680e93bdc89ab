//! The macro behind the header types that keep their value, or one token of it, as a borrowed
//! `&str`: option tags, methods, Call-ID, products, free text.

/// Defines `pub struct $ty<'a>(pub &'a str)` with `as_str` and its
/// [`TypedHeader`](crate::TypedHeader) impl. `$parse`, called as `$parse(value, name)`, checks
/// the value against the header's grammar and returns the slice to keep.
macro_rules! str_header {
    ($(#[$doc:meta])* $ty:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $ty<'a>(pub &'a str);

        impl<'a> $ty<'a> {
            /// The value as it appears on the wire.
            #[must_use]
            pub fn as_str(&self) -> &'a str {
                self.0
            }
        }

        impl<'a> $crate::TypedHeader<'a> for $ty<'a> {
            const NAME: $crate::HeaderName = $crate::HeaderName::$ty;

            fn parse(value: &'a str) -> Result<Self, $crate::HeaderError> {
                ($parse)(value, $crate::HeaderName::$ty).map($ty)
            }
        }
    };
}
