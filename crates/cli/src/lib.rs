//! The `matchwell` command's subcommands as a library, so that the integration tests drive
//! them in-process. `main.rs` only parses arguments, sets up logging and prints.

pub mod bench;
pub mod demo;
pub mod ops;
pub mod report;
