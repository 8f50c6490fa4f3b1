//! Matchwell's integration tests: one binary, one module per surface. Each test that needs a
//! database runs on SQLite and, when `MATCHWELL_TEST_DATABASE_URL` is set, on PostgreSQL.

mod account_safety;
mod accounts;
mod anonymity;
mod bench;
mod browser;
mod challenges;
mod commands;
mod digests;
mod facilitators;
mod fleet;
mod helpers;
mod hygiene;
mod learning;
mod matches;
mod me;
mod operations;
mod pages;
mod platform;
mod rights;
mod search;
mod stories;
mod web;
