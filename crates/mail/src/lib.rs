//! Matchwell's email. Events queue emails through the store in their own transaction; this
//! crate writes those emails ([`compose`]), delivers them ([`Mailer`]: SMTP, or `.eml` files in
//! the outbox when no SMTP server is configured) and runs the worker that drains the queue
//! ([`send_due`], [`run_worker`]).
//!
//! Invariants: nothing here is called from a request handler to send mail; only the worker
//! sends. A message's idempotency key names its file and its `Message-ID`, so a retry after a
//! crash overwrites the same file or is recognisable to the receiving server.

pub mod compose;
mod transport;
mod worker;

pub use transport::{DEFAULT_CONNECTIONS, Mailer};
pub use worker::{Execution, Sending, run_worker, send_due, try_execute_task, try_execute_task_at};
