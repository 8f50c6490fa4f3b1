//! Matchwell's integration tests: one binary, one module per surface.

mod bench;
