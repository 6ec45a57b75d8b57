//! GUID identifiers.
//!
//! Partner Center identifies partners and customers by their Entra tenant id and subscriptions by a
//! Partner Center subscription id, all GUIDs. Clients send them in any case and sometimes in braces
//! (the PowerShell module's own check accepts `{...}`), so parsing accepts `8-4-4-4-12` hexadecimal
//! digits in any case, optionally wrapped in one pair of braces, and nothing else: no 32-digit simple
//! form, no `urn:uuid:` prefix. Every id is normalised to lower-case hyphenated form, which is the
//! only form the service stores, compares and writes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The input was not a GUID of the accepted shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a GUID (expected 8-4-4-4-12 hexadecimal digits, optionally in braces)")]
pub struct ParseGuidError;

/// Parses a GUID in the accepted shape (see the module documentation).
///
/// # Errors
///
/// [`ParseGuidError`] when `input` is anything but 8-4-4-4-12 hexadecimal digits, optionally in braces.
pub fn parse_guid(input: &str) -> Result<Uuid, ParseGuidError> {
    let inner = match input.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or(ParseGuidError)?,
        None => input,
    };
    let Ok(text) = <&[u8; 36]>::try_from(inner.as_bytes()) else {
        return Err(ParseGuidError);
    };
    if [8, 13, 18, 23].iter().any(|&at| text[at] != b'-') {
        return Err(ParseGuidError);
    }
    // One pass, a table lookup a digit: every request parses two or three of these, and checking
    // the shape first and then parsing with `Uuid::try_parse` went over each digit twice.
    let mut bytes = [0u8; 16];
    let mut invalid = 0;
    for (byte, &at) in bytes.iter_mut().zip(&DIGIT_PAIRS) {
        let (high, low) = (HEX[usize::from(text[at])], HEX[usize::from(text[at + 1])]);
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    if invalid & NOT_HEX != 0 {
        return Err(ParseGuidError);
    }
    Ok(Uuid::from_bytes(bytes))
}

/// Where each byte's two digits start in the 36 characters of `8-4-4-4-12`.
const DIGIT_PAIRS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// Marks a character that is not a hexadecimal digit in [`HEX`].
const NOT_HEX: u8 = 0x80;

/// Each character's value as a hexadecimal digit, or [`NOT_HEX`].
const HEX: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

macro_rules! guid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an already-parsed GUID.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// A new random (version 4) id.
            #[must_use]
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The GUID itself.
            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The normalised, lower-case hyphenated form, without allocating.
            #[must_use]
            pub fn encode(&self) -> uuid::fmt::Hyphenated {
                self.0.hyphenated()
            }
        }

        impl FromStr for $name {
            type Err = ParseGuidError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_guid(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                // Encoded on the stack and written as one string: `collect_str` would go through
                // `fmt` and the serializer's escaping, a character at a time.
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                serializer.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

guid_newtype!(
    /// A customer's Entra tenant id (`customer_id` in the routes).
    CustomerId
);
guid_newtype!(
    /// A Partner Center subscription id (`subscription_id` in the routes).
    SubscriptionId
);
guid_newtype!(
    /// An Entra tenant id; the `tid` claim of a token names the partner's tenant.
    TenantId
);
guid_newtype!(
    /// An application's (client) id, as registered in a tenant.
    ClientId
);

#[cfg(test)]
mod tests {
    use super::*;

    const CANONICAL: &str = "c2f6e3b1-0000-4000-8000-00000000000a";

    #[test]
    fn accepts_any_case_and_braces_and_normalises_to_lower_case() {
        for input in [
            CANONICAL,
            "C2F6E3B1-0000-4000-8000-00000000000A",
            "{c2f6e3b1-0000-4000-8000-00000000000a}",
            "{C2F6E3B1-0000-4000-8000-00000000000a}",
        ] {
            let id: CustomerId = input.parse().unwrap_or_else(|_| panic!("{input} rejected"));
            assert_eq!(id.to_string(), CANONICAL, "{input}");
        }
    }

    #[test]
    fn rejects_every_other_shape() {
        for input in [
            "",
            "not-a-guid",
            "c2f6e3b100004000800000000000000a",
            "urn:uuid:c2f6e3b1-0000-4000-8000-00000000000a",
            "{c2f6e3b1-0000-4000-8000-00000000000a",
            "c2f6e3b1-0000-4000-8000-00000000000a}",
            "{{c2f6e3b1-0000-4000-8000-00000000000a}}",
            " c2f6e3b1-0000-4000-8000-00000000000a",
            "c2f6e3b1-0000-4000-8000-00000000000g",
            "c2f6e3b1-00000-400-8000-00000000000a",
            "c2f6e3b1-0000-4000-8000-00000000000a0",
            "c2f6e3b1+0000-4000-8000-00000000000a",
            "c2f6e3b1-0000-4000-8000-00000000000\u{e9}",
        ] {
            assert_eq!(
                input.parse::<SubscriptionId>(),
                Err(ParseGuidError),
                "{input:?}"
            );
        }
    }

    #[test]
    fn every_character_in_every_place_is_judged_as_uuid_judges_a_hyphenated_guid() {
        for at in 0..36 {
            for c in 0..=u8::MAX {
                let mut text: [u8; 36] = CANONICAL.as_bytes().try_into().unwrap();
                text[at] = c;
                let Ok(input) = std::str::from_utf8(&text) else {
                    continue;
                };
                // uuid also takes other shapes; of 36 characters, only the hyphenated one.
                let expected = Uuid::try_parse(input).map_err(|_| ParseGuidError);
                assert_eq!(parse_guid(input), expected, "{input:?}");
            }
        }
    }

    #[test]
    fn serde_round_trips_through_the_normalised_form() {
        let id: TenantId =
            serde_json::from_str("\"{B1E5D2A0-0000-4000-8000-000000000001}\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"b1e5d2a0-0000-4000-8000-000000000001\""
        );
        assert!(serde_json::from_str::<TenantId>("\"nope\"").is_err());
    }
}
