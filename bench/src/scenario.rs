//! The scenarios: what each one sends, as wrk's Lua (see `wrk`) and, where its requests depend on
//! their number alone, as the own load generator's requests too.
//!
//! Every request carries the partner's RS256 token. GETs draw their paths (or continuation
//! tokens) from a table computed here and written beside the script; POSTs compute their paths
//! from their number, each on a subscription or a customer of its own, with an `MS-RequestId` of
//! its own.

use std::sync::Arc;

use hyper::Method;

use crate::load::{Call, MakeCall};
use crate::population::{self, Guids, Posts};
use crate::wrk::{Script, lua_string};

pub struct Scenario {
    pub name: String,
    /// The `Authorization` header of its requests.
    pub bearer: String,
    /// Its scripts' file name in the work directory.
    pub slug: String,
    pub script: Script,
    /// Whether the measured run checks every answer in wrk's `response()` (the warm-up always
    /// does). The POSTs' runs do (a cart's answer also names the cart to check out). The GETs'
    /// runs do not: their warm-up has checked every path of their table, wrk still counts any
    /// answer of 400 or more, and `response()` would cost wrk more than the answer costs the
    /// server (wrk's Lua makes a string of every header and body, and the service's ids are new in
    /// every answer), which made wrk's core the GETs' limit and its queue their tail. The bare
    /// axum ceiling is also measured with it, to show what it costs.
    pub check_measured: bool,
    /// What the script counts beside the requests, when the scenario's figure is that (e.g. the
    /// checkouts among the requests of a create-then-check-out flow).
    pub counts: Option<&'static str>,
    /// The own generator's requests and the statuses it expects (`None`: wrk only).
    pub own: Option<(MakeCall, &'static [u16])>,
}

impl Scenario {
    /// A scenario that wrk drives with `make` and `check` (and the table `rows` beside the script,
    /// if any), checking every answer, with no own-generator requests.
    fn wrk(
        name: &str,
        bearer: &str,
        make: String,
        check: impl Into<String>,
        rows: Option<Vec<String>>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            bearer: bearer.to_owned(),
            slug: slug(name),
            script: Script {
                make,
                check: check.into(),
                rows,
                fixed: false,
            },
            check_measured: true,
            counts: None,
            own: None,
        }
    }

    /// The same requests for the own generator, and the statuses it expects.
    fn with_own(mut self, make: MakeCall, expect: &'static [u16]) -> Self {
        self.own = Some((make, expect));
        self
    }
}

fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_owned()
}

const STATUS_200: &str = "function check(status, body) return status == 200 end";

fn get(bearer: &str, path: String, headers: Vec<(&'static str, String)>) -> Call {
    let mut all = vec![("authorization", bearer.to_owned())];
    all.extend(headers);
    Call {
        method: Method::GET,
        path,
        headers: all,
        body: String::new(),
    }
}

fn post(bearer: &str, path: String, request_id: String, body: String) -> Call {
    Call {
        method: Method::POST,
        path,
        headers: vec![
            ("authorization", bearer.to_owned()),
            ("ms-requestid", request_id),
        ],
        body,
    }
}

/// The GETs of a table of paths, kept by wrk as one string and the offsets of its paths
/// (`prepare`, called by the prelude's `init`), not as a table of strings: LuaJIT's collector goes
/// over every live string at each of its cycles, and the garbage of each request's string starts
/// one every few thousand requests. With 100,000 distinct paths (the large customer's) in a
/// table, wrk spent a quarter more a request than with 1,000 paths drawn 100,000 times (an
/// ordinary customer's, which Lua keeps as 1,000 strings), and that, not the service, set the
/// figure; a table of the whole requests made its cycles stall the run (p99 41 ms).
const GET_ROWS: &str = "\
local blob, starts, count
function prepare()
  starts, count = {}, #rows
  local at = 1
  for i = 1, count do starts[i] = at; at = at + #rows[i] end
  starts[count + 1] = at
  blob, rows = table.concat(rows), nil
  collectgarbage()
end
function make()
  local i = number() % count + 1
  return get(string.sub(blob, starts[i], starts[i + 1] - 1))
end";

/// GETs of `paths`, in turn (a table of well-spread draws of the population).
pub fn get_paths(name: &str, paths: Vec<String>, bearer: &str) -> Scenario {
    let rows = Arc::new(paths);
    let own_rows = rows.clone();
    let own_bearer = bearer.to_owned();
    let mut scenario = Scenario::wrk(
        name,
        bearer,
        GET_ROWS.into(),
        STATUS_200,
        Some(rows.to_vec()),
    );
    scenario.check_measured = false;
    scenario.with_own(
        Arc::new(move |n| {
            get(
                &own_bearer,
                own_rows[(n % own_rows.len() as u64) as usize].clone(),
                vec![],
            )
        }),
        &[200],
    )
}

/// `count` draws of `size` subscriptions' status paths, spread over all of them (SplitMix64).
pub fn status_paths(count: u64, size: u64, path: impl Fn(u64) -> String) -> Vec<String> {
    (0..count)
        .map(|n| path(population::spread(n) % size))
        .collect()
}

/// The pages of 100 customers after the first, each asked for with the continuation token the
/// page before gave.
pub fn customers_pages(name: &str, tokens: Vec<String>, bearer: &str) -> Scenario {
    let tokens = Arc::new(tokens);
    let own_tokens = tokens.clone();
    let own_bearer = bearer.to_owned();
    Scenario::wrk(
        name,
        bearer,
        r#"function make()
  return get("/v1/customers?size=100&seekOperation=Next",
             { ["MS-ContinuationToken"] = rows[number() % #rows + 1] })
end"#
            .into(),
        STATUS_200,
        Some(tokens.to_vec()),
    )
    .with_own(
        Arc::new(move |n| {
            let token = &own_tokens[(population::spread(n) % own_tokens.len() as u64) as usize];
            get(
                &own_bearer,
                "/v1/customers?size=100&seekOperation=Next".into(),
                vec![("ms-continuationtoken", token.clone())],
            )
        }),
        &[200],
    )
}

/// Lua's `path(s, action)`: the path of `action` on patterned subscription `s`.
fn lua_patterned_path() -> String {
    format!(
        r#"local function path(s, action)
  return string.format("/v1/customers/%s%012d/subscriptions/%s%012d/%s",
    {}, math.floor(s / {}), {}, s, action)
end"#,
        lua_string(population::CUSTOMER_PREFIX),
        population::PER_CUSTOMER,
        lua_string(population::SUBSCRIPTION_PREFIX)
    )
}

/// A POST of `action` on patterned subscription `subscription(n)` for each number `n`, with the
/// `MS-RequestId` of number `n` among `ids`' (or of `n % replays`, repeating the same `replays`
/// requests).
pub struct SubscriptionPost {
    pub name: &'static str,
    pub action: &'static str,
    pub ids: Posts,
    /// The expected status.
    pub expect: &'static [u16],
    /// Subscription of number `n`, as Lua (`n` is the number) and as Rust.
    pub lua_subscription: String,
    pub subscription: Arc<dyn Fn(u64) -> u64 + Send + Sync>,
    /// Repeat the first `replays` requests over and over (0: never repeat).
    pub replays: u64,
}

pub fn subscription_post(post_: SubscriptionPost, bearer: &str) -> Scenario {
    let salt = post_.ids.salt();
    let request_id = if post_.replays > 0 {
        format!("request_id({salt}, n % {})", post_.replays)
    } else {
        format!("request_id({salt}, n)")
    };
    let make = format!(
        "{path}\nfunction make()\n  local n = number()\n  return post(path({subscription}, {action}), {request_id}, \"\")\nend",
        path = lua_patterned_path(),
        subscription = post_.lua_subscription,
        action = lua_string(post_.action),
    );
    let own_bearer = bearer.to_owned();
    let (action, ids, replays, subscription) =
        (post_.action, post_.ids, post_.replays, post_.subscription);
    let expect = post_.expect;
    Scenario::wrk(
        post_.name,
        bearer,
        make,
        format!(
            "function check(status, body) return status == {} end",
            expect.first().copied().unwrap_or(200)
        ),
        None,
    )
    .with_own(
        Arc::new(move |n| {
            let id = if replays > 0 { n % replays } else { n };
            post(
                &own_bearer,
                population::path(subscription(n), action),
                population::request_id(ids, id),
                String::new(),
            )
        }),
        expect,
    )
}

/// Lua's `buyer(n)`: the customer and the Azure plan of buyer `first + n % count`.
fn lua_buyer(first: u64, count: u64) -> String {
    format!(
        r#"local function buyer(n)
  local b = {first} + n % {count}
  return string.format("%s%012d", {}, b), string.format("%s%012d", {}, b)
end"#,
        lua_string(population::BUYER_CUSTOMER_PREFIX),
        lua_string(population::BUYER_SUBSCRIPTION_PREFIX),
    )
}

/// A body of `body(subscription)`, as Lua: `prefix .. subscription .. suffix`.
fn lua_body(body: fn(&str) -> String) -> (String, String) {
    let whole = body("\u{0}");
    let (prefix, suffix) = whole.split_once('\u{0}').unwrap_or((&whole, ""));
    (lua_string(prefix), lua_string(suffix))
}

/// A cart of one reservation created for each buyer in turn, then checked out: each answer to a
/// create queues its cart, and the next request of the wrk thread checks the oldest queued cart
/// out. Buyers `first..first + count`, one purchase each (two, under the sandbox limits, if the
/// run goes round them twice).
pub fn carts(name: &str, first: u64, count: u64, bearer: &str) -> Scenario {
    let (prefix, suffix) = lua_body(population::cart_body);
    let make = format!(
        r#"{buyer}
local queue, head, tail, checkouts = {{}}, 1, 0, 0
function make()
  if head <= tail then
    local cart = queue[head]
    queue[head] = nil
    head = head + 1
    -- Numbered as the carts are (never past them: the next run's numbers are all new).
    local n = base + id + step * checkouts
    checkouts = checkouts + 1
    return post(cart.path, request_id({checkout}, n), "")
  end
  local n = number()
  local customer, subscription = buyer(n)
  return post("/v1/customers/" .. customer .. "/carts", request_id({cart}, n),
              {prefix} .. subscription .. {suffix})
end"#,
        buyer = lua_buyer(first, count),
        checkout = Posts::Checkout.salt(),
        cart = Posts::Cart.salt(),
    );
    let check = r#"function check(status, body)
  if status ~= 201 then return false end
  if string.find(body, '"objectType":"CartCheckoutResult"', 1, true) then
    counted = counted + 1
    return true
  end
  local customer, cart = string.match(body, '"uri":"/customers/([%w%-]+)/carts/([%w%-]+)"')
  if not cart or string.find(body, '"error":', 1, true) then return false end
  tail = tail + 1
  queue[tail] = { path = "/v1/customers/" .. customer .. "/carts/" .. cart .. "/checkout", id = cart }
  return true
end"#;
    Scenario {
        counts: Some("checkouts"),
        ..Scenario::wrk(name, bearer, make, check, None)
    }
}

/// A direct order of one reservation for each buyer in turn, buyers `first..first + count`.
pub fn orders(name: &str, first: u64, count: u64, bearer: &str) -> Scenario {
    let (prefix, suffix) = lua_body(population::order_body);
    let make = format!(
        r#"{buyer}
function make()
  local n = number()
  local customer, subscription = buyer(n)
  return post("/v1/customers/" .. customer .. "/orders", request_id({order}, n),
              {prefix} .. subscription .. {suffix})
end"#,
        buyer = lua_buyer(first, count),
        order = Posts::Order.salt(),
    );
    let own_bearer = bearer.to_owned();
    Scenario::wrk(
        name,
        bearer,
        make,
        "function check(status, body) return status == 201 end",
        None,
    )
    .with_own(
        Arc::new(move |n| {
            let b = first + n % count;
            post(
                &own_bearer,
                format!("/v1/customers/{}/orders", population::buyer_customer(b)),
                population::request_id(Posts::Order, n),
                population::order_body(&population::buyer_subscription(b)),
            )
        }),
        &[201],
    )
}

/// The status paths of `guids` for the whole population, as a table of `count` draws.
pub fn population_paths(count: u64, size: u64, guids: Guids) -> Vec<String> {
    status_paths(count, size, |n| guids.path(n, "registrationstatus"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("GET registrationstatus, one customer of 1000"),
            "get-registrationstatus-one-customer-of-1000"
        );
        assert_eq!(slug("POST carts + checkout"), "post-carts-checkout");
    }

    #[test]
    fn bodies_split_around_the_subscription() {
        let (prefix, suffix) = lua_body(population::order_body);
        assert!(prefix.ends_with(r#"\"subscriptionId\":\"""#), "{prefix}");
        assert!(suffix.starts_with(r#""\",\"scope\""#), "{suffix}");
    }
}
