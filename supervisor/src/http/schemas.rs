//! Request bodies, described once with schemars: [`body_schema!`] names a body type for the
//! OpenAPI document and gives it `parse`, which checks the JSON against that same schema
//! before serde reads it. So the document says exactly what a handler takes: serde alone would
//! also take things the schema does not allow (a struct written as an array of its fields).
//! The agents crate describes its types with schemars and knows nothing of HTTP.

use super::error::ApiError;
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

/// Longest part of an error detail that quotes the body.
const MAX_QUOTE: usize = 300;

/// `T`'s JSON Schema (draft 2020-12), nested types inlined.
pub(super) fn json_schema<T: JsonSchema>() -> Value {
    let mut value = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(fields) = value.as_object_mut() {
        fields.remove("$schema");
    }
    value
}

/// `T`'s schema as the OpenAPI document holds it.
pub(super) fn described<T: JsonSchema>() -> RefOr<Schema> {
    let mut value = json_schema::<T>();
    any_value_typed(&mut value);
    // Both are JSON Schema; a schema utoipa's model cannot hold is a bug of ours, found by the
    // tests below rather than at run time.
    serde_json::from_value(value)
        .unwrap_or_else(|e| panic!("{} has no OpenAPI schema: {e}", T::schema_name()))
}

/// A validator for `T`'s schema.
pub(super) fn validator<T: JsonSchema>() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema::<T>())
        .unwrap_or_else(|e| panic!("{} has no valid JSON Schema: {e}", T::schema_name()))
}

/// The body as `T`, once `schema` accepts it; else a 400 saying where and why. An empty body
/// is `empty` (`None`: an empty body is refused).
pub(super) fn parse<T: DeserializeOwned>(
    bytes: &[u8],
    schema: &jsonschema::Validator,
    empty: Option<Value>,
) -> Result<T, ApiError> {
    let value: Value = match (bytes.iter().all(u8::is_ascii_whitespace), empty) {
        (true, Some(empty)) => empty,
        _ => serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?,
    };
    if let Err(e) = schema.validate(&value) {
        let at = e.instance_path().to_string();
        let mut why = e.to_string();
        if why.len() > MAX_QUOTE {
            let cut = (0..=MAX_QUOTE).rev().find(|i| why.is_char_boundary(*i)).unwrap_or(0);
            why.truncate(cut);
            why.push('…');
        }
        let at = if at.is_empty() { "the body".to_string() } else { format!("body{at}") };
        return Err(ApiError::bad_request(format!("{at}: {why}")));
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("body is not valid: {e}")))
}

/// Spells "any JSON value" (schemars: `true` or `{}`, e.g. for `serde_json::Value`) as the
/// list of every type, which utoipa's model can hold (it cannot read a schema without a type).
fn any_value_typed(schema: &mut Value) {
    const SHAPES: [&str; 6] = ["type", "$ref", "anyOf", "oneOf", "allOf", "enum"];
    if *schema == Value::Bool(true) {
        *schema = json!({});
    }
    let Some(fields) = schema.as_object_mut() else { return };
    if !SHAPES.iter().any(|k| fields.contains_key(*k)) && !fields.contains_key("const") {
        fields.insert(
            "type".into(),
            json!(["object", "array", "string", "number", "integer", "boolean", "null"]),
        );
    }
    for (key, sub) in fields.iter_mut() {
        match (key.as_str(), sub) {
            ("properties", Value::Object(props)) => props.values_mut().for_each(any_value_typed),
            ("items" | "additionalProperties", sub @ Value::Object(_)) => any_value_typed(sub),
            ("anyOf" | "oneOf" | "allOf", Value::Array(items)) => items.iter_mut().for_each(any_value_typed),
            _ => {}
        }
    }
}

/// A request body type `$name` for the document, described by the schemars type `$of`, with
/// `$name::parse(bytes) -> Result<$of, ApiError>` checking against that schema. With
/// `optional`, an empty body reads as `{}`; without, it is refused. `read_as T` checks against
/// `$of`'s schema and reads the body as `T`; `document_only` gives no `parse`.
macro_rules! body_schema {
    ($(#[$doc:meta])* $name:ident = $of:ty) => {
        $crate::http::schemas::body_schema!($(#[$doc])* $name = $of, empty: None);
    };
    ($(#[$doc:meta])* $name:ident = $of:ty, optional) => {
        $crate::http::schemas::body_schema!($(#[$doc])* $name = $of, empty: Some(serde_json::json!({})));
    };
    ($(#[$doc:meta])* $name:ident = $of:ty, read_as $into:ty) => {
        $crate::http::schemas::body_schema!($(#[$doc])* $name = $of, document_only);

        impl $name {
            /// The body, checked against the schema the document shows, read as `$into`.
            pub(super) fn parse(bytes: &[u8]) -> Result<$into, $crate::http::error::ApiError> {
                static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
                let schema = SCHEMA.get_or_init($crate::http::schemas::validator::<$of>);
                $crate::http::schemas::parse(bytes, schema, None)
            }
        }
    };
    ($(#[$doc:meta])* $name:ident = $of:ty, empty: $empty:expr) => {
        $crate::http::schemas::body_schema!($(#[$doc])* $name = $of, document_only);

        impl $name {
            /// The body, checked against the schema the document shows.
            pub(super) fn parse(bytes: &[u8]) -> Result<$of, $crate::http::error::ApiError> {
                static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
                let schema = SCHEMA.get_or_init($crate::http::schemas::validator::<$of>);
                $crate::http::schemas::parse(bytes, schema, $empty)
            }
        }
    };
    ($(#[$doc:meta])* $name:ident = $of:ty, document_only) => {
        $(#[$doc])*
        pub(super) struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::http::schemas::described::<$of>()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use body_schema;

#[cfg(test)]
mod tests {
    use super::*;
    use overseer_agents::onboarding::OnboardingRequest;

    #[test]
    fn nested_types_are_inlined_and_optional_fields_are_not_required() {
        let schema = serde_json::to_value(described::<OnboardingRequest>()).expect("JSON");
        let business = &schema["properties"]["business_data"];
        assert_eq!(
            business["properties"]["contact_info"]["properties"]["email"]["type"],
            serde_json::json!(["string", "null"]),
            "{schema}"
        );
        assert!(!schema.to_string().contains("$ref"), "{schema}");
        assert!(schema["required"].as_array().is_none_or(|r| r.is_empty()), "{schema}");
    }

    body_schema!(Onboarding = OnboardingRequest);
    body_schema!(Optional = crate::hitl::request::Body, optional);

    #[test]
    fn a_body_is_checked_against_the_documented_schema_before_serde_reads_it() {
        // serde alone would read a struct from an array of its fields.
        let e =
            Onboarding::parse(br#"{"business_data": {"contact_info": [null, null]}}"#).expect_err("array");
        let detail = e.body()["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains("body/business_data/contact_info"), "{detail}");
        assert!(Onboarding::parse(br#"{"business_data": {"contact_info": {"email": "a@b.c"}}}"#).is_ok());
        assert!(Onboarding::parse(b"").is_err(), "an empty body is refused without `optional`");
        let e = Optional::parse(b" ").expect_err("{} lacks the summary");
        assert!(e.body()["detail"].as_str().is_some_and(|d| d.contains("summary")), "{:?}", e.body());
        let long = format!(r#"{{"summary": "x", "reasons": "{}"}}"#, "y".repeat(5000));
        let e = Optional::parse(long.as_bytes()).expect_err("reasons is a list");
        assert!(
            e.body()["detail"].as_str().is_some_and(|d| d.len() < 400),
            "the detail quotes a bounded part"
        );
    }

    #[test]
    fn any_json_value_is_every_type() {
        let schema = serde_json::to_value(described::<crate::hitl::request::Body>()).expect("JSON");
        let details = &schema["properties"]["details"]["type"];
        assert_eq!(details.as_array().map(Vec::len), Some(7), "{schema}");
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        assert_eq!(schema["properties"]["confidence"]["maximum"], 1.0, "{schema}");
    }
}
