//! A [`Group`] → a Slack message (Block Kit, for an incoming webhook), and the same message as
//! plain text for `--alerts print` and the log.
//!
//! Everything that comes from a log entry is escaped (`&`, `<`, `>` → `&amp;`, `&lt;`, `&gt;`,
//! Slack's control characters), so a query containing `<!channel>` or `<https://evil|click>`
//! shows as text and can neither ping nor link. Code blocks cannot be closed early by a ``` in
//! the query, and every text stays under Slack's block limits (header 150 characters, section
//! field 2,000, section text 3,000). Pure: no I/O, no clock.

use super::{Alerts, Group, RuleKind};
use chrono::{DateTime, Duration};
use opensearch::http::Url;
use serde_json::{json, Value};

/// Characters of the query (after escaping) shown in the code block.
const QUERY_SHOWN: usize = 1500;
/// The id of the index pattern `setup` imports into Dashboards (`index-templates/dashboards.ndjson`).
const INDEX_PATTERN_ID: &str = "logs-to-opensearch-cwl";
/// Characters of the fingerprint shown under the query.
const FINGERPRINT_SHOWN: usize = 600;
/// Characters of one field's value.
const FIELD_SHOWN: usize = 200;
/// Characters of the header (Slack's limit is 150).
const HEADER_SHOWN: usize = 150;

/// What shapes every message.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageOptions<'a> {
    /// OpenSearch Dashboards (or Kibana) base URL, for the "Open in Discover" button.
    pub dashboards_url: Option<&'a Url>,
    /// Show the fingerprint, never the literal query (`REDACT_QUERY_LITERALS=true`).
    pub redact: bool,
}

/// Checks a webhook URL: `https://` (or `http://` to a loopback address, for local tests) with a
/// host. The error says what is wrong without the value.
pub fn webhook_url(text: &str) -> Result<Url, &'static str> {
    let url = Url::parse(text.trim()).map_err(|_| "it is not a URL")?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("it must start with https://"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it has no host");
    }
    Ok(url)
}

/// One payload per message of `alerts`; the last one carries the "and N more" line.
pub fn payloads(alerts: &Alerts, options: &MessageOptions<'_>) -> Vec<Value> {
    let last = alerts.messages.len().saturating_sub(1);
    alerts
        .messages
        .iter()
        .enumerate()
        .map(|(i, group)| {
            let more = (i == last && alerts.more_groups > 0).then_some((alerts.more_groups, alerts.more_entries));
            payload(group, options, more)
        })
        .collect()
}

/// `text` with `&`, `<`, `>` as Slack wants them in any text it parses, cut to `max` characters
/// (an ellipsis says so), never inside an entity.
pub(crate) fn escaped_within(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for c in text.chars() {
        let entity = match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            _ => None,
        };
        let width = entity.map_or(1, str::len);
        if chars + width > max.saturating_sub(1) {
            out.push('…');
            return out;
        }
        match entity {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
        chars += width;
    }
    out
}

/// A code block that the text cannot end early: a run of three backticks gets a zero-width space.
fn code_block(text: &str, max: usize) -> String {
    let escaped = escaped_within(text.trim(), max).replace("```", "`\u{200b}`\u{200b}`");
    format!("```\n{escaped}\n```")
}

/// The database a log group belongs to: `/aws/rds/instance/<db>/…` → `<db>`;
/// `/aws/rds/cluster/<cluster>/…` → `<cluster>` (instance `<log stream>`); else the log group.
pub fn database(log_group: &str, log_stream: &str) -> String {
    let mut parts = log_group.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("aws"), Some("rds"), Some("instance"), Some(name)) if !name.is_empty() => name.to_owned(),
        (Some("aws"), Some("rds"), Some("cluster"), Some(name)) if !name.is_empty() => {
            if log_stream.is_empty() || log_stream == name {
                format!("{name} (cluster)")
            } else {
                format!("{name} (cluster), instance {log_stream}")
            }
        }
        _ => log_group.to_owned(),
    }
}

fn group_digits(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn seconds(value: f64) -> String {
    // Shortest form that round-trips (`12.5`, `0.0001`), as MySQL's microseconds allow.
    format!("{} s", (value * 1e6).round() / 1e6)
}

/// `at 2026-11-21 10:15:31 UTC`, or `from … to 10:19:02 UTC` (the date once when it is one day).
fn when(first: &str, last: &str) -> String {
    let date = |t: &str| t.get(..10).unwrap_or(t).to_owned();
    let time = |t: &str| t.get(11..19).unwrap_or("").to_owned();
    if (date(first), time(first)) == (date(last), time(last)) {
        format!("at {} {} UTC", date(first), time(first))
    } else if date(first) == date(last) {
        format!("from {} {} to {} UTC", date(first), time(first), time(last))
    } else {
        format!("from {} {} to {} {} UTC", date(first), time(first), date(last), time(last))
    }
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn field(name: &str, value: &str) -> Value {
    mrkdwn(format!("*{name}*\n{}", escaped_within(value, FIELD_SHOWN)))
}

/// The Block Kit payload of one group; `more` is `(groups, entries)` left out by the cap.
pub fn payload(group: &Group, options: &MessageOptions<'_>, more: Option<(usize, usize)>) -> Value {
    let ex = &group.example;
    let database = database(&group.log_group, &ex.log_stream);
    let (title, fallback) = match &group.rule {
        RuleKind::SlowQuery => {
            let worst = ex.query_time.map_or_else(|| "?".to_owned(), seconds);
            let times = if group.count > 1 { format!(" (slowest of {})", group.count) } else { String::new() };
            (format!("Slow query on {database}: {worst}{times}"), None)
        }
        RuleKind::Marker(marker) => (format!("{marker} in {}", group.log_group), Some(ex.message.as_str())),
        RuleKind::When(rule) => (format!("{rule} in {}", group.log_group), Some(ex.message.as_str())),
    };
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": escaped_within(&title, HEADER_SHOWN), "emoji": false}
    })];

    let mut fields = Vec::new();
    match &group.rule {
        RuleKind::SlowQuery => {
            fields.push(field("Database", &database));
            let mut who = ex.user.clone().unwrap_or_else(|| "(unknown)".to_owned());
            match (&ex.ip, &ex.host) {
                (Some(ip), Some(host)) => who.push_str(&format!(" from {ip} ({host})")),
                (Some(ip), None) => who.push_str(&format!(" from {ip}")),
                (None, Some(host)) => who.push_str(&format!(" from {host}")),
                (None, None) => {}
            }
            fields.push(field("User", &who));
            if let Some(t) = ex.query_time {
                let mut text = seconds(t);
                if group.count > 1 {
                    text.push_str(&format!(
                        " (total {} over {} queries)",
                        seconds(group.total_query_time),
                        group.count
                    ));
                }
                fields.push(field("Query_time", &text));
            }
            if let Some(t) = ex.lock_time {
                fields.push(field("Lock_time", &seconds(t)));
            }
            if let Some(rows) = ex.rows_examined {
                fields.push(field("Rows_examined", &group_digits(rows)));
            }
            if let Some(rows) = ex.rows_sent {
                fields.push(field("Rows_sent", &group_digits(rows)));
            }
            if let Some(schema) = &ex.schema {
                fields.push(field("Schema", schema));
            }
            if let Some(id) = &ex.fingerprint_id {
                fields.push(field("Fingerprint_id", id));
            }
        }
        RuleKind::Marker(_) | RuleKind::When(_) => {
            fields.push(field("Log group", &group.log_group));
            fields.push(field("Log stream", &ex.log_stream));
            for (name, value) in ex.matched.iter().take(8) {
                fields.push(field(name, value));
            }
        }
    }
    blocks.push(json!({"type": "section", "fields": fields}));

    match (&group.rule, fallback) {
        (RuleKind::SlowQuery, _) => {
            let shown = match (&ex.query, &ex.fingerprint, options.redact) {
                (_, Some(fingerprint), true) => Some(("Fingerprint (literals hidden)", fingerprint)),
                (Some(query), _, false) => Some(("Query", query)),
                (None, Some(fingerprint), _) => Some(("Fingerprint", fingerprint)),
                _ => None,
            };
            if let Some((label, text)) = shown {
                let mut section = format!("*{label}*\n{}", code_block(text, QUERY_SHOWN));
                // Beside the query, its fingerprint: the shape the group stands for.
                if let (Some(fingerprint), "Query") = (&ex.fingerprint, label) {
                    section.push_str(&format!("\n*Fingerprint*\n{}", code_block(fingerprint, FINGERPRINT_SHOWN)));
                }
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": section}}));
            }
        }
        (_, Some(message)) => {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Message*\n{}", code_block(message, QUERY_SHOWN))}}));
        }
        _ => {}
    }

    let entries = if group.count == 1 { "1 entry".to_owned() } else { format!("{} entries", group.count) };
    let mut context = vec![mrkdwn(format!(
        "{entries} {} · log stream {} · rule: {}",
        when(&group.first, &group.last),
        escaped_within(&ex.log_stream, FIELD_SHOWN),
        escaped_within(&group.rule.to_string(), FIELD_SHOWN),
    ))];
    if group.held_before > 0 {
        context.push(mrkdwn(format!(
            "also {} earlier entr{} since the last alert like this one, held back by ALERT_COOLDOWN_SECONDS",
            group.held_before,
            if group.held_before == 1 { "y" } else { "ies" }
        )));
    }
    if let Some((groups, entries)) = more {
        context.push(mrkdwn(format!(
            "…and {groups} more alert{} ({entries} entr{}) not sent: at most ALERT_MAX_MESSAGES messages per invocation",
            if groups == 1 { "" } else { "s" },
            if entries == 1 { "y" } else { "ies" }
        )));
    }
    blocks.push(json!({"type": "context", "elements": context}));

    if let Some(base) = options.dashboards_url {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in Discover"},
                "url": discover_url(base, group),
            }]
        }));
    }
    json!({"text": escaped_within(&title, 300), "blocks": blocks})
}

/// OpenSearch Dashboards Discover (also Kibana's) filtered to the group: its fingerprint for slow
/// queries, its log group otherwise; a minute either side of the group's time range; on the index
/// pattern `setup` imports.
pub fn discover_url(base: &Url, group: &Group) -> String {
    let kql_string = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut query = format!("@log_group:{}", kql_string(&group.log_group));
    match (&group.rule, &group.example.fingerprint_id) {
        (RuleKind::SlowQuery, Some(id)) => query.push_str(&format!(" and Fingerprint_id:{}", kql_string(id))),
        (RuleKind::Marker(marker), _) => query.push_str(&format!(" and @message:{}", kql_string(marker))),
        _ => {}
    }
    let shifted = |t: &str, minutes: i64| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| (t + Duration::minutes(minutes)).to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_else(|_| t.to_owned())
    };
    discover_link(base, &query, &shifted(&group.first, -1), &shifted(&group.last, 1))
}

/// Discover on the index pattern `setup` imports, with a KQL `query` and a time range (RFC 3339).
pub fn discover_link(base: &Url, query: &str, from: &str, to: &str) -> String {
    // Rison: strings in single quotes, `'` and `!` escaped with `!`.
    let rison = |s: &str| format!("'{}'", s.replace('!', "!!").replace('\'', "!'"));
    let state = format!(
        "_g=(time:(from:{},to:{}))&_a=(index:'{INDEX_PATTERN_ID}',query:(language:kuery,query:{}))",
        rison(from),
        rison(to),
        rison(query)
    );
    format!("{}/app/discover#/?{}", base.as_str().trim_end_matches('/'), percent_encode(&state))
}

/// Percent-encodes what a URL fragment may not hold, keeping Rison's punctuation readable.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!*'():,/@=&?$;".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The message as plain text (what `--alerts print` shows and the log records): each block on
/// its own line(s), entities turned back into characters.
pub fn render_text(payload: &Value) -> String {
    let mut lines = Vec::new();
    let text_of = |v: &Value| v["text"].as_str().unwrap_or_default().to_owned();
    for block in payload["blocks"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("header") => lines.push(text_of(&block["text"])),
            Some("section") => {
                if let Some(fields) = block["fields"].as_array() {
                    let parts: Vec<String> =
                        fields.iter().map(|f| text_of(f).replacen("*\n", ": ", 1).replacen('*', "", 1)).collect();
                    lines.push(format!("  {}", parts.join(" · ")));
                }
                if block["text"].is_object() {
                    // `*Label*` lines outside code blocks become `Label:`; fences are dropped.
                    let mut in_code = false;
                    for line in text_of(&block["text"]).lines() {
                        if line == "```" {
                            in_code = !in_code;
                        } else if let Some(label) =
                            line.strip_prefix('*').and_then(|l| l.strip_suffix('*')).filter(|_| !in_code)
                        {
                            lines.push(format!("  {label}:"));
                        } else {
                            lines.push(format!("  {}", line.replace('\u{200b}', "")));
                        }
                    }
                }
            }
            Some("context") => {
                for element in block["elements"].as_array().into_iter().flatten() {
                    lines.push(format!("  {}", text_of(element)));
                }
            }
            Some("actions") => {
                for element in block["elements"].as_array().into_iter().flatten() {
                    lines.push(format!("  {}: {}", text_of(&element["text"]), element["url"].as_str().unwrap_or("")));
                }
            }
            _ => {}
        }
    }
    lines.join("\n").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Example;

    fn group(query: &str) -> Group {
        Group {
            rule: RuleKind::SlowQuery,
            log_group: "/aws/rds/instance/prod-db-1/slowquery".into(),
            count: 3,
            first: "2026-11-21T10:15:31.402Z".into(),
            last: "2026-11-21T10:19:02.000Z".into(),
            total_query_time: 21.75,
            key: "9C2F6B0E1D3A4B5C".into(),
            held_before: 0,
            example: Example {
                id: "1".into(),
                timestamp: "2026-11-21T10:16:00.000Z".into(),
                log_stream: "prod-db-1".into(),
                user: Some("app".into()),
                host: None,
                ip: Some("10.0.1.23".into()),
                query_time: Some(9.25),
                lock_time: Some(0.0001),
                rows_examined: Some(2_000_000),
                rows_sent: Some(1),
                schema: Some("shop".into()),
                fingerprint: Some("select * from orders where email = ?".into()),
                fingerprint_id: Some("9C2F6B0E1D3A4B5C".into()),
                query: Some(query.into()),
                message: String::new(),
                matched: Vec::new(),
            },
        }
    }

    #[test]
    fn hostile_text_cannot_ping_link_or_break_the_code_block() {
        let payload = payload(
            &group("SELECT '<!channel>' & '<https://evil.example|click>' FROM t WHERE a > 1 /* ``` */"),
            &MessageOptions::default(),
            None,
        );
        let json = payload.to_string();
        assert!(!json.contains('<') && !json.contains('>'), "{json}");
        assert!(json.contains("&lt;!channel&gt;") && json.contains(" &amp; ") && json.contains("a &gt; 1"), "{json}");
        let query_block = payload["blocks"][2]["text"]["text"].as_str().unwrap();
        assert_eq!(
            query_block.matches("```").count(),
            4,
            "only the fences of the query and fingerprint blocks: {query_block}"
        );
        assert!(query_block.contains("/* `\u{200b}`\u{200b}` */"), "{query_block}");
    }

    #[test]
    fn long_queries_are_cut_within_slack_limits_without_splitting_an_entity() {
        let long = "SELECT ".to_owned() + &"a<b AND ".repeat(1000);
        let payload = payload(&group(&long), &MessageOptions::default(), None);
        let text = payload["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(text.chars().count() <= 3000, "{}", text.chars().count());
        assert!(text.contains('…'));
        assert!(!text.contains("&l…") && !text.contains("&lt…"), "an entity is whole or absent");
    }

    #[test]
    fn redaction_shows_the_fingerprint_and_never_the_query() {
        let payload = payload(
            &group("SELECT * FROM orders WHERE email = 'ann@example.com'"),
            &MessageOptions { redact: true, ..Default::default() },
            None,
        );
        let json = payload.to_string();
        assert!(!json.contains("ann@example.com"), "{json}");
        assert!(json.contains("select * from orders where email = ?"), "{json}");
    }

    #[test]
    fn names_the_database_of_instance_and_cluster_log_groups() {
        assert_eq!(database("/aws/rds/instance/prod-db-1/slowquery", "prod-db-1"), "prod-db-1");
        assert_eq!(
            database("/aws/rds/cluster/aurora-1/slowquery", "aurora-1-instance-2"),
            "aurora-1 (cluster), instance aurora-1-instance-2"
        );
        assert_eq!(database("/custom/app", "s"), "/custom/app");
    }

    #[test]
    fn the_discover_link_filters_to_the_fingerprint_around_the_group() {
        let base = Url::parse("https://search-logs.eu-west-1.es.amazonaws.com/_dashboards/").unwrap();
        let url = discover_url(&base, &group("SELECT 1"));
        assert_eq!(
            url,
            "https://search-logs.eu-west-1.es.amazonaws.com/_dashboards/app/discover#/?\
             _g=(time:(from:'2026-11-21T10:14:31.402Z',to:'2026-11-21T10:20:02.000Z'))&\
             _a=(index:'logs-to-opensearch-cwl',query:(language:kuery,query:'@log_group:%22/aws/rds/instance/prod-db-1/slowquery%22%20and%20Fingerprint_id:%229C2F6B0E1D3A4B5C%22'))"
        );
    }

    proptest::proptest! {
        #[test]
        fn no_text_makes_an_unescaped_payload_or_breaks_a_limit(
            query in "[<>&`!@a-zé \n]{0,3000}",
            user in "[<>&!@a-z]{0,300}",
        ) {
            let mut group = group(&query);
            group.example.user = Some(user);
            let payload = payload(&group, &MessageOptions::default(), Some((3, 9)));
            let json = payload.to_string();
            proptest::prop_assert!(!json.contains('<') && !json.contains('>'));
            proptest::prop_assert!(payload["blocks"][0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
            for field in payload["blocks"][1]["fields"].as_array().unwrap() {
                proptest::prop_assert!(field["text"].as_str().unwrap().chars().count() <= 2000);
            }
            proptest::prop_assert!(payload["blocks"][2]["text"]["text"].as_str().unwrap().chars().count() <= 3000);
        }
    }

    #[test]
    fn the_last_message_says_how_many_more_were_not_sent() {
        let alerts = Alerts {
            messages: vec![group("SELECT 1"), group("SELECT 2")],
            entries: 40,
            more_groups: 35,
            more_entries: 37,
            held_groups: 0,
        };
        let payloads = payloads(&alerts, &MessageOptions::default());
        assert_eq!(payloads.len(), 2);
        assert!(!payloads[0].to_string().contains("more alert"));
        assert!(payloads[1].to_string().contains("…and 35 more alerts (37 entries) not sent"));
    }

    #[test]
    fn renders_as_plain_text_for_the_terminal() {
        let text = render_text(&payload(&group("SELECT a FROM t WHERE b > 1"), &MessageOptions::default(), None));
        assert!(text.starts_with("Slow query on prod-db-1: 9.25 s (slowest of 3)\n"), "{text}");
        assert!(text.contains("Rows_examined: 2,000,000"), "{text}");
        assert!(text.contains("  SELECT a FROM t WHERE b > 1"), "{text}");
        assert!(text.contains("3 entries from 2026-11-21 10:15:31 to 10:19:02 UTC"), "{text}");
    }
}
