//! Environment substitution, exactly as llama-stack 0.7 applies it to run.yaml.
//!
//! Mirrors `replace_env_vars` in `llama_stack/core/stack.py`: values only (never
//! keys), `${env.NAME}`, `${env.NAME:=default}` and `${env.NAME:+value}` with
//! `NAME` in `[A-Z0-9_]+`, `~` expansion of each substituted value, and type
//! conversion of the whole string (`""` → null, `true`/`false` → bool, then int,
//! then float) only when substitution changed it. List items whose
//! `provider_id` resolves to `__disabled__`, or whose resource id
//! (`model_id`, `shield_id`, …) resolves to null or `""`, are dropped, the way
//! the server drops them. The server stops at the first missing variable in
//! document order; every one is collected here, each with every place that
//! uses it, so that one run names them all.

use serde_yaml_ng::{Mapping, Number, Value};

/// Resource id fields whose empty value drops a list item (`RESOURCE_ID_FIELDS`).
const RESOURCE_ID_FIELDS: [&str; 6] = [
    "vector_store_id",
    "model_id",
    "shield_id",
    "dataset_id",
    "scoring_fn_id",
    "benchmark_id",
];

/// The provider id that removes an entry before anything else looks at it.
pub(crate) const DISABLED_ID: &str = "__disabled__";

/// A `${env.NAME}` with no default whose variable is unset or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingVariable {
    pub(crate) name: String,
    /// Where in the document, in the server's notation (`providers.eval[0].config.url`).
    pub(crate) path: String,
    /// The same place as the keys and (written) list indices that lead to it.
    pub(crate) parts: Vec<String>,
}

/// A list item the server drops before it validates anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DroppedItem {
    /// Where it stood, e.g. `providers.eval[1]`.
    pub(crate) path: String,
    /// Its `provider_type` as written, for listing a provider entry as
    /// skipped.
    pub(crate) provider_type: Option<String>,
}

/// Looks variables up; the process environment in production, a map in tests.
pub(crate) trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

/// Substitutes every value of `document`; also returns the list items it
/// dropped, in document order. Fails with every missing variable, in
/// document order.
pub(crate) fn substitute(
    document: Value,
    env: &dyn Environment,
) -> Result<(Value, Vec<DroppedItem>), Vec<MissingVariable>> {
    let mut walk_state = Walk {
        env,
        dropped: Vec::new(),
        missing: Vec::new(),
        parts: Vec::new(),
    };
    let document = walk(document, "", &mut walk_state);
    if walk_state.missing.is_empty() {
        Ok((document, walk_state.dropped))
    } else {
        Err(walk_state.missing)
    }
}

/// One substitution of a document (or, for a look-ahead, of one value).
struct Walk<'a> {
    env: &'a dyn Environment,
    dropped: Vec<DroppedItem>,
    missing: Vec<MissingVariable>,
    /// Where the walk is, as keys and list indices.
    parts: Vec<String>,
}

fn walk(value: Value, path: &str, walk_state: &mut Walk<'_>) -> Value {
    let env = walk_state.env;
    match value {
        Value::Mapping(mapping) => walk_mapping(mapping, path, walk_state),
        Value::Sequence(items) => {
            let mut kept = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let item_path = format!("{path}[{index}]");
                if is_dropped(&item, env) {
                    let provider_type = item
                        .get("provider_type")
                        .and_then(Value::as_str)
                        .map(String::from);
                    walk_state.dropped.push(DroppedItem {
                        path: item_path,
                        provider_type,
                    });
                } else {
                    walk_state.parts.push(index.to_string());
                    kept.push(walk(item, &item_path, walk_state));
                    walk_state.parts.pop();
                }
            }
            Value::Sequence(kept)
        }
        Value::String(text) => match substitute_text(&text, env) {
            Ok(value) => value,
            Err(missing) => {
                let parts = walk_state.parts.clone();
                (walk_state.missing).extend(missing.into_iter().map(|name| MissingVariable {
                    name,
                    path: path.to_string(),
                    parts: parts.clone(),
                }));
                Value::Null
            }
        },
        Value::Tagged(mut tagged) => {
            tagged.value = walk(tagged.value, path, walk_state);
            Value::Tagged(tagged)
        }
        other => other,
    }
}

/// Resolves one value on its own, for the server's look-ahead at ids; `None`
/// when a variable it needs is missing.
fn peek(value: &Value, env: &dyn Environment) -> Option<Value> {
    substitute(value.clone(), env).ok().map(|(value, _)| value)
}

fn is_null_or_empty(value: &Option<Value>) -> bool {
    matches!(value, Some(Value::Null)) || matches!(value, Some(Value::String(s)) if s.is_empty())
}

fn walk_mapping(mapping: Mapping, path: &str, walk_state: &mut Walk<'_>) -> Value {
    let env = walk_state.env;
    // The server resolves server.auth.provider_config.type first; an empty type
    // disables auth and leaves the rest of provider_config unsubstituted.
    let auth_disabled = path == "server.auth"
        && mapping
            .get("provider_config")
            .and_then(|config| config.get("type"))
            .map(|kind| peek(kind, env))
            .is_some_and(|kind| is_null_or_empty(&kind));
    let mut result = Mapping::with_capacity(mapping.len());
    for (key, value) in mapping {
        let key_text = key_text(&key);
        let value = if auth_disabled && key_text == "provider_config" {
            Value::Null
        } else {
            let child = if path.is_empty() {
                key_text.clone()
            } else {
                format!("{path}.{key_text}")
            };
            walk_state.parts.push(key_text);
            let value = walk(value, &child, walk_state);
            walk_state.parts.pop();
            value
        };
        result.insert(key, value);
    }
    Value::Mapping(result)
}

/// Whether the server drops this list item before substituting it: its
/// provider is `__disabled__`, or a resource id resolves to null or `""`.
fn is_dropped(item: &Value, env: &dyn Environment) -> bool {
    let Value::Mapping(mapping) = item else {
        return false;
    };
    if let Some(id) = mapping.get("provider_id") {
        let resolved = peek(id, env);
        if matches!(resolved, Some(Value::String(ref s)) if s == DISABLED_ID) {
            return true;
        }
    }
    RESOURCE_ID_FIELDS.iter().any(|field| {
        mapping
            .get(*field)
            .is_some_and(|id| is_null_or_empty(&peek(id, env)))
    })
}

/// A key as Python's `str()` prints it, for paths.
pub(crate) fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Null => "None".to_string(),
        Value::Number(number) => number.to_string(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// `text` substituted; fails with the names of the missing variables it uses.
fn substitute_text(text: &str, env: &dyn Environment) -> Result<Value, Vec<String>> {
    let mut result = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${env.") {
        result.push_str(&rest[..start]);
        let candidate = &rest[start..];
        match parse_reference(candidate) {
            Some((reference, length)) => {
                match resolve(&reference, env) {
                    Some(value) => result.push_str(&value),
                    None => missing.push(reference.name.to_string()),
                }
                rest = &candidate[length..];
            }
            None => {
                result.push('$');
                rest = &candidate[1..];
            }
        }
    }
    result.push_str(rest);
    if !missing.is_empty() {
        return Err(missing);
    }
    if result == text {
        Ok(Value::String(result))
    } else {
        Ok(convert(&result))
    }
}

struct Reference<'a> {
    name: &'a str,
    operator: Option<char>,
    operand: &'a str,
}

/// Matches `\${env\.([A-Z0-9_]+)(?::([=+])([^}]*))?}` at the start of `text`.
fn parse_reference(text: &str) -> Option<(Reference<'_>, usize)> {
    let after_prefix = &text["${env.".len()..];
    let name_length = after_prefix
        .bytes()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        .count();
    if name_length == 0 {
        return None;
    }
    let name = &after_prefix[..name_length];
    let tail = &after_prefix[name_length..];
    let consumed = "${env.".len() + name_length;
    if tail.starts_with('}') {
        let reference = Reference {
            name,
            operator: None,
            operand: "",
        };
        return Some((reference, consumed + 1));
    }
    let operator = match tail.get(..2) {
        Some(":=") => '=',
        Some(":+") => '+',
        _ => return None,
    };
    let operand_start = &tail[2..];
    let operand_length = operand_start.find('}')?;
    let reference = Reference {
        name,
        operator: Some(operator),
        operand: &operand_start[..operand_length],
    };
    Some((reference, consumed + 2 + operand_length + 1))
}

/// The reference's value; `None` when its variable is missing.
fn resolve(reference: &Reference<'_>, env: &dyn Environment) -> Option<String> {
    let set_value = env.var(reference.name).filter(|value| !value.is_empty());
    let value = match (reference.operator, set_value) {
        (Some('='), Some(value)) => value,
        (Some('='), None) if reference.operand.is_empty() => return Some(String::new()),
        (Some('='), None) => reference.operand.to_string(),
        (Some(_), Some(_)) if reference.operand.is_empty() => return Some(String::new()),
        (Some(_), Some(_)) => reference.operand.to_string(),
        (Some(_), None) => String::new(),
        (None, Some(value)) => value,
        (None, None) => return None,
    };
    Some(expand_user(value, env))
}

/// `os.path.expanduser` for the forms a configuration uses: `~` and `~/…`.
fn expand_user(value: String, env: &dyn Environment) -> String {
    let Some(rest) = value.strip_prefix('~') else {
        return value;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return value;
    }
    match env.var("HOME") {
        Some(home) => {
            let home = if home == "/" {
                ""
            } else {
                home.trim_end_matches('/')
            };
            let joined = format!("{home}{rest}");
            if joined.is_empty() {
                "/".to_string()
            } else {
                joined
            }
        }
        None => value,
    }
}

/// `_convert_string_to_proper_type`.
fn convert(text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    match text.to_lowercase().as_str() {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Some(number) = python_int(text) {
        return Value::Number(number);
    }
    if let Some(number) = python_float(text) {
        return Value::Number(Number::from(number));
    }
    Value::String(text.to_string())
}

/// Removes the underscores Python allows between digits; `None` if any is misplaced.
fn without_digit_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'_' {
            let before = index.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(index + 1);
            if !(before.is_some_and(|b| b.is_ascii_digit())
                && after.is_some_and(u8::is_ascii_digit))
            {
                return None;
            }
        }
    }
    Some(text.replace('_', ""))
}

/// `int(text)` for base 10.
fn python_int(text: &str) -> Option<Number> {
    let trimmed = text.trim();
    let digits = without_digit_underscores(trimmed)?;
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(&digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(value) = digits.parse::<i64>() {
        return Some(Number::from(value));
    }
    if let Ok(value) = digits.trim_start_matches('+').parse::<u64>() {
        return Some(Number::from(value));
    }
    // Python ints are unbounded; the type is what matters here.
    digits.parse::<f64>().ok().map(Number::from)
}

/// `float(text)`.
fn python_float(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    let cleaned = without_digit_underscores(trimmed)?;
    let lowered = cleaned.to_ascii_lowercase();
    let unsigned = lowered.strip_prefix(['+', '-']).unwrap_or(&lowered);
    let special = matches!(unsigned, "inf" | "infinity" | "nan");
    let numeric = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
        && unsigned.bytes().any(|b| b.is_ascii_digit());
    if special || numeric {
        cleaned.parse::<f64>().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Vars(HashMap<&'static str, &'static str>);

    impl Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> Vars {
        Vars(pairs.iter().copied().collect())
    }

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    fn one(text: &str, vars: &Vars) -> Result<Value, Vec<String>> {
        substitute_text(text, vars)
    }

    fn document(value: Value, vars: &Vars) -> Result<Value, Vec<MissingVariable>> {
        substitute(value, vars).map(|(document, _)| document)
    }

    #[test]
    fn operators_behave_like_the_server() {
        let vars = env(&[("SET", "v"), ("EMPTY", ""), ("HOME", "/home/op")]);
        let cases: &[(&str, Value)] = &[
            ("${env.SET}", Value::String("v".into())),
            ("${env.SET:=d}", Value::String("v".into())),
            ("${env.UNSET:=d}", Value::String("d".into())),
            ("${env.EMPTY:=d}", Value::String("d".into())),
            ("${env.UNSET:=}", Value::Null),
            ("${env.SET:+on}", Value::String("on".into())),
            ("${env.UNSET:+on}", Value::Null),
            ("${env.SET:+}", Value::Null),
            ("a-${env.UNSET:+on}-b", Value::String("a--b".into())),
            (
                "${env.UNSET:=~/data}",
                Value::String("/home/op/data".into()),
            ),
            ("~/x/${env.UNSET:=y}", Value::String("~/x/y".into())),
            ("${env.UNSET:=8080}", Value::Number(8080.into())),
            ("${env.UNSET:=TRUE}", Value::Bool(true)),
            ("${env.UNSET:=1.5}", Value::Number(1.5.into())),
            ("${env.UNSET:=1_000}", Value::Number(1000.into())),
            // Left verbatim, as on every release since 0.2.13.
            ("${env.UNSET:old}", Value::String("${env.UNSET:old}".into())),
            ("${env.lower}", Value::String("${env.lower}".into())),
            ("true", Value::String("true".into())),
            // The operand stops at the first brace, like the server's regex.
            ("${env.A:=${env.B}}", Value::String("${env.B}".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(&one(input, &vars).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn every_missing_variable_is_named_with_every_place_in_document_order() {
        let input = yaml(
            "providers:\n  inference:\n  - provider_id: a\n    config:\n      url: ${env.URL}\n      key: ${env.KEY}/${env.URL}\n  - provider_id: ${env.ON:=__disabled__}\n    config: {url: '${env.NEVER}'}\n",
        );
        let err = document(input, &env(&[])).unwrap_err();
        let at = |name: &str, path: &str, parts: &[&str]| MissingVariable {
            name: name.into(),
            path: path.into(),
            parts: parts.iter().map(|part| part.to_string()).collect(),
        };
        assert_eq!(
            err,
            [
                at(
                    "URL",
                    "providers.inference[0].config.url",
                    &["providers", "inference", "0", "config", "url"]
                ),
                at(
                    "KEY",
                    "providers.inference[0].config.key",
                    &["providers", "inference", "0", "config", "key"]
                ),
                at(
                    "URL",
                    "providers.inference[0].config.key",
                    &["providers", "inference", "0", "config", "key"]
                ),
            ]
        );
    }

    #[test]
    fn disabled_entries_are_dropped_before_their_variables_are_read() {
        let input = yaml(
            "providers:\n  eval:\n  - provider_id: ${env.ON:=__disabled__}\n    config: {url: '${env.URL}'}\n  - provider_id: b\n",
        );
        let (result, dropped) = substitute(input, &env(&[])).unwrap();
        assert_eq!(result, yaml("providers:\n  eval:\n  - provider_id: b\n"));
        assert_eq!(
            dropped,
            [DroppedItem {
                path: "providers.eval[0]".into(),
                provider_type: None
            }]
        );
    }

    #[test]
    fn an_entry_disabled_through_plus_is_kept_with_a_null_id() {
        let input = yaml("p:\n- provider_id: ${env.ON:+x}\n  module: m\n");
        let result = document(input, &env(&[])).unwrap();
        assert_eq!(result, yaml("p:\n- provider_id: null\n  module: m\n"));
    }

    #[test]
    fn resources_with_an_empty_id_are_dropped() {
        let input = yaml("models:\n- model_id: ${env.M:+m}\n- model_id: kept\n");
        let (result, dropped) = substitute(input, &env(&[])).unwrap();
        assert_eq!(result, yaml("models:\n- model_id: kept\n"));
        assert_eq!(
            dropped,
            [DroppedItem {
                path: "models[0]".into(),
                provider_type: None
            }]
        );
    }

    #[test]
    fn keys_are_never_substituted() {
        let input = yaml("${env.K}: 1\n");
        assert_eq!(document(input.clone(), &env(&[])).unwrap(), input);
    }

    #[test]
    fn empty_auth_type_disables_provider_config() {
        let input = yaml(
            "server:\n  auth:\n    provider_config:\n      type: ${env.AUTH:+oauth2}\n      url: ${env.URL}\n",
        );
        let result = document(input, &env(&[])).unwrap();
        assert_eq!(
            result,
            yaml("server:\n  auth:\n    provider_config: null\n")
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, YAML_FRAGMENTS, text_of};

        fn vars() -> Vars {
            env(&[("X", "8080"), ("Y", ""), ("HOME", "/home/op")])
        }

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_value_substitutes_or_names_a_missing_variable(text in text_of(YAML_FRAGMENTS)) {
                match one(&text, &vars()) {
                    Ok(Value::String(result)) if !text.contains("${env.") => prop_assert_eq!(result, text),
                    Ok(_) => {}
                    Err(missing) => {
                        for name in missing {
                            let reference = format!("${{env.{name}");
                            prop_assert!(text.contains(&reference), "{} not in {:?}", reference, text);
                        }
                    }
                }
            }

            #[test]
            fn any_document_substitutes_without_panicking(text in text_of(YAML_FRAGMENTS)) {
                if let Ok(document) = serde_yaml_ng::from_str::<Value>(&text) {
                    let _ = substitute(document, &vars());
                }
            }

            #[test]
            fn type_conversion_takes_any_text(text in ".{0,24}") {
                let _ = convert(&text);
            }
        }
    }
}
