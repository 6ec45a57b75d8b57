//! Customers as a partner reads them: the company profile's domain, the commerce id, the list's page
//! sizes and its filter.

use partner_center_model::{CustomerFilter, CustomerId, TenantId, Timestamp};

/// A customer as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// The customer's tenant id.
    pub id: CustomerId,
    /// Its company name.
    pub company_name: String,
    /// Its domain, when one was given (else [`domain_of`] derives one).
    pub domain: Option<String>,
    /// When the partner's relationship with it was created.
    pub created_at: Timestamp,
}

/// Why a request for customers is refused (a 400 that names the problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The customer's domain: the one it was given, else one derived from its company name (its
/// letters and digits, lower case; `customer` and the first group of its id when there are none)
/// under `onmicrosoft.com`.
#[must_use]
pub fn domain_of(customer: &CustomerRecord) -> String {
    if let Some(domain) = customer.domain.as_deref().filter(|d| !d.is_empty()) {
        return domain.to_owned();
    }
    let mut label: String = customer
        .company_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(27)
        .collect();
    if label.is_empty() {
        let id = customer.id.to_string();
        label = format!("customer{}", &id[..8]);
    }
    format!("{label}.onmicrosoft.com")
}

/// The customer's commerce id, as the partner sees it: a GUID of its own, stable for the
/// relationship (the customer's id with the partner's mixed in, as a version-4 GUID).
#[must_use]
pub fn commerce_id(partner: TenantId, customer: CustomerId) -> String {
    let (a, b) = (partner.as_uuid().as_bytes(), customer.as_uuid().as_bytes());
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = a[i] ^ b[(i + 5) % 16] ^ 0x5a;
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The most customers a page holds.
pub const MAX_PAGE: usize = 500;
/// The page size when the request names none.
pub const DEFAULT_PAGE: usize = 200;

/// How many customers a page of the list holds: `size` from 1 to 500 (200 when absent), or 0 (all
/// of them) only with a filter, as Partner Center's documented filter call sends it.
///
/// # Errors
///
/// A size that is not a number, or outside those.
pub fn page_size(size: Option<&str>, filtered: bool) -> Result<usize, Refusal> {
    let Some(size) = size else {
        return Ok(DEFAULT_PAGE);
    };
    let invalid = || {
        Refusal(format!(
            "size must be a number from 1 to {MAX_PAGE} (0 only with a filter), not `{size}`."
        ))
    };
    let size: usize = size.trim().parse().map_err(|_| invalid())?;
    match size {
        0 if filtered => Ok(0),
        1..=MAX_PAGE => Ok(size),
        _ => Err(invalid()),
    }
}

/// Which field a filter searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The company name.
    CompanyName,
    /// The domain.
    Domain,
}

/// A filter of the customers list: the customers whose field starts with `prefix`, in any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The field searched.
    pub field: Field,
    /// The prefix, lower case.
    pub prefix: String,
}

impl Filter {
    /// Reads the `filter` query parameter: the JSON `{"Field", "Value", "Operator"}` (property
    /// names in any case).
    ///
    /// # Errors
    ///
    /// JSON that is not such an object, another field than `CompanyName` or `Domain`, or another
    /// operator than `starts_with`.
    pub fn parse(json: &str) -> Result<Self, Refusal> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Refusal(format!("filter is not JSON: {e}.")))?;
        let object = value
            .as_object()
            .ok_or_else(|| Refusal("filter must be a JSON object.".into()))?;
        let member = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str())
                .ok_or_else(|| Refusal(format!("filter lacks its {name}.")))
        };
        let filter = CustomerFilter {
            field: member("Field")?.to_owned(),
            value: member("Value")?.to_owned(),
            operator: member("Operator")?.to_owned(),
        };
        let field = if filter.field.eq_ignore_ascii_case("CompanyName") {
            Field::CompanyName
        } else if filter.field.eq_ignore_ascii_case("Domain") {
            Field::Domain
        } else {
            return Err(Refusal(format!(
                "filter field `{}` is not supported: use CompanyName or Domain.",
                filter.field
            )));
        };
        if !filter.operator.eq_ignore_ascii_case("starts_with") {
            return Err(Refusal(format!(
                "filter operator `{}` is not supported: use starts_with.",
                filter.operator
            )));
        }
        Ok(Self {
            field,
            prefix: filter.value.to_lowercase(),
        })
    }

    /// Whether `customer` is one the filter looks for.
    #[must_use]
    pub fn matches(&self, customer: &CustomerRecord) -> bool {
        let text = match self.field {
            Field::CompanyName => customer.company_name.to_lowercase(),
            Field::Domain => domain_of(customer).to_lowercase(),
        };
        text.starts_with(&self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(company_name: &str, domain: Option<&str>) -> CustomerRecord {
        CustomerRecord {
            id: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
            company_name: company_name.into(),
            domain: domain.map(str::to_owned),
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn a_domain_is_given_or_derived_from_the_company_name() {
        assert_eq!(
            domain_of(&customer("Fabrikam", Some("fabrikam.example.com"))),
            "fabrikam.example.com"
        );
        assert_eq!(
            domain_of(&customer("Fabrikam Ltd. (EU)", None)),
            "fabrikamltdeu.onmicrosoft.com"
        );
        assert_eq!(
            domain_of(&customer("Ünïcødé!", Some(""))),
            "ncd.onmicrosoft.com"
        );
        assert_eq!(
            domain_of(&customer("!!!", None)),
            "customerc2f6e3b1.onmicrosoft.com"
        );
    }

    #[test]
    fn a_commerce_id_is_a_guid_stable_for_the_relationship_and_distinct_per_partner() {
        let customer: CustomerId = "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap();
        let a: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let b: TenantId = "b1e5d2a0-0000-4000-8000-000000000002".parse().unwrap();
        let id = commerce_id(a, customer);
        assert_eq!(id, commerce_id(a, customer));
        assert_ne!(id, commerce_id(b, customer));
        assert_ne!(id, customer.to_string());
        assert!(id.parse::<CustomerId>().is_ok(), "{id}");
    }

    #[test]
    fn page_sizes_are_1_to_500_or_0_with_a_filter() {
        assert_eq!(page_size(None, false), Ok(DEFAULT_PAGE));
        assert_eq!(page_size(Some("1"), false), Ok(1));
        assert_eq!(page_size(Some("500"), true), Ok(500));
        assert_eq!(page_size(Some("0"), true), Ok(0));
        for bad in ["0", "501", "-1", "ten", "", "1e3"] {
            assert!(page_size(Some(bad), false).is_err(), "{bad}");
        }
        assert!(page_size(Some("501"), true).is_err());
    }

    #[test]
    fn filters_search_company_names_and_domains_by_prefix_in_any_case() {
        let filter =
            Filter::parse(r#"{"Field":"CompanyName","Value":"fAbRi","Operator":"starts_with"}"#)
                .unwrap();
        assert!(filter.matches(&customer("Fabrikam", None)));
        assert!(!filter.matches(&customer("Contoso Fabrikam", None)));
        let by_domain =
            Filter::parse(r#"{"field":"domain","value":"FAB","operator":"STARTS_WITH"}"#).unwrap();
        assert_eq!(by_domain.field, Field::Domain);
        assert!(by_domain.matches(&customer("Contoso", Some("fab.example.com"))));
        assert!(
            by_domain.matches(&customer("Fabrikam", None)),
            "a derived domain"
        );
        assert!(!by_domain.matches(&customer("Contoso", None)));
    }

    #[test]
    fn other_fields_operators_and_malformed_filters_are_refused_saying_why() {
        for (filter, says) in [
            (
                r#"{"Field":"IndirectReseller","Value":"x","Operator":"starts_with"}"#,
                "IndirectReseller",
            ),
            (
                r#"{"Field":"CompanyName","Value":"x","Operator":"equals"}"#,
                "equals",
            ),
            (
                r#"{"Field":"CompanyName","Operator":"starts_with"}"#,
                "Value",
            ),
            (r#"["CompanyName"]"#, "object"),
            ("not json", "JSON"),
        ] {
            let err = Filter::parse(filter).unwrap_err().to_string();
            assert!(err.contains(says), "{filter}: {err}");
        }
    }
}
