//! The customers list, page after page: [`CustomerPages`] follows each page's `links.next` (its
//! URI, and its headers, which carry the continuation token), as the .NET SDK's enumerator does.

use std::collections::VecDeque;

use partner_center_model::{Collection, Customer, CustomerFilter, paths};
use reqwest::Method;

use crate::client::PartnerCenter;
use crate::error::Error;

/// What to list of the partner's customers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerQuery {
    size: Option<u32>,
    filter: Option<CustomerFilter>,
}

impl CustomerQuery {
    /// Every customer, in pages of the service's default size (200).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages of `size` customers (1 to 500).
    #[must_use]
    pub fn size(mut self, size: u32) -> Self {
        self.size = Some(size);
        self
    }

    /// Only the customers whose company name starts with `prefix`, in any case.
    #[must_use]
    pub fn company_name_starts_with(mut self, prefix: impl Into<String>) -> Self {
        self.filter = Some(CustomerFilter {
            field: "CompanyName".into(),
            value: prefix.into(),
            operator: "starts_with".into(),
        });
        self
    }

    /// Only the customers whose domain starts with `prefix`, in any case.
    #[must_use]
    pub fn domain_starts_with(mut self, prefix: impl Into<String>) -> Self {
        self.filter = Some(CustomerFilter {
            field: "Domain".into(),
            value: prefix.into(),
            operator: "starts_with".into(),
        });
        self
    }

    /// The first page's path and query.
    fn path(&self) -> String {
        let mut query = Vec::new();
        if let Some(size) = self.size {
            query.push(("size", size.to_string()));
        } else if self.filter.is_some() {
            // A filter without a size answers every match at once.
            query.push(("size", "0".to_owned()));
        }
        if let Some(filter) = &self.filter {
            query.push(("filter", serde_json::to_string(filter).unwrap_or_default()));
        }
        let query: Vec<String> = query
            .into_iter()
            .map(|(name, value)| format!("{name}={}", encode(&value)))
            .collect();
        if query.is_empty() {
            paths::customers()
        } else {
            format!("{}?{}", paths::customers(), query.join("&"))
        }
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Where the listing stands.
#[derive(Debug)]
enum Next {
    /// The next page to read: its URL, and the headers its link gave.
    Page(String, Vec<(String, String)>),
    /// No page remains.
    Done,
}

/// The partner's customers, read a page at a time as they are consumed: [`CustomerPages::next`]
/// gives them one by one, [`CustomerPages::next_page`] page by page,
/// [`CustomerPages::into_stream`] as a `Stream`, [`CustomerPages::collect`] all at once.
#[derive(Debug)]
pub struct CustomerPages<'a> {
    partner: &'a PartnerCenter,
    next: Next,
    buffered: VecDeque<Customer>,
}

impl<'a> CustomerPages<'a> {
    pub(crate) fn new(partner: &'a PartnerCenter, query: &CustomerQuery) -> Self {
        Self {
            next: Next::Page(partner.url(&query.path()), Vec::new()),
            partner,
            buffered: VecDeque::new(),
        }
    }

    /// The next page, following the previous page's `links.next`; `None` once none remains.
    pub async fn next_page(&mut self) -> Option<Result<Collection<Customer>, Error>> {
        let Next::Page(url, headers) = std::mem::replace(&mut self.next, Next::Done) else {
            return None;
        };
        let page = match self.partner.call_with(Method::GET, &url, &headers).await {
            Ok(answer) => self.partner.decode::<Collection<Customer>>(&answer),
            Err(err) => Err(err),
        };
        if let Ok(page) = &page
            && let Some(next) = &page.links.next
        {
            let headers = next
                .headers
                .iter()
                .map(|h| (h.key.clone(), h.value.clone()))
                .collect();
            self.next = Next::Page(self.partner.resolve(&next.uri), headers);
        }
        Some(page)
    }

    /// The next customer, reading the next page when this one is used up; `None` once none
    /// remains.
    pub async fn next(&mut self) -> Option<Result<Customer, Error>> {
        loop {
            if let Some(customer) = self.buffered.pop_front() {
                return Some(Ok(customer));
            }
            match self.next_page().await? {
                Ok(page) => self.buffered.extend(page.items),
                Err(err) => return Some(Err(err)),
            }
        }
    }

    /// Every remaining customer.
    ///
    /// # Errors
    ///
    /// The first call that fails.
    pub async fn collect(mut self) -> Result<Vec<Customer>, Error> {
        let mut all = Vec::new();
        while let Some(customer) = self.next().await {
            all.push(customer?);
        }
        Ok(all)
    }

    /// The customers as a `Stream` (futures' trait).
    pub fn into_stream(self) -> impl futures_core::Stream<Item = Result<Customer, Error>> + 'a {
        futures_util::stream::unfold(self, |mut pages| async move {
            pages.next().await.map(|item| (item, pages))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_their_size_and_filter_url_encoded() {
        assert_eq!(CustomerQuery::new().path(), "/v1/customers");
        assert_eq!(
            CustomerQuery::new().size(40).path(),
            "/v1/customers?size=40"
        );
        assert_eq!(
            CustomerQuery::new()
                .company_name_starts_with("Fab & Co")
                .path(),
            "/v1/customers?size=0&filter=%7B%22Field%22%3A%22CompanyName%22%2C%22Value%22%3A%22Fab%20%26%20Co%22%2C%22Operator%22%3A%22starts_with%22%7D"
        );
    }
}
