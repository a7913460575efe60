//! JSON Schema validation of everything a plugin declares a schema for:
//! action configs, artifacts, trigger payloads and entity states.

use anyhow::anyhow;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::records::Problem;

/// A compiled schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

impl Schema {
    /// Compiles `text` as a JSON Schema (draft 2020-12 unless it says
    /// otherwise), checking `format`s such as `date-time`.
    pub fn compile(text: &str) -> anyhow::Result<Self> {
        let document: Value =
            serde_json::from_str(text).map_err(|error| anyhow!("not valid JSON: {error}"))?;
        Self::from_document(&document)
    }

    /// Compiles an already parsed schema document.
    pub fn from_document(document: &Value) -> anyhow::Result<Self> {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(document)
            .map_err(|error| anyhow!("not a valid JSON Schema: {error}"))?;
        Ok(Self { validator })
    }

    /// Every problem `instance` has, sorted by path, each at the path of
    /// the value it concerns: a missing or unknown property is reported at the
    /// property's own path rather than its parent's.
    pub fn problems(&self, instance: &Value) -> Vec<Problem> {
        let mut problems = Vec::new();
        for error in self.validator.iter_errors(instance) {
            let path = error.instance_path().as_str().to_owned();
            match error.kind() {
                ValidationErrorKind::Required { property } => problems.push(Problem {
                    path: child(&path, property.as_str().unwrap_or_default()),
                    message: "is required".into(),
                }),
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    problems.extend(unexpected.iter().map(|property| Problem {
                        path: child(&path, property),
                        message: "is not a known field".into(),
                    }))
                }
                _ => problems.push(Problem {
                    path,
                    message: shortened_message(&error),
                }),
            }
        }
        problems.sort();
        problems
    }
}

/// The longest value a problem message quotes whole: a config of a
/// megabyte is not echoed back in its own error.
const MAX_QUOTED_CHARS: usize = 80;

/// The validator's message, with the offending value cut short when long.
fn shortened_message(error: &jsonschema::ValidationError<'_>) -> String {
    let message = error.to_string();
    let quoted = error.instance().to_string();
    let length = quoted.chars().count();
    if length <= MAX_QUOTED_CHARS {
        return message;
    }
    let start: String = quoted.chars().take(MAX_QUOTED_CHARS).collect();
    message.replacen(&quoted, &format!("{start}… ({length} characters)"), 1)
}

fn child(parent: &str, property: &str) -> String {
    format!(
        "{parent}/{}",
        property.replace('~', "~0").replace('/', "~1")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::compile(
            &json!({
                "type": "object",
                "properties": {
                    "at": { "type": "string", "format": "date-time" },
                    "n": { "type": "integer", "minimum": 1 },
                },
                "required": ["at"],
                "additionalProperties": false,
            })
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn problems_point_at_the_offending_property() {
        let problems = schema().problems(&json!({"n": 0, "extra/x": true}));
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/at", "/extra~1x", "/n"]);
    }

    #[test]
    fn formats_are_checked() {
        assert_eq!(schema().problems(&json!({"at": "yesterday"})).len(), 1);
        assert!(
            schema()
                .problems(&json!({"at": "2026-03-01T10:00:00Z"}))
                .is_empty()
        );
    }

    #[test]
    fn long_values_are_not_quoted_whole() {
        let schema = Schema::compile(r#"{"type": "string", "maxLength": 3}"#).unwrap();
        let problems = schema.problems(&json!("x".repeat(5000)));
        assert_eq!(problems.len(), 1);
        let message = &problems[0].message;
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("(5002 characters)"), "{message}");
        assert!(message.contains("longer than 3"), "{message}");
    }

    #[test]
    fn broken_schemas_are_reported() {
        assert!(Schema::compile("{").is_err());
        assert!(Schema::compile(r#"{"type": 5}"#).is_err());
    }
}
