//! An SMTP server on loopback for tests and benchmarks: it speaks enough of RFC 5321 for lettre
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps each message it accepted. A test may make
//! it refuse the next messages with a temporary failure, or hold every message from some point
//! on without answering, as a server does while the sender is killed mid-conversation.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Debug, Default)]
struct State {
    /// The messages accepted (answered 250), as received, dot-stuffing undone.
    accepted: Vec<Vec<u8>>,
    /// How many of the next messages to refuse with `451`.
    refuse: usize,
    /// Once this many are accepted, every further message is held unanswered.
    hold_after: Option<usize>,
    /// Messages held unanswered.
    held: usize,
    /// Connections accepted so far (each is numbered in order).
    connections: u64,
    /// Connections numbered from this on are never held.
    released_from: Option<u64>,
}

/// A running sink; it stops when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    port: u16,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Listens on a free loopback port.
    pub async fn start() -> std::io::Result<SmtpSink> {
        SmtpSink::bind(0).await
    }

    /// Listens on `port` of loopback.
    pub async fn bind(port: u16) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let (shared, notify) = (state.clone(), changed.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (shared, notify) = (shared.clone(), notify.clone());
                let number = {
                    let mut state = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    state.connections += 1;
                    state.connections
                };
                tokio::spawn(async move {
                    // A connection that breaks is the client's business.
                    let _ = converse(stream, number, &shared, &notify).await;
                });
            }
        });
        Ok(SmtpSink { port, state, changed, task })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `MATCHWELL_SMTP_URL` of this sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.state().accepted.clone()
    }

    /// How many messages were accepted so far.
    pub fn accepted(&self) -> usize {
        self.state().accepted.len()
    }

    /// How many messages are held unanswered.
    pub fn held(&self) -> usize {
        self.state().held
    }

    /// Refuses the next `count` messages with a temporary failure (`451`).
    pub fn refuse_next(&self, count: usize) {
        self.state().refuse = count;
    }

    /// Holds every message after the first `count` accepted ones without ever answering (until
    /// the client closes the connection).
    pub fn hold_after(&self, count: usize) {
        self.state().hold_after = Some(count);
    }

    /// Holds nothing on connections opened from now on; those opened before stay as they
    /// were, so that data a killed client wrote before it died, read late, is never taken as
    /// a message the client saw accepted.
    pub fn release_new_connections(&self) {
        let mut state = self.state();
        state.released_from = Some(state.connections + 1);
    }

    /// Waits until `done` holds of (accepted, held), or `timeout` passes; whether it held.
    pub async fn wait_until(&self, timeout: Duration, done: impl Fn(usize, usize) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            {
                let state = self.state();
                if done(state.accepted.len(), state.held) {
                    return true;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }
}

/// What the sink does with a message whose data has arrived.
enum Verdict {
    Accept,
    Refuse,
    Hold,
}

async fn converse(stream: TcpStream, number: u64, state: &Mutex<State>, changed: &Notify) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_ascii_uppercase();
        let verb = command.split(' ').next().unwrap_or_default();
        let reply: &[u8] = match verb {
            "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let message = read_data(&mut lines).await?;
                let verdict = {
                    let mut state = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let released = state.released_from.is_some_and(|from| number >= from);
                    let verdict = if !released && state.hold_after.is_some_and(|n| state.accepted.len() >= n) {
                        state.held += 1;
                        Verdict::Hold
                    } else if state.refuse > 0 {
                        state.refuse -= 1;
                        Verdict::Refuse
                    } else {
                        state.accepted.push(message);
                        Verdict::Accept
                    };
                    changed.notify_waiters();
                    verdict
                };
                match verdict {
                    Verdict::Accept => b"250 2.0.0 queued\r\n",
                    Verdict::Refuse => b"451 4.3.0 try again later\r\n",
                    Verdict::Hold => {
                        // No answer, ever: wait for the client to go away.
                        let mut rest = Vec::new();
                        let _ = tokio::io::AsyncReadExt::read_to_end(&mut lines, &mut rest).await;
                        return Ok(());
                    }
                }
            }
            _ => b"502 5.5.1 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The lines of a message up to the lone dot, with dot-stuffing undone.
async fn read_data(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> std::io::Result<Vec<u8>> {
    let mut message = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(message);
        }
        let unstuffed = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
        message.extend_from_slice(unstuffed);
    }
}
