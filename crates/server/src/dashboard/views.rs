//! The dashboard's HTML: the page around every view, its stylesheet, and the pieces the pages
//! share. maud escapes every value written into the markup.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use partner_center_domain::SubscriptionKey;
use partner_center_model::Timestamp;

use super::paths;
use super::session::Session;
use crate::ops::journal::{self, Entry};

/// How often the pages that follow work in progress (a subscription, the journal) reload.
pub(crate) const REFRESH_SECONDS: u32 = 10;

/// The one stylesheet, inline (the Content-Security-Policy allows inline styles, no scripts).
const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--accent:#0969da;
--ok:#1a7f37;--warn:#9a6700;--bad:#d1242f}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI","Liberation Sans",sans-serif;
color:var(--fg);background:var(--soft)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}a code{color:inherit}
header{display:flex;align-items:center;gap:28px;padding:0 28px;height:52px;background:#1f2328;color:#fff}
header .brand{color:#fff;font-weight:600;white-space:nowrap}
header .brand span{color:#9198a1;font-weight:400;margin-left:6px}
header nav{display:flex;gap:4px;flex:1}
header nav a{color:#d1d9e0;padding:5px 11px;border-radius:6px}
header nav a:hover,header nav a[aria-current=page]{background:#393f46;color:#fff;text-decoration:none}
header button{background:transparent;color:#d1d9e0;border-color:#59636e}
main{max-width:1320px;margin:0 auto;padding:20px 28px 48px}
.crumbs{font-size:13px;color:var(--muted);margin-bottom:2px}
.crumbs a+a:before,.crumbs a+span:before{content:"/";color:var(--line);margin:0 8px}
.heading{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;margin-bottom:8px}
h1{font-size:22px;margin:0}
.tools{margin-left:auto;font-size:13px;color:var(--muted);display:flex;gap:14px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;margin:16px 0;overflow:hidden}
section h2{font-size:14px;margin:0;padding:9px 16px;border-bottom:1px solid var(--line);background:#fbfcfd}
section h2 small{font-weight:400;color:var(--muted);margin-left:6px}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:7px 16px;border-bottom:1px solid #eef1f4;vertical-align:middle}
th{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600}
tr:last-child td{border-bottom:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;color:#3d444d}
.badge{display:inline-block;padding:0 9px;border-radius:999px;font-size:12px;font-weight:500;
border:1px solid;white-space:nowrap;line-height:20px}
.ok{color:var(--ok);background:#dafbe1;border-color:#aceebb}
.warn{color:var(--warn);background:#fff8c5;border-color:#f0dc8a}
.bad{color:var(--bad);background:#ffebe9;border-color:#ffcecb}
.none{color:var(--muted);background:var(--soft);border-color:var(--line)}
button{font:inherit;font-size:13px;padding:2px 12px;border-radius:6px;border:1px solid var(--line);
background:var(--soft);color:var(--fg);cursor:pointer}
button.go{background:#1f883d;border-color:#1a7f37;color:#fff}
button.stop{color:var(--bad)}
form.inline{display:inline-block;margin:0 4px 0 0}
.empty{padding:14px 16px;color:var(--muted)}
.muted{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:6px 28px;margin:0;padding:12px 16px}
dt{color:var(--muted)}dd{margin:0}
form.filter{display:flex;gap:8px;padding:12px 16px;align-items:center;border-bottom:1px solid var(--line)}
input{font:inherit;padding:5px 10px;border:1px solid var(--line);border-radius:6px}
form.filter input{width:380px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;margin:12px 0 4px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;color:var(--muted)}
.card b{display:block;font-size:24px;color:var(--fg);font-weight:600}
.error{color:var(--bad);background:#ffebe9;border:1px solid #ffcecb;padding:8px 12px;border-radius:6px;margin:0 0 14px}
.signin{max-width:400px;margin:14vh auto 0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:26px 28px}
.signin h1{margin-bottom:4px}.signin p{color:var(--muted);margin:0 0 18px}
.signin label{display:block;font-weight:600;margin-bottom:6px}
.signin input{width:100%;margin-bottom:14px}.signin button{width:100%;padding:6px}
ul.lines{margin:0;padding:0;list-style:none}ul.lines li{white-space:nowrap}
table.requests th,table.requests td{padding:6px 10px}
table.requests th:first-child,table.requests td:first-child{padding-left:16px}
table.requests td.path code{overflow-wrap:anywhere}
table.requests code.id{font-size:11px;white-space:nowrap}
td.nowrap{white-space:nowrap}
"#;

/// Which part of the dashboard a page belongs to, for the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Partners,
    Journal,
    Faults,
}

/// What surrounds a page's content.
#[derive(Debug)]
pub(crate) struct Chrome<'a> {
    pub(crate) title: String,
    pub(crate) session: &'a Session,
    pub(crate) section: Section,
    /// The way here: label and link of each page above this one.
    pub(crate) crumbs: Vec<(String, String)>,
    /// This page's address, without `refresh`.
    pub(crate) here: String,
    /// `None`: the page does not reload itself; else whether it does now.
    pub(crate) auto_refresh: Option<bool>,
}

/// `url` with one more query parameter.
pub(crate) fn with_query(url: &str, parameter: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{parameter}")
}

/// `value` percent-encoded for a URL's path segment or query value.
pub(crate) fn encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn document(title: &str, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No icon: else the browser asks for `/favicon.ico`, an unknown route in the journal.
                link rel="icon" href="data:,";
                @if refresh {
                    meta http-equiv="refresh" content=(REFRESH_SECONDS);
                }
                title { (title) " · Partner Center dashboard" }
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
}

/// A signed-in page: the bar with the navigation and the sign-out button, the way here, the
/// title with its refresh links, and `content`.
pub(crate) fn page(chrome: &Chrome<'_>, content: Markup) -> Markup {
    let nav = [
        (Section::Partners, paths::ROOT, "Partners"),
        (Section::Journal, paths::JOURNAL, "Request journal"),
        (Section::Faults, paths::FAULTS, "Fault rules"),
    ];
    let refreshing = chrome.auto_refresh == Some(true);
    let reload = match chrome.auto_refresh {
        Some(false) => with_query(&chrome.here, "refresh=off"),
        _ => chrome.here.clone(),
    };
    let body = html! {
        header {
            a.brand href=(paths::ROOT) { "Partner Center" span { "sandbox dashboard" } }
            nav {
                @for (section, href, label) in nav {
                    a href=(href) aria-current=[(section == chrome.section).then_some("page")] { (label) }
                }
            }
            form.inline method="post" action=(paths::SIGN_OUT) {
                input type="hidden" name="csrf" value=(chrome.session.csrf());
                button type="submit" { "Sign out" }
            }
        }
        main {
            @if !chrome.crumbs.is_empty() {
                div.crumbs {
                    @for (label, href) in &chrome.crumbs { a href=(href) { (label) } }
                }
            }
            div.heading {
                h1 { (chrome.title) }
                div.tools {
                    @match chrome.auto_refresh {
                        Some(true) => {
                            span { "Reloads every " (REFRESH_SECONDS) " s" }
                            a href=(with_query(&chrome.here, "refresh=off")) { "Stop reloading" }
                        }
                        Some(false) => {
                            a href=(chrome.here) { "Reload every " (REFRESH_SECONDS) " s" }
                        }
                        None => {}
                    }
                    a #refresh href=(reload) { "↻ Refresh" }
                }
            }
            (content)
        }
    };
    document(&chrome.title, refreshing, body)
}

/// The sign-in form, with what went wrong with the last attempt.
pub(crate) fn sign_in(error: Option<&str>) -> Markup {
    let body = html! {
        main {
            form.signin method="post" action=(paths::SIGN_IN) {
                h1 { "Sign in" }
                p { "Partner Center sandbox dashboard" }
                @if let Some(error) = error {
                    div.error role="alert" { (error) }
                }
                label for="token" { "Admin token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button.go type="submit" { "Sign in" }
            }
        }
    };
    document("Sign in", false, body)
}

/// A page that could not be shown.
pub(crate) fn problem(status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = html! {
        header { a.brand href=(paths::ROOT) { "Partner Center" span { "sandbox dashboard" } } }
        main {
            div.heading { h1 { (status.as_u16()) " " (title) } }
            div.error role="alert" { (message) }
            p { a href=(paths::ROOT) { "Back to the dashboard" } }
        }
    };
    document(title, false, body)
}

/// A state or status, coloured by what it means.
pub(crate) fn badge(text: &str) -> Markup {
    let class = match text.to_ascii_lowercase().as_str() {
        "registered" | "active" | "completed" | "fulfilled" => "ok",
        "registering" | "pending" | "prefulfillmentpending" => "warn",
        "suspended" | "deleted" | "expired" | "disabled" | "failed" => "bad",
        _ => "none",
    };
    html! { span class={ "badge " (class) } { (text) } }
}

/// An HTTP status, coloured by its class.
pub(crate) fn http_status(status: u16) -> Markup {
    let class = match status {
        ..300 => "ok",
        300..500 => "warn",
        _ => "bad",
    };
    html! { span class={ "badge " (class) } { (status) } }
}

/// `count` and the noun for it: `1 partner`, `2 partners`.
pub(crate) fn count(count: usize, one: &str, many: &str) -> Markup {
    html! { b { (count) } (if count == 1 { one } else { many }) }
}

/// A time, to the second.
pub(crate) fn when(time: Timestamp) -> String {
    let text = journal::rfc3339(time);
    text.get(..19).unwrap_or(&text).replacen('T', " ", 1)
}

/// The buttons that end a subscription's registration in progress; `from` names the page to
/// come back to.
pub(crate) fn settle_buttons(key: &SubscriptionKey, csrf: &str, from: &str) -> Markup {
    html! {
        form.inline method="post" action=(paths::advance(key)) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="from" value=(from);
            button.go type="submit" name="advance" { "Advance" }
        }
        form.inline method="post" action=(paths::fail(key)) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="from" value=(from);
            button.stop type="submit" name="fail" { "Fail" }
        }
    }
}

/// A path that a narrow column breaks after its slashes rather than inside its ids.
fn breakable(path: &str) -> Markup {
    html! {
        @for (index, segment) in path.split('/').enumerate() {
            @if index > 0 { "/" wbr; }
            (segment)
        }
    }
}

/// Requests from the journal, newest first.
pub(crate) fn requests(entries: &[Entry]) -> Markup {
    html! {
        @if entries.is_empty() {
            div.empty { "No requests." }
        } @else {
            table.requests #requests {
                thead { tr {
                    th { "Time" } th { "Method" } th { "Path" } th { "Status" }
                    th { "MS-RequestId" } th { "MS-CorrelationId" } th.num { "Latency" }
                } }
                tbody {
                    @for entry in entries {
                        tr {
                            td.nowrap title=(journal::rfc3339(entry.time.0)) {
                                (journal::rfc3339(entry.time.0).get(11..23).unwrap_or_default())
                            }
                            td { (entry.method) }
                            td.path { code { (breakable(&entry.path)) } }
                            td.nowrap {
                                (http_status(entry.status))
                                @if let Some(fault) = entry.fault {
                                    " " span.badge.bad title="injected fault" { (fault) }
                                }
                                @if entry.replayed {
                                    " " span.badge.none title="replayed for a repeated MS-RequestId" { "replay" }
                                }
                            }
                            td { code.id { (entry.request_id) } }
                            @let filter = format!("correlationId={}", encode(&entry.correlation_id));
                            td {
                                a.correlation href=(with_query(paths::JOURNAL, &filter)) {
                                    code.id { (entry.correlation_id) }
                                }
                            }
                            td.num.nowrap { (format!("{:.1} ms", entry.latency_ms)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_encoded_and_queries_appended() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("Az09-._~"), "Az09-._~");
        assert_eq!(
            with_query("/admin/journal", "refresh=off"),
            "/admin/journal?refresh=off"
        );
        assert_eq!(
            with_query("/admin/journal?correlationId=x", "refresh=off"),
            "/admin/journal?correlationId=x&refresh=off"
        );
    }

    #[test]
    fn messages_are_escaped() {
        let page = problem(StatusCode::NOT_FOUND, "<script>alert(1)</script>").into_string();
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script>"));
    }
}
