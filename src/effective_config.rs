//! The configuration the server reads (`--print-config`): run.yaml after
//! `${env.X}` substitution from the server's environment, without the entries
//! the server drops (`__disabled__` providers, resources with an empty id),
//! which is the document the server builds its `StackConfig` from; defaults it
//! fills in are not added.
//!
//! Secrets are redacted: every value a variable whose name says key, token,
//! secret or password produced, and every setting a provider's config class
//! declares secret (pydantic's `SecretStr`, `writeOnly` in the class's JSON
//! schema). A provider whose config class was not read (it failed, or was not
//! reached) has every setting whose own name says one of those words redacted
//! instead, so that a failing run never shows what a class would have hidden.

use serde_json::Value as Json;
use serde_yaml_ng::Value;

use crate::config::Disabled;
use crate::config::env::{self, Environment};
use crate::config::yaml;
use crate::results::ProviderResult;

/// What a redacted value is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// Words that make a name a secret's.
const SECRET_WORDS: [&str; 4] = ["key", "token", "secret", "password"];

/// How deep `$ref`s and unions are followed in a config class's schema.
const SCHEMA_DEPTH: usize = 32;

/// The effective configuration of `text`, redacted; `None` when run.yaml does
/// not parse or substitute (the report says why).
pub(crate) fn build(
    text: &str,
    environment: &dyn Environment,
    providers: &[ProviderResult],
) -> Option<Value> {
    let (document, _) = yaml::parse(text).ok()?;
    let (mut document, _) = env::substitute(document, &Redacting(environment)).ok()?;
    let sections = document
        .get_mut("providers")
        .and_then(Value::as_mapping_mut)?;
    for (api, items) in sections.iter_mut() {
        let Some(items) = items.as_sequence_mut() else {
            continue;
        };
        // The server's list holds the entries it kept, in file order.
        let kept = providers.iter().filter(|provider| {
            Some(provider.entry.api.as_str()) == api.as_str()
                && provider.entry.disabled != Some(Disabled::Dropped)
        });
        for (item, provider) in items.iter_mut().zip(kept) {
            let Some(config) = item.get_mut("config") else {
                continue;
            };
            match provider
                .spec
                .as_ref()
                .and_then(|spec| spec.config_schema.as_ref())
            {
                Some(schema) => redact_by_schema(config, schema, schema, SCHEMA_DEPTH),
                None => redact_by_name(config),
            }
        }
    }
    Some(document)
}

/// Whether `name` names a secret.
fn says_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// The server's environment, with the value of every variable whose name
/// says secret replaced (set stays set, empty stays empty).
struct Redacting<'a>(&'a dyn Environment);

impl Environment for Redacting<'_> {
    fn var(&self, name: &str) -> Option<String> {
        let value = self.0.var(name)?;
        if says_secret(name) && !value.is_empty() {
            Some(REDACTED.to_string())
        } else {
            Some(value)
        }
    }
}

fn redact(value: &mut Value) {
    if !value.is_null() {
        *value = Value::String(REDACTED.to_string());
    }
}

fn redact_by_name(value: &mut Value) {
    match value {
        Value::Mapping(mapping) => {
            for (key, value) in mapping.iter_mut() {
                if key.as_str().is_some_and(says_secret) {
                    redact(value);
                } else {
                    redact_by_name(value);
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(redact_by_name),
        _ => {}
    }
}

/// Redacts what `schema` (a node of the JSON schema `root`) declares secret.
fn redact_by_schema(value: &mut Value, schema: &Json, root: &Json, depth: usize) {
    if depth == 0 {
        return;
    }
    let alternatives = alternatives(schema, root, depth);
    if alternatives.iter().any(|node| is_secret(node)) {
        redact(value);
        return;
    }
    match value {
        Value::Mapping(mapping) => {
            for (key, value) in mapping.iter_mut() {
                let Some(key) = key.as_str() else { continue };
                let property = alternatives.iter().find_map(|node| {
                    node.get("properties")
                        .and_then(|properties| properties.get(key))
                        .or_else(|| node.get("additionalProperties").filter(|n| n.is_object()))
                });
                if let Some(property) = property {
                    redact_by_schema(value, property, root, depth - 1);
                }
            }
        }
        Value::Sequence(items) => {
            if let Some(item_schema) = alternatives.iter().find_map(|node| node.get("items")) {
                for item in items {
                    redact_by_schema(item, item_schema, root, depth - 1);
                }
            }
        }
        _ => {}
    }
}

fn is_secret(node: &Json) -> bool {
    node.get("writeOnly") == Some(&Json::Bool(true))
        || node.get("format").and_then(Json::as_str) == Some("password")
}

/// `schema` with its `$ref` followed, and the branches of its unions, each
/// followed too: every shape the value may take.
fn alternatives<'a>(schema: &'a Json, root: &'a Json, depth: usize) -> Vec<&'a Json> {
    if depth == 0 {
        return Vec::new();
    }
    let resolved = match schema.get("$ref").and_then(Json::as_str) {
        Some(reference) => match reference.strip_prefix('#') {
            Some(pointer) => match root.pointer(pointer) {
                Some(target) => target,
                None => return vec![schema],
            },
            None => return vec![schema],
        },
        None => schema,
    };
    let mut found = vec![resolved];
    for union in ["anyOf", "oneOf", "allOf"] {
        for branch in resolved
            .get(union)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            found.extend(alternatives(branch, root, depth - 1));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_settings_are_found_through_refs_and_unions() {
        let schema = serde_json::json!({
            "$defs": {
                "Auth": {"properties": {"token": {"anyOf": [
                    {"format": "password", "type": "string", "writeOnly": true},
                    {"type": "null"}
                ]}, "user": {"type": "string"}}}
            },
            "properties": {
                "api_token": {"anyOf": [{"format": "password", "type": "string", "writeOnly": true}, {"type": "null"}]},
                "url": {"type": "string"},
                "auth": {"anyOf": [{"$ref": "#/$defs/Auth"}, {"type": "null"}]},
                "keys": {"items": {"$ref": "#/$defs/Auth"}, "type": "array"},
                "unset": {"format": "password", "writeOnly": true}
            }
        });
        let mut config: Value = serde_yaml_ng::from_str(
            "api_token: t0p\nurl: http://x\nauth: {token: s, user: me}\nkeys: [{token: a, user: b}]\nunset: null\n",
        )
        .unwrap();
        redact_by_schema(&mut config, &schema, &schema, SCHEMA_DEPTH);
        let expected: Value = serde_yaml_ng::from_str(
            "api_token: '[redacted]'\nurl: http://x\nauth: {token: '[redacted]', user: me}\nkeys: [{token: '[redacted]', user: b}]\nunset: null\n",
        )
        .unwrap();
        assert_eq!(config, expected);
    }

    #[test]
    fn without_a_schema_names_decide() {
        let mut config: Value =
            serde_yaml_ng::from_str("api_key: k\nnested: [{Password: p, host: h}]\nurl: u\n")
                .unwrap();
        redact_by_name(&mut config);
        let expected: Value = serde_yaml_ng::from_str(
            "api_key: '[redacted]'\nnested: [{Password: '[redacted]', host: h}]\nurl: u\n",
        )
        .unwrap();
        assert_eq!(config, expected);
    }

    #[test]
    fn values_of_secret_variables_are_redacted_wherever_they_land() {
        struct Vars;
        impl Environment for Vars {
            fn var(&self, name: &str) -> Option<String> {
                match name {
                    "MY_API_KEY" => Some("sk-123".into()),
                    "HOST" => Some("h".into()),
                    "EMPTY_TOKEN" => Some(String::new()),
                    _ => None,
                }
            }
        }
        let document: Value = serde_yaml_ng::from_str(
            "a: ${env.MY_API_KEY}\nb: Bearer ${env.MY_API_KEY}\nc: ${env.HOST}\nd: ${env.EMPTY_TOKEN:=x}\n",
        )
        .unwrap();
        let (document, _) = env::substitute(document, &Redacting(&Vars)).unwrap();
        let expected: Value =
            serde_yaml_ng::from_str("a: '[redacted]'\nb: Bearer [redacted]\nc: h\nd: x\n").unwrap();
        assert_eq!(document, expected);
    }
}
