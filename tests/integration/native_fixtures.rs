//! The environments of the native-code golden cases (`tests/cmd/native/`).
//!
//! Nothing binary is committed. `testdata/native/hello.c` is compiled with gcc
//! against the test interpreter's headers into a real extension module; each
//! case then installs the `pf_native` provider into its own directory (a
//! `sys.path` entry, as `pip install --target` lays it out, with a
//! `*.dist-info` whose `RECORD` lists the files) with a copy of that module:
//! as built, with `e_machine` patched to aarch64, cut in half, renamed for
//! CPython 3.11, replaced by a Git LFS pointer, replaced by a Mach-O file
//! that `object` writes, replaced by a FIFO, or with a dynamic segment that
//! claims 3 GiB in a sparse file that long; or with FIFOs in place of its
//! `*.dist-info` files. The real-wheel cases put the provider in front of a
//! directory of real foreign wheels that `scripts/setup-test-envs` installed
//! with `pip install --target --platform`. Everything lives in a temporary
//! directory, removed when the fixtures are dropped.

// Test fixtures are written into a temporary directory.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{native_wheels, repo};

/// `e_machine` of an ELF64 header, and aarch64's value.
const E_MACHINE: usize = 18;
const EM_AARCH64: u16 = 183;
/// Where an ELF64 header says its program headers are and how many.
const E_PHOFF: usize = 0x20;
const E_PHNUM: usize = 0x38;
const PT_DYNAMIC: u32 = 2;
/// What the dynamic segment of the `huge_dynamic_segment` case claims.
const CLAIMED_DYNAMIC_BYTES: u64 = 3 << 30;

/// Every case and the directories it puts on `PYTHONPATH`.
pub(crate) struct Fixtures {
    dir: tempfile::TempDir,
    cases: Vec<(&'static str, Vec<PathBuf>)>,
}

/// One file of a fixture distribution.
struct File<'a> {
    path: &'a str,
    bytes: Vec<u8>,
}

impl<'a> File<'a> {
    fn new(path: &'a str, bytes: impl Into<Vec<u8>>) -> Self {
        File {
            path,
            bytes: bytes.into(),
        }
    }
}

/// A distribution to install into a fixture's `sys.path` entry.
struct Dist<'a> {
    name: &'a str,
    tag: &'a str,
    requires: &'a [&'a str],
    requires_python: Option<&'a str>,
    files: Vec<File<'a>>,
    /// Sizes written into `RECORD` instead of the real ones.
    recorded_sizes: &'a [(&'a str, u64)],
}

impl<'a> Dist<'a> {
    fn new(name: &'a str, files: Vec<File<'a>>) -> Self {
        Dist {
            name,
            tag: "cp36-abi3-linux_x86_64",
            requires: &[],
            requires_python: None,
            files,
            recorded_sizes: &[],
        }
    }
}

/// `hello.c` compiled for the test interpreter.
fn compile_extension(venv: &Path, out: &Path) -> Vec<u8> {
    let include = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['include'])",
        ])
        .output()
        .expect("the test interpreter runs");
    let include = String::from_utf8(include.stdout).expect("utf-8");
    let status = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O2", "-I", include.trim(), "-o"])
        .arg(out)
        .arg(repo().join("testdata/native/hello.c"))
        .status()
        .expect("gcc runs");
    assert!(
        status.success(),
        "gcc could not build testdata/native/hello.c"
    );
    fs::read(out).expect("the built extension")
}

/// gcc with `args`, run in `dir`, sources from `testdata/native`.
fn gcc(dir: &Path, args: &[&str]) {
    let status = Command::new("gcc")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc {args:?} failed");
}

/// An extension linked against a stand-in library named `soname`, built with
/// `version_script` if given, and the directory that holds the library. With
/// `libc.so.6` and `glibc_2_99.map` it needs `GLIBC_2.99`; under a name of its
/// own, the library is one the loader does not find, since nothing puts that
/// directory on its search path.
fn linked_to_stand_in(dir: &Path, soname: &str, version_script: Option<&str>) -> Vec<u8> {
    let native = repo().join("testdata/native");
    let source = |name: &str| native.join(name).display().to_string();
    let mut library = vec![
        "-shared".to_string(),
        "-fPIC".to_string(),
        "-nostdlib".to_string(),
        format!("-Wl,-soname,{soname}"),
    ];
    library.extend(version_script.map(|script| format!("-Wl,--version-script={}", source(script))));
    library.extend([
        source("stand_in_library.c"),
        "-o".to_string(),
        soname.to_string(),
    ]);
    gcc(dir, &library.iter().map(String::as_str).collect::<Vec<_>>());
    let extension = format!("{soname}.ext.so");
    gcc(
        dir,
        &[
            "-shared",
            "-fPIC",
            &source("calls_stand_in_library.c"),
            &format!("./{soname}"),
            "-o",
            &extension,
        ],
    );
    fs::read(dir.join(extension)).expect("the built extension")
}

/// A copy of an ELF64 little-endian file claiming another machine.
fn with_machine(elf: &[u8], machine: u16) -> Vec<u8> {
    let mut patched = elf.to_vec();
    patched[E_MACHINE..E_MACHINE + 2].copy_from_slice(&machine.to_le_bytes());
    patched
}

/// A copy of an ELF64 little-endian file whose `PT_DYNAMIC` claims `bytes`
/// in the file and in memory.
fn with_dynamic_size(elf: &[u8], bytes: u64) -> Vec<u8> {
    let mut patched = elf.to_vec();
    let read = |at: usize, len: usize| {
        let mut value = [0u8; 8];
        value[..len].copy_from_slice(&elf[at..at + len]);
        u64::from_le_bytes(value) as usize
    };
    let table = read(E_PHOFF, 8);
    for index in 0..read(E_PHNUM, 2) {
        let header = table + index * 56;
        if read(header, 4) == PT_DYNAMIC as usize {
            // p_filesz, then p_memsz.
            patched[header + 32..header + 40].copy_from_slice(&bytes.to_le_bytes());
            patched[header + 40..header + 48].copy_from_slice(&bytes.to_le_bytes());
        }
    }
    patched
}

/// Replaces the file at `path` with a FIFO that nothing writes to.
fn replace_with_fifo(path: &Path) {
    fs::remove_file(path).expect("the file to replace");
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// A small arm64 Mach-O object, as a macOS wheel would carry.
fn mach_o() -> Vec<u8> {
    use object::write::Object;
    use object::{Architecture, BinaryFormat, Endianness};
    Object::new(
        BinaryFormat::MachO,
        Architecture::Aarch64,
        Endianness::Little,
    )
    .write()
    .expect("object writes Mach-O")
}

/// The `pf_native` provider's sources, its `__init__.py` starting with `imports`.
fn provider_files<'a>(imports: &str) -> Vec<File<'a>> {
    let source = |name: &str| {
        fs::read(repo().join("testdata/native/pf_native").join(name)).expect("provider source")
    };
    let mut init = imports.as_bytes().to_vec();
    init.extend(source("__init__.py"));
    vec![
        File::new("pf_native/__init__.py", init),
        File::new("pf_native/provider.py", source("provider.py")),
        File::new("pf_native/config.py", source("config.py")),
    ]
}

/// Installs `dist` into `site` with a `*.dist-info` as pip writes it.
fn install(site: &Path, dist: &Dist<'_>) {
    let info = format!("{}-1.0.dist-info", dist.name);
    let mut record = String::new();
    for file in &dist.files {
        let path = site.join(file.path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("fixture directory");
        fs::write(&path, &file.bytes).expect("fixture file");
        let size = dist
            .recorded_sizes
            .iter()
            .find(|(path, _)| *path == file.path)
            .map_or(file.bytes.len() as u64, |(_, size)| *size);
        record.push_str(&format!("{},sha256=fixture,{size}\n", file.path));
    }
    let info_dir = site.join(&info);
    fs::create_dir_all(&info_dir).expect("dist-info");
    let mut metadata = format!("Metadata-Version: 2.1\nName: {}\nVersion: 1.0\n", dist.name);
    if let Some(requires_python) = dist.requires_python {
        metadata.push_str(&format!("Requires-Python: {requires_python}\n"));
    }
    for requirement in dist.requires {
        metadata.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    metadata.push_str("\nA native-code fixture.\n");
    let top_level = dist.files[0].path.split('/').next().expect("a path");
    for (name, text) in [
        ("METADATA", metadata),
        (
            "WHEEL",
            format!(
                "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {}\n",
                dist.tag
            ),
        ),
        ("top_level.txt", format!("{top_level}\n")),
        ("INSTALLER", "pip\n".to_string()),
    ] {
        fs::write(info_dir.join(name), &text).expect("dist-info file");
        record.push_str(&format!("{info}/{name},sha256=fixture,{}\n", text.len()));
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    fs::write(info_dir.join("RECORD"), record).expect("RECORD");
}

impl Fixtures {
    pub(crate) fn build(venv: &Path) -> Fixtures {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path();
        let good = compile_extension(venv, &root.join("hello.so"));
        let half = good[..good.len() / 2].to_vec();
        let aarch64 = with_machine(&good, EM_AARCH64);
        let uses_extension = "from . import _hello  # noqa: F401\n";
        let with_extension = |name: &'static str, bytes: Vec<u8>| {
            let mut files = provider_files(uses_extension);
            files.push(File::new(name, bytes));
            files
        };
        let mut cases: Vec<(&'static str, Vec<PathBuf>)> = Vec::new();
        let mut site = |case: &'static str, dists: &[Dist<'_>], unowned: Vec<File<'_>>| {
            let site = root.join(case);
            for dist in dists {
                install(&site, dist);
            }
            for file in unowned {
                let path = site.join(file.path);
                fs::create_dir_all(path.parent().expect("a parent")).expect("fixture directory");
                fs::write(path, file.bytes).expect("fixture file");
            }
            cases.push((case, vec![site]));
        };
        site(
            "extension_loads",
            &[Dist::new(
                "pf_native",
                with_extension("pf_native/_hello.abi3.so", good.clone()),
            )],
            vec![],
        );
        site(
            "architecture_mismatch",
            &[Dist::new(
                "pf_native",
                with_extension("pf_native/_hello.abi3.so", aarch64.clone()),
            )],
            vec![],
        );
        site(
            "wrong_python",
            &[Dist::new(
                "pf_native",
                with_extension(
                    "pf_native/_hello.cpython-311-x86_64-linux-gnu.so",
                    good.clone(),
                ),
            )],
            vec![],
        );
        site(
            "truncated",
            &[Dist {
                recorded_sizes: &[("pf_native/_hello.abi3.so", good.len() as u64)],
                ..Dist::new(
                    "pf_native",
                    with_extension("pf_native/_hello.abi3.so", half),
                )
            }],
            vec![],
        );
        site(
            "git_lfs_pointer",
            &[Dist::new(
                "pf_native",
                with_extension(
                    "pf_native/_hello.abi3.so",
                    b"version https://git-lfs.github.com/spec/v1\noid sha256:0000\nsize 15616\n"
                        .to_vec(),
                ),
            )],
            vec![],
        );
        site(
            "macos_build",
            &[Dist::new(
                "pf_native",
                with_extension("pf_native/_hello.cpython-313-darwin.so", mach_o()),
            )],
            vec![],
        );
        site(
            "unowned_architecture_mismatch",
            &[],
            with_extension("pf_native/_hello.abi3.so", aarch64.clone()),
        );
        site(
            "bundled_library",
            &[
                Dist {
                    requires: &["pf-native-dep >= 1"],
                    ..Dist::new(
                        "pf_native",
                        provider_files("import pf_native_dep  # noqa: F401\n"),
                    )
                },
                Dist::new(
                    "pf_native_dep",
                    vec![
                        File::new("pf_native_dep/__init__.py", ""),
                        File::new("pf_native_dep.libs/libdep-1a2b3c4d.so", aarch64.clone()),
                    ],
                ),
            ],
            vec![],
        );
        site(
            "glibc_too_old",
            &[Dist::new(
                "pf_native",
                with_extension(
                    "pf_native/_hello.abi3.so",
                    linked_to_stand_in(root, "libc.so.6", Some("glibc_2_99.map")),
                ),
            )],
            vec![],
        );
        let needs_missing_library = linked_to_stand_in(root, "libpf_not_installed.so.1", None);
        site(
            "shared_library_missing",
            &[Dist::new(
                "pf_native",
                with_extension("pf_native/_hello.abi3.so", needs_missing_library.clone()),
            )],
            vec![],
        );
        // The provider imports only _hello; _later would fail when first used.
        let mut later = with_extension("pf_native/_hello.abi3.so", good.clone());
        later.push(File::new("pf_native/_later.abi3.so", needs_missing_library));
        site(
            "library_not_found_later",
            &[Dist::new("pf_native", later)],
            vec![],
        );
        let mut uncertain = with_extension("pf_native/_hello.abi3.so", good.clone());
        uncertain.push(File::new("pf_native/lib/libhelper.so.1", aarch64));
        site(
            "uncertain_findings",
            &[Dist {
                tag: "cp313-cp313-manylinux_2_17_aarch64",
                requires_python: Some("<3.12"),
                recorded_sizes: &[("pf_native/_hello.abi3.so", good.len() as u64 + 1)],
                ..Dist::new("pf_native", uncertain)
            }],
            vec![],
        );
        site(
            "fifo_extension",
            &[Dist::new(
                "pf_native",
                with_extension("pf_native/_hello.abi3.so", good.clone()),
            )],
            vec![],
        );
        replace_with_fifo(&root.join("fifo_extension/pf_native/_hello.abi3.so"));
        for (case, files) in [
            ("fifo_metadata", &["METADATA"][..]),
            (
                "fifo_dist_info",
                &["RECORD", "WHEEL", "direct_url.json"][..],
            ),
        ] {
            site(
                case,
                &[Dist::new(
                    "pf_native",
                    with_extension("pf_native/_hello.abi3.so", good.clone()),
                )],
                vec![],
            );
            let info = root.join(case).join("pf_native-1.0.dist-info");
            fs::write(info.join("direct_url.json"), "{}").expect("direct_url.json");
            for file in files {
                replace_with_fifo(&info.join(file));
            }
        }
        // Sparse: the segment's claim fits in the file, which holds a few kilobytes.
        let huge = with_dynamic_size(&good, CLAIMED_DYNAMIC_BYTES);
        let sparse_size = CLAIMED_DYNAMIC_BYTES + (256 << 20);
        site(
            "huge_dynamic_segment",
            &[Dist {
                recorded_sizes: &[("pf_native/_hello.abi3.so", sparse_size)],
                ..Dist::new(
                    "pf_native",
                    with_extension("pf_native/_hello.abi3.so", huge),
                )
            }],
            vec![],
        );
        fs::OpenOptions::new()
            .write(true)
            .open(root.join("huge_dynamic_segment/pf_native/_hello.abi3.so"))
            .and_then(|file| file.set_len(sparse_size))
            .expect("a sparse extension");
        // The same fault as JSON.
        cases.push((
            "architecture_mismatch_json",
            vec![root.join("architecture_mismatch")],
        ));
        let wheels = native_wheels();
        for (case, wheel) in [
            ("wheel_aarch64", "markupsafe-aarch64"),
            ("wheel_musllinux", "markupsafe-musllinux"),
            ("wheel_cp311", "markupsafe-cp311"),
            ("wheel_psutil_aarch64", "psutil-aarch64"),
            ("wheel_right_build", "markupsafe-x86_64"),
        ] {
            let site = root.join(case);
            install(
                &site,
                &Dist {
                    tag: "py3-none-any",
                    requires: &["markupsafe", "psutil"],
                    ..Dist::new(
                        "pf_native",
                        provider_files("import markupsafe, psutil  # noqa: F401\n"),
                    )
                },
            );
            cases.push((case, vec![site, wheels.join(wheel)]));
        }
        Fixtures { dir, cases }
    }

    /// The temporary directory every case lives in (`[FIXTURES]` in goldens).
    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Each case with its `PYTHONPATH`.
    pub(crate) fn cases(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        self.cases.iter().map(|(case, entries)| {
            let pythonpath = entries
                .iter()
                .map(|entry| entry.display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            (*case, pythonpath)
        })
    }
}
