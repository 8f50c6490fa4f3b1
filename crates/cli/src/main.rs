//! The `matchwell` binary; everything it does is in the library (`command.rs`).

fn main() -> std::process::ExitCode {
    cli::command::main()
}
