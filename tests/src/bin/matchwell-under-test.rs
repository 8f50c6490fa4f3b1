//! The `matchwell` command, for tests that run it as a process (see the library's header).

fn main() -> std::process::ExitCode {
    cli::command::main()
}
