//! MS-CV handling: never panics; the response's vector is always a valid v1 vector of at most 63
//! characters, extending the request's when that one was valid.
#![no_main]

use axum::http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use partner_center_server::wire::{is_valid_cv, response_cv};

fuzz_target!(|input: &[u8]| {
    let valid = is_valid_cv(input);
    let Ok(header) = HeaderValue::from_bytes(input) else {
        return;
    };
    let out = response_cv(Some(&header));
    assert!(is_valid_cv(out.as_bytes()), "{out:?}");
    assert!(out.len() <= 63);
    if valid {
        assert!(out.as_bytes().starts_with(input), "{input:?} -> {out:?}");
    }
});
