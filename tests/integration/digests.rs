//! Email digests: what is new in a member's period, once per period however many runs, never an
//! unrevealed identity, nothing when nothing is new, and one-click unsubscribe.

use std::sync::Arc;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use tests::smtp_sink::SmtpSink;

use crate::helpers::{Member, TestApp, answers, on_every_backend};

/// A digest writer over the test app's database, as `serve` and `matchwell digest` make one.
pub(crate) fn digester(app: &TestApp) -> server::digests::Digester {
    let catalogue = Arc::new(domain::Catalogue::builtin().expect("catalogue"));
    let anonymity = Arc::new(matching::anonymity::Anonymity::new(catalogue.clone(), app.settings.k_anonymity));
    server::digests::Digester::new(app.store.clone(), catalogue, anonymity, &app.settings)
}

/// Two organisations matched today; the SME gets daily digests.
async fn matched_today(app: &TestApp) -> (Member, Member) {
    let sme = app.member("ann@acme-secret.example", "Acme Secret Ltd", "sme").await;
    let trust = app.member("bo@trust-secret.example", "Riverside Secret Trust", "health_org").await;
    let profile = json!({"website": "https://trust-secret.example", "description": "Riverside's private plans",
                         "capabilities_offered": ["clinical_evaluation"]});
    app.put("/api/v1/me/profile", &profile, &trust.token).await;
    for member in [&sme, &trust] {
        app.put("/api/v1/me/answers", &answers(|_, _| 0, "very"), &member.token).await;
    }
    app.put("/api/v1/me/digest", &json!({"frequency": "daily"}), &sme.token).await;
    app.score().await;
    (sme, trust)
}

#[tokio::test]
async fn a_digest_tells_what_is_new_once_with_both_parts_and_no_unrevealed_identity() {
    on_every_backend(async |app: TestApp| {
        let (sme, trust) = matched_today(&app).await;
        let tomorrow = Utc::now() + Duration::days(1);
        let dry = digester(&app).run(tomorrow, true).await.expect("dry run");
        assert_eq!(dry.queued, 1, "{:?}", dry.lines);
        assert_eq!(app.store.pending_emails().await.expect("store"), 0, "a dry run queues nothing");

        let report = digester(&app).run(tomorrow, false).await.expect("run");
        assert_eq!(report.queued, 1, "the SME's daily digest; the trust's week had nothing");
        let again = digester(&app).run(tomorrow, false).await.expect("run");
        assert_eq!(again.queued, 0, "a period is sent once");
        app.deliver_emails().await;
        let digests: Vec<String> =
            app.emails_to(&sme.email).into_iter().filter(|e| e.contains("What is new")).collect();
        assert_eq!(digests.len(), 1, "{:?}", app.emails_to(&sme.email));
        let message = &digests[0];
        assert!(message.contains("Content-Type: text/plain") && message.contains("Content-Type: text/html"));
        assert!(message.contains("List-Unsubscribe: <http://matchwell.test/unsubscribe?token="));
        assert!(message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        let matches: Value = app.get("/api/v1/matches", Some(&sme.token)).await.json().await.expect("json");
        let alias = matches["matches"][0]["alias"].as_str().expect("alias");
        let id = matches["matches"][0]["id"].as_str().expect("id");
        assert!(message.contains(alias) && message.contains(&format!("http://matchwell.test/matches/{id}")));
        assert!(message.contains("% compatible") && message.contains("http://matchwell.test/settings"));
        for secret in ["Riverside", "trust-secret", "private plans", trust.email.as_str()] {
            assert!(!message.contains(secret), "{secret} is in a digest before any reveal");
        }
        assert!(
            app.emails_to(&trust.email).iter().all(|e| !e.contains("What is new")),
            "the trust's weekly period had nothing new"
        );

        // The unsubscribe link: a page that asks, then one click stops digests.
        let start =
            message.find("http://matchwell.test/unsubscribe?token=").expect("link") + "http://matchwell.test".len();
        let link: String =
            message[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '>').collect();
        let page = app.get(&link, None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.expect("html").contains("Stop digest emails?"));
        let frequency: Value = app.get("/api/v1/me/digest", Some(&sme.token)).await.json().await.expect("json");
        assert_eq!(frequency["frequency"], "daily", "opening the link stops nothing");
        let stopped = app.client.post(app.url(&link)).body("List-Unsubscribe=One-Click").send().await.expect("sent");
        assert_eq!(stopped.status(), StatusCode::OK);
        let frequency: Value = app.get("/api/v1/me/digest", Some(&sme.token)).await.json().await.expect("json");
        assert_eq!(frequency["frequency"], "off");
        let forged = app.client.post(app.url(&link.replace("token=", "token=x"))).send().await.expect("sent");
        assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn two_runs_at_once_queue_each_digest_once_and_nothing_new_sends_nothing() {
    on_every_backend(async |app: TestApp| {
        let (sme, _trust) = matched_today(&app).await;
        let quiet = app.member("cy@quiet.example", "Quiet Ltd", "other").await;
        app.put("/api/v1/me/digest", &json!({"frequency": "daily"}), &quiet.token).await;
        let tomorrow = Utc::now() + Duration::days(1);
        let (first, second) = (digester(&app), digester(&app));
        let (a, b) = tokio::join!(first.run(tomorrow, false), second.run(tomorrow, false));
        let (a, b) = (a.expect("run"), b.expect("run"));
        assert_eq!(a.queued + b.queued, 1, "one digest, whichever run claimed it");
        app.deliver_emails().await;
        assert_eq!(app.emails_to(&sme.email).iter().filter(|e| e.contains("What is new")).count(), 1);
        assert!(app.emails_to(&quiet.email).iter().all(|e| !e.contains("What is new")), "nothing new, nothing sent");
        // The next day has nothing new for anyone.
        let later = digester(&app).run(tomorrow + Duration::days(1), false).await.expect("run");
        assert_eq!(later.queued, 0);
    })
    .await;
}

#[tokio::test]
async fn the_digest_command_says_what_it_would_send_and_then_sends_it() {
    on_every_backend(async |app: TestApp| {
        let (_sme, trust) = matched_today(&app).await;
        // A weekly member hears of last week: move the match's creation back into it.
        let week = domain::digest::Frequency::Weekly.last_period(Utc::now()).expect("a period");
        app.put("/api/v1/me/digest", &json!({"frequency": "weekly"}), &trust.token).await;
        let matches: Value = app.get("/api/v1/matches", Some(&trust.token)).await.json().await.expect("json");
        let id = matches["matches"][0]["id"].as_str().expect("id").to_owned();
        app.store.backdate_match_for_tests(&id, week.0 + Duration::hours(1)).await.expect("backdated");
        let dry = cli::ops::digest(&app.settings, true).await.expect("dry run");
        assert!(
            dry.lines.iter().any(|l| l.starts_with("would queue weekly") && l.contains(&trust.email)),
            "{:?}",
            dry.lines
        );
        let sent = cli::ops::digest(&app.settings, false).await.expect("run");
        assert!(sent.lines.iter().any(|l| l.starts_with("queued weekly")), "{:?}", sent.lines);
        // The command sends what it queued: no `serve` needs to run beside cron.
        assert_eq!(app.store.pending_emails().await.expect("store"), 0);
        assert_eq!(app.emails_to(&trust.email).iter().filter(|e| e.contains("What is new")).count(), 1);
        let again = cli::ops::digest(&app.settings, false).await.expect("run");
        assert!(again.lines.is_empty(), "{:?}", again.lines);
    })
    .await;
}

/// The secrets of `member` that no digest may carry: its name, website, description, contact
/// email and public ids.
async fn secrets_of(app: &TestApp, member: &Member) -> Vec<String> {
    let email = domain::EmailAddress::parse(&member.email).expect("email");
    let account = app.store.account_by_email(&email).await.expect("store").expect("account");
    let domain = member.email.split('@').nth(1).expect("a domain").to_owned();
    vec![member.name.clone(), member.email.clone(), domain, account.public_id, account.organisation_public_id]
}

/// A message as the sink received it, parsed: (recipient, subject, text part, HTML part,
/// List-Unsubscribe, List-Unsubscribe-Post, raw).
struct Received {
    to: String,
    subject: String,
    text: String,
    html: String,
    unsubscribe: Option<String>,
    one_click: Option<String>,
    raw: String,
}

fn parse(raw: &[u8]) -> Received {
    let message = mail_parser::MessageParser::default().parse(raw).expect("a message");
    assert_eq!((message.text_body.len(), message.html_body.len()), (1, 1), "one text and one HTML part");
    let is = |id: u32, subtype: &str| {
        use mail_parser::MimeHeaders;
        message.part(id).is_some_and(|part| part.is_content_type("text", subtype))
    };
    assert!(is(message.text_body[0], "plain") && is(message.html_body[0], "html"), "text/plain and text/html");
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_owned());
    Received {
        to: message.to().and_then(|to| to.first()).and_then(|a| a.address()).expect("a recipient").to_owned(),
        subject: message.subject().expect("a subject").to_owned(),
        text: message.body_text(0).expect("text").into_owned(),
        html: message.body_html(0).expect("html").into_owned(),
        unsubscribe: header("List-Unsubscribe"),
        one_click: header("List-Unsubscribe-Post"),
        raw: String::from_utf8_lossy(raw).into_owned(),
    }
}

#[tokio::test]
async fn digests_reach_an_smtp_server_with_both_parts_every_kind_of_news_and_no_unrevealed_identity() {
    on_every_backend(async |app: TestApp| {
        let (sme, trust) = matched_today(&app).await;
        let profile = json!({"website": "https://acme-secret.example", "description": "Acme's private plans",
                             "anonymous_summary": "A small team with a falls sensor", "sectors": ["ageing_frailty"],
                             "capabilities_offered": ["engineering_prototyping", "clinical_evaluation"]});
        assert_eq!(app.put("/api/v1/me/profile", &profile, &sme.token).await.status(), StatusCode::OK);
        app.put("/api/v1/me/digest", &json!({"frequency": "daily"}), &trust.token).await;
        // The trust posts a challenge that fits the SME; the SME responds and asks, anonymously.
        let deadline = (Utc::now() + Duration::days(30)).format("%Y-%m-%d").to_string();
        let challenge = json!({"title": "Preventing recurrent falls", "sectors": ["ageing_frailty"],
            "problem_statement": "One in three people over 65 falls each year, and many fall again.",
            "innovation_stage": "evidence", "capabilities_needed": ["engineering_prototyping"],
            "deadline": deadline});
        let posted = app.post("/api/v1/challenges", &challenge, Some(&trust.token)).await;
        assert_eq!(posted.status(), StatusCode::CREATED);
        let challenge_id = posted.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
        let seen: Value =
            app.get(&format!("/api/v1/challenges/{challenge_id}"), Some(&sme.token)).await.json().await.expect("json");
        assert!(seen["fit"].as_f64().expect("fit") >= 0.5, "the challenge fits the SME: {seen}");
        let response = json!({"summary": "We make a falls sensor", "stages": ["evidence"]});
        let path = format!("/api/v1/challenges/{challenge_id}");
        assert_eq!(app.post(&format!("{path}/responses"), &response, Some(&sme.token)).await.status(), 201);
        let question = json!({"text": "Which wards would trial it?"});
        assert_eq!(app.post(&format!("{path}/questions"), &question, Some(&sme.token)).await.status(), 201);
        // The SME reveals itself in the match; the trust does not.
        let mine: Value = app.get("/api/v1/matches", Some(&sme.token)).await.json().await.expect("json");
        let match_id = mine["matches"][0]["id"].as_str().expect("id").to_owned();
        let trust_alias = mine["matches"][0]["alias"].as_str().expect("alias").to_owned();
        let reveal = app.post(&format!("/api/v1/matches/{match_id}/reveal"), &json!({}), Some(&sme.token)).await;
        assert_eq!(reveal.status(), StatusCode::OK);
        let theirs: Value = app.get("/api/v1/matches", Some(&trust.token)).await.json().await.expect("json");
        let sme_alias = theirs["matches"][0]["alias"].as_str().expect("alias").to_owned();

        let sink = SmtpSink::start().await.expect("sink");
        let mailer =
            mail::Mailer::new(Some(&sink.url()), app.outbox.clone(), "noreply@matchwell.test").expect("mailer");
        let report = digester(&app).run(Utc::now() + Duration::days(1), false).await.expect("run");
        assert_eq!(report.queued, 2, "{:?}", report.lines);
        while mail::send_due(&app.store, &mailer).await.expect("sent") != mail::Sending::default() {}
        let received: Vec<Received> = sink.messages().iter().map(|raw| parse(raw)).collect();
        assert_eq!(received.len(), 2, "one digest each, nothing else");
        let to = |member: &Member| received.iter().find(|r| r.to == member.email).expect("a digest");
        let (to_sme, to_trust) = (to(&sme), to(&trust));
        for (message, news) in [
            (
                to_sme,
                vec![
                    "New matches",
                    &trust_alias,
                    "% compatible",
                    "New challenges that fit you",
                    "Preventing recurrent falls",
                    "% fit",
                ],
            ),
            (
                to_trust,
                vec![
                    "New matches",
                    "They revealed themselves to you",
                    &sme_alias,
                    "Responses to your challenges",
                    "1 new response",
                    "Questions on your challenges",
                    "1 new question",
                ],
            ),
        ] {
            assert!(message.subject.starts_with("What is new on Matchwell: "), "{}", message.subject);
            for part in [&message.text, &message.html] {
                for words in &news {
                    assert!(part.contains(words), "{words:?} missing from {part}");
                }
                assert!(part.contains("http://matchwell.test/settings"), "a link to the preferences");
            }
            assert!(message.text.contains(&format!("http://matchwell.test/matches/{match_id}")));
            assert!(message.html.contains(&format!("href=\"http://matchwell.test/matches/{match_id}\"")));
            // One-click unsubscribe: the header's address is the one in both parts.
            let link = message.unsubscribe.as_deref().expect("List-Unsubscribe");
            let link = link.trim_start_matches('<').trim_end_matches('>');
            assert!(link.starts_with("http://matchwell.test/unsubscribe?token="), "{link}");
            assert!(message.text.contains(link) && message.html.contains(link));
            assert_eq!(message.one_click.as_deref(), Some("List-Unsubscribe=One-Click"));
        }
        assert!(to_sme.text.contains(&format!("http://matchwell.test/challenges/{challenge_id}")));
        assert!(to_trust.text.contains(&format!("http://matchwell.test/challenges/{challenge_id}/responses")));
        // Nobody is named: not the unrevealed trust to the SME, and not even the revealed SME to
        // the trust (a digest shows aliases; the match page shows a revealed identity).
        for (message, other) in [(to_sme, &trust), (to_trust, &sme)] {
            let mut secrets = secrets_of(&app, other).await;
            secrets.push("private plans".to_owned());
            for secret in secrets {
                for (name, part) in [("raw", &message.raw), ("text", &message.text), ("html", &message.html)] {
                    assert!(!part.contains(&secret), "{secret} is in the {name} digest to {}", message.to);
                }
            }
        }

        // A mail client's one-click POST to the header's address stops the SME's digests.
        let link = to_sme.unsubscribe.as_deref().expect("header").trim_start_matches('<').trim_end_matches('>');
        let path = link.trim_start_matches("http://matchwell.test");
        let stopped = app.client.post(app.url(path)).body("List-Unsubscribe=One-Click").send().await.expect("sent");
        assert_eq!(stopped.status(), StatusCode::OK);
        let frequency: Value = app.get("/api/v1/me/digest", Some(&sme.token)).await.json().await.expect("json");
        assert_eq!(frequency["frequency"], "off");
        let frequency: Value = app.get("/api/v1/me/digest", Some(&trust.token)).await.json().await.expect("json");
        assert_eq!(frequency["frequency"], "daily", "the link is the SME's alone");
    })
    .await;
}

/// `count` demo organisations with matches made yesterday, every one on daily digests; the
/// recipients of the digests due now, as a dry run finds them.
pub(crate) async fn a_day_of_matches(app: &TestApp, count: usize) -> Vec<String> {
    let catalogue = domain::Catalogue::builtin().expect("catalogue");
    cli::demo::seed(&app.store, &catalogue, count, 7).await.expect("demo organisations");
    app.score().await;
    let yesterday = Utc::now() - Duration::days(1);
    app.store.everyone_daily_with_matches_made_at_for_tests(yesterday).await.expect("store");
    let dry = digester(app).run(Utc::now(), true).await.expect("dry run");
    let mut recipients: Vec<String> =
        dry.lines.iter().map(|line| line.rsplit(" to ").next().expect("a recipient").to_owned()).collect();
    recipients.sort();
    assert!(recipients.len() >= count / 2, "most members have news: {}", recipients.len());
    recipients
}

/// `matchwell digest` as a process of its own, over the test app's database, sending to `sink`.
fn digest_process(app: &TestApp, sink: &SmtpSink) -> tokio::process::Command {
    let mut command = crate::helpers::matchwell_process("digest");
    command
        .env("MATCHWELL_DATA_DIR", &app.settings.data_dir)
        .env("MATCHWELL_DATABASE_URL", &app.settings.database_url)
        .env("MATCHWELL_JWT_SECRET", secrecy::ExposeSecret::expose_secret(&app.settings.jwt_secret))
        .env("MATCHWELL_PUBLIC_URL", &app.settings.public_url)
        .env("MATCHWELL_K_ANONYMITY", app.settings.k_anonymity.to_string())
        .env("MATCHWELL_SMTP_URL", sink.url());
    command
}

/// The recipients of the messages `sink` accepted, sorted (a repeat shows twice).
fn recipients_of(sink: &SmtpSink) -> Vec<String> {
    let mut to: Vec<String> = sink.messages().iter().map(|raw| parse(raw).to).collect();
    to.sort();
    to
}

#[tokio::test]
async fn after_a_kill_9_in_the_middle_of_a_run_a_restart_sends_each_remaining_digest_once() {
    on_every_backend(async |app: TestApp| {
        let expected = a_day_of_matches(&app, 40).await;
        let sink = SmtpSink::start().await.expect("sink");
        // A third of the way through, the server stops answering: the process is killed while
        // messages are in flight, with others claimed and waiting.
        let first_part = expected.len() / 3;
        sink.hold_after(first_part);
        let mut first = digest_process(&app, &sink).spawn().expect("matchwell digest runs");
        let stalled =
            sink.wait_until(std::time::Duration::from_secs(120), |accepted, held| accepted == first_part && held > 0);
        assert!(stalled.await, "the run reached the held messages");
        // Every message the server accepted is recorded as sent before the kill.
        for _ in 0..200 {
            if app.store.sent_email_bodies().await.expect("store").len() == first_part {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(app.store.sent_email_bodies().await.expect("store").len(), first_part);
        first.start_kill().expect("SIGKILL");
        let status = first.wait().await.expect("the process ends");
        assert!(!status.success(), "killed: {status:?}");

        // The restart sends what was left: digests queued but not sent, and those whose claims
        // died with the process once their claim runs out (thirty seconds on). The dead process's
        // connections stay held: what it wrote before dying is never taken as accepted.
        sink.release_new_connections();
        let restart = digest_process(&app, &sink).output().await.expect("matchwell digest runs");
        assert!(restart.status.success(), "{}", String::from_utf8_lossy(&restart.stderr));
        let later = Utc::now() + store::mail::CLAIM + Duration::seconds(1);
        while mail::try_execute_task_at(&app.store, &app_mailer(&sink), later).await.expect("step")
            != mail::Execution::EmptyQueue
        {}
        assert_eq!(app.store.pending_emails().await.expect("store"), 0);
        assert_eq!(recipients_of(&sink), expected, "each digest once, none repeated");
    })
    .await;
}

#[tokio::test]
async fn two_digest_processes_at_once_send_each_digest_once() {
    on_every_backend(async |app: TestApp| {
        let expected = a_day_of_matches(&app, 40).await;
        let sink = SmtpSink::start().await.expect("sink");
        let (a, b) = tokio::join!(digest_process(&app, &sink).output(), digest_process(&app, &sink).output());
        let queued = |output: std::io::Result<std::process::Output>| {
            let output = output.expect("matchwell digest runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let last = stdout.lines().last().expect("a summary").to_owned();
            last.strip_prefix("queued ")
                .and_then(|l| l.split(' ').next())
                .expect("a count")
                .parse::<usize>()
                .expect("n")
        };
        assert_eq!(queued(a) + queued(b), expected.len(), "each digest queued by one process");
        assert_eq!(recipients_of(&sink), expected, "each digest sent once");
    })
    .await;
}

/// A mailer that sends to `sink`.
fn app_mailer(sink: &SmtpSink) -> mail::Mailer {
    mail::Mailer::new(Some(&sink.url()), std::env::temp_dir(), "noreply@matchwell.test").expect("mailer")
}
