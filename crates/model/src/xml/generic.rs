//! The DataContract-style XML form of any serde type, for the part-two resources (customers,
//! subscriptions, carts, orders, the catalog): written from the type's JSON form, read back through
//! a serde deserializer driven by the target type.
//!
//! Writing: an object is an element whose members are PascalCase child elements in alphabetical
//! order (a `null` member is left out); an array is an element whose items are child elements named
//! after each item's `attributes.objectType` (a resource), `KeyValuePairOfstringstring` (a
//! `{"key","value"}` pair, as a link's headers), or `a:string`, `a:long`, `a:double`, `a:boolean`
//! in the serialization-arrays namespace; a value is its text.
//!
//! Reading: the target type says what each element is (a struct reads children by camelCase name,
//! a sequence reads every child as an item, a number parses the text), so the form needs no
//! schema of its own. Unknown elements are ignored.

use std::fmt;

use quick_xml::events::BytesText;
use serde::Serialize;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;

use super::{ARRAYS_NAMESPACE, Element, XmlError, XmlWriter, document, parse};

/// `body` as a document whose root element is `root`.
///
/// # Panics
///
/// Never for the service's own types (their JSON form cannot fail); a type whose `Serialize`
/// fails writes an empty root.
#[must_use]
pub fn to_xml<T: Serialize>(root: &str, body: &T) -> String {
    let value = serde_json::to_value(body).unwrap_or(Value::Null);
    document(root, |w| match &value {
        Value::Object(members) => write_members(w, members),
        // A bare array (`ArrayOfInventoryItem`): its items are named after the root.
        Value::Array(items) => {
            let name = root.strip_prefix("ArrayOf").unwrap_or("Item");
            items
                .iter()
                .try_for_each(|item| write_element(w, name, item))
        }
        other => write_text(w, other),
    })
}

/// Reads a `T` from a document whose root element is `root`.
///
/// # Errors
///
/// When the document is malformed, has another root, or does not hold a `T`.
pub fn from_xml<T: DeserializeOwned>(xml: &str, root: &'static str) -> Result<T, XmlError> {
    let element = parse(xml, root)?;
    T::deserialize(ElementDeserializer(&element)).map_err(|e| XmlError::Invalid {
        member: root,
        message: e.0,
    })
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn camel(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn write_members(
    w: &mut XmlWriter,
    members: &serde_json::Map<String, Value>,
) -> std::io::Result<()> {
    let mut sorted: Vec<(String, &Value)> = members
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (pascal(k), v))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in sorted {
        write_element(w, &name, value)?;
    }
    Ok(())
}

fn write_element(w: &mut XmlWriter, name: &str, value: &Value) -> std::io::Result<()> {
    match value {
        Value::Object(members) => {
            w.create_element(name)
                .write_inner_content(|w| write_members(w, members))?;
        }
        Value::Array(items) => {
            let element = w.create_element(name);
            let element = if items.iter().any(|item| !item.is_object()) {
                element.with_attribute(("xmlns:a", ARRAYS_NAMESPACE))
            } else {
                element
            };
            if items.is_empty() {
                element.write_empty()?;
            } else {
                element.write_inner_content(|w| {
                    items
                        .iter()
                        .try_for_each(|item| write_element(w, &item_name(item), item))
                })?;
            }
        }
        other => {
            w.create_element(name)
                .write_inner_content(|w| write_text(w, other))?;
        }
    }
    Ok(())
}

/// The element name of an array item, as DataContractSerializer names it.
fn item_name(item: &Value) -> String {
    match item {
        Value::Object(members) => members
            .get("attributes")
            .and_then(|a| a.get("objectType"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if members.contains_key("key") && members.contains_key("value") {
                    "KeyValuePairOfstringstring".to_owned()
                } else {
                    "Item".to_owned()
                }
            }),
        Value::String(_) => "a:string".to_owned(),
        Value::Bool(_) => "a:boolean".to_owned(),
        Value::Number(n) if n.is_f64() => "a:double".to_owned(),
        Value::Number(_) => "a:long".to_owned(),
        Value::Array(_) | Value::Null => "a:anyType".to_owned(),
    }
}

fn write_text(w: &mut XmlWriter, value: &Value) -> std::io::Result<()> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => return Ok(()),
        other => other.to_string(),
    };
    w.write_event(quick_xml::events::Event::Text(BytesText::new(&text)))?;
    Ok(())
}

/// A deserialization error.
#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Reads one element as whatever the target type asks for.
#[derive(Clone, Copy)]
struct ElementDeserializer<'a>(&'a Element);

impl ElementDeserializer<'_> {
    fn text(&self) -> &str {
        self.0.text.trim()
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, Error> {
        self.text().parse().map_err(|_| {
            Error(format!(
                "<{}> is not {what}: `{}`",
                self.0.name,
                self.text()
            ))
        })
    }
}

macro_rules! parsed {
    ($($method:ident => $visit:ident: $ty:ty, $what:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                visitor.$visit(self.parse::<$ty>($what)?)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ElementDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.children.is_empty() {
            visitor.visit_str(self.text())
        } else {
            self.deserialize_map(visitor)
        }
    }

    parsed! {
        deserialize_bool => visit_bool: bool, "a boolean";
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_u8 => visit_u8: u8, "an integer";
        deserialize_u16 => visit_u16: u16, "an integer";
        deserialize_u32 => visit_u32: u32, "an integer";
        deserialize_u64 => visit_u64: u64, "an integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
        deserialize_char => visit_char: char, "a character";
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.text())
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.text().to_owned())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bytes(self.text().as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_byte_buf(self.text().as_bytes().to_vec())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Items(self.0.children.iter()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Members {
            children: self.0.children.iter(),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self.text().into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// An element's children, as the items of a sequence.
struct Items<'a>(std::slice::Iter<'a, Element>);

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(ElementDeserializer(item)))
            .transpose()
    }
}

/// An element's children, as the members of a struct (by camelCase name).
struct Members<'a> {
    children: std::slice::Iter<'a, Element>,
    value: Option<&'a Element>,
}

impl<'de> de::MapAccess<'de> for Members<'_> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(child) = self.children.next() else {
            return Ok(None);
        };
        self.value = Some(child);
        seed.deserialize(camel(&child.name).into_deserializer())
            .map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let child = self
            .value
            .take()
            .ok_or_else(|| Error("a value without its member".into()))?;
        seed.deserialize(ElementDeserializer(child))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Link {
        uri: String,
        method: String,
        headers: Vec<Header>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Header {
        key: String,
        value: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Attributes {
        object_type: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Item {
        id: String,
        quantity: u32,
        is_trial: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<String>,
        tags: Vec<String>,
        attributes: Attributes,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Collection {
        total_count: usize,
        items: Vec<Item>,
        links: std::collections::BTreeMap<String, Link>,
        attributes: Attributes,
    }

    fn sample() -> Collection {
        Collection {
            total_count: 2,
            items: vec![
                Item {
                    id: "a & b".into(),
                    quantity: 3,
                    is_trial: false,
                    order_id: Some("o1".into()),
                    tags: vec!["x".into(), "y".into()],
                    attributes: Attributes {
                        object_type: "Thing".into(),
                    },
                },
                Item {
                    id: "c".into(),
                    quantity: 1,
                    is_trial: true,
                    order_id: None,
                    tags: vec![],
                    attributes: Attributes {
                        object_type: "Thing".into(),
                    },
                },
            ],
            links: [(
                "next".to_owned(),
                Link {
                    uri: "/v1/things?size=2&seekOperation=Next".into(),
                    method: "GET".into(),
                    headers: vec![Header {
                        key: "MS-ContinuationToken".into(),
                        value: "abc".into(),
                    }],
                },
            )]
            .into(),
            attributes: Attributes {
                object_type: "Collection".into(),
            },
        }
    }

    #[test]
    fn a_resource_is_written_in_data_contract_style() {
        let xml = to_xml("Collection", &sample());
        assert!(xml.starts_with("<Collection xmlns=\""), "{xml}");
        // Members in alphabetical PascalCase order; items named after their type; absent members
        // left out; text escaped.
        assert!(
            xml.contains("<Attributes><ObjectType>Collection</ObjectType></Attributes><Items><Thing><Attributes><ObjectType>Thing</ObjectType></Attributes><Id>a &amp; b</Id><IsTrial>false</IsTrial><OrderId>o1</OrderId><Quantity>3</Quantity><Tags xmlns:a=\"http://schemas.microsoft.com/2003/10/Serialization/Arrays\"><a:string>x</a:string><a:string>y</a:string></Tags></Thing>"),
            "{xml}"
        );
        assert!(xml.contains("<Tags/>"), "{xml}");
        assert!(
            xml.contains("<Headers><KeyValuePairOfstringstring><Key>MS-ContinuationToken</Key><Value>abc</Value></KeyValuePairOfstringstring></Headers>"),
            "{xml}"
        );
        assert!(
            xml.ends_with("<TotalCount>2</TotalCount></Collection>"),
            "{xml}"
        );
    }

    #[test]
    fn a_resource_reads_back_from_its_xml() {
        let xml = to_xml("Collection", &sample());
        let read: Collection = from_xml(&xml, "Collection").unwrap();
        assert_eq!(read, sample());
    }

    #[test]
    fn reading_ignores_unknown_members_and_names_what_is_wrong() {
        let xml = to_xml("Collection", &sample()).replace(
            "<TotalCount>2</TotalCount>",
            "<Unknown>1</Unknown><TotalCount>2</TotalCount>",
        );
        assert_eq!(
            from_xml::<Collection>(&xml, "Collection").unwrap(),
            sample()
        );
        let bad = to_xml("Collection", &sample()).replace("<Quantity>3<", "<Quantity>three<");
        let err = from_xml::<Collection>(&bad, "Collection")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Quantity") && err.contains("three"), "{err}");
        assert!(matches!(
            from_xml::<Collection>("<Other/>", "Collection"),
            Err(XmlError::UnexpectedRoot { .. })
        ));
    }
}
