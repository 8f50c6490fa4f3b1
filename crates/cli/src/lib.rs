//! The `matchwell` command's subcommands as a library, so that the integration tests drive
//! them in-process. `main.rs` only parses arguments and prints.

pub mod bench;
