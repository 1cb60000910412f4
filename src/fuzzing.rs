//! Shared settings and inputs for the property tests of every parser.
//!
//! Each parser gets [`CASES`] generated inputs per property, from a fixed
//! seed (the same inputs on every run, so CI time is bounded and a failure
//! reproduces) and without persistence files (nothing is written into the
//! repository). Inputs mix arbitrary text with fragments of the formats
//! themselves, so that generated documents get past the first token.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Generated inputs per property.
pub(crate) const CASES: u32 = 512;

/// The configuration every property test uses.
pub(crate) fn config() -> Config {
    Config {
        cases: CASES,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5eed_0f9e_f116),
        ..Config::default()
    }
}

/// Text assembled from `fragments` and arbitrary characters.
pub(crate) fn text_of(fragments: &'static [&'static str]) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(fragments).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => "[ -~]{0,8}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Pieces of run.yaml and metadata documents, environment references and YAML's
/// trickier syntax (anchors, aliases, tags, flow collections, block scalars).
pub(crate) const YAML_FRAGMENTS: &[&str] = &[
    "distro_name: t\n",
    "image_name: t\n",
    "apis: [eval, inference]\n",
    "providers:\n",
    "  eval:\n",
    "  inference: []\n",
    "  - provider_id: ",
    "    provider_type: ",
    "    module: ",
    "    config:\n",
    "      url: ",
    "remote::x",
    "__disabled__",
    "${env.X}",
    "${env.X:=d}",
    "${env.X:+on}",
    "${env.",
    "${env.X:=",
    "${env.x}",
    "}",
    "~/",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!tag ",
    "? ",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "|\n",
    ">-\n",
    "'",
    "\"",
    "null",
    "true",
    "1_000",
    "1e400",
    "-0x1",
    "\n",
    "  ",
    "\t",
    "#",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "\u{feff}",
    "apiVersion: llamastack.io/v1alpha1\n",
    "kind: ProviderPackage\n",
    "metadata:\n  name: n\n  version: v\n  vendor: v\n",
    "spec:\n  packageName: p\n  providerType: remote::x\n  api: eval\n  wheelPath: w\n",
    "  configClass: c\n",
    "providerId: good\n",
    "api: eval\n",
];

/// Words the probe's documents use, as keys and as values.
const JSON_WORDS: &[&str] = &[
    "result",
    "ok",
    "error",
    "kind",
    "target",
    "exception",
    "sandbox",
    "denied",
    "programs",
    "changed",
    "returned",
    "value",
    "list",
    "offered",
    "spec",
    "fields",
    "class",
    "remote",
    "api",
    "provider_type",
    "module",
    "config_class",
    "implementation",
    "config",
    "schema",
    "entry_point",
    "has_entry_point",
    "is_class",
    "valid",
    "errors",
    "loc",
    "msg",
    "$type",
    "$repr",
    "eval",
    "remote::pf_good",
    "type",
    "message",
    "missing_module",
    "root_type",
    "root_message",
    "root_missing_module",
    "traceback",
    "llama_stack",
    "llama_stack_api",
    "import_failed",
    "get_provider_spec_raised",
    "spec_unreadable",
    "registry_failed",
    "unknown_provider_type",
    "probe_failed",
    "SystemExit",
    "ModuleNotFoundError",
    "",
];

/// A JSON value made of the probe's words, numbers and small containers.
pub(crate) fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        proptest::sample::select(JSON_WORDS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(JSON_WORDS), inner), 0..4)
                .prop_map(|pairs| {
                    Value::Object(
                        pairs
                            .into_iter()
                            .map(|(key, value)| (key.to_string(), value))
                            .collect(),
                    )
                }),
        ]
    })
}

/// One of `samples` (real documents) with up to five random edits: a value
/// anywhere replaced by a random one, or a key removed from an object.
pub(crate) fn mutated_json(samples: &'static [&'static str]) -> impl Strategy<Value = String> {
    let edits = proptest::collection::vec((any::<usize>(), any::<bool>(), json_value()), 0..6);
    (proptest::sample::select(samples), edits).prop_map(|(sample, edits)| {
        let mut document: serde_json::Value =
            serde_json::from_str(sample).expect("samples are JSON");
        for (at, remove, replacement) in edits {
            let count = node_count(&document);
            if let Some(node) = nth_node(&mut document, at % count) {
                match node {
                    serde_json::Value::Object(object) if remove && !object.is_empty() => {
                        let key = object.keys().nth(at % object.len()).cloned();
                        key.map(|key| object.remove(&key));
                    }
                    other => *other = replacement,
                }
            }
        }
        document.to_string()
    })
}

fn node_count(value: &serde_json::Value) -> usize {
    1 + match value {
        serde_json::Value::Array(items) => items.iter().map(node_count).sum(),
        serde_json::Value::Object(object) => object.values().map(node_count).sum(),
        _ => 0,
    }
}

/// The node at `index` in pre-order.
fn nth_node(value: &mut serde_json::Value, index: usize) -> Option<&mut serde_json::Value> {
    if index == 0 {
        return Some(value);
    }
    let mut rest = index - 1;
    let children: Vec<&mut serde_json::Value> = match value {
        serde_json::Value::Array(items) => items.iter_mut().collect(),
        serde_json::Value::Object(object) => object.values_mut().collect(),
        _ => return None,
    };
    for child in children {
        let size = node_count(child);
        if rest < size {
            return nth_node(child, rest);
        }
        rest -= size;
    }
    None
}

/// Renders `error` as a failed run, in text and JSON, the way a report would.
pub(crate) fn render(error: impl crate::diagnostics::PhaseError) -> String {
    let result = crate::results::PreflightResult::new("run.yaml".into())
        .failed(crate::diagnostics::Failure::new(None, error));
    crate::report::text::render(&result, false) + &crate::report::json::render(&result)
}
