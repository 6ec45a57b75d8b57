//! `Accept` negotiation: never panics, and what it chooses stays chosen when the header also asks
//! for that very type first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partner_center_server::negotiate::negotiate;

fuzz_target!(|accept: &str| {
    if let Ok(media) = negotiate(Some(accept)) {
        let preferred = format!("{};q=1,{accept}", media.essence());
        assert!(
            negotiate(Some(&preferred)).is_ok_and(|again| again == media),
            "{accept:?} -> {media:?}"
        );
    }
});
