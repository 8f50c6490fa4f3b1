//! The emails Matchwell sends, each with a plain-text and an HTML part. Every value that came
//! from a member is escaped in the HTML part.

use store::challenges::ChallengeConnection;
use store::mail::NewEmail;
use store::matches::{ConnectedParty, Connection};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(title: &str, paragraphs: &[String]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 36em\">\n<h1 style=\"font-size: 1.3em\">{}</h1>\n{body}\
         <p style=\"color: #555\">Matchwell: confidential introductions for health innovation.</p>\n</body></html>\n",
        escape(title),
        escape(title)
    )
}

/// The email that confirms an address: its link carries `token=<token>`. `attempt` names this
/// sign-up (each sign-up sends its own link).
pub fn verification(attempt: &str, recipient: &str, public_url: &str, token: &str) -> NewEmail {
    let link = format!("{}/verify?token={token}", public_url.trim_end_matches('/'));
    let subject = "Confirm your email for Matchwell".to_owned();
    NewEmail {
        idempotency_key: format!("verify-{attempt}"),
        recipient: recipient.to_owned(),
        text_body: format!(
            "Welcome to Matchwell.\n\nConfirm your email address by opening this link (valid for 48 hours) and \
             entering the password you chose when you signed up:\n\n{link}\n\n\
             Only the newest link we sent works. If you did not sign up, someone else may have tried to use your \
             address: ignore this email, or sign up yourself to claim it.\n"
        ),
        html_body: Some(html(
            &subject,
            &[
                "Welcome to Matchwell.".to_owned(),
                format!(
                    "<a href=\"{}\">Confirm your email address</a> with the password you chose when you signed up \
                     (the link is valid for 48 hours).",
                    escape(&link)
                ),
                "Only the newest link we sent works. If you did not sign up, someone else may have tried to use \
                 your address: ignore this email, or sign up yourself to claim it."
                    .to_owned(),
            ],
        )),
        subject,
        list_unsubscribe: None,
    }
}

/// The email with a password-reset link (`/reset-password?token=<token>`, valid for an hour).
pub fn password_reset(attempt: &str, recipient: &str, public_url: &str, token: &str) -> NewEmail {
    let link = format!("{}/reset-password?token={token}", public_url.trim_end_matches('/'));
    let subject = "Reset your Matchwell password".to_owned();
    NewEmail {
        idempotency_key: format!("reset-{attempt}"),
        recipient: recipient.to_owned(),
        text_body: format!(
            "Someone, perhaps you, asked to reset the password of your Matchwell account.\n\n\
             Choose a new password by opening this link (valid for one hour, once):\n\n{link}\n\n\
             Resetting logs you out everywhere. If you did not ask, ignore this email: your password stays as it is.\n"
        ),
        html_body: Some(html(
            &subject,
            &[
                "Someone, perhaps you, asked to reset the password of your Matchwell account.".to_owned(),
                format!(
                    "<a href=\"{}\">Choose a new password</a> (the link is valid for one hour, once).",
                    escape(&link)
                ),
                "Resetting logs you out everywhere. If you did not ask, ignore this email: your password stays as \
                 it is."
                    .to_owned(),
            ],
        )),
        subject,
        list_unsubscribe: None,
    }
}

/// Sent instead of a second registration for an address that already has an account, so that
/// registering does not tell anyone whether an address is known.
pub fn already_registered(attempt_id: &str, recipient: &str, public_url: &str) -> NewEmail {
    let login = format!("{}/login", public_url.trim_end_matches('/'));
    let subject = "Someone tried to sign up to Matchwell with your email".to_owned();
    NewEmail {
        idempotency_key: format!("already-registered-{attempt_id}"),
        recipient: recipient.to_owned(),
        text_body: format!(
            "Someone, perhaps you, tried to create a Matchwell account with this address, which already has one.\n\n\
             You can log in at {login}. If it was not you, no action is needed.\n"
        ),
        html_body: Some(html(
            &subject,
            &[
                "Someone, perhaps you, tried to create a Matchwell account with this address, which already has one."
                    .to_owned(),
                format!(
                    "You can <a href=\"{}\">log in here</a>. If it was not you, no action is needed.",
                    escape(&login)
                ),
            ],
        )),
        subject,
        list_unsubscribe: None,
    }
}

fn connected_to(me: &ConnectedParty, them: &ConnectedParty, match_id: &str, public_url: &str) -> NewEmail {
    let link = format!("{}/matches/{match_id}", public_url.trim_end_matches('/'));
    let subject = format!("You are connected with {}", them.name);
    let website = them.website.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
    NewEmail {
        idempotency_key: format!("connected-{match_id}-{}", me.public_id),
        recipient: me.email.clone(),
        text_body: format!(
            "Good news: you and {name}{website} have both chosen to reveal yourselves, so you are now connected.\n\n\
             You can reach them at {email}. See the match: {link}\n\n\
             Once you have talked, tell us how it went from the match page.\n",
            name = them.name,
            email = them.email,
        ),
        html_body: Some(html(
            &subject,
            &[
                format!(
                    "Good news: you and <strong>{}</strong>{} have both chosen to reveal yourselves, so you are now connected.",
                    escape(&them.name),
                    escape(&website)
                ),
                format!(
                    "You can reach them at <a href=\"mailto:{0}\">{0}</a>. <a href=\"{1}\">See the match</a>.",
                    escape(&them.email),
                    escape(&link)
                ),
                "Once you have talked, tell us how it went from the match page.".to_owned(),
            ],
        )),
        subject,
        list_unsubscribe: None,
    }
}

fn challenge_connected_to(
    me: &ConnectedParty,
    them: &ConnectedParty,
    connection: &ChallengeConnection,
    public_url: &str,
) -> NewEmail {
    let link = format!("{}/challenges/{}", public_url.trim_end_matches('/'), connection.challenge_id);
    let subject = format!("You are connected with {} about a challenge", them.name);
    let website = them.website.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
    NewEmail {
        idempotency_key: format!("challenge-connected-{}-{}", connection.response_id, me.public_id),
        recipient: me.email.clone(),
        text_body: format!(
            "Good news: you and {name}{website} have both revealed yourselves about the challenge \
             \u{201c}{title}\u{201d}, so you are now connected.\n\nYou can reach them at {email}. See the challenge: \
             {link}\n",
            name = them.name,
            title = connection.challenge_title,
            email = them.email,
        ),
        html_body: Some(html(
            &subject,
            &[
                format!(
                    "Good news: you and <strong>{}</strong>{} have both revealed yourselves about the challenge \
                     \u{201c}{}\u{201d}, so you are now connected.",
                    escape(&them.name),
                    escape(&website),
                    escape(&connection.challenge_title)
                ),
                format!(
                    "You can reach them at <a href=\"mailto:{0}\">{0}</a>. <a href=\"{1}\">See the challenge</a>.",
                    escape(&them.email),
                    escape(&link)
                ),
            ],
        )),
        subject,
        list_unsubscribe: None,
    }
}

/// One email to the poster and one to the responder of a response that connected.
pub fn challenge_connected(connection: &ChallengeConnection, public_url: &str) -> Vec<NewEmail> {
    let [poster, responder] = &connection.parties;
    vec![
        challenge_connected_to(poster, responder, connection, public_url),
        challenge_connected_to(responder, poster, connection, public_url),
    ]
}

/// Tells an organisation that another asked, from search, to be introduced to it. It says
/// nothing of who asked: the asker is a match under an alias until it reveals itself.
pub fn introduction_asked(match_id: &str, recipient: &str, public_url: &str) -> NewEmail {
    let link = format!("{}/matches/{match_id}", public_url.trim_end_matches('/'));
    let subject = "An organisation asked to be introduced to you".to_owned();
    NewEmail {
        idempotency_key: format!("asked-{match_id}"),
        recipient: recipient.to_owned(),
        text_body: format!(
            "An organisation found you in Matchwell's partner search and asked to be introduced.\n\n\
             It is among your matches now, as an anonymous profile with the reasons you may fit: {link}\n\n\
             Neither of you learns who the other is unless you both choose to reveal yourselves.\n"
        ),
        html_body: Some(html(
            &subject,
            &[
                "An organisation found you in Matchwell's partner search and asked to be introduced.".to_owned(),
                format!(
                    "It is among your matches now, as an anonymous profile with the reasons you may fit: \
                     <a href=\"{}\">see the match</a>.",
                    escape(&link)
                ),
                "Neither of you learns who the other is unless you both choose to reveal yourselves.".to_owned(),
            ],
        )),
        subject,
        list_unsubscribe: None,
    }
}

/// One email to each side of a new connection, naming the other.
pub fn connected(connection: &Connection, public_url: &str) -> Vec<NewEmail> {
    let [a, b] = &connection.parties;
    vec![connected_to(a, b, &connection.match_id, public_url), connected_to(b, a, &connection.match_id, public_url)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_text_is_escaped_in_html() {
        assert_eq!(escape("<b>\"A&B\"</b>'"), "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;&#39;");
        let party = |name: &str, id| ConnectedParty {
            organisation: store::OrgId(id),
            public_id: format!("public-{id}"),
            name: name.to_owned(),
            email: format!("{id}@example.org"),
            website: None,
        };
        let connection = Connection { match_id: "m1".into(), parties: [party("<script>", 1), party("Trust", 2)] };
        let emails = connected(&connection, "http://localhost:8080/");
        assert_eq!(emails.len(), 2);
        assert_eq!(emails[1].recipient, "2@example.org");
        let html = emails[1].html_body.as_deref().unwrap_or_default();
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
        assert!(emails[1].text_body.contains("http://localhost:8080/matches/m1"));
        assert_ne!(emails[0].idempotency_key, emails[1].idempotency_key);
    }

    #[test]
    fn the_verification_link_carries_the_token() {
        let email = verification("attempt", "ann@example.org", "http://127.0.0.1:8080", "abc123");
        assert!(email.text_body.contains("http://127.0.0.1:8080/verify?token=abc123"));
        assert!(email.html_body.unwrap_or_default().contains("token=abc123"));
        let reset = password_reset("attempt", "ann@example.org", "http://127.0.0.1:8080/", "def456");
        assert!(reset.text_body.contains("http://127.0.0.1:8080/reset-password?token=def456"));
        assert_ne!(reset.idempotency_key, verification("attempt", "", "", "").idempotency_key);
    }
}
