//! The server's flavour: llama-stack, or ogx, the same project continued under
//! another name from 1.0 on (distributions `ogx` and `ogx-api`, packages `ogx`
//! and `ogx_api`, command `ogx run`).
//!
//! The names live here once, beside the probe's own table (`FLAVOURS` in
//! `probe/preflight_probe.py`); every fact that can differ between releases
//! (the API enum, the sections that hold providers, the command, the state
//! directory's variable, the server's settings) is read from the installed
//! code instead. What the code cannot say is kept here too: which releases
//! preflight supports, and what the move from llama-stack to ogx took away,
//! with what replaced it, read from llama-stack 0.7.3's and ogx's own
//! registries (the test below compares the tables with them).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) enum Flavour {
    #[serde(rename = "llama-stack")]
    LlamaStack,
    #[serde(rename = "ogx")]
    Ogx,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something a llama-stack 0.7 run.yaml may name that ogx no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Removal {
    pub(crate) name: &'static str,
    /// What to use in ogx instead, when something replaced it.
    pub(crate) replacement: Option<&'static str>,
}

impl Removal {
    /// What to do instead, for messages.
    pub(crate) fn what_replaced_it(self) -> &'static str {
        self.replacement.unwrap_or("nothing in ogx replaced it")
    }
}

/// What replaced llama-stack's safety and shields APIs in ogx.
const MODERATION: &str = "guardrails now run in the responses API: set moderation_endpoint (an OpenAI-compatible /v1/moderations endpoint) in the config of the inline::builtin responses provider";

/// The APIs of llama-stack 0.7.3 that ogx 1.0 and later do not have (eval,
/// scoring, datasetio and their tables went in 0.8, safety and shields in 1.0).
const REMOVED_APIS: &[Removal] = &[
    Removal {
        name: "safety",
        replacement: Some(MODERATION),
    },
    Removal {
        name: "shields",
        replacement: Some(MODERATION),
    },
    Removal {
        name: "eval",
        replacement: None,
    },
    Removal {
        name: "benchmarks",
        replacement: None,
    },
    Removal {
        name: "scoring",
        replacement: None,
    },
    Removal {
        name: "scoring_functions",
        replacement: None,
    },
    Removal {
        name: "datasetio",
        replacement: None,
    },
    Removal {
        name: "datasets",
        replacement: None,
    },
];

/// In-tree provider types of llama-stack 0.7.3, by API, that ogx removed from
/// APIs it kept (inline::transformers in 1.2; the other two by 1.0).
const REMOVED_PROVIDER_TYPES: &[(&str, Removal)] = &[
    (
        "inference",
        Removal {
            name: "inline::transformers",
            replacement: Some(
                "serve the model with a server of its own and use its remote provider (remote::vllm, remote::ollama, ...); inline::sentence-transformers still computes embeddings in-process",
            ),
        },
    ),
    (
        "vector_io",
        Removal {
            name: "inline::builtin",
            replacement: Some("use inline::faiss, which it was an alias of"),
        },
    ),
    (
        "vector_io",
        Removal {
            name: "inline::sqlite_vec",
            replacement: Some("use inline::sqlite-vec, the same provider under its current name"),
        },
    ),
];

impl Flavour {
    pub(crate) const ALL: [Flavour; 2] = [Flavour::LlamaStack, Flavour::Ogx];

    /// The distribution's name, as the report writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Flavour::LlamaStack => "llama-stack",
            Flavour::Ogx => "ogx",
        }
    }

    /// The top-level packages of its code: a provider that imports one of
    /// them was written for this flavour.
    pub(crate) fn packages(self) -> [&'static str; 2] {
        match self {
            Flavour::LlamaStack => ["llama_stack", "llama_stack_api"],
            Flavour::Ogx => ["ogx", "ogx_api"],
        }
    }

    /// The package that holds `ProviderSpec` and `Api`.
    pub(crate) fn api_package(self) -> &'static str {
        self.packages()[1]
    }

    /// The module whose `available_providers()` lists the in-tree providers of `api`.
    pub(crate) fn registry_module(self, api: &str) -> String {
        format!("{}.providers.registry.{api}", self.packages()[0])
    }

    /// The releases whose provider-loading rules preflight implements, tested
    /// against the real server (docs/real-server.md).
    pub(crate) fn supported_releases(self) -> &'static str {
        match self {
            Flavour::LlamaStack => "0.4.0 to 0.7.x",
            Flavour::Ogx => "1.0.0 to 1.5.x",
        }
    }

    /// Whether `version` is one of [`Flavour::supported_releases`].
    pub(crate) fn supports(self, version: &str) -> bool {
        let Some((major, minor)) = major_minor(version) else {
            return false;
        };
        match self {
            Flavour::LlamaStack => major == 0 && (4..=7).contains(&minor),
            Flavour::Ogx => major == 1 && minor <= 5,
        }
    }

    /// The flavour whose code `module` (a dotted import name) belongs to.
    pub(crate) fn owning(module: &str) -> Option<Flavour> {
        let top_level = module.split('.').next().unwrap_or(module);
        Flavour::ALL
            .into_iter()
            .find(|flavour| flavour.packages().contains(&top_level))
    }

    /// A llama-stack API that this flavour no longer has.
    pub(crate) fn removed_api(self, api: &str) -> Option<Removal> {
        (self == Flavour::Ogx)
            .then(|| REMOVED_APIS.iter().find(|removal| removal.name == api))
            .flatten()
            .copied()
    }

    /// A llama-stack in-tree provider type of `api` that this flavour no
    /// longer has.
    pub(crate) fn removed_provider_type(self, api: &str, provider_type: &str) -> Option<Removal> {
        (self == Flavour::Ogx)
            .then(|| {
                REMOVED_PROVIDER_TYPES
                    .iter()
                    .find(|(section, removal)| *section == api && removal.name == provider_type)
            })
            .flatten()
            .map(|(_, removal)| *removal)
    }
}

/// The major and minor numbers of a release's version (`1.5.0rc1`: 1, 5).
pub(crate) fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut numbers = version
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u32>);
    Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;
    use std::process::Command;

    use super::*;

    /// The APIs and in-tree provider types of the release installed for
    /// `python` (a variable `scripts/setup-test-envs` exports), by its own code.
    fn registry(
        variable: &str,
        core: &str,
    ) -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
        let python = std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
            panic!("{variable} is not set: run the tests through scripts/test, which builds the environments")
        });
        const LIST: &str = "import importlib, json, sys
core = sys.argv[1]
d = importlib.import_module(core + '.core.distribution')
types = {}
for api in d.providable_apis():
    try:
        registry = importlib.import_module(core + '.providers.registry.' + api.name.lower())
    except ImportError:  # the server leaves the API out too (ogx 1.0.4: container_runtime)
        continue
    types[api.value] = [spec.provider_type for spec in registry.available_providers()]
print(json.dumps([[api.value for api in d.Api], types]))";
        let output = Command::new(python)
            .args(["-B", "-P", "-c", LIST, core])
            .current_dir("/")
            .output()
            .expect("the test interpreter runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the listing is JSON")
    }

    /// The removal tables are exactly what the ogx releases lack of llama-stack
    /// 0.7.3's APIs and of the provider types of the APIs they kept (together:
    /// ogx 1.0.4 still has inference inline::transformers, 1.5.0 does not).
    #[test]
    fn the_removal_tables_match_the_real_registries() {
        let (old_apis, old_types) = registry("PREFLIGHT_PY_073", "llama_stack");
        let mut removed_apis = BTreeSet::new();
        let mut removed_types = BTreeSet::new();
        for variable in ["PREFLIGHT_PY_OGX10", "PREFLIGHT_PY_OGX15"] {
            let (apis, types) = registry(variable, "ogx");
            removed_apis.extend(old_apis.difference(&apis).cloned());
            for (api, old) in &old_types {
                if let Some(new) = types.get(api) {
                    removed_types
                        .extend(old.difference(new).map(|name| (api.clone(), name.clone())));
                }
            }
        }
        let tabled_apis: BTreeSet<String> = REMOVED_APIS
            .iter()
            .map(|removal| removal.name.to_string())
            .collect();
        let tabled_types: BTreeSet<(String, String)> = REMOVED_PROVIDER_TYPES
            .iter()
            .map(|(api, removal)| (api.to_string(), removal.name.to_string()))
            .collect();
        assert_eq!(removed_apis, tabled_apis);
        assert_eq!(removed_types, tabled_types);
    }

    #[test]
    fn each_flavour_supports_its_own_range_only() {
        let supported = |flavour: Flavour, version: &str| flavour.supports(version);
        assert!(supported(Flavour::LlamaStack, "0.4.0"));
        assert!(supported(Flavour::LlamaStack, "0.7.3"));
        assert!(!supported(Flavour::LlamaStack, "0.3.5"));
        assert!(!supported(Flavour::LlamaStack, "0.8.0"));
        assert!(supported(Flavour::Ogx, "1.0.0"));
        assert!(supported(Flavour::Ogx, "1.5.0rc1"));
        assert!(!supported(Flavour::Ogx, "0.8.0"));
        assert!(!supported(Flavour::Ogx, "1.6.0"));
        assert!(!supported(Flavour::Ogx, "2"));
    }

    #[test]
    fn a_module_is_owned_by_the_flavour_of_its_top_level_package() {
        assert_eq!(
            Flavour::owning("llama_stack_api.datatypes"),
            Some(Flavour::LlamaStack)
        );
        assert_eq!(Flavour::owning("ogx.core.stack"), Some(Flavour::Ogx));
        assert_eq!(Flavour::owning("ogxm"), None);
    }

    #[test]
    fn removals_are_known_to_ogx_only() {
        assert!(Flavour::Ogx.removed_api("eval").is_some());
        assert!(Flavour::LlamaStack.removed_api("eval").is_none());
        assert!(Flavour::Ogx.removed_api("inference").is_none());
        assert_eq!(
            Flavour::Ogx
                .removed_provider_type("vector_io", "inline::sqlite_vec")
                .map(|removal| removal.name),
            Some("inline::sqlite_vec")
        );
        assert!(
            Flavour::Ogx
                .removed_provider_type("inference", "inline::sqlite_vec")
                .is_none()
        );
    }
}
