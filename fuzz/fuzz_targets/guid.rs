//! GUID parsing: never panics; what parses prints in canonical form and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partner_center_model::SubscriptionId;
use partner_center_model::ids::parse_guid;

fuzz_target!(|input: &str| {
    if let Ok(uuid) = parse_guid(input) {
        let canonical = uuid.hyphenated().to_string();
        assert_eq!(parse_guid(&canonical), Ok(uuid));
        assert!(input.len() == 36 || input.len() == 38, "{input:?}");
        let id: SubscriptionId = input.parse().expect("the typed id parses too");
        assert_eq!(id.to_string(), canonical);
    }
});
