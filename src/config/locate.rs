//! Finds the run.yaml line of a place named by its path (`providers`, `eval`,
//! `0`, `config`, `url`), so that a refused setting can be shown where it is
//! written.
//!
//! The place is the one the server reads, as PyYAML builds the document (see
//! [`super::yaml`]): of a key written twice, the last; a key a mapping does
//! not write itself but merges in (`<<: *anchor`), where the anchor writes it.
//! A path is first resolved into hops through the file (which occurrence of a
//! key, which merge), then the line of its last hop is read.
//!
//! serde_yaml_ng keeps no positions on values, only on errors: an error raised
//! while a node is being visited carries that node's position. So a walk along
//! the hops raises an error at the key (or list item) it ends at, and the
//! error's location is the answer; resolving looks at one node per walk the
//! same way, without raising. It is the same parser that loaded the file, so
//! block and flow style, quoting and anchors are read exactly as they were
//! then. Only the nodes on the way are visited; everything else is skipped
//! without expanding aliases, so a file that loaded cannot make this slow.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The key PyYAML reads as a merge.
const MERGE_KEY: &str = "<<";

/// How deep merges may nest while a key is looked for in them.
const MERGE_DEPTH: usize = 16;

/// How many nodes one look-up may inspect: a file whose merges branch
/// without end gets a nearer line instead of a slow answer.
const INSPECTIONS: usize = 256;

/// The 1-based line of the deepest part of `path` that exists in `text`: the
/// setting itself, or, for one that is missing (a required field left out),
/// the mapping it belongs in. `None` when not even the first part is there.
pub(crate) fn nearest_line(text: &str, path: &[String]) -> Option<usize> {
    nearest(text, path).map(|(line, _)| line)
}

/// [`nearest_line`], and whether the whole of `path` is written.
pub(crate) fn nearest(text: &str, path: &[String]) -> Option<(usize, bool)> {
    let budget = Cell::new(INSPECTIONS);
    let mut hops = Vec::new();
    let mut found = None;
    for (depth, part) in path.iter().enumerate() {
        let Some(next) = resolve(text, &budget, &hops, part, 0) else {
            break;
        };
        hops = next;
        if let Some(line) = line_of(text, &hops) {
            found = Some((line, depth + 1 == path.len()));
        }
    }
    found
}

/// One step through the file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hop {
    /// The value of the `occurrence`-th pair (from 0) whose key is `key`.
    Key { key: String, occurrence: usize },
    /// The value of the `occurrence`-th merge key of a mapping or, with
    /// `item`, that item of its list of mappings.
    Merge {
        occurrence: usize,
        item: Option<usize>,
    },
    /// A list item.
    Index(usize),
}

/// What a node is, as far as resolving needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// A mapping's keys as written, in order (`<<` included).
    Mapping(Vec<String>),
    Sequence(usize),
    Scalar,
}

/// The hops to `part` from the node `hops` lead to, which the server reads
/// there: a list item, the last pair with that key, or where a merge brings
/// it from (a later merge key wins over an earlier one, an earlier mapping of
/// a merged list over a later one, as PyYAML flattens them).
fn resolve(
    text: &str,
    budget: &Cell<usize>,
    hops: &[Hop],
    part: &str,
    depth: usize,
) -> Option<Vec<Hop>> {
    let with = |hop: Hop| {
        let mut next = hops.to_vec();
        next.push(hop);
        next
    };
    match shape_of(text, budget, hops)? {
        Shape::Sequence(length) => {
            let index = part.parse::<usize>().ok().filter(|index| *index < length)?;
            Some(with(Hop::Index(index)))
        }
        Shape::Mapping(keys) => {
            let written = keys.iter().filter(|key| *key == part).count();
            if let Some(occurrence) = written.checked_sub(1) {
                return Some(with(Hop::Key {
                    key: part.to_string(),
                    occurrence,
                }));
            }
            if depth >= MERGE_DEPTH {
                return None;
            }
            let merges = keys.iter().filter(|key| *key == MERGE_KEY).count();
            (0..merges).rev().find_map(|occurrence| {
                let merged = with(Hop::Merge {
                    occurrence,
                    item: None,
                });
                match shape_of(text, budget, &merged)? {
                    Shape::Mapping(_) => resolve(text, budget, &merged, part, depth + 1),
                    Shape::Sequence(length) => (0..length).find_map(|item| {
                        let source = with(Hop::Merge {
                            occurrence,
                            item: Some(item),
                        });
                        resolve(text, budget, &source, part, depth + 1)
                    }),
                    Shape::Scalar => None,
                }
            })
        }
        Shape::Scalar => None,
    }
}

/// The shape of the node `hops` lead to, while the budget lasts.
fn shape_of(text: &str, budget: &Cell<usize>, hops: &[Hop]) -> Option<Shape> {
    budget.set(budget.get().checked_sub(1)?);
    let shape = RefCell::new(None);
    let walk = Walk {
        hops,
        end: End::Inspect(&shape),
    };
    let _ = walk.deserialize(serde_yaml_ng::Deserializer::from_str(text));
    shape.into_inner()
}

/// The 1-based line of the key (or list item) the last of `hops` names.
fn line_of(text: &str, hops: &[Hop]) -> Option<usize> {
    let reached = Cell::new(false);
    let walk = Walk {
        hops,
        end: End::Mark(&reached),
    };
    // A walk that marks always ends in an error: the one raised at the
    // target, or the parser's own when the hops leave the document.
    let err = walk
        .deserialize(serde_yaml_ng::Deserializer::from_str(text))
        .err()?;
    if reached.get() {
        err.location().map(|location| location.line())
    } else {
        None
    }
}

/// What a walk does where its hops end.
#[derive(Clone, Copy)]
enum End<'p> {
    /// Records the shape of the node reached.
    Inspect(&'p RefCell<Option<Shape>>),
    /// Raises an error at the last hop's key or item, whose position is the
    /// answer.
    Mark(&'p Cell<bool>),
}

/// Visits the node that holds `hops[0]` and goes on with the rest.
struct Walk<'p> {
    hops: &'p [Hop],
    end: End<'p>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match (self.hops.is_empty(), self.end) {
            (true, End::Inspect(shape)) => deserializer.deserialize_any(Inspect(shape)),
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mapping or a list on the path")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((hop, rest)) = self.hops.split_first() else {
            return Err(de::Error::custom("empty path"));
        };
        let (wanted, occurrence) = match hop {
            Hop::Key { key, occurrence } => (key.as_str(), *occurrence),
            Hop::Merge { occurrence, .. } => (MERGE_KEY, *occurrence),
            Hop::Index(_) => return Err(de::Error::custom("not a mapping")),
        };
        let mark = match (rest.is_empty(), hop, self.end) {
            (true, Hop::Key { .. }, End::Mark(reached)) => Some(reached),
            _ => None,
        };
        let mut seen = 0;
        loop {
            let key = Key {
                wanted,
                raise: mark.filter(|_| seen == occurrence),
            };
            match map.next_key_seed(key)? {
                None => return Err(de::Error::custom("not in the mapping")),
                Some(false) => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Some(true) if seen < occurrence => {
                    seen += 1;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Some(true) => {}
            }
            return match hop {
                Hop::Merge {
                    item: Some(item), ..
                } => map.next_value_seed(Item {
                    index: *item,
                    then: Walk {
                        hops: rest,
                        end: self.end,
                    },
                }),
                _ => map.next_value_seed(Walk {
                    hops: rest,
                    end: self.end,
                }),
            };
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let Some((Hop::Index(index), rest)) = self.hops.split_first() else {
            return Err(de::Error::custom("not a list"));
        };
        let then = Walk {
            hops: rest,
            end: self.end,
        };
        Item {
            index: *index,
            then,
        }
        .visit_seq(seq)
    }
}

/// Goes to the `index`-th item of a list and walks on from there; when the
/// walk ends there and marks, the item itself is marked.
struct Item<'p> {
    index: usize,
    then: Walk<'p>,
}

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list on the path")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom("the list is shorter"));
            }
        }
        match (self.then.hops.is_empty(), self.then.end) {
            (true, End::Mark(reached)) => {
                seq.next_element_seed(Here(reached))?;
            }
            _ => {
                seq.next_element_seed(self.then)?;
            }
        }
        Err(de::Error::custom("the list is shorter"))
    }
}

/// Reads one mapping key: whether it is the wanted one. With `raise`, the
/// wanted key raises the error that marks its position.
#[derive(Clone, Copy)]
struct Key<'p> {
    wanted: &'p str,
    raise: Option<&'p Cell<bool>>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        let text = deserializer.deserialize_any(KeyText(Some(self)))?;
        Ok(text.as_deref() == Some(self.wanted))
    }
}

/// A mapping key as Python's `str()` shows it (the text written, for plain
/// scalars such as `8080:` or `true:`); `None` for a complex key (a list or a
/// mapping), which is never a setting's name and is skipped. The error that
/// marks a key must be raised while it is being visited, to carry its
/// position.
struct KeyText<'p>(Option<Key<'p>>);

impl KeyText<'_> {
    fn text<E: de::Error>(self, text: String) -> Result<Option<String>, E> {
        match self.0 {
            Some(Key {
                wanted,
                raise: Some(reached),
            }) if text == wanted => {
                reached.set(true);
                Err(E::custom("found"))
            }
            _ => Ok(Some(text)),
        }
    }
}

impl<'de> Visitor<'de> for KeyText<'_> {
    type Value = Option<String>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        self.text(key.to_string())
    }

    fn visit_u64<E: de::Error>(self, key: u64) -> Result<Self::Value, E> {
        self.text(key.to_string())
    }

    fn visit_i64<E: de::Error>(self, key: i64) -> Result<Self::Value, E> {
        self.text(key.to_string())
    }

    fn visit_bool<E: de::Error>(self, key: bool) -> Result<Self::Value, E> {
        self.text(if key { "True" } else { "False" }.to_string())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Records the shape of the node it visits.
struct Inspect<'p>(&'p RefCell<Option<Shape>>);

impl<'de> Visitor<'de> for Inspect<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any node")
    }

    // The shape grows as the node is read, so that a document broken further
    // on is still resolved up to its error.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        *self.0.borrow_mut() = Some(Shape::Mapping(Vec::new()));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if let Some(Shape::Mapping(keys)) = self.0.borrow_mut().as_mut() {
                keys.push(key.unwrap_or_default());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.0.borrow_mut() = Some(Shape::Sequence(0));
        while seq.next_element_seed(Counted(self.0))?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess;
        let (_, contents) = data.variant::<IgnoredAny>()?;
        contents.newtype_variant_seed(Walk {
            hops: &[],
            end: End::Inspect(self.0),
        })
    }
}

impl Inspect<'_> {
    fn scalar<E>(self) -> Result<(), E> {
        *self.0.borrow_mut() = Some(Shape::Scalar);
        Ok(())
    }
}

/// Counts a list item for [`Inspect`] as soon as it starts.
struct Counted<'p>(&'p RefCell<Option<Shape>>);

impl<'de> DeserializeSeed<'de> for Counted<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if let Some(Shape::Sequence(length)) = self.0.borrow_mut().as_mut() {
            *length += 1;
        }
        deserializer.deserialize_ignored_any(IgnoredAny).map(|_| ())
    }
}

/// Reads a mapping key's text for [`Inspect`].
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(KeyText(None))
    }
}

/// The node the path ends at: whatever it is, visiting it fails (a visitor
/// that implements no `visit_*` refuses everything), and the failure carries
/// the node's position.
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
        formatter.write_str("the node the path ends at")
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
    fn of_a_key_written_twice_the_last_is_found() {
        let text = "providers:\n  eval:\n  - provider_id: a\n    config: {url: 1}\n    provider_id: b\n    config:\n      url: 2\n";
        assert_eq!(at(text, "providers.eval.0.provider_id"), Some(5));
        assert_eq!(at(text, "providers.eval.0.config.url"), Some(7));
    }

    #[test]
    fn a_merged_key_is_found_where_the_anchor_writes_it() {
        let text = "\
base: &base
  provider_type: remote::x
  config:
    url: a
other: &other
  provider_type: remote::y
  module: m
providers:
  eval:
  - <<: [*base, *other]
    provider_id: p
  - <<: *base
    <<: *other
    config: {url: b}
";
        assert_eq!(at(text, "providers.eval.0.provider_id"), Some(11));
        // An earlier mapping of a merged list wins over a later one.
        assert_eq!(at(text, "providers.eval.0.provider_type"), Some(2));
        assert_eq!(at(text, "providers.eval.0.module"), Some(7));
        assert_eq!(at(text, "providers.eval.0.config.url"), Some(4));
        // A later merge key wins over an earlier one; own keys over both.
        assert_eq!(at(text, "providers.eval.1.provider_type"), Some(6));
        assert_eq!(at(text, "providers.eval.1.config.url"), Some(14));
        assert_eq!(at(text, "providers.eval.1.missing"), Some(12));
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
