//! Support for Matchwell's integration tests and benchmarks, and two binaries: `smtp-sink` (the
//! loopback SMTP server of `scripts/bench-digest.sh`) and `matchwell-under-test`, the same
//! `matchwell` command built inside this package, because cargo tells integration tests where
//! their own package's binaries are and no other's; the tests run it as a separate process to
//! kill it with SIGKILL, or to run two at once.

pub mod smtp_sink;
