//! `{{...}}` templates, shared by scenario files and automation step
//! configs: `{{root.path.0.field}}` names a value by a root (an earlier
//! step, `trigger`, `steps`) and a dotted path with numeric indexes into
//! arrays. A string that is one template and nothing else takes the
//! value's JSON type; a template inside other text is spliced in as text.

use std::collections::BTreeMap;

use serde_json::Value;

/// A template that names nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No value has the template's root name.
    #[error("template {{{{{reference}}}}}: nothing is named {root:?} here")]
    UnknownRoot {
        /// What was between the braces, trimmed.
        reference: String,
        /// The first segment of the path.
        root: String,
    },
    /// The path leads to null where a value is required.
    #[error("template {{{{{reference}}}}}: it is null")]
    Null {
        /// What was between the braces, trimmed.
        reference: String,
    },
    /// The path leads nowhere.
    #[error("template {{{{{reference}}}}}: {root:?} has nothing at {segment:?}")]
    Missing {
        /// What was between the braces, trimmed.
        reference: String,
        /// The first segment of the path.
        root: String,
        /// The first segment that names nothing.
        segment: String,
    },
}

/// Replaces every template in the strings of `value` with what it names
/// in `scope`, whose keys are the roots.
pub fn resolve(value: &Value, scope: &BTreeMap<String, Value>) -> Result<Value, TemplateError> {
    resolve_with(value, scope, Nulls::Allowed)
}

/// [`resolve`], refusing a template that names null, such as the external
/// id of a step that reported none: automation steps, where a value that
/// is not there must fail the step rather than become `null` or "null".
pub fn resolve_present(
    value: &Value,
    scope: &BTreeMap<String, Value>,
) -> Result<Value, TemplateError> {
    resolve_with(value, scope, Nulls::Refused)
}

#[derive(Clone, Copy, PartialEq)]
enum Nulls {
    Allowed,
    Refused,
}

fn resolve_with(
    value: &Value,
    scope: &BTreeMap<String, Value>,
    nulls: Nulls,
) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(text) => resolve_text(text, scope, nulls)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve_with(item, scope, nulls))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| Ok((key.clone(), resolve_with(value, scope, nulls)?)))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// Every template reference in the strings of `value` (what is between
/// the braces, trimmed), in document order.
pub fn references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_references(value, &mut found);
    found
}

fn collect_references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(length) = rest[start..].find("}}") else {
                    break;
                };
                found.push(rest[start + 2..start + length].trim().to_owned());
                rest = &rest[start + length + 2..];
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_references(item, found)),
        Value::Object(object) => object
            .values()
            .for_each(|item| collect_references(item, found)),
        _ => {}
    }
}

fn resolve_text(
    text: &str,
    scope: &BTreeMap<String, Value>,
    nulls: Nulls,
) -> Result<Value, TemplateError> {
    if let Some(inner) = text
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        && !inner.contains("{{")
    {
        return lookup(inner.trim(), scope, nulls);
    }
    let mut resolved = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start..].find("}}") else {
            break;
        };
        resolved.push_str(&rest[..start]);
        let value = lookup(rest[start + 2..start + length].trim(), scope, nulls)?;
        match value {
            Value::String(text) => resolved.push_str(&text),
            other => resolved.push_str(&other.to_string()),
        }
        rest = &rest[start + length + 2..];
    }
    resolved.push_str(rest);
    Ok(Value::String(resolved))
}

fn lookup(
    reference: &str,
    scope: &BTreeMap<String, Value>,
    nulls: Nulls,
) -> Result<Value, TemplateError> {
    let mut segments = reference.split('.');
    let root = segments.next().unwrap_or_default();
    let mut value = scope.get(root).ok_or_else(|| TemplateError::UnknownRoot {
        reference: reference.to_owned(),
        root: root.to_owned(),
    })?;
    for segment in segments {
        let next = match value {
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            Value::Object(object) => object.get(segment),
            _ => None,
        };
        value = next.ok_or_else(|| TemplateError::Missing {
            reference: reference.to_owned(),
            root: root.to_owned(),
            segment: segment.to_owned(),
        })?;
    }
    if value.is_null() && nulls == Nulls::Refused {
        return Err(TemplateError::Null {
            reference: reference.to_owned(),
        });
    }
    Ok(value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> BTreeMap<String, Value> {
        BTreeMap::from([(
            "park".to_owned(),
            json!({"externalId": "w-1", "events": [{"payload": {"status": "scheduled", "n": 3}}]}),
        )])
    }

    #[test]
    fn whole_string_templates_keep_their_type() {
        let resolved = resolve(
            &json!({"n": "{{park.events.0.payload.n}}", "id": "{{ park.externalId }}"}),
            &scope(),
        )
        .unwrap();
        assert_eq!(resolved, json!({"n": 3, "id": "w-1"}));
    }

    #[test]
    fn embedded_templates_are_spliced_as_text() {
        let resolved = resolve(
            &json!("window {{park.externalId}} has {{park.events.0.payload.n}}"),
            &scope(),
        )
        .unwrap();
        assert_eq!(resolved, json!("window w-1 has 3"));
    }

    #[test]
    fn unknown_references_are_errors() {
        assert_eq!(
            resolve(&json!("{{nope.externalId}}"), &scope()).unwrap_err(),
            TemplateError::UnknownRoot {
                reference: "nope.externalId".into(),
                root: "nope".into()
            }
        );
        let error = resolve(&json!("a {{park.events.5}}"), &scope()).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"template {{park.events.5}}: "park" has nothing at "5""#
        );
    }

    #[test]
    fn a_strict_resolve_refuses_null() {
        let scope = BTreeMap::from([("s".to_owned(), json!({"id": null, "n": 1}))]);
        assert_eq!(resolve(&json!("{{s.id}}"), &scope).unwrap(), json!(null));
        assert_eq!(
            resolve(&json!("x{{s.id}}"), &scope).unwrap(),
            json!("xnull")
        );
        for template in ["{{s.id}}", "x{{s.id}}"] {
            assert_eq!(
                resolve_present(&json!(template), &scope)
                    .unwrap_err()
                    .to_string(),
                "template {{s.id}}: it is null"
            );
        }
        assert_eq!(
            resolve_present(&json!("{{s.n}}"), &scope).unwrap(),
            json!(1)
        );
    }

    #[test]
    fn references_are_listed_in_order() {
        assert_eq!(
            references(&json!({"a": "{{ x.y }} and {{z}}", "b": ["{{w.0}}", 1]})),
            ["x.y", "z", "w.0"]
        );
    }
}
