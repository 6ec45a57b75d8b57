//! XML forms of the bodies, in the style of .NET's DataContractSerializer (best effort: Partner Center
//! publishes no XML sample).
//!
//! The root element is named after the type, in the default namespace [`NAMESPACE`], with the
//! `i` prefix bound to the XML Schema instance namespace; members are PascalCase elements in
//! alphabetical order; a list of strings is a sequence of `a:string` elements in the serialization
//! arrays namespace. For example:
//!
//! ```xml
//! <SubscriptionRegistrationStatus xmlns="http://schemas.datacontract.org/2004/07/Microsoft.Partner.Services.Subscriptions.V1.Models" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Attributes><ObjectType>SubscriptionRegistrationStatus</ObjectType></Attributes><Status>Registered</Status><SubscriptionId>d3a7f4c2-0000-4000-8000-000000000003</SubscriptionId></SubscriptionRegistrationStatus>
//! ```
//!
//! Reading matches elements by local name and ignores unknown ones, so that it also reads what a
//! real service might add.

use quick_xml::Writer;
use quick_xml::events::{BytesText, Event};
use quick_xml::reader::Reader;

pub mod generic;

use crate::collection::Collection;
use crate::customer::Customer;
use crate::fault::ServiceFault;
use crate::resources::{
    ActivationStatus, ResourceAttributes, SubscriptionActivationResult,
    SubscriptionRegistrationStatus,
};
use crate::subscription::Subscription;

/// The data-contract namespace of every body.
pub const NAMESPACE: &str =
    "http://schemas.datacontract.org/2004/07/Microsoft.Partner.Services.Subscriptions.V1.Models";
/// The XML Schema instance namespace, bound to the `i` prefix.
pub const INSTANCE_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The namespace of serialized arrays (`a:string` items).
pub const ARRAYS_NAMESPACE: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";

/// An XML body that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The root element names another type.
    #[error("expected a <{expected}> element, found <{found}>")]
    UnexpectedRoot {
        /// The type expected.
        expected: &'static str,
        /// The root element found.
        found: String,
    },
    /// A required member is missing.
    #[error("<{0}> is missing")]
    Missing(&'static str),
    /// A member's text is not a valid value.
    #[error("<{member}> is not valid: {message}")]
    Invalid {
        /// The member.
        member: &'static str,
        /// Why.
        message: String,
    },
}

/// A body with an XML form.
pub trait XmlForm: Sized {
    /// The body as an XML document.
    fn to_xml(&self) -> String;

    /// Reads the body from an XML document.
    ///
    /// # Errors
    ///
    /// When the document is malformed, is another type, or lacks or garbles a member.
    fn from_xml(xml: &str) -> Result<Self, XmlError>;
}

type XmlWriter = Writer<Vec<u8>>;

/// Writes a document: the root element with its namespaces, and what `members` writes inside.
fn document(root: &str, members: impl FnOnce(&mut XmlWriter) -> std::io::Result<()>) -> String {
    let mut writer = Writer::new(Vec::with_capacity(256));
    writer
        .create_element(root)
        .with_attribute(("xmlns", NAMESPACE))
        .with_attribute(("xmlns:i", INSTANCE_NAMESPACE))
        .write_inner_content(members)
        .expect("writing XML to memory cannot fail");
    String::from_utf8(writer.into_inner()).expect("the XML writer writes UTF-8")
}

fn member(writer: &mut XmlWriter, name: &str, text: &str) -> std::io::Result<()> {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

/// A parsed element: its local name, its text and its child elements.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn text_of(&self, name: &'static str) -> Result<&str, XmlError> {
        self.child(name)
            .map(|c| c.text.trim())
            .ok_or(XmlError::Missing(name))
    }

    fn parse_of<T: std::str::FromStr>(&self, name: &'static str) -> Result<T, XmlError>
    where
        T::Err: std::fmt::Display,
    {
        self.text_of(name)?
            .parse()
            .map_err(|e: T::Err| XmlError::Invalid {
                member: name,
                message: e.to_string(),
            })
    }
}

fn malformed(err: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(err.to_string())
}

/// Parses a document into its root element.
fn parse(xml: &str, expected: &'static str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().map_err(malformed)? {
            Event::Start(start) => stack.push(Element {
                name: start.local_name().as_ref().to_owned(),
                ..Element::default()
            }),
            Event::Empty(start) => {
                let element = Element {
                    name: start.local_name().as_ref().to_owned(),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return check_root(element, expected),
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return check_root(element, expected),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&data);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(ch) => ch.to_string(),
                    None => {
                        quick_xml::escape::resolve_predefined_entity(&reference.xml10_content())
                            .ok_or_else(|| malformed("unknown entity"))?
                            .to_owned()
                    }
                };
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&resolved);
                }
            }
            Event::Eof => return Err(malformed("no root element")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

fn check_root(root: Element, expected: &'static str) -> Result<Element, XmlError> {
    if root.name == expected {
        Ok(root)
    } else {
        Err(XmlError::UnexpectedRoot {
            expected,
            found: root.name,
        })
    }
}

impl XmlForm for SubscriptionRegistrationStatus {
    fn to_xml(&self) -> String {
        document(Self::OBJECT_TYPE, |w| {
            w.create_element("Attributes").write_inner_content(|w| {
                if let Some(etag) = &self.attributes.etag {
                    member(w, "Etag", etag)?;
                }
                member(w, "ObjectType", &self.attributes.object_type)
            })?;
            member(w, "Status", self.status.as_str())?;
            member(w, "SubscriptionId", &self.subscription_id.to_string())
        })
    }

    fn from_xml(xml: &str) -> Result<Self, XmlError> {
        let root = parse(xml, Self::OBJECT_TYPE)?;
        let attributes = root.child("Attributes");
        Ok(Self {
            subscription_id: root.parse_of("SubscriptionId")?,
            status: root.parse_of("Status")?,
            attributes: ResourceAttributes {
                etag: attributes
                    .and_then(|a| a.child("Etag"))
                    .map(|e| e.text.clone()),
                object_type: attributes
                    .and_then(|a| a.child("ObjectType"))
                    .map_or_else(|| Self::OBJECT_TYPE.to_owned(), |o| o.text.clone()),
            },
        })
    }
}

impl XmlForm for SubscriptionActivationResult {
    fn to_xml(&self) -> String {
        document(Self::OBJECT_TYPE, |w| {
            member(w, "Status", self.status.as_str())?;
            member(w, "SubscriptionId", &self.subscription_id.to_string())
        })
    }

    fn from_xml(xml: &str) -> Result<Self, XmlError> {
        let root = parse(xml, Self::OBJECT_TYPE)?;
        let status = root.text_of("Status")?;
        Ok(Self {
            subscription_id: root.parse_of("SubscriptionId")?,
            status: if status.eq_ignore_ascii_case("Success") {
                ActivationStatus::Success
            } else {
                ActivationStatus::Other(status.to_owned())
            },
        })
    }
}

impl XmlForm for ServiceFault {
    fn to_xml(&self) -> String {
        document(Self::OBJECT_TYPE, |w| {
            member(w, "Code", &self.code.to_string())?;
            let data = w
                .create_element("Data")
                .with_attribute(("xmlns:a", ARRAYS_NAMESPACE));
            if self.data.is_empty() {
                data.write_empty()?;
            } else {
                data.write_inner_content(|w| {
                    self.data
                        .iter()
                        .try_for_each(|item| member(w, "a:string", item))
                })?;
            }
            member(w, "Description", &self.description)?;
            member(w, "Source", &self.source)
        })
    }

    fn from_xml(xml: &str) -> Result<Self, XmlError> {
        let root = parse(xml, Self::OBJECT_TYPE)?;
        Ok(Self {
            code: root.parse_of("Code")?,
            description: root.text_of("Description")?.to_owned(),
            data: root
                .child("Data")
                .map(|data| data.children.iter().map(|item| item.text.clone()).collect())
                .unwrap_or_default(),
            source: root
                .child("Source")
                .map(|s| s.text.trim().to_owned())
                .unwrap_or_default(),
        })
    }
}

/// The part-two resources take their XML form from their JSON form (see [`generic`]).
macro_rules! xml_form_of_json {
    ($($ty:ty),* $(,)?) => {
        $(
            impl XmlForm for $ty {
                fn to_xml(&self) -> String {
                    generic::to_xml(Self::OBJECT_TYPE, self)
                }

                fn from_xml(xml: &str) -> Result<Self, XmlError> {
                    generic::from_xml(xml, Self::OBJECT_TYPE)
                }
            }
        )*
    };
}

xml_form_of_json!(
    Customer,
    Subscription,
    crate::purchase::Cart,
    crate::purchase::Order,
    crate::purchase::CartCheckoutResult,
    crate::product::Product,
    crate::product::Sku,
    crate::product::Availability,
    crate::product::InventoryItems
);

impl<T: serde::Serialize + serde::de::DeserializeOwned> XmlForm for Collection<T> {
    fn to_xml(&self) -> String {
        generic::to_xml(Self::OBJECT_TYPE, self)
    }

    fn from_xml(xml: &str) -> Result<Self, XmlError> {
        generic::from_xml(xml, Self::OBJECT_TYPE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RegistrationStatus;
    use crate::fault::codes;

    const SID: &str = "d3a7f4c2-0000-4000-8000-000000000003";

    #[test]
    fn registration_status_has_the_data_contract_shape_and_round_trips() {
        let body = SubscriptionRegistrationStatus::new(
            SID.parse().unwrap(),
            RegistrationStatus::Registering,
        );
        let xml = body.to_xml();
        assert_eq!(
            xml,
            format!(
                "<SubscriptionRegistrationStatus xmlns=\"{NAMESPACE}\" xmlns:i=\"{INSTANCE_NAMESPACE}\"><Attributes><ObjectType>SubscriptionRegistrationStatus</ObjectType></Attributes><Status>Registering</Status><SubscriptionId>{SID}</SubscriptionId></SubscriptionRegistrationStatus>"
            )
        );
        assert_eq!(
            SubscriptionRegistrationStatus::from_xml(&xml).unwrap(),
            body
        );
    }

    #[test]
    fn activation_result_round_trips() {
        let body = SubscriptionActivationResult {
            subscription_id: SID.parse().unwrap(),
            status: ActivationStatus::Success,
        };
        assert_eq!(
            SubscriptionActivationResult::from_xml(&body.to_xml()).unwrap(),
            body
        );
    }

    #[test]
    fn faults_escape_their_text_and_round_trip_with_and_without_data() {
        let mut fault = ServiceFault::new(codes::ALREADY_ACTIVATED, "a < b & \"c\"");
        let xml = fault.to_xml();
        assert!(
            xml.contains(&format!("<Data xmlns:a=\"{ARRAYS_NAMESPACE}\"/>")),
            "{xml}"
        );
        assert!(xml.contains("a &lt; b &amp; &quot;c&quot;"), "{xml}");
        assert_eq!(ServiceFault::from_xml(&xml).unwrap(), fault);
        fault.data = vec!["one".into(), "<two>".into()];
        let xml = fault.to_xml();
        assert!(xml.contains("<a:string>one</a:string>"), "{xml}");
        assert_eq!(ServiceFault::from_xml(&xml).unwrap(), fault);
    }

    #[test]
    fn reading_reports_what_is_wrong() {
        assert!(matches!(
            ServiceFault::from_xml("<ServiceFault><Code>1"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            ServiceFault::from_xml("<Other/>"),
            Err(XmlError::UnexpectedRoot {
                expected: "ServiceFault",
                ..
            })
        ));
        assert_eq!(
            SubscriptionActivationResult::from_xml(
                "<SubscriptionActivationResult><Status>Success</Status></SubscriptionActivationResult>"
            ),
            Err(XmlError::Missing("SubscriptionId"))
        );
        assert!(matches!(
            ServiceFault::from_xml(
                "<ServiceFault><Code>x</Code><Description>d</Description></ServiceFault>"
            ),
            Err(XmlError::Invalid { member: "Code", .. })
        ));
    }
}
