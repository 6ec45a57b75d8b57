//! The media types Partner Center answers in.

use std::fmt;

/// A response media type: JSON or XML, each under its `application/` and `text/` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `application/json`, the default.
    Json,
    /// `text/json`.
    TextJson,
    /// `application/xml`, in the DataContractSerializer style (see [`crate::xml`]).
    Xml,
    /// `text/xml`.
    TextXml,
}

impl MediaType {
    /// Every type, in the service's order of preference when a range (`*/*`, `text/*`) allows several.
    pub const ALL: [Self; 4] = [Self::Json, Self::TextJson, Self::Xml, Self::TextXml];

    /// The bare media type, e.g. `application/json`.
    #[must_use]
    pub const fn essence(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::TextJson => "text/json",
            Self::Xml => "application/xml",
            Self::TextXml => "text/xml",
        }
    }

    /// The `Content-Type` of a response in this type: the essence with `; charset=utf-8`.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::TextJson => "text/json; charset=utf-8",
            Self::Xml => "application/xml; charset=utf-8",
            Self::TextXml => "text/xml; charset=utf-8",
        }
    }

    /// Whether bodies in this type are XML.
    #[must_use]
    pub const fn is_xml(self) -> bool {
        matches!(self, Self::Xml | Self::TextXml)
    }

    /// The type of a `Content-Type` header value, if it is one of these (parameters ignored).
    #[must_use]
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        Self::ALL
            .into_iter()
            .find(|t| essence.eq_ignore_ascii_case(t.essence()))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.essence())
    }
}
