//! Confidential matches: saving the engine's suggestions, each party's view, and what a party
//! can do (reveal, decline, report an outcome).
//!
//! Confidentiality lives here: a party's view carries the other side's anonymous profile
//! always, and its identity (name, website, description, contact email) only once that side
//! has revealed itself; the identity columns of an unrevealed side are never read.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, FromQueryResult,
    QueryFilter, QuerySelect, Set, Statement,
};

use crate::entities::{account, match_party, matches, organisation};
use crate::mail::{NewEmail, enqueue};
use crate::{OrgId, Store, StoreError, from_json, statement, to_json};

/// What a party did with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyStatus {
    Suggested,
    Revealed,
    Declined,
}

impl PartyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PartyStatus::Suggested => "suggested",
            PartyStatus::Revealed => "revealed",
            PartyStatus::Declined => "declined",
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<PartyStatus, StoreError> {
        match raw {
            "suggested" => Ok(PartyStatus::Suggested),
            "revealed" => Ok(PartyStatus::Revealed),
            "declined" => Ok(PartyStatus::Declined),
            _ => Err(StoreError::Corrupt("a match party's status")),
        }
    }
}

/// What came of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Met,
    Collaborating,
    NoFit,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Met, Outcome::Collaborating, Outcome::NoFit];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::Collaborating => "collaborating",
            Outcome::NoFit => "no_fit",
        }
    }

    pub fn parse(raw: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == raw)
    }
}

/// A pair the engine suggests, with everything its parties will be shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub low: OrgId,
    pub high: OrgId,
    pub score: f64,
    pub confidence: f64,
    pub compatibility: BTreeMap<String, f64>,
    /// Reasons phrased for `low`, then for `high`.
    pub explanation_low: Vec<String>,
    pub explanation_high: Vec<String>,
    /// The alias under which `low` appears to `high`, and `high` to `low`; used only when the
    /// match is new.
    pub alias_low: String,
    pub alias_high: String,
    /// The version of the scoring model that computed the figures.
    pub model_version: i64,
}

/// What saving suggestions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Saved {
    pub created: usize,
    pub updated: usize,
    /// Left out because one side already had as many open matches as allowed.
    pub capped: usize,
}

/// What the other side wrote for anonymous views. Its kind, region, size band, stage and
/// sectors are not here: they are shown only as its group in the anonymity index
/// (`domain::anonymity`, CONTRACT.md invariant 6), found by [`PartyView::counterpart`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterpartProfile {
    pub capabilities_offered: Vec<String>,
    pub capabilities_sought: Vec<String>,
    pub anonymous_summary: Option<String>,
}

/// Who the other side is; present only once it revealed itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub organisation_name: String,
    pub website: Option<String>,
    pub contact_email: String,
    pub description: Option<String>,
}

/// One party's view of a match.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyView {
    pub id: String,
    /// The other side's alias in this match.
    pub alias: String,
    pub score: f64,
    pub confidence: f64,
    pub compatibility: BTreeMap<String, f64>,
    pub explanation: Vec<String>,
    pub my_status: PartyStatus,
    /// Whether the other side revealed itself (a decline is never shown).
    pub their_revealed: bool,
    /// The other side's internal id: for finding its anonymous profile, never to be shown.
    pub counterpart: OrgId,
    pub counterpart_profile: CounterpartProfile,
    pub identity: Option<Identity>,
    pub connected: bool,
    pub my_outcome: Option<Outcome>,
    /// The other side asked for this introduction from search.
    pub asked_by_them: bool,
    /// The caller asked for it.
    pub asked_by_me: bool,
}

/// Both sides of a connection that just happened, for the emails that announce it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub match_id: String,
    pub parties: [ConnectedParty; 2],
}

/// One side of a new connection.
#[derive(Clone)]
pub struct ConnectedParty {
    pub organisation: OrgId,
    /// The organisation's public id (for idempotency keys, which become Message-IDs).
    pub public_id: String,
    pub name: String,
    pub email: String,
    pub website: Option<String>,
}

impl std::fmt::Debug for ConnectedParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectedParty").field("organisation", &self.organisation).finish_non_exhaustive()
    }
}

/// The version of a match list (see [`Store::matches_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct ListVersion {
    pub list: i64,
    pub population: i64,
}

/// What a reveal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revealed {
    /// This reveal completed the pair: both sides are now connected (true exactly once).
    pub connected_now: bool,
    /// The other party (whose view of the match changed).
    pub other: OrgId,
}

#[derive(Debug, FromQueryResult)]
struct OpenCount {
    organisation_id: i64,
    open: i64,
}

/// One row of a party's view: the other side's identity columns are selected only when it
/// has revealed itself and the caller has not declined, so an unrevealed identity never leaves
/// the database.
#[derive(Debug, FromQueryResult)]
struct ViewRow {
    viewer_id: i64,
    id: String,
    score: f64,
    confidence: f64,
    compatibility: String,
    connected_at: Option<DateTime<Utc>>,
    asked_by: Option<i64>,
    my_status: String,
    explanation: String,
    outcome: Option<String>,
    alias: String,
    their_status: String,
    counterpart_id: i64,
    capabilities_offered: String,
    capabilities_sought: String,
    anonymous_summary: Option<String>,
    identity_name: Option<String>,
    identity_website: Option<String>,
    identity_description: Option<String>,
    identity_email: Option<String>,
}

const VIEW: &str = "SELECT mine.organisation_id AS viewer_id, m.id, m.score, m.confidence, m.compatibility, m.connected_at, m.asked_by, \
       mine.status AS my_status, mine.explanation, mine.outcome, theirs.alias, theirs.status AS their_status, \
       theirs.organisation_id AS counterpart_id, o.capabilities_offered, o.capabilities_sought, o.anonymous_summary, \
       CASE WHEN theirs.status = 'revealed' AND mine.status <> 'declined' THEN o.name END AS identity_name, \
       CASE WHEN theirs.status = 'revealed' AND mine.status <> 'declined' THEN o.website END AS identity_website, \
       CASE WHEN theirs.status = 'revealed' AND mine.status <> 'declined' THEN o.description END \
            AS identity_description, \
       CASE WHEN theirs.status = 'revealed' AND mine.status <> 'declined' THEN a.email END AS identity_email \
  FROM match_parties mine \
  JOIN matches m ON m.id = mine.match_id \
  JOIN match_parties theirs ON theirs.match_id = mine.match_id AND theirs.organisation_id <> mine.organisation_id \
  JOIN organisations o ON o.id = theirs.organisation_id \
  LEFT JOIN accounts a ON a.organisation_id = o.id \
 WHERE mine.status <> 'declined' AND mine.organisation_id = ?";

/// [`VIEW`] without the viewer: each match as each party that has not declined it sees it.
pub(crate) const VIEW_OF_EVERY_PARTY: &str = VIEW.split_at(VIEW.len() - " AND mine.organisation_id = ?".len()).0;

impl TryFrom<ViewRow> for PartyView {
    type Error = StoreError;

    fn try_from(row: ViewRow) -> Result<PartyView, StoreError> {
        let their_revealed = PartyStatus::parse(&row.their_status)? == PartyStatus::Revealed;
        let my_status = PartyStatus::parse(&row.my_status)?;
        let identity =
            match (their_revealed && my_status != PartyStatus::Declined, row.identity_name, row.identity_email) {
                (true, Some(organisation_name), Some(contact_email)) => Some(Identity {
                    organisation_name,
                    website: row.identity_website,
                    contact_email,
                    description: row.identity_description,
                }),
                _ => None,
            };
        Ok(PartyView {
            id: row.id,
            alias: row.alias,
            score: row.score,
            confidence: row.confidence,
            compatibility: from_json(&row.compatibility)?,
            explanation: from_json(&row.explanation)?,
            my_status,
            their_revealed,
            asked_by_them: row.asked_by == Some(row.counterpart_id),
            asked_by_me: row.asked_by.is_some_and(|a| a != row.counterpart_id),
            counterpart: OrgId(row.counterpart_id),
            counterpart_profile: CounterpartProfile {
                capabilities_offered: from_json(&row.capabilities_offered)?,
                capabilities_sought: from_json(&row.capabilities_sought)?,
                anonymous_summary: row.anonymous_summary,
            },
            identity,
            connected: row.connected_at.is_some(),
            my_outcome: match row.outcome.as_deref() {
                None => None,
                Some(raw) => Some(Outcome::parse(raw).ok_or(StoreError::Corrupt("a match outcome"))?),
            },
        })
    }
}

impl Store {
    /// Saves the engine's suggestions, best first: an existing pair keeps its state and gets
    /// the new figures; a new pair becomes a match unless one side already has `cap` open
    /// matches. A party's open matches are those it has not declined itself, so the other
    /// side's decline frees nothing that the other side could notice.
    pub async fn save_candidates(
        &self,
        candidates: Vec<Candidate>,
        cap: usize,
        now: DateTime<Utc>,
    ) -> Result<Saved, StoreError> {
        self.save_candidates_fenced(None, candidates, cap, now).await
    }

    /// [`Store::save_candidates`] by the holder of a lease, `(name, holder)`: saves nothing
    /// ([`StoreError::State`]) unless `holder` still holds it, so that a process whose lease ran
    /// out while it scored (another may be scoring now) never saves over the other's work. On
    /// PostgreSQL the lease's row stays locked until the save commits, so nobody can take the
    /// lease over in the middle; on SQLite the save holds the one write lock.
    pub async fn save_candidates_holding(
        &self,
        lease: (&str, &str),
        candidates: Vec<Candidate>,
        cap: usize,
        now: DateTime<Utc>,
    ) -> Result<Saved, StoreError> {
        self.save_candidates_fenced(Some(lease), candidates, cap, now).await
    }

    async fn save_candidates_fenced(
        &self,
        lease: Option<(&str, &str)>,
        mut candidates: Vec<Candidate>,
        cap: usize,
        now: DateTime<Utc>,
    ) -> Result<Saved, StoreError> {
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let txn = self.write().await?;
        if let Some((name, holder)) = lease
            && !crate::leases::holds(&txn, name, holder, now).await?
        {
            return Err(StoreError::State("the lease ran out before the save"));
        }
        let mut open = open_counts(&txn, self.backend()).await?;
        let involved: HashSet<i64> = candidates.iter().flat_map(|c| [c.low.0, c.high.0]).collect();
        let mut existing = Existing::load(&txn, involved.into_iter().collect()).await?;
        let mut saved = Saved::default();
        let mut changed_lists: HashSet<i64> = HashSet::new();
        let mut new_matches = Vec::new();
        let mut new_parties = Vec::new();
        for candidate in candidates {
            let (low, high) = (candidate.low.0, candidate.high.0);
            let compatibility = to_json(&candidate.compatibility);
            if let Some((id, ..)) = existing.pairs.get(&(low, high)) {
                if existing.shows(&candidate, &compatibility) {
                    continue;
                }
                update_pair(&txn, id, &candidate, compatibility, now).await?;
                saved.updated += 1;
                changed_lists.extend([low, high]);
                continue;
            }
            let count = |org: i64| open.get(&org).copied().unwrap_or(0);
            if count(low) >= cap || count(high) >= cap {
                saved.capped += 1;
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            existing
                .pairs
                .insert((low, high), (id.clone(), compatibility.clone(), candidate.score, candidate.model_version));
            *open.entry(low).or_default() += 1;
            *open.entry(high).or_default() += 1;
            let (row, parties) = new_match(&id, candidate, None, now);
            new_matches.push(row);
            new_parties.extend(parties);
            saved.created += 1;
            changed_lists.extend([low, high]);
        }
        saved.created = insert_new_matches(&txn, new_matches, new_parties).await?;
        let changed_lists: Vec<i64> = changed_lists.into_iter().collect();
        for chunk in changed_lists.chunks(500) {
            bump_lists(&txn, chunk).await?;
        }
        txn.commit().await?;
        self.after_bulk_write(&["matches", "match_parties"], saved.created + saved.updated).await;
        Ok(saved)
    }

    /// The caller's matches that it has not declined, best first, in one query.
    /// The matches `ids` as each of their parties that has not declined sees them, by
    /// (viewer, match id): for writing many members' digests at once.
    pub async fn views_of_matches(&self, ids: &[String]) -> Result<HashMap<(OrgId, String), PartyView>, StoreError> {
        let mut views = HashMap::with_capacity(ids.len() * 2);
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("{VIEW_OF_EVERY_PARTY} AND m.id IN ({marks})");
            let values = chunk.iter().map(|id| id.as_str().into());
            for row in ViewRow::find_by_statement(statement(self.backend(), &sql, values)).all(&self.read).await? {
                let viewer = OrgId(row.viewer_id);
                let view = PartyView::try_from(row)?;
                views.insert((viewer, view.id.clone()), view);
            }
        }
        Ok(views)
    }

    /// The views a statement over [`VIEW_OF_EVERY_PARTY`] selects, each with its viewer.
    pub(crate) async fn views_by_statement(
        &self,
        statement: sea_orm::Statement,
    ) -> Result<Vec<(OrgId, PartyView)>, StoreError> {
        let rows = ViewRow::find_by_statement(statement).all(&self.read).await?;
        rows.into_iter().map(|row| Ok((OrgId(row.viewer_id), PartyView::try_from(row)?))).collect()
    }

    pub async fn matches_for(&self, org: OrgId) -> Result<Vec<PartyView>, StoreError> {
        let sql = format!("{VIEW} ORDER BY m.score DESC, m.id");
        let rows = ViewRow::find_by_statement(statement(self.backend(), &sql, [org.0.into()])).all(&self.read).await?;
        rows.into_iter().map(PartyView::try_from).collect()
    }

    /// The version of everything [`Store::matches_for`] shows `org`: its list version, which
    /// every change to its list increases in the change's own transaction, and the population
    /// generation that its counterparts' anonymous profiles are generalised against. One
    /// primary-key row, so checking it costs little more than a ping.
    pub async fn matches_version(&self, org: OrgId) -> Result<ListVersion, StoreError> {
        let sql = "SELECT o.list_version AS list, g.value AS population FROM organisations o, generations g \
                   WHERE o.id = ? AND g.name = 'population'";
        ListVersion::find_by_statement(statement(self.backend(), sql, [org.0.into()]))
            .one(&self.read)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// One match as the caller sees it; [`StoreError::NotFound`] unless the caller is a party
    /// that has not declined it.
    pub async fn match_for(&self, org: OrgId, id: &str) -> Result<PartyView, StoreError> {
        let sql = format!("{VIEW} AND m.id = ?");
        let row = ViewRow::find_by_statement(statement(self.backend(), &sql, [org.0.into(), id.into()]))
            .one(&self.read)
            .await?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// Reveals the caller to the other side (irreversible, and repeating it changes nothing).
    /// When the other side has revealed too, the pair is connected, exactly once even if both
    /// reveal at the same moment, and the emails `announce` builds are queued in the same
    /// transaction. A party that declined the match cannot reveal itself in it (not found).
    pub async fn reveal(
        &self,
        org: OrgId,
        id: &str,
        now: DateTime<Utc>,
        announce: impl FnOnce(&Connection) -> Vec<NewEmail>,
    ) -> Result<Revealed, StoreError> {
        let txn = self.write().await?;
        // Touching the match first takes its row lock on PostgreSQL, so two changes to one
        // match run one after the other and the second sees the first.
        lock_match(&txn, org, id, now).await?;
        let (mine, theirs) = parties(&txn, id, org).await?;
        match PartyStatus::parse(&mine.status)? {
            PartyStatus::Declined => return Err(StoreError::NotFound),
            PartyStatus::Revealed => {}
            PartyStatus::Suggested => {
                set_status(&txn, id, org, PartyStatus::Suggested, PartyStatus::Revealed, now).await?;
                bump_lists(&txn, &[org.0, theirs.organisation_id]).await?;
            }
        }
        let mut connected_now = false;
        if PartyStatus::parse(&theirs.status)? == PartyStatus::Revealed {
            let connected = matches::Entity::update_many()
                .col_expr(matches::Column::ConnectedAt, Expr::value(now))
                .filter(matches::Column::Id.eq(id))
                .filter(matches::Column::ConnectedAt.is_null())
                .exec(&txn)
                .await?;
            if connected.rows_affected == 1 {
                connected_now = true;
                let connection = Connection {
                    match_id: id.to_owned(),
                    parties: [
                        connected_party(&txn, org.0).await?,
                        connected_party(&txn, theirs.organisation_id).await?,
                    ],
                };
                for email in announce(&connection) {
                    enqueue(&txn, &email, now).await?;
                }
            }
        }
        txn.commit().await?;
        Ok(Revealed { connected_now, other: OrgId(theirs.organisation_id) })
    }

    /// Hides the match from the caller; the other side is never told (its list does not
    /// change). Refused once the caller has revealed itself, since a reveal cannot be undone.
    pub async fn decline(&self, org: OrgId, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let txn = self.write().await?;
        lock_match(&txn, org, id, now).await?;
        let (mine, _) = parties(&txn, id, org).await?;
        match PartyStatus::parse(&mine.status)? {
            PartyStatus::Declined => return Ok(()),
            PartyStatus::Revealed => {
                return Err(StoreError::State(
                    "you have revealed yourself in this match, and a reveal cannot be undone, so it cannot be declined",
                ));
            }
            PartyStatus::Suggested => {
                set_status(&txn, id, org, PartyStatus::Suggested, PartyStatus::Declined, now).await?;
                bump_lists(&txn, &[org.0]).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Records what came of a connection, for the caller's side.
    pub async fn record_outcome(
        &self,
        org: OrgId,
        id: &str,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.write().await?;
        let record = lock_match(&txn, org, id, now).await?;
        let (mine, _) = parties(&txn, id, org).await?;
        if PartyStatus::parse(&mine.status)? == PartyStatus::Declined {
            return Err(StoreError::NotFound);
        }
        if record.connected_at.is_none() {
            return Err(StoreError::State("an outcome can be reported once both sides have revealed themselves"));
        }
        match_party::Entity::update_many()
            .col_expr(match_party::Column::Outcome, Expr::value(outcome.as_str()))
            .col_expr(match_party::Column::OutcomeAt, Expr::value(now))
            .col_expr(match_party::Column::OutcomeCompatibility, Expr::value(record.compatibility.clone()))
            .filter(match_party::Column::MatchId.eq(id))
            .filter(match_party::Column::OrganisationId.eq(org.0))
            .exec(&txn)
            .await?;
        bump_lists(&txn, &[org.0]).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The rows of a new match and its two parties.
fn new_match(
    id: &str,
    candidate: Candidate,
    asked_by: Option<i64>,
    now: DateTime<Utc>,
) -> (matches::ActiveModel, [match_party::ActiveModel; 2]) {
    let (low, high) = (candidate.low.0, candidate.high.0);
    let row = matches::ActiveModel {
        id: Set(id.to_owned()),
        org_low: Set(low),
        org_high: Set(high),
        score: Set(candidate.score),
        confidence: Set(candidate.confidence),
        compatibility: Set(to_json(&candidate.compatibility)),
        created_at: Set(now),
        updated_at: Set(now),
        connected_at: Set(None),
        asked_by: Set(asked_by),
        model_version: Set(candidate.model_version),
    };
    let party = |org: i64, alias: String, explanation: &Vec<String>| match_party::ActiveModel {
        match_id: Set(id.to_owned()),
        organisation_id: Set(org),
        alias: Set(alias),
        status: Set(PartyStatus::Suggested.as_str().to_owned()),
        explanation: Set(to_json(explanation)),
        revealed_at: Set(None),
        declined_at: Set(None),
        outcome: Set(None),
        outcome_at: Set(None),
        outcome_compatibility: Set(None),
    };
    let parties = [
        party(low, candidate.alias_low.clone(), &candidate.explanation_low),
        party(high, candidate.alias_high.clone(), &candidate.explanation_high),
    ];
    (row, parties)
}

/// What asking for an introduction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introduction {
    /// A new match, which the other side sees as asked by it.
    Created(String),
    /// The pair already had a match.
    Existing(String),
}

/// Limits on asking for introductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskLimits {
    /// Asks per organisation in any 24 hours.
    pub per_day: usize,
    /// Open matches per organisation (its own, undeclined).
    pub max_open: usize,
}

impl Store {
    /// Every organisation `org` has a match with (in any state).
    pub async fn counterparts_of(&self, org: OrgId) -> Result<HashSet<OrgId>, StoreError> {
        #[derive(FromQueryResult)]
        struct Counterpart {
            organisation_id: i64,
        }
        // Through the parties' index on organisation_id (the pair index serves org_low only).
        let sql = "SELECT theirs.organisation_id FROM match_parties mine \
                   JOIN match_parties theirs ON theirs.match_id = mine.match_id \
                    AND theirs.organisation_id <> mine.organisation_id \
                   WHERE mine.organisation_id = ?";
        let found =
            Counterpart::find_by_statement(statement(self.backend(), sql, [org.0.into()])).all(&self.read).await?;
        Ok(found.into_iter().map(|c| OrgId(c.organisation_id)).collect())
    }

    /// Creates the match of `candidate` because `asker` asked for it from search, with the email
    /// `tell` builds for the other side (from the match id and its address) queued in the same
    /// transaction; or finds the pair's existing match. Refused past the daily limit of asks
    /// ([`StoreError::Limit`]) or when either side has as many open matches as allowed.
    pub async fn ask_introduction(
        &self,
        candidate: Candidate,
        asker: OrgId,
        limits: AskLimits,
        now: DateTime<Utc>,
        tell: impl FnOnce(&str, &str) -> NewEmail,
    ) -> Result<Introduction, StoreError> {
        let (low, high) = (candidate.low.0, candidate.high.0);
        let other = if asker.0 == low { high } else { low };
        let txn = self.write().await?;
        let backend = self.backend();
        // Both organisations' rows, locked in id order (on PostgreSQL; SQLite has one writer),
        // so that asks by one member and asks to one member take turns with the daily limit and
        // the cap; and the other side must still be findable (verified and visible to search).
        #[derive(FromQueryResult)]
        struct Findable {
            id: i64,
            search_visible: bool,
        }
        let lock = if backend == DatabaseBackend::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!(
            "SELECT id, search_visible FROM organisations WHERE id IN (?, ?) \
             AND id IN (SELECT organisation_id FROM accounts WHERE verified_at IS NOT NULL) ORDER BY id{lock}"
        );
        let found = Findable::find_by_statement(statement(backend, &sql, [low.into(), high.into()])).all(&txn).await?;
        if !found.iter().any(|f| f.id == other && f.search_visible) || !found.iter().any(|f| f.id == asker.0) {
            return Err(StoreError::NotFound);
        }
        let existing = matches::Entity::find()
            .filter(matches::Column::OrgLow.eq(low))
            .filter(matches::Column::OrgHigh.eq(high))
            .one(&txn)
            .await?;
        if let Some(found) = existing {
            return Ok(Introduction::Existing(found.id));
        }
        #[derive(FromQueryResult)]
        struct Count {
            n: i64,
        }
        let count =
            |sql: &'static str, values: Vec<sea_orm::Value>| Count::find_by_statement(statement(backend, sql, values));
        let asked = count(
            "SELECT COUNT(*) AS n FROM matches WHERE asked_by = ? AND created_at > ?",
            vec![asker.0.into(), (now - chrono::Duration::hours(24)).into()],
        )
        .one(&txn)
        .await?
        .map_or(0, |c| c.n);
        if asked as usize >= limits.per_day {
            return Err(StoreError::Limit(
                "you have asked for as many introductions as a day allows; try again tomorrow",
            ));
        }
        for org in [asker.0, other] {
            let open = count(
                "SELECT COUNT(*) AS n FROM match_parties WHERE organisation_id = ? AND status <> 'declined'",
                vec![org.into()],
            )
            .one(&txn)
            .await?
            .map_or(0, |c| c.n);
            if open as usize >= limits.max_open {
                return Err(StoreError::State("an introduction cannot be made now: too many open matches"));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let (row, parties) = new_match(&id, candidate, Some(asker.0), now);
        matches::Entity::insert(row).exec(&txn).await?;
        match_party::Entity::insert_many(parties.to_vec()).exec(&txn).await?;
        bump_lists(&txn, &[low, high]).await?;
        let recipient = account::Entity::find().filter(account::Column::OrganisationId.eq(other)).one(&txn).await?;
        if let Some(recipient) = recipient {
            enqueue(&txn, &tell(&id, &recipient.email), now).await?;
        }
        txn.commit().await?;
        Ok(Introduction::Created(id))
    }
}

/// Marks the match `id` as changed, which on PostgreSQL also takes its row lock until the
/// transaction ends; [`StoreError::NotFound`] unless `org` is a party. The match as it is now.
pub(crate) async fn lock_match(
    txn: &DatabaseTransaction,
    org: OrgId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<matches::Model, StoreError> {
    let touched = matches::Entity::update_many()
        .col_expr(matches::Column::UpdatedAt, Expr::value(now))
        .filter(matches::Column::Id.eq(id))
        .filter(Condition::any().add(matches::Column::OrgLow.eq(org.0)).add(matches::Column::OrgHigh.eq(org.0)))
        .exec(txn)
        .await?;
    if touched.rows_affected != 1 {
        return Err(StoreError::NotFound);
    }
    matches::Entity::find_by_id(id.to_owned()).one(txn).await?.ok_or(StoreError::NotFound)
}

/// Moves a party from one status to another, only if it is still in the first.
async fn set_status(
    txn: &DatabaseTransaction,
    id: &str,
    org: OrgId,
    from: PartyStatus,
    to: PartyStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut update = match_party::Entity::update_many().col_expr(match_party::Column::Status, Expr::value(to.as_str()));
    update = match to {
        PartyStatus::Revealed => update.col_expr(match_party::Column::RevealedAt, Expr::value(now)),
        PartyStatus::Declined => update.col_expr(match_party::Column::DeclinedAt, Expr::value(now)),
        PartyStatus::Suggested => update,
    };
    let moved = update
        .filter(match_party::Column::MatchId.eq(id))
        .filter(match_party::Column::OrganisationId.eq(org.0))
        .filter(match_party::Column::Status.eq(from.as_str()))
        .exec(txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(StoreError::State("this match changed at the same moment; try again"));
    }
    Ok(())
}

/// How many matches each organisation has open (not declined by itself).
async fn open_counts(txn: &DatabaseTransaction, backend: DatabaseBackend) -> Result<HashMap<i64, usize>, StoreError> {
    let counts = OpenCount::find_by_statement(Statement::from_string(
        backend,
        "SELECT organisation_id, COUNT(*) AS open FROM match_parties WHERE status <> 'declined' \
         GROUP BY organisation_id",
    ))
    .all(txn)
    .await?;
    Ok(counts.into_iter().map(|c| (c.organisation_id, c.open as usize)).collect())
}

/// The existing matches of some organisations, with what their parties are shown now, so that
/// unchanged pairs are left alone.
struct Existing {
    /// (low, high) to (match id, compatibility as stored, score, model version).
    pairs: HashMap<(i64, i64), (String, String, f64, i64)>,
    /// (match id, party) to its explanation as stored.
    explanations: HashMap<(String, i64), String>,
}

impl Existing {
    async fn load(txn: &DatabaseTransaction, involved: Vec<i64>) -> Result<Existing, StoreError> {
        let mut pairs = HashMap::new();
        let mut explanations = HashMap::new();
        for chunk in involved.chunks(500) {
            let found =
                matches::Entity::find().filter(matches::Column::OrgLow.is_in(chunk.iter().copied())).all(txn).await?;
            let ids: Vec<String> = found.iter().map(|m| m.id.clone()).collect();
            pairs.extend(
                found.into_iter().map(|m| ((m.org_low, m.org_high), (m.id, m.compatibility, m.score, m.model_version))),
            );
            for ids in ids.chunks(500) {
                let parties = match_party::Entity::find()
                    .filter(match_party::Column::MatchId.is_in(ids.to_vec()))
                    .all(txn)
                    .await?;
                explanations.extend(parties.into_iter().map(|p| ((p.match_id, p.organisation_id), p.explanation)));
            }
        }
        Ok(Existing { pairs, explanations })
    }

    /// Whether the stored pair of `candidate` already shows its figures and reasons.
    fn shows(&self, candidate: &Candidate, compatibility: &str) -> bool {
        let (low, high) = (candidate.low.0, candidate.high.0);
        let Some((id, shown, score, version)) = self.pairs.get(&(low, high)) else { return false };
        let explained = |org: i64, explanation: &Vec<String>| {
            self.explanations.get(&(id.clone(), org)).is_some_and(|e| *e == to_json(explanation))
        };
        shown == compatibility
            && *score == candidate.score
            && *version == candidate.model_version
            && explained(low, &candidate.explanation_low)
            && explained(high, &candidate.explanation_high)
    }
}

/// Gives the existing match `id` the candidate's new figures and reasons.
async fn update_pair(
    txn: &DatabaseTransaction,
    id: &str,
    candidate: &Candidate,
    compatibility: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    matches::Entity::update_many()
        .col_expr(matches::Column::Score, Expr::value(candidate.score))
        .col_expr(matches::Column::Confidence, Expr::value(candidate.confidence))
        .col_expr(matches::Column::ModelVersion, Expr::value(candidate.model_version))
        .col_expr(matches::Column::Compatibility, Expr::value(compatibility))
        .col_expr(matches::Column::UpdatedAt, Expr::value(now))
        .filter(matches::Column::Id.eq(id))
        .exec(txn)
        .await?;
    let (low, high) = (candidate.low.0, candidate.high.0);
    for (org, explanation) in [(low, &candidate.explanation_low), (high, &candidate.explanation_high)] {
        match_party::Entity::update_many()
            .col_expr(match_party::Column::Explanation, Expr::value(to_json(explanation)))
            .filter(match_party::Column::MatchId.eq(id))
            .filter(match_party::Column::OrganisationId.eq(org))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Inserts new matches and their parties. A pair may have become a match meanwhile (an
/// introduction asked from search): it keeps that match, and the new one is not saved. An
/// organisation may have erased itself since the pass read it: its pairs are left out, rather
/// than failing the whole pass.
async fn insert_new_matches(
    txn: &DatabaseTransaction,
    mut new_matches: Vec<matches::ActiveModel>,
    mut new_parties: Vec<match_party::ActiveModel>,
) -> Result<usize, StoreError> {
    let involved: HashSet<i64> = new_parties.iter().filter_map(|p| p.organisation_id.try_as_ref().copied()).collect();
    let mut present: HashSet<i64> = HashSet::new();
    let involved: Vec<i64> = involved.into_iter().collect();
    for chunk in involved.chunks(500) {
        let found: Vec<i64> = organisation::Entity::find()
            .select_only()
            .column(organisation::Column::Id)
            .filter(organisation::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        present.extend(found);
    }
    new_matches.retain(|m| {
        [m.org_low.try_as_ref(), m.org_high.try_as_ref()].iter().all(|id| id.is_some_and(|id| present.contains(id)))
    });
    let mut saved_ids: HashSet<String> = HashSet::new();
    for chunk in new_matches.chunks(100) {
        let ids: Vec<String> = chunk.iter().filter_map(|m| m.id.try_as_ref().cloned()).collect();
        matches::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([matches::Column::OrgLow, matches::Column::OrgHigh]).do_nothing().to_owned(),
            )
            .try_insert()
            .exec(txn)
            .await?;
        let inserted = matches::Entity::find().filter(matches::Column::Id.is_in(ids)).all(txn).await?;
        saved_ids.extend(inserted.into_iter().map(|m| m.id));
    }
    new_parties.retain(|p| p.match_id.try_as_ref().is_some_and(|id| saved_ids.contains(id)));
    for chunk in new_parties.chunks(100) {
        match_party::Entity::insert_many(chunk.to_vec()).exec(txn).await?;
    }
    Ok(saved_ids.len())
}

/// Moves the match lists of these organisations to a new version, in the caller's
/// transaction, so that every process sees that its cached copies are stale.
pub(crate) async fn bump_lists(db: &impl ConnectionTrait, orgs: &[i64]) -> Result<(), StoreError> {
    organisation::Entity::update_many()
        .col_expr(organisation::Column::ListVersion, Expr::col(organisation::Column::ListVersion).add(1))
        .filter(organisation::Column::Id.is_in(orgs.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

pub(crate) async fn parties(
    txn: &DatabaseTransaction,
    id: &str,
    org: OrgId,
) -> Result<(match_party::Model, match_party::Model), StoreError> {
    let both = match_party::Entity::find().filter(match_party::Column::MatchId.eq(id)).all(txn).await?;
    let (mine, theirs): (Vec<_>, Vec<_>) = both.into_iter().partition(|p| p.organisation_id == org.0);
    match (mine.into_iter().next(), theirs.into_iter().next()) {
        (Some(mine), Some(theirs)) => Ok((mine, theirs)),
        _ => Err(StoreError::NotFound),
    }
}

pub(crate) async fn connected_party(txn: &impl ConnectionTrait, org: i64) -> Result<ConnectedParty, StoreError> {
    let record = organisation::Entity::find_by_id(org).one(txn).await?.ok_or(StoreError::NotFound)?;
    let login = account::Entity::find().filter(account::Column::OrganisationId.eq(org)).one(txn).await?;
    Ok(ConnectedParty {
        organisation: OrgId(org),
        public_id: record.public_id,
        name: record.name,
        email: login.map(|a| a.email).unwrap_or_default(),
        website: record.website,
    })
}

/// A demonstration match that nobody has acted on, for simulated outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoPair {
    pub id: String,
    pub compatibility: BTreeMap<String, f64>,
}

#[derive(Debug, FromQueryResult)]
struct DemoPairRow {
    id: String,
    compatibility: String,
}

impl Store {
    /// The matches between two demonstration organisations where neither party did anything
    /// yet, in id order.
    pub async fn untouched_demo_pairs(&self) -> Result<Vec<DemoPair>, StoreError> {
        let sql = "SELECT m.id, m.compatibility FROM matches m \
                     JOIN organisations lo ON lo.id = m.org_low JOIN organisations hi ON hi.id = m.org_high \
                    WHERE lo.demo = ? AND hi.demo = ? AND m.connected_at IS NULL AND NOT EXISTS \
                          (SELECT 1 FROM match_parties p WHERE p.match_id = m.id AND p.status <> 'suggested') \
                    ORDER BY m.id";
        let rows = DemoPairRow::find_by_statement(statement(self.backend(), sql, [true.into(), true.into()]))
            .all(&self.read)
            .await?;
        rows.into_iter().map(|row| Ok(DemoPair { id: row.id, compatibility: from_json(&row.compatibility)? })).collect()
    }

    /// Simulates what came of the demonstration match `id`: both parties revealed, connected,
    /// and both reported `outcome`, in one transaction and without any email.
    /// [`StoreError::Forbidden`] unless both organisations are demonstration ones.
    pub async fn simulate_outcome(&self, id: &str, outcome: Outcome, now: DateTime<Utc>) -> Result<(), StoreError> {
        let txn = self.write().await?;
        let record = matches::Entity::find_by_id(id.to_owned()).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let demo = organisation::Entity::find()
            .filter(organisation::Column::Id.is_in([record.org_low, record.org_high]))
            .filter(organisation::Column::Demo.eq(true))
            .all(&txn)
            .await?;
        if demo.len() != 2 {
            return Err(StoreError::Forbidden);
        }
        matches::Entity::update_many()
            .col_expr(matches::Column::ConnectedAt, Expr::value(now))
            .col_expr(matches::Column::UpdatedAt, Expr::value(now))
            .filter(matches::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        match_party::Entity::update_many()
            .col_expr(match_party::Column::Status, Expr::value(PartyStatus::Revealed.as_str()))
            .col_expr(match_party::Column::RevealedAt, Expr::value(now))
            .col_expr(match_party::Column::Outcome, Expr::value(outcome.as_str()))
            .col_expr(match_party::Column::OutcomeAt, Expr::value(now))
            .col_expr(match_party::Column::OutcomeCompatibility, Expr::value(record.compatibility.clone()))
            .filter(match_party::Column::MatchId.eq(id))
            .exec(&txn)
            .await?;
        bump_lists(&txn, &[record.org_low, record.org_high]).await?;
        txn.commit().await?;
        Ok(())
    }
}

#[derive(Debug, FromQueryResult)]
struct PairRow {
    org_low: i64,
    org_high: i64,
}

impl Store {
    /// The pairs of the matches that a version of the model other than `version` scored.
    pub async fn pairs_scored_by_other_versions(&self, version: i64) -> Result<Vec<(OrgId, OrgId)>, StoreError> {
        let sql = "SELECT org_low, org_high FROM matches WHERE model_version <> ?";
        let rows = PairRow::find_by_statement(statement(self.backend(), sql, [version.into()])).all(&self.read).await?;
        Ok(rows.into_iter().map(|r| (OrgId(r.org_low), OrgId(r.org_high))).collect())
    }
}
