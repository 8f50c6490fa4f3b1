//! The email digest: for each member whose period ended, what is new (matches under their
//! aliases with the score and reasons the member's own view shows, reveals, connections,
//! introductions asked of it, responses and questions on its challenges, and new open
//! challenges that fit it), written from the templates `web/templates/mail/digest.{html,txt}`
//! and queued for the mail worker. A period's news is read once for every member (a few
//! queries by the time of each event), then digests are written in memory and each batch is
//! claimed and queued in one transaction (`Store::record_digests`), so two runs at once, or a
//! run after a crash, send each digest once. Nothing is sent when nothing is new. No request
//! sends a digest: `serve` runs this on a schedule, and `matchwell digest` once.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use chrono::{DateTime, Utc};
use domain::Catalogue;
use domain::digest::Frequency;
use hmac::{Hmac, Mac};
use matching::anonymity::{Anonymity, Snapshot};
use secrecy::ExposeSecret;
use sha2::Sha256;
use store::OrgId;
use store::Store;
use store::challenges::ChallengeRecord;
use store::digests::{DigestRecipient, PeriodNews};
use store::mail::NewEmail;
use store::organisations::ScoringRow;

use crate::config::Settings;
use crate::routes::matches::Shown;

/// Signs and opens the tokens of unsubscribe links: the account's public id and its HMAC under
/// a key derived from the server's secret, so a link works for its account only.
#[derive(Clone)]
pub struct UnsubscribeKey([u8; 32]);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(<secret>)")
    }
}

impl UnsubscribeKey {
    pub fn derive(secret: &[u8]) -> UnsubscribeKey {
        UnsubscribeKey(crate::keys::derive(secret, b"matchwell unsubscribe links"))
    }

    fn mac(&self, account: &str) -> Hmac<Sha256> {
        let mut mac = crate::keys::hmac(&self.0);
        mac.update(account.as_bytes());
        mac
    }

    /// The token of `account`'s unsubscribe link.
    pub fn sign(&self, account: &str) -> String {
        format!("{account}.{}", hex::encode(self.mac(account).finalize().into_bytes()))
    }

    /// The account a token was signed for, if it is one of ours.
    pub fn open(&self, token: &str) -> Option<String> {
        let (account, tag) = token.rsplit_once('.')?;
        let tag = hex::decode(tag).ok()?;
        self.mac(account).verify_slice(&tag).ok()?;
        Some(account.to_owned())
    }
}

/// One line of a digest: what, in words, and where to see it.
#[derive(Debug, Clone)]
pub struct Item {
    pub text: String,
    pub detail: String,
    pub link: String,
}

/// A part of a digest.
#[derive(Debug, Clone)]
pub struct Part {
    pub heading: &'static str,
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "mail/digest.html")]
struct Html<'a> {
    period: &'a str,
    parts: &'a [Part],
    settings: &'a str,
    unsubscribe: &'a str,
}

#[derive(Template)]
#[template(path = "mail/digest.txt", escape = "none")]
struct Text<'a> {
    period: &'a str,
    parts: &'a [Part],
    settings: &'a str,
    unsubscribe: &'a str,
}

/// What one run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Digests queued (or, in a dry run, that would be).
    pub queued: usize,
    /// Members with nothing new: nothing sent.
    pub empty: usize,
    /// Digests another run claimed first.
    pub elsewhere: usize,
    /// One line per digest queued: the frequency, the period and the subject (never the
    /// recipient's identity in logs; this goes to the operator's terminal).
    pub lines: Vec<String>,
}

/// Writes and queues digests.
#[derive(Debug)]
pub struct Digester {
    store: Store,
    catalogue: Arc<Catalogue>,
    anonymity: Arc<Anonymity>,
    public_url: String,
    key: UnsubscribeKey,
}

impl Digester {
    pub fn new(store: Store, catalogue: Arc<Catalogue>, anonymity: Arc<Anonymity>, settings: &Settings) -> Digester {
        Digester {
            key: UnsubscribeKey::derive(settings.jwt_secret.expose_secret().as_bytes()),
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
            store,
            catalogue,
            anonymity,
        }
    }

    /// Queues every digest whose period ended by `now` (daily and weekly), once; with
    /// `dry_run`, only says what it would queue. The news of a period is read for every member
    /// at once, and the digests are claimed and queued [`BATCH`] at a time.
    pub async fn run(&self, now: DateTime<Utc>, dry_run: bool) -> anyhow::Result<Report> {
        let mut report = Report::default();
        for frequency in [Frequency::Daily, Frequency::Weekly] {
            let Some(period) = frequency.last_period(now) else { continue };
            let recipients = self.store.digest_recipients(frequency, period.0).await?;
            if recipients.is_empty() {
                continue;
            }
            let shared = self.period_shared(period).await?;
            for chunk in recipients.chunks(BATCH) {
                let orgs: Vec<OrgId> = chunk.iter().map(DigestRecipient::organisation).collect();
                let news = self.store.digest_news(&orgs, period.0, period.1).await?;
                let rows = shared.scoring_rows(self, &orgs).await?;
                let mut batch = Vec::with_capacity(chunk.len());
                for recipient in chunk {
                    batch.push((
                        recipient.account_id,
                        self.compose(&shared, &news, &rows, recipient, frequency, period)?,
                    ));
                }
                // Queued for now, whatever `now` the periods were reckoned from.
                let claimed = if dry_run {
                    vec![true; batch.len()]
                } else {
                    self.store.record_digests(frequency, period, &batch, Utc::now()).await?
                };
                let verb = if dry_run { "would queue" } else { "queued" };
                for ((recipient, (_, email)), claimed) in chunk.iter().zip(&batch).zip(claimed) {
                    match (claimed, email) {
                        (false, _) => report.elsewhere += 1,
                        (true, Some(email)) => {
                            report.queued += 1;
                            report.lines.push(format!(
                                "{verb} {} {}: {} to {}",
                                frequency.as_str(),
                                period.0.date_naive(),
                                email.subject,
                                recipient.email
                            ));
                        }
                        (true, None) => report.empty += 1,
                    }
                }
            }
        }
        tracing::info!(
            queued = report.queued,
            empty = report.empty,
            elsewhere = report.elsewhere,
            dry_run,
            "digest run"
        );
        Ok(report)
    }

    /// What every digest of `period` shares: the anonymity index and the challenges posted.
    async fn period_shared(&self, (start, end): (DateTime<Utc>, DateTime<Utc>)) -> anyhow::Result<Shared> {
        let anonymity = self.anonymity.current(&self.store).await?;
        let in_use = matching::models::in_use(&self.store, &self.catalogue).await?;
        let mut challenges = Vec::new();
        for id in self.store.challenges_posted(start, end).await? {
            challenges.push(self.store.challenge(&id).await?);
        }
        let stories = self.store.stories_published_between(start, end).await?;
        Ok(Shared { anonymity, challenges, sector_share: in_use.sector_share, stories })
    }

    /// The digest of `recipient` for `period`, or `None` when nothing is new.
    fn compose(
        &self,
        shared: &Shared,
        period_news: &PeriodNews,
        rows: &HashMap<OrgId, ScoringRow>,
        recipient: &DigestRecipient,
        frequency: Frequency,
        (start, _): (DateTime<Utc>, DateTime<Utc>),
    ) -> anyhow::Result<Option<NewEmail>> {
        let org = recipient.organisation();
        let base = &self.public_url;
        let mut parts = Vec::new();
        if let Some(news) = period_news.news.get(&org) {
            // Matches, each as the member's own view shows it: alias, score and reasons.
            let anonymity = &shared.anonymity;
            let shown = Shown { catalogue: &self.catalogue, sector_weight_share: shared.sector_share };
            let item = |id: &String| -> Option<Item> {
                let view = period_news.views.get(&(org, id.clone()))?;
                let profile = anonymity.profile(org, view.counterpart, &view.counterpart_profile);
                let (score, _, reasons) = shown.vector(
                    anonymity.sectors_of(org),
                    view.score,
                    &view.compatibility,
                    &view.explanation,
                    &profile,
                );
                Some(Item {
                    text: format!("{}: {}% compatible", view.alias, (score.clamp(0.0, 1.0) * 100.0).round()),
                    detail: reasons.into_iter().take(3).collect::<Vec<_>>().join("; "),
                    link: format!("{base}/matches/{id}"),
                })
            };
            for (heading, ids) in [
                ("New matches", &news.new_matches),
                ("Introductions asked of you", &news.asked_of_you),
                ("They revealed themselves to you", &news.revealed_to_you),
                ("New connections", &news.connected),
            ] {
                let items: Vec<Item> = ids.iter().filter_map(&item).collect();
                if !items.is_empty() {
                    parts.push(Part { heading, items });
                }
            }
            for (heading, counts, what, anchor) in [
                ("Responses to your challenges", &news.responses, "response", "/responses"),
                ("Questions on your challenges", &news.questions, "question", "#forum"),
            ] {
                let items: Vec<Item> = counts
                    .iter()
                    .map(|(id, title, count)| Item {
                        text: title.clone(),
                        detail: format!("{count} new {what}{}", if *count == 1 { "" } else { "s" }),
                        link: format!("{base}/challenges/{id}{anchor}"),
                    })
                    .collect();
                if !items.is_empty() {
                    parts.push(Part { heading, items });
                }
            }
        }
        let fitting = self.fitting_challenges(org, &shared.challenges, rows);
        if !fitting.is_empty() {
            parts.push(Part { heading: "New challenges that fit you", items: fitting });
        }
        let stories: Vec<Item> = shared
            .stories
            .iter()
            .map(|story| Item {
                text: story.title.clone(),
                detail: story.names.as_ref().map(|[a, b]| format!("{a} and {b}")).unwrap_or_default(),
                link: format!("{base}/stories#story-{}", story.public_id),
            })
            .collect();
        if !stories.is_empty() {
            parts.push(Part { heading: "New success stories", items: stories });
        }
        if parts.is_empty() {
            return Ok(None);
        }
        let period = match frequency {
            Frequency::Daily => format!("{}", start.format("%-d %B %Y")),
            _ => format!("the week of {}", start.format("%-d %B %Y")),
        };
        let settings = format!("{base}/settings");
        let unsubscribe = format!("{base}/unsubscribe?token={}", self.key.sign(&recipient.account_public_id));
        let html = Html { period: &period, parts: &parts, settings: &settings, unsubscribe: &unsubscribe }.render()?;
        let text = Text { period: &period, parts: &parts, settings: &settings, unsubscribe: &unsubscribe }.render()?;
        Ok(Some(NewEmail {
            idempotency_key: format!(
                "digest-{}-{}-{}",
                recipient.account_public_id,
                frequency.as_str(),
                start.timestamp()
            ),
            recipient: recipient.email.clone(),
            subject: format!("What is new on Matchwell: {period}"),
            text_body: text,
            html_body: Some(html),
            list_unsubscribe: Some(unsubscribe),
        }))
    }

    /// Of the new open `challenges` of others, those that fit `org` well (fit of at least one
    /// half, by the scoring engine), best first, at most three.
    fn fitting_challenges(
        &self,
        org: OrgId,
        challenges: &[ChallengeRecord],
        rows: &HashMap<OrgId, ScoringRow>,
    ) -> Vec<Item> {
        let Some(reader) = rows.get(&org) else { return vec![] };
        let mut fitting: Vec<(f64, Item)> = challenges
            .iter()
            .filter(|record| record.poster != org)
            .filter_map(|record| {
                let poster = rows.get(&record.poster)?;
                let fit = crate::routes::challenges::fit(
                    &self.catalogue,
                    &record.challenge,
                    reader,
                    &reader.profile.sectors,
                    poster,
                );
                (fit >= 0.5).then(|| {
                    (
                        fit,
                        Item {
                            text: record.challenge.title.clone(),
                            detail: format!("{}% fit", (fit * 100.0).round()),
                            link: format!("{}/challenges/{}", self.public_url, record.id),
                        },
                    )
                })
            })
            .collect();
        fitting.sort_by(|a, b| b.0.total_cmp(&a.0));
        fitting.into_iter().take(3).map(|(_, item)| item).collect()
    }
}

/// How many digests are claimed and queued in one transaction.
const BATCH: usize = 200;

/// What every digest of a period shares, read once.
struct Shared {
    anonymity: Arc<Snapshot>,
    /// Open challenges posted in the period.
    challenges: Vec<ChallengeRecord>,
    /// The share of the score the `sectors` dimension carries in the model in use.
    sector_share: f64,
    /// Success stories published in the period (and published still).
    stories: Vec<store::stories::PublishedStory>,
}

impl Shared {
    /// The scoring rows that the challenge fit of `orgs` needs (none when no challenge was
    /// posted).
    async fn scoring_rows(&self, digester: &Digester, orgs: &[OrgId]) -> anyhow::Result<HashMap<OrgId, ScoringRow>> {
        if self.challenges.is_empty() {
            return Ok(HashMap::new());
        }
        let mut wanted: Vec<OrgId> = orgs.to_vec();
        wanted.extend(self.challenges.iter().map(|c| c.poster));
        wanted.sort_unstable();
        wanted.dedup();
        let rows = digester.store.scoring_rows_of(&wanted, &digester.catalogue.questionnaire).await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribe_token_opens_for_its_account_only() {
        let key = UnsubscribeKey::derive(b"a secret");
        let token = key.sign("account-1");
        assert_eq!(key.open(&token).as_deref(), Some("account-1"));
        assert_eq!(key.open(&token.replace("account-1", "account-2")), None, "another account");
        assert_eq!(UnsubscribeKey::derive(b"another secret").open(&token), None, "another server");
        assert_eq!(key.open("account-1"), None);
        assert_eq!(key.open("account-1.zz"), None);
    }
}
