//! Finds the run.yaml line of a place named by its path (`providers`, `eval`,
//! `0`, `config`, `url`), so that a refused setting can be shown where it is
//! written.
//!
//! serde_yaml_ng keeps no positions on values, only on errors: an error raised
//! while a node is being visited carries that node's position. So a walk along
//! the path raises an error at the key (or list item) it looks for, and the
//! error's location is the answer. It is the same parser that loaded the file,
//! so block and flow style, quoting and anchors are read exactly as they were
//! then. Only the nodes on the path are visited; everything else is skipped
//! without expanding aliases, so a file that loaded cannot make this slow.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The 1-based line of the deepest part of `path` that exists in `text`: the
/// setting itself, or, for one that is missing (a required field left out),
/// the mapping it belongs in. `None` when not even the first part is there.
pub(crate) fn nearest_line(text: &str, path: &[String]) -> Option<usize> {
    (1..=path.len())
        .rev()
        .find_map(|depth| line_of(text, &path[..depth]))
}

/// The 1-based line of the key (or list item) that `path` names, if it exists.
fn line_of(text: &str, path: &[String]) -> Option<usize> {
    let reached = Cell::new(false);
    let walk = Walk {
        path,
        reached: &reached,
    };
    // A walk always ends in an error: the one raised at the target, or the
    // parser's own when the path leaves the document.
    let err = walk
        .deserialize(serde_yaml_ng::Deserializer::from_str(text))
        .err()?;
    if reached.get() {
        err.location().map(|location| location.line())
    } else {
        None
    }
}

/// Visits the node that holds `path[0]` and goes on with the rest.
struct Walk<'p> {
    path: &'p [String],
    reached: &'p Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mapping or a list on the path")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((wanted, rest)) = self.path.split_first() else {
            return Err(de::Error::custom("empty path"));
        };
        let key = Key {
            wanted,
            last: rest.is_empty(),
            reached: self.reached,
        };
        while let Some(matched) = map.next_key_seed(key.clone())? {
            if matched {
                return map.next_value_seed(Walk {
                    path: rest,
                    reached: self.reached,
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom("not in the mapping"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((wanted, rest)) = self.path.split_first() else {
            return Err(de::Error::custom("empty path"));
        };
        let Ok(index) = wanted.parse::<usize>() else {
            return Err(de::Error::custom("not a list index"));
        };
        for _ in 0..index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom("the list is shorter"));
            }
        }
        if rest.is_empty() {
            seq.next_element_seed(Here(self.reached))?;
        } else {
            seq.next_element_seed(Walk {
                path: rest,
                reached: self.reached,
            })?;
        }
        Err(de::Error::custom("the list is shorter"))
    }
}

/// Reads one mapping key: whether it is the wanted one. The last key of the
/// path raises the error that marks its position.
#[derive(Clone)]
struct Key<'p> {
    wanted: &'p str,
    last: bool,
    reached: &'p Cell<bool>,
}

impl Key<'_> {
    fn compare<E: de::Error>(&self, key: &str) -> Result<bool, E> {
        if key != self.wanted {
            return Ok(false);
        }
        if self.last {
            self.reached.set(true);
            return Err(E::custom("found"));
        }
        Ok(true)
    }
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        self.compare(key)
    }

    // Plain keys such as `8080:` or `true:` reach Python as the text written.
    fn visit_u64<E: de::Error>(self, key: u64) -> Result<bool, E> {
        self.compare(&key.to_string())
    }

    fn visit_i64<E: de::Error>(self, key: i64) -> Result<bool, E> {
        self.compare(&key.to_string())
    }

    fn visit_bool<E: de::Error>(self, key: bool) -> Result<bool, E> {
        self.compare(if key { "True" } else { "False" })
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    // A complex key (a list or mapping) is never a setting's name; skipping
    // it keeps the search going through the keys after it.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// The list item the path ends at: whatever it is, visiting it fails (a
/// visitor that implements no `visit_*` refuses everything), and the failure
/// carries the item's position.
struct Here<'p>(&'p Cell<bool>);

impl<'de> DeserializeSeed<'de> for Here<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.0.set(true);
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Here<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("the list item the path ends at")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, path: &str) -> Option<usize> {
        let path: Vec<String> = path.split('.').map(String::from).collect();
        nearest_line(text, &path)
    }

    const BLOCK: &str = "\
version: 2
distro_name: t
providers:
  inference:
  - provider_id: a
    provider_type: remote::a
  eval:
  - provider_id: lmeval
    provider_type: remote::x
    config:
      url: http://x
      nested:
        items:
        - name: one
        - name: two
          size: 3
      8080: port
      true: yes
";

    #[test]
    fn block_style_paths_point_at_their_key() {
        assert_eq!(at(BLOCK, "providers.eval.0"), Some(8));
        assert_eq!(at(BLOCK, "providers.eval.0.config"), Some(10));
        assert_eq!(at(BLOCK, "providers.eval.0.config.url"), Some(11));
        assert_eq!(
            at(BLOCK, "providers.eval.0.config.nested.items.1"),
            Some(15)
        );
        assert_eq!(
            at(BLOCK, "providers.eval.0.config.nested.items.1.size"),
            Some(16)
        );
        assert_eq!(at(BLOCK, "providers.inference.0.provider_type"), Some(6));
        assert_eq!(at(BLOCK, "providers.eval.0.config.8080"), Some(17));
        assert_eq!(at(BLOCK, "providers.eval.0.config.True"), Some(18));
    }

    #[test]
    fn a_missing_setting_points_at_the_deepest_part_that_exists() {
        assert_eq!(at(BLOCK, "providers.eval.0.config.timeout"), Some(10));
        assert_eq!(
            at(BLOCK, "providers.eval.0.config.nested.items.7.name"),
            Some(13)
        );
        assert_eq!(at(BLOCK, "providers.eval.0.config.url.deeper"), Some(11));
        assert_eq!(
            at(BLOCK, "providers.eval.0.config.nested.function-after[x]"),
            Some(12)
        );
        assert_eq!(at(BLOCK, "nothing.here"), None);
        assert_eq!(at(BLOCK, ""), None);
        assert_eq!(nearest_line(BLOCK, &[]), None);
    }

    #[test]
    fn flow_style_and_quoted_keys_are_found() {
        let text = "distro_name: t\nproviders:\n  eval: [{provider_id: a, provider_type: x,\n    config: {\"url\": 8000,\n      items: [1, {b: 2}]}}]\n";
        assert_eq!(at(text, "providers.eval.0"), Some(3));
        assert_eq!(at(text, "providers.eval.0.config"), Some(4));
        assert_eq!(at(text, "providers.eval.0.config.url"), Some(4));
        assert_eq!(at(text, "providers.eval.0.config.items.1.b"), Some(5));
    }

    #[test]
    fn complex_keys_and_aliases_do_not_stop_the_search() {
        let text = "base: &base\n  url: x\nproviders:\n  eval:\n  - ? [a, b]\n    : 1\n    provider_id: a\n    config: *base\n";
        assert_eq!(at(text, "providers.eval.0.provider_id"), Some(7));
        // An alias is followed to where its value is written.
        assert_eq!(at(text, "providers.eval.0.config.url"), Some(2));
    }

    #[test]
    fn a_broken_document_is_read_up_to_its_error() {
        assert_eq!(at("providers: [\n", "providers"), Some(1));
        assert_eq!(at("providers: [\n", "providers.0.config"), Some(1));
        assert_eq!(
            at("providers: [\n  {a: 1}, {b: \n", "providers.0.a"),
            Some(2)
        );
        assert_eq!(
            at("providers: [\n  {a: 1}, {b: \n", "providers.1.b"),
            Some(2)
        );
        assert_eq!(at("", "providers"), None);
    }
}
