//! Embeds the handbook's page of every diagnostic code
//! (`docs/codes/<phase>/<leaf>.md`, the page of `preflight::<phase>::<leaf>`)
//! in the binary, for `llama-stack preflight explain CODE`: the pages are the
//! one source, so what `explain` prints is what the repository shows.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

#[allow(clippy::print_stdout)] // cargo reads a build script's instructions on stdout
fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let codes = manifest.join("docs/codes");
    println!("cargo:rerun-if-changed={}", codes.display());
    let mut pages = Vec::new();
    for phase in sorted_entries(&codes) {
        if !phase.is_dir() {
            continue;
        }
        for page in sorted_entries(&phase) {
            if page.extension().is_some_and(|ext| ext == "md") {
                let code = format!("preflight::{}::{}", name(&phase), stem(&page));
                pages.push((code, page));
            }
        }
    }
    let mut table = String::from("&[\n");
    for (code, page) in &pages {
        let _ = writeln!(table, "    ({code:?}, include_str!({:?})),", page.display());
    }
    table.push(']');
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("code_pages.rs");
    #[allow(clippy::disallowed_methods)] // a build script writes into OUT_DIR, never at run time
    fs::write(out, table).expect("OUT_DIR is writable");
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    entries
}

fn name(path: &Path) -> String {
    path.file_name()
        .expect("named")
        .to_string_lossy()
        .into_owned()
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("named")
        .to_string_lossy()
        .into_owned()
}
