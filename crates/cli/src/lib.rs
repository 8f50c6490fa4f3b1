//! The `matchwell` command's subcommands as a library, so that the integration tests drive
//! them in-process. `command.rs` parses arguments, sets up logging and prints; `main.rs` only calls it, so the
//! test package builds the same command as a binary of its own, to run it as a process.

pub mod bench;
pub mod command;
pub mod demo;
pub mod ops;
pub mod quality;
pub mod report;
