//! A distribution's `WHEEL` tags: whether this interpreter supports them, and
//! the wheel file name they came from, which is how operators name packages.
//!
//! Support follows `packaging.tags.sys_tags()` for CPython on Linux, tested by
//! membership: `cp3X-cp3X{flags}`, `cp3Y-abi3` (Y ≤ X, not free-threaded),
//! `py3*-none` and `cp3X-none`; platforms `any`, `linux_<arch>`,
//! `manylinux_2_N_<arch>` up to the running glibc with its legacy aliases, and
//! `musllinux_1_N_<arch>` on musl.

use serde::Deserialize;

use crate::installed::Distribution;
use crate::native::platform::{Libc, glibc_pair};
use crate::native::target::Interpreter;

/// A distribution's `Tag:` lines, split into their three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    python: String,
    abi: String,
    platform: String,
}

impl Tag {
    fn parse(text: &str) -> Option<Tag> {
        let mut parts = text.trim().splitn(3, '-');
        Some(Tag {
            python: parts.next()?.to_string(),
            abi: parts.next()?.to_string(),
            platform: parts.next()?.to_string(),
        })
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

/// The tags of `WHEEL`, each dotted set expanded; empty when there is no
/// `WHEEL` file (legacy installs).
pub(crate) fn tags(distribution: &Distribution) -> Vec<Tag> {
    let Some(text) = distribution.small_file("WHEEL") else {
        return Vec::new();
    };
    let mut tags = Vec::new();
    for line in text.lines() {
        let Some(value) = line.strip_prefix("Tag:") else {
            continue;
        };
        let Some(tag) = Tag::parse(value) else {
            continue;
        };
        for python in tag.python.split('.') {
            for abi in tag.abi.split('.') {
                for platform in tag.platform.split('.') {
                    tags.push(Tag {
                        python: python.to_string(),
                        abi: abi.to_string(),
                        platform: platform.to_string(),
                    });
                }
            }
        }
    }
    tags
}

/// Whether `interpreter` would install a wheel with this tag.
pub(crate) fn supported(tag: &Tag, interpreter: &Interpreter) -> bool {
    python_supported(tag, interpreter) && platform_supported(&tag.platform, interpreter)
}

fn python_supported(tag: &Tag, interpreter: &Interpreter) -> bool {
    let (major, minor) = interpreter.python;
    let minor_of = |text: &str, prefix: &str| -> Option<u32> {
        let rest = text
            .strip_prefix(prefix)?
            .strip_prefix(&major.to_string())?;
        if rest.is_empty() {
            return Some(0);
        }
        rest.parse().ok()
    };
    let cpython_minor = minor_of(&tag.python, "cp");
    match tag.abi.as_str() {
        "none" => {
            cpython_minor == Some(minor) || minor_of(&tag.python, "py").is_some_and(|m| m <= minor)
        }
        "abi3" => !interpreter.free_threaded && cpython_minor.is_some_and(|m| m <= minor),
        abi => {
            // cp313 (or cp313t, cp313d): this interpreter's own ABI.
            let own = format!("cp{major}{minor}");
            cpython_minor == Some(minor)
                && abi.strip_prefix(&own).is_some_and(|flags| {
                    flags == interpreter.abi_flags
                        || (flags.is_empty() && interpreter.abi_flags == "d")
                })
        }
    }
}

fn platform_supported(platform: &str, interpreter: &Interpreter) -> bool {
    if platform == "any" {
        return true;
    }
    let arch = interpreter.target.arch.wheel();
    let Some(policy) = platform
        .strip_suffix(arch)
        .and_then(|p| p.strip_suffix('_'))
    else {
        return false;
    };
    let glibc = match &interpreter.target.libc {
        Some(Libc::Glibc(version)) => version.as_deref().and_then(glibc_pair),
        _ => None,
    };
    let musl = matches!(interpreter.target.libc, Some(Libc::Musl));
    let glibc_at_most = |wanted: (u32, u32)| glibc.is_some_and(|host| wanted <= host);
    match policy {
        "linux" => true,
        "manylinux1" => glibc_at_most((2, 5)),
        "manylinux2010" => glibc_at_most((2, 12)),
        "manylinux2014" => glibc_at_most((2, 17)),
        _ => {
            if let Some(version) = policy.strip_prefix("manylinux_") {
                return version
                    .split_once('_')
                    .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
                    .is_some_and(glibc_at_most);
            }
            // The musl version is not known; any musllinux tag may fit a musl host.
            musl && policy.starts_with("musllinux_1_")
        }
    }
}

#[derive(Deserialize)]
struct DirectUrl {
    url: String,
}

/// The wheel file a distribution was installed from: the name recorded in
/// `direct_url.json` when it was installed from a file (the deploy flow's
/// `pip install /packages/*.whl`), else rebuilt from the metadata directory
/// and the `WHEEL` tags (PEP 425 compressed tag sets).
pub(crate) fn file_name(distribution: &Distribution, tags: &[Tag]) -> String {
    let recorded = distribution
        .small_file("direct_url.json")
        .and_then(|text| serde_json::from_str::<DirectUrl>(&text).ok())
        .and_then(|direct| {
            let name = direct.url.rsplit('/').next()?.to_string();
            name.ends_with(".whl").then_some(name)
        });
    if let Some(name) = recorded {
        return name;
    }
    let stem = distribution.info_stem();
    if tags.is_empty() {
        return stem;
    }
    let set = |part: fn(&Tag) -> &str| {
        let mut values: Vec<&str> = tags.iter().map(part).collect();
        values.sort_unstable();
        values.dedup();
        values
    };
    let pythons = set(|tag| &tag.python);
    let abis = set(|tag| &tag.abi);
    let platforms = set(|tag| &tag.platform);
    if pythons.len() * abis.len() * platforms.len() == tags.len() {
        format!(
            "{stem}-{}-{}-{}.whl",
            pythons.join("."),
            abis.join("."),
            platforms.join(".")
        )
    } else {
        format!("{stem}-{}.whl", tags[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::platform::{Arch, Os, Target};

    fn interpreter(libc: Libc) -> Interpreter {
        Interpreter {
            target: Target {
                os: Os::Linux,
                arch: Arch::X86_64,
                identity: None,
                libc: Some(libc),
                python: Some("CPython 3.13".into()),
            },
            identity: Default::default(),
            python: (3, 13),
            abi_flags: String::new(),
            free_threaded: false,
            suffixes: Vec::new(),
        }
    }

    fn supports(tag: &str, libc: Libc) -> bool {
        supported(&Tag::parse(tag).unwrap(), &interpreter(libc))
    }

    #[test]
    fn tags_are_supported_as_pip_decides() {
        let glibc = || Libc::Glibc(Some("2.36".into()));
        for tag in [
            "cp313-cp313-manylinux_2_17_x86_64",
            "cp313-cp313-manylinux2014_x86_64",
            "cp36-abi3-manylinux_2_36_x86_64",
            "py3-none-any",
            "py312-none-any",
            "cp313-none-linux_x86_64",
        ] {
            assert!(supports(tag, glibc()), "{tag}");
        }
        for tag in [
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp313-cp313-manylinux_2_17_aarch64",
            "cp313-cp313-musllinux_1_2_x86_64",
            "cp313-cp313-manylinux_2_39_x86_64",
            "cp314-abi3-manylinux_2_17_x86_64",
            "cp313-cp313-win_amd64",
        ] {
            assert!(!supports(tag, glibc()), "{tag}");
        }
        assert!(supports("cp313-cp313-musllinux_1_2_x86_64", Libc::Musl));
        assert!(!supports("cp313-cp313-manylinux_2_17_x86_64", Libc::Musl));
    }

    #[test]
    fn wheel_names_are_rebuilt_from_compressed_tag_sets() {
        let dir = tempfile::tempdir().unwrap();
        let info = dir.path().join("pydantic_core-2.50.5.dist-info");
        let distribution = Distribution {
            name: "pydantic_core".into(),
            version: "2.50.5".into(),
            info_dir: info.clone(),
            requires_dist: Vec::new(),
            requires_python: None,
        };
        #[allow(clippy::disallowed_methods)] // a fixture in a temporary directory
        {
            std::fs::create_dir_all(&info).unwrap();
            std::fs::write(
                info.join("WHEEL"),
                "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_aarch64\nTag: cp311-cp311-manylinux2014_aarch64\n",
            )
            .unwrap();
        }
        let found = tags(&distribution);
        assert_eq!(
            file_name(&distribution, &found),
            "pydantic_core-2.50.5-cp311-cp311-manylinux2014_aarch64.manylinux_2_17_aarch64.whl"
        );
        #[allow(clippy::disallowed_methods)]
        std::fs::write(
            info.join("direct_url.json"),
            r#"{"url": "file:///packages/pydantic_core-2.50.5-cp311-cp311-manylinux_2_17_aarch64.whl"}"#,
        )
        .unwrap();
        assert_eq!(
            file_name(&distribution, &found),
            "pydantic_core-2.50.5-cp311-cp311-manylinux_2_17_aarch64.whl"
        );
    }
}
