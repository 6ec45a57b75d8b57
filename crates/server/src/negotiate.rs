//! Content negotiation: which of the four media types a request's `Accept` header asks for.
//!
//! As ASP.NET Web API's default negotiator does it: the `Accept` ranges are taken in order of their
//! q-values (header order breaks ties), and the first range that one of the service's types matches
//! decides, the service's own preference (`application/json`, `text/json`, `application/xml`,
//! `text/xml`) breaking ties inside a wildcard. A type whose most specific matching range has
//! `q=0` is never chosen. No `Accept`, or one with no readable range, means JSON.

use partner_center_model::MediaType;

/// The `Accept` header allows none of the service's media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAcceptable;

/// One media range of an `Accept` header.
#[derive(Debug)]
struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// Thousandths, 0 to 1000.
    q: u16,
}

impl Range<'_> {
    /// 0 when the range does not match `media`; else how specific the match is (1 `*/*`, 2 `type/*`, 3 exact).
    fn specificity(&self, media: MediaType) -> u8 {
        let (kind, subtype) = media.essence().split_once('/').unwrap_or_default();
        match (self.kind, self.subtype) {
            ("*", "*") => 1,
            (k, "*") if k.eq_ignore_ascii_case(kind) => 2,
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => 3,
            _ => 0,
        }
    }
}

/// Parses one range; `None` when it is malformed (it is then ignored).
fn parse_range(text: &str) -> Option<Range<'_>> {
    let mut parts = text.split(';');
    let (kind, subtype) = parts.next()?.trim().split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
        return None;
    }
    let mut q = 1000;
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            q = parse_q(value.trim())?;
        }
    }
    Some(Range { kind, subtype, q })
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The media type a response to a request with this `Accept` header should have.
///
/// # Errors
///
/// [`NotAcceptable`] when the header allows none of the service's types.
pub fn negotiate(accept: Option<&str>) -> Result<MediaType, NotAcceptable> {
    let Some(accept) = accept else {
        return Ok(MediaType::Json);
    };
    let mut ranges: Vec<Range<'_>> = accept.split(',').filter_map(parse_range).collect();
    if ranges.is_empty() {
        return Ok(MediaType::Json);
    }
    // The q-value a type gets from its most specific matching range (the highest among equals).
    let quality = |media: MediaType| {
        ranges
            .iter()
            .filter_map(|r| match r.specificity(media) {
                0 => None,
                specificity => Some((specificity, r.q)),
            })
            .max()
            .map_or(0, |(_, q)| q)
    };
    let allowed: Vec<(MediaType, u16)> = MediaType::ALL
        .into_iter()
        .map(|m| (m, quality(m)))
        .collect();
    ranges.sort_by_key(|r| std::cmp::Reverse(r.q)); // stable: header order breaks ties
    ranges
        .iter()
        .filter(|r| r.q > 0)
        .find_map(|range| {
            allowed
                .iter()
                .find(|(media, q)| *q > 0 && range.specificity(*media) > 0)
                .map(|(media, _)| *media)
        })
        .ok_or(NotAcceptable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MediaType::*;

    #[test]
    fn each_accept_header_gets_the_type_web_api_would_choose() {
        let cases: &[(Option<&str>, Result<MediaType, NotAcceptable>)] = &[
            (None, Ok(Json)),
            (Some(""), Ok(Json)),
            (Some("*/*"), Ok(Json)),
            (Some("application/json"), Ok(Json)),
            (Some("application/json; charset=utf-8"), Ok(Json)),
            (Some("APPLICATION/JSON"), Ok(Json)),
            (Some("text/json"), Ok(TextJson)),
            (Some("application/xml"), Ok(Xml)),
            (Some("text/xml"), Ok(TextXml)),
            (Some("text/*"), Ok(TextJson)),
            (Some("application/*"), Ok(Json)),
            (Some("application/xml, application/json"), Ok(Xml)),
            (
                Some("application/xml;q=0.5, application/json;q=0.9"),
                Ok(Json),
            ),
            (Some("text/html, application/xml;q=0.9"), Ok(Xml)),
            (Some("*/*;q=0.1, text/xml"), Ok(TextXml)),
            (Some("application/*;q=0.5, text/xml;q=0.4"), Ok(Json)),
            (Some("application/json;q=0, */*"), Ok(TextJson)),
            (Some("*/*, application/json;q=0, text/json;q=0"), Ok(Xml)),
            (Some("text/html"), Err(NotAcceptable)),
            (Some("image/png, text/plain;q=0.8"), Err(NotAcceptable)),
            (Some("application/json;q=0"), Err(NotAcceptable)),
            (Some("*/*;q=0"), Err(NotAcceptable)),
            (Some("application/xml;q=1.0"), Ok(Xml)),
            (Some("application/xml;q=0.001"), Ok(Xml)),
            // Malformed ranges are ignored; nothing readable means the default.
            (Some("application/xml;q=2, text/xml"), Ok(TextXml)),
            (Some("application/xml;q=0.0001"), Ok(Json)),
            (Some("nonsense"), Ok(Json)),
            (Some("*/json"), Ok(Json)),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(*accept), *expected, "Accept: {accept:?}");
        }
    }
}
