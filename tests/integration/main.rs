//! The single integration-test binary.
//!
//! Modules:
//! - `cli`: golden cases in `tests/cmd/*.toml`, each a command line with its
//!   environment, expected exit code and exact stdout (trycmd).
//! - `codes`: every diagnostic code is declared once and documented in the README.

mod cli;
mod codes;
