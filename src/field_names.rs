//! Field names OpenSearch would refuse a whole document for (empty or blank names, metadata
//! fields such as `_id` at the top, names with a leading, trailing or doubled `.`), renamed at any
//! depth and said in `@parse_warnings`. Pure.

use serde_json::{Map, Value};

/// Metadata fields: OpenSearch refuses a document that holds one of these at its top level.
const METADATA_FIELDS: &[&str] = &[
    "_id",
    "_index",
    "_source",
    "_routing",
    "_type",
    "_version",
    "_seq_no",
    "_primary_term",
    "_field_names",
    "_ignored",
    "_nested_path",
    "_doc_count",
    "_data_stream_timestamp",
    "_size",
    "_tier",
];

/// Renames the field names OpenSearch would refuse the whole document for, at any depth: empty
/// or blank names (`@empty`), metadata fields at the top level (`_id` → `@_id`), names starting or
/// ending with `.` or holding `..` (those dots → `_`). A renamed field that would meet an existing
/// name gets `~2`, `~3`, …. Each rename is said in `@parse_warnings`.
pub fn safe_field_names(fields: Map<String, Value>, warnings: &mut Vec<String>) -> Map<String, Value> {
    let mut renamed = Vec::new();
    let fields = rename_fields(fields, true, "", &mut renamed);
    if !renamed.is_empty() {
        let shown: Vec<String> = renamed.iter().take(10).map(|(from, to)| format!("{from:?} → {to:?}")).collect();
        let more = if renamed.len() > 10 { format!(" and {} more", renamed.len() - 10) } else { String::new() };
        warnings.push(format!("field names OpenSearch refuses were renamed: {}{more}", shown.join(", ")));
    }
    fields
}

fn rename_fields(
    fields: Map<String, Value>,
    top: bool,
    path: &str,
    renamed: &mut Vec<(String, String)>,
) -> Map<String, Value> {
    // Nothing to do (the common case): the map is returned as it came.
    let fine = |key: &str, value: &Value| safe_name(key, top).is_none() && !has_unsafe_child(value);
    if fields.iter().all(|(k, v)| fine(k, v)) {
        return fields;
    }
    let mut out = Map::with_capacity(fields.len());
    let mut later = Vec::new();
    for (key, value) in fields {
        let full = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        let value = rename_value(value, &full, renamed);
        match safe_name(&key, top) {
            None => {
                out.insert(key, value);
            }
            Some(name) => later.push((full, name, value)),
        }
    }
    // Renamed fields after the others, so a rename never takes a name the event itself used.
    for (full, name, value) in later {
        let mut candidate = name.clone();
        let mut n = 2;
        while out.contains_key(&candidate) {
            candidate = format!("{name}~{n}");
            n += 1;
        }
        renamed.push((full, if path.is_empty() { candidate.clone() } else { format!("{path}.{candidate}") }));
        out.insert(candidate, value);
    }
    out
}

fn rename_value(value: Value, path: &str, renamed: &mut Vec<(String, String)>) -> Value {
    match value {
        Value::Object(children) => Value::Object(rename_fields(children, false, path, renamed)),
        Value::Array(items) => Value::Array(items.into_iter().map(|item| rename_value(item, path, renamed)).collect()),
        other => other,
    }
}

fn has_unsafe_child(value: &Value) -> bool {
    match value {
        Value::Object(children) => children.iter().any(|(k, v)| safe_name(k, false).is_some() || has_unsafe_child(v)),
        Value::Array(items) => items.iter().any(has_unsafe_child),
        _ => false,
    }
}

/// The name to use instead of `key`, if OpenSearch would refuse `key`.
fn safe_name(key: &str, top: bool) -> Option<String> {
    if key.trim().is_empty() {
        return Some("@empty".to_owned());
    }
    if top && METADATA_FIELDS.contains(&key) {
        return Some(format!("@{key}"));
    }
    if key.starts_with('.') || key.ends_with('.') || key.contains("..") {
        return Some(key.replace('.', "_"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_names_opensearch_refuses_are_renamed_and_said() {
        let fields = json!({"": 1, " ": 2, "_id": "x", "_source": {"a": 1}, "_routing": "r", ".a": 3, "b.": 4,
            "c..d": 5, "@_id": "mine", "n": {"_id": "nested ok", "": 6, "e..f": [{"..": 7}]}, "ok": 8});
        let mut warnings = Vec::new();
        let s = Value::Object(safe_field_names(fields.as_object().unwrap().clone(), &mut warnings));
        assert_eq!(s["@empty"], json!(1));
        assert_eq!(s["@empty~2"], json!(2));
        assert_eq!(s["@_id"], json!("mine"), "the event's own field keeps its name");
        assert_eq!(s["@_id~2"], json!("x"));
        assert_eq!(s["@_source"], json!({"a": 1}));
        assert_eq!(s["@_routing"], json!("r"));
        assert_eq!((s["_a"].clone(), s["b_"].clone(), s["c__d"].clone()), (json!(3), json!(4), json!(5)));
        assert_eq!(s["n"], json!({"_id": "nested ok", "@empty": 6, "e__f": [{"__": 7}]}));
        assert_eq!(s["ok"], json!(8));
        for refused in ["", " ", "_id", "_source", "_routing", ".a", "b.", "c..d"] {
            assert!(s.get(refused).is_none(), "{refused:?} sent as-is");
        }
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains(r#""_id" → "@_id~2""#) && warnings[0].contains(r#""n.e..f" → "n.e__f""#),
            "{warnings:?}"
        );
        // Nothing to rename: no warning, the same map.
        let mut none = Vec::new();
        let fine = json!({"a": {"b": 1}, "_x": 2});
        assert_eq!(Value::Object(safe_field_names(fine.as_object().unwrap().clone(), &mut none)), fine);
        assert!(none.is_empty());
    }
}
