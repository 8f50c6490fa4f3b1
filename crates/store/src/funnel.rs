//! What the facilitators' funnel is counted from: per organisation, only its kind, sectors,
//! region, registration time and which stages it reached; per match, only counts. Nothing here
//! reads a name, an address or who was matched with whom.

use domain::funnel::{MatchFacts, OrgFacts};
use sea_orm::FromQueryResult;

use crate::organisations::kind;
use crate::{Store, StoreError, from_json, statement};

#[derive(FromQueryResult)]
struct FactsRow {
    kind: String,
    sectors: String,
    region: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    answers: i64,
    matched: i64,
    revealed: i64,
    connected: i64,
    met: i64,
    collaborating: i64,
    no_fit: i64,
}

#[derive(FromQueryResult)]
struct MatchRow {
    matches: i64,
    reveals: i64,
    connections: i64,
    met: i64,
    collaborating: i64,
    no_fit: i64,
}

const FACTS: &str = "SELECT o.kind, o.sectors, o.region, o.created_at, \
    (SELECT COUNT(*) FROM answers a WHERE a.organisation_id = o.id) AS answers, \
    (SELECT COUNT(*) FROM match_parties p WHERE p.organisation_id = o.id) AS matched, \
    (SELECT COUNT(*) FROM match_parties p WHERE p.organisation_id = o.id AND p.revealed_at IS NOT NULL) AS revealed, \
    (SELECT COUNT(*) FROM match_parties p JOIN matches m ON m.id = p.match_id \
      WHERE p.organisation_id = o.id AND m.connected_at IS NOT NULL) AS connected, \
    (SELECT COUNT(*) FROM match_parties p WHERE p.organisation_id = o.id AND p.outcome = 'met') AS met, \
    (SELECT COUNT(*) FROM match_parties p WHERE p.organisation_id = o.id AND p.outcome = 'collaborating') \
      AS collaborating, \
    (SELECT COUNT(*) FROM match_parties p WHERE p.organisation_id = o.id AND p.outcome = 'no_fit') AS no_fit \
    FROM organisations o";

/// A match's outcome counts once, whichever of its parties reported it (and twice if they
/// reported different ones).
const MATCHES: &str = "SELECT \
    (SELECT COUNT(*) FROM matches) AS matches, \
    (SELECT COUNT(*) FROM match_parties WHERE revealed_at IS NOT NULL) AS reveals, \
    (SELECT COUNT(*) FROM matches WHERE connected_at IS NOT NULL) AS connections, \
    (SELECT COUNT(DISTINCT match_id) FROM match_parties WHERE outcome = 'met') AS met, \
    (SELECT COUNT(DISTINCT match_id) FROM match_parties WHERE outcome = 'collaborating') AS collaborating, \
    (SELECT COUNT(DISTINCT match_id) FROM match_parties WHERE outcome = 'no_fit') AS no_fit";

impl Store {
    /// The funnel facts of every organisation. The questionnaire counts as answered from three
    /// quarters of its `question_count` questions on (members may leave out questions that do
    /// not apply to them).
    pub async fn funnel_facts(&self, question_count: usize) -> Result<(Vec<OrgFacts>, MatchFacts), StoreError> {
        let rows = FactsRow::find_by_statement(statement(self.backend(), FACTS, [])).all(&self.read).await?;
        let orgs = rows
            .into_iter()
            .map(|row| {
                let done = usize::try_from(row.answers).unwrap_or(0) * 4 >= question_count.max(1) * 3;
                Ok(OrgFacts {
                    kind: kind(&row.kind)?,
                    sectors: from_json(&row.sectors)?,
                    region: row.region,
                    registered_at: row.created_at,
                    reached: [
                        true,
                        done,
                        row.matched > 0,
                        row.revealed > 0,
                        row.connected > 0,
                        row.met > 0,
                        row.collaborating > 0,
                        row.no_fit > 0,
                    ],
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let m = MatchRow::find_by_statement(statement(self.backend(), MATCHES, []))
            .one(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let matches = MatchFacts {
            matches: count(m.matches),
            reveals: count(m.reveals),
            connections: count(m.connections),
            met: count(m.met),
            collaborating: count(m.collaborating),
            no_fit: count(m.no_fit),
        };
        Ok((orgs, matches))
    }
}
