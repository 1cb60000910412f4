//! Builds run.yaml's document the way the server's loader does: PyYAML's
//! `safe_load` applies merge keys (`<<: *anchor`) and keeps the last value of
//! a key written twice, where serde_yaml_ng refuses both.
//!
//! The parser is still serde_yaml_ng's (libyaml's grammar, its alias and
//! nesting limits, its error positions); only the construction of mappings
//! follows PyYAML's `SafeConstructor`: the pairs a merge brings in come first,
//! in the order PyYAML flattens them (with a list of mappings, an earlier one
//! wins over a later one), then the mapping's own pairs, each assignment
//! replacing an earlier value of the same key in place. Where PyYAML refuses
//! what this accepts (a tag it has no constructor for, a list as a key, the
//! YAML 1.1 scalars it types differently), the server's own loader, run by the
//! probe, has the last word.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde_yaml_ng::value::{Tag, TaggedValue};
use serde_yaml_ng::{Mapping, Number, Value};

use super::env::key_text;

/// The key PyYAML reads as a merge.
const MERGE_KEY: &str = "<<";

/// A key written twice in one mapping: the server keeps the last value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateKey {
    /// In the server's notation: `providers.eval[0].provider_id`.
    pub(crate) path: String,
    /// The same place as [`super::locate`] takes it: keys, and list indices
    /// as written.
    pub(crate) parts: Vec<String>,
}

/// Parses `text` into the document PyYAML would build, with the keys written
/// more than once in a mapping (each place once, in document order).
pub(crate) fn parse(text: &str) -> Result<(Value, Vec<DuplicateKey>), serde_yaml_ng::Error> {
    let duplicates = RefCell::new(Vec::new());
    let document = Node {
        path: String::new(),
        parts: Vec::new(),
        duplicates: &duplicates,
    }
    .deserialize(serde_yaml_ng::Deserializer::from_str(text))?;
    let mut duplicates = duplicates.into_inner();
    // An anchor is replayed wherever it is aliased; report each place once.
    let mut seen = std::collections::HashSet::new();
    duplicates.retain(|duplicate: &DuplicateKey| seen.insert(duplicate.path.clone()));
    Ok((document, duplicates))
}

/// One node to build, and where it is.
struct Node<'a> {
    /// In the server's notation.
    path: String,
    parts: Vec<String>,
    duplicates: &'a RefCell<Vec<DuplicateKey>>,
}

impl Node<'_> {
    /// The node under this one's key `key` (its text) or list index.
    fn child(&self, step: Result<&str, usize>) -> Self {
        let (path, part) = match step {
            Ok(key) if self.path.is_empty() => (key.to_string(), key.to_string()),
            Ok(key) => (format!("{}.{key}", self.path), key.to_string()),
            Err(index) => (format!("{}[{index}]", self.path), index.to_string()),
        };
        let mut parts = self.parts.clone();
        parts.push(part);
        Node {
            path,
            parts,
            duplicates: self.duplicates,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    // Python integers have no size limit; beyond 64 bits the value only has
    // to stay a number.
    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Value, E> {
        Ok(Value::Number(Number::from(value as f64)))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Value, E> {
        Ok(Value::Number(Number::from(value as f64)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(Err(items.len())))? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut merged: Vec<(Value, Value)> = Vec::new();
        // Assignment keeps a key's first place and its last value, as a dict does.
        let mut own = Mapping::new();
        while let Some(key) = map.next_key_seed(self.child(Ok("?")))? {
            let child = self.child(Ok(&key_text(&key)));
            let (path, parts) = (child.path.clone(), child.parts.clone());
            let value = map.next_value_seed(child)?;
            if key.as_str() == Some(MERGE_KEY) {
                merged.extend(merge_pairs(value).map_err(de::Error::custom)?);
            } else if own.insert(key, value).is_some() {
                self.duplicates
                    .borrow_mut()
                    .push(DuplicateKey { path, parts });
            }
        }
        let mut mapping = Mapping::with_capacity(merged.len() + own.len());
        for (key, value) in merged.into_iter().chain(own) {
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, contents) = data.variant::<String>()?;
        let value = contents.newtype_variant_seed(self)?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

/// The pairs a merge key's value brings in, in PyYAML's order: a mapping's
/// own, or, for a list of mappings, the last one's first, so that assigning
/// them in turn lets an earlier mapping win.
fn merge_pairs(value: Value) -> Result<impl Iterator<Item = (Value, Value)>, String> {
    let sources = match value {
        Value::Mapping(mapping) => vec![mapping],
        Value::Sequence(items) => {
            let mut sources = items
                .into_iter()
                .map(|item| match item {
                    Value::Mapping(mapping) => Ok(mapping),
                    other => Err(format!(
                        "expected a mapping for merging, but found {}",
                        node_kind(&other)
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            sources.reverse();
            sources
        }
        other => {
            return Err(format!(
                "expected a mapping or list of mappings for merging, but found {}",
                node_kind(&other)
            ));
        }
    };
    Ok(sources.into_iter().flatten())
}

/// PyYAML's name for a node's kind, as its merge errors print it.
fn node_kind(value: &Value) -> &'static str {
    match value {
        Value::Sequence(_) => "sequence",
        Value::Mapping(_) => "mapping",
        _ => "scalar",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(value: &Value) -> Vec<String> {
        value
            .as_mapping()
            .expect("a mapping")
            .keys()
            .map(key_text)
            .collect()
    }

    #[test]
    fn a_key_written_twice_keeps_its_first_place_and_its_last_value() {
        let (document, duplicates) = parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(keys(&document), ["a", "b"]);
        assert_eq!(document["a"], Value::from(3));
        assert_eq!(
            duplicates,
            [DuplicateKey {
                path: "a".into(),
                parts: vec!["a".into()]
            }]
        );
    }

    #[test]
    fn merged_pairs_come_first_and_own_keys_win() {
        // As PyYAML: {'x': 3, 'y': 2, 'z': 0}.
        let (document, duplicates) =
            parse("base: &b {x: 1, y: 2}\nm: {z: 0, <<: *b, x: 3}\n").unwrap();
        assert_eq!(keys(&document["m"]), ["x", "y", "z"]);
        assert_eq!(document["m"]["x"], Value::from(3));
        assert!(duplicates.is_empty(), "{duplicates:?}");
    }

    #[test]
    fn in_a_list_of_merges_the_earlier_mapping_wins() {
        // As PyYAML: {'q': 3, 'p': 1, 'r': 0}.
        let (document, _) = parse("c: {<<: [{p: 1}, {p: 2, q: 3}], r: 0}\n").unwrap();
        assert_eq!(keys(&document["c"]), ["p", "q", "r"]);
        assert_eq!(document["c"]["p"], Value::from(1));
    }

    #[test]
    fn merges_nest_and_follow_aliases() {
        let text = "a: &a {k: 1}\nb: &b {<<: *a, l: 2}\nc:\n  <<: *b\n  m: 3\n";
        let (document, _) = parse(text).unwrap();
        assert_eq!(keys(&document["c"]), ["k", "l", "m"]);
    }

    #[test]
    fn what_pyyaml_cannot_merge_is_refused() {
        for text in ["a: {<<: 1}\n", "a: {<<: [{b: 1}, 2]}\n"] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("for merging, but found scalar"), "{err}");
        }
    }

    #[test]
    fn duplicates_in_an_aliased_anchor_are_reported_where_written() {
        let (_, duplicates) = parse("a: &a {k: 1, k: 2}\nb: *a\n").unwrap();
        let places: Vec<&str> = duplicates.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(places, ["a.k", "b.k"]);
    }

    #[test]
    fn scalars_and_tags_are_read_as_serde_yaml_ng_reads_them() {
        let text =
            "a: 1\nb: -2\nc: 1.5\nd: ~\ne: true\nf: !secret x\ng: 123456789012345678901234567890\n";
        let (document, _) = parse(text).unwrap();
        let expected: Value =
            serde_yaml_ng::from_str(&text.replace("g: 1234", "g: 1.234e29 #")).unwrap();
        for key in ["a", "b", "c", "d", "e", "f"] {
            assert_eq!(document[key], expected[key], "{key}");
        }
        assert!(document["g"].is_f64());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, YAML_FRAGMENTS, text_of};

        proptest! {
            #![proptest_config(fuzzing::config())]

            /// Without merge keys and repeated keys, the document is the one
            /// serde_yaml_ng builds; with them, this one still builds.
            #[test]
            fn the_document_is_serde_yaml_ngs_wherever_pyyaml_agrees(text in text_of(YAML_FRAGMENTS)) {
                let ours = parse(&text);
                match serde_yaml_ng::from_str::<Value>(&text) {
                    Ok(theirs) if !text.contains(MERGE_KEY) => {
                        let (document, duplicates) = ours.expect("serde_yaml_ng parsed it");
                        prop_assert!(duplicates.is_empty());
                        prop_assert_eq!(document, theirs);
                    }
                    // Built further, a broken document may still fail later on.
                    Err(err) if err.to_string().contains("duplicate entry") => {
                        prop_assert!(ours.map_or_else(
                            |err| !err.to_string().contains("duplicate entry"),
                            |(_, duplicates)| !duplicates.is_empty()
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
}
