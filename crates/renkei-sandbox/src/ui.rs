//! The small HTML view each emulator serves at `/sandbox/{provider}/_ui`: its accounts, its
//! objects and their most recent records, so a person can see what renkei wrote.

use axum::response::Html;

use crate::http::escape_html;

/// One object's table.
pub struct Table {
    /// The object's name as the vendor spells it (`contacts`, `Lead`, `Leads`).
    pub object: String,
    /// How many records the object holds in all.
    pub total: usize,
    pub columns: Vec<String>,
    /// The rows shown (the emulator picks the most recent few).
    pub rows: Vec<Vec<String>>,
}

/// Renders the page. `accounts` are `(id, label)`; `selected` is the account shown, and each
/// account links to `?account=ID`.
pub fn page(
    vendor: &str,
    accounts: &[(String, String)],
    selected: &str,
    tables: &[Table],
) -> Html<String> {
    let mut out = String::new();
    out.push_str(&format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{v} sandbox</title>\
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}table{{border-collapse:collapse;margin-bottom:1.5rem;font-size:.85rem}}\
td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}}th{{background:#f3f3f3}}\
nav a{{margin-right:1rem}}.sel{{font-weight:bold}}</style></head><body><h1>{v} <small>sandbox</small></h1><nav>",
        v = escape_html(vendor)
    ));
    for (id, label) in accounts {
        let class = if id == selected { " class=\"sel\"" } else { "" };
        out.push_str(&format!(
            "<a{class} href=\"?account={}\">{} ({})</a>",
            crate::http::encode_query_value(id),
            escape_html(label),
            escape_html(id)
        ));
    }
    out.push_str("</nav>");
    for t in tables {
        out.push_str(&format!(
            "<h2>{} <small>({} record{})</small></h2>",
            escape_html(&t.object),
            t.total,
            if t.total == 1 { "" } else { "s" }
        ));
        if t.rows.is_empty() {
            out.push_str("<p>none</p>");
            continue;
        }
        out.push_str("<table><tr>");
        for c in &t.columns {
            out.push_str(&format!("<th>{}</th>", escape_html(c)));
        }
        out.push_str("</tr>");
        for row in &t.rows {
            out.push_str("<tr>");
            for cell in row {
                out.push_str(&format!("<td>{}</td>", escape_html(cell)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        if t.rows.len() < t.total {
            out.push_str(&format!("<p>showing the {} most recent</p>", t.rows.len()));
        }
    }
    out.push_str("</body></html>");
    Html(out)
}
