//! A loopback SMTP server that accepts every message, for benchmarks: `smtp-sink PORT` listens
//! on 127.0.0.1:PORT and, when stopped with SIGTERM or Ctrl-C, prints how many messages it
//! accepted.

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> ExitCode {
    let Some(port) = std::env::args().nth(1).and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: smtp-sink PORT");
        return ExitCode::FAILURE;
    };
    let sink = match tests::smtp_sink::SmtpSink::bind(port).await {
        Ok(sink) => sink,
        Err(error) => {
            eprintln!("cannot listen on port {port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(mut terminate) = signal(SignalKind::terminate()) else { return ExitCode::FAILURE };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    println!("{}", sink.accepted());
    ExitCode::SUCCESS
}
