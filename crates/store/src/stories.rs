//! Success stories. One story per match, drafted by either party of a connection once one of
//! them reported `collaborating`. Every draft is a new revision, approved by its author; the
//! story is published when both parties have approved the current revision, and stops being
//! published the moment either drafts a new one or withdraws it, or a facilitator hides it.
//!
//! Invariant: every public read checks the publication rule in its SQL (both approvals equal
//! the current revision, not withdrawn, not hidden), so no caller can show a draft. The match
//! id never leaves this module toward the public: published stories are known by their own
//! random id. A story goes with its match (a foreign key), so with an erased organisation.

use chrono::{DateTime, Utc};
use domain::story::Story;
use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult, TransactionTrait};

use crate::matches::{Outcome, PartyStatus, lock_match, parties};
use crate::{OrgId, Store, StoreError, statement};

/// A story as one of its parties sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryView {
    pub story: Story,
    pub revision: i64,
    pub approved_by_me: bool,
    pub approved_by_them: bool,
    pub published: bool,
    pub withdrawn: bool,
    pub hidden: bool,
    /// Its public id, once it has been published.
    pub public_id: Option<String>,
}

/// A published story, as everyone sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedStory {
    pub public_id: String,
    pub title: String,
    pub text: String,
    /// Both organisations' names, when the parties chose to give them.
    pub names: Option<[String; 2]>,
    pub published_at: DateTime<Utc>,
    /// Hidden by a facilitator (listed only for facilitators).
    pub hidden: bool,
}

#[derive(Debug, FromQueryResult)]
struct StoryRow {
    public_id: String,
    title: String,
    body: String,
    show_names: bool,
    revision: i64,
    approved_low: Option<i64>,
    approved_high: Option<i64>,
    published_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    hidden_at: Option<DateTime<Utc>>,
    org_low: i64,
}

const STORY: &str = "SELECT s.public_id, s.title, s.body, s.show_names, s.revision, s.approved_low, s.approved_high, \
       s.published_at, s.withdrawn_at, s.hidden_at, m.org_low \
  FROM stories s JOIN matches m ON m.id = s.match_id WHERE s.match_id = ?";

/// The publication rule, on `stories s`.
const PUBLISHED: &str = "s.approved_low = s.revision AND s.approved_high = s.revision AND s.withdrawn_at IS NULL \
                         AND s.published_at IS NOT NULL";

#[derive(Debug, FromQueryResult)]
struct PublishedRow {
    public_id: String,
    title: String,
    body: String,
    show_names: bool,
    published_at: DateTime<Utc>,
    hidden_at: Option<DateTime<Utc>>,
    name_low: String,
    name_high: String,
}

fn published_sql(filter: &str) -> String {
    format!(
        "SELECT s.public_id, s.title, s.body, s.show_names, s.published_at, s.hidden_at, lo.name AS name_low, \
                hi.name AS name_high \
           FROM stories s JOIN matches m ON m.id = s.match_id \
           JOIN organisations lo ON lo.id = m.org_low JOIN organisations hi ON hi.id = m.org_high \
          WHERE {PUBLISHED} {filter} ORDER BY s.published_at DESC, s.public_id"
    )
}

impl From<PublishedRow> for PublishedStory {
    fn from(row: PublishedRow) -> PublishedStory {
        PublishedStory {
            public_id: row.public_id,
            title: row.title,
            text: row.body,
            names: row.show_names.then_some([row.name_low, row.name_high]),
            published_at: row.published_at,
            hidden: row.hidden_at.is_some(),
        }
    }
}

fn view(row: StoryRow, org: OrgId) -> StoryView {
    let (mine, theirs) = if row.org_low == org.0 {
        (row.approved_low, row.approved_high)
    } else {
        (row.approved_high, row.approved_low)
    };
    let published = row.approved_low == Some(row.revision)
        && row.approved_high == Some(row.revision)
        && row.withdrawn_at.is_none()
        && row.published_at.is_some();
    StoryView {
        story: Story { title: row.title, text: row.body, show_names: row.show_names },
        revision: row.revision,
        approved_by_me: mine == Some(row.revision),
        approved_by_them: theirs == Some(row.revision),
        published: published && row.hidden_at.is_none(),
        withdrawn: row.withdrawn_at.is_some(),
        hidden: row.hidden_at.is_some(),
        public_id: published.then_some(row.public_id),
    }
}

async fn story_row(db: &impl ConnectionTrait, store: &Store, id: &str) -> Result<Option<StoryRow>, StoreError> {
    Ok(StoryRow::find_by_statement(statement(store.backend(), STORY, [id.into()])).one(db).await?)
}

/// Checks that `org` is a party of the connected match `id` that has not declined it, in the
/// caller's transaction (which this locks the match in).
async fn party_of_connection(
    txn: &DatabaseTransaction,
    org: OrgId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<crate::entities::matches::Model, StoreError> {
    let record = lock_match(txn, org, id, now).await?;
    let (mine, theirs) = parties(txn, id, org).await?;
    if PartyStatus::parse(&mine.status)? == PartyStatus::Declined {
        return Err(StoreError::NotFound);
    }
    if record.connected_at.is_none() {
        return Err(StoreError::State("a story can be written once both sides have revealed themselves"));
    }
    let collaborating = Some(Outcome::Collaborating.as_str());
    if mine.outcome.as_deref() != collaborating && theirs.outcome.as_deref() != collaborating {
        return Err(StoreError::State("a story can be written once one of you reports that you are collaborating"));
    }
    Ok(record)
}

impl Store {
    /// The story of match `id`, as its party `org` sees it; `None` when there is none yet.
    pub async fn story_for(&self, org: OrgId, id: &str) -> Result<Option<StoryView>, StoreError> {
        // A read: on SQLite it runs beside the one writer connection.
        let txn = self.read.begin().await?;
        let (mine, _) = parties(&txn, id, org).await?;
        if PartyStatus::parse(&mine.status)? == PartyStatus::Declined {
            return Err(StoreError::NotFound);
        }
        let row = story_row(&txn, self, id).await?;
        txn.commit().await?;
        Ok(row.map(|row| view(row, org)))
    }

    /// Drafts the story of match `id` as a new revision, approved by its author `org` only: a
    /// published story stops being published until the other party approves the new text.
    pub async fn draft_story(
        &self,
        org: OrgId,
        id: &str,
        story: &Story,
        now: DateTime<Utc>,
    ) -> Result<StoryView, StoreError> {
        let txn = self.write().await?;
        let record = party_of_connection(&txn, org, id, now).await?;
        let revision = story_row(&txn, self, id).await?.map_or(1, |row| row.revision + 1);
        let by_low = record.org_low == org.0;
        let approvals: [sea_orm::Value; 2] = [by_low.then_some(revision).into(), (!by_low).then_some(revision).into()];
        let [approved_low, approved_high] = approvals;
        let sql = if revision == 1 {
            "INSERT INTO stories (title, body, show_names, revision, approved_low, approved_high, updated_at, \
             match_id, public_id, created_at, published_at, withdrawn_at, hidden_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)"
        } else {
            "UPDATE stories SET title = ?, body = ?, show_names = ?, revision = ?, approved_low = ?, \
             approved_high = ?, updated_at = ?, published_at = NULL, withdrawn_at = NULL WHERE match_id = ?"
        };
        let mut values: Vec<sea_orm::Value> = vec![
            story.title.clone().into(),
            story.text.clone().into(),
            story.show_names.into(),
            revision.into(),
            approved_low,
            approved_high,
            now.into(),
            id.into(),
        ];
        if revision == 1 {
            values.extend([uuid::Uuid::new_v4().to_string().into(), now.into()]);
        }
        txn.execute_raw(statement(self.backend(), sql, values)).await?;
        let row = story_row(&txn, self, id).await?.ok_or(StoreError::NotFound)?;
        txn.commit().await?;
        Ok(view(row, org))
    }

    /// Approves revision `revision` of the story of match `id` for `org`; publishes it when the
    /// other party approved that revision too. [`StoreError::State`] when the story changed
    /// since `revision` was read: an approval is always of a text the party saw.
    pub async fn approve_story(
        &self,
        org: OrgId,
        id: &str,
        revision: i64,
        now: DateTime<Utc>,
    ) -> Result<StoryView, StoreError> {
        let txn = self.write().await?;
        party_of_connection(&txn, org, id, now).await?;
        let row = story_row(&txn, self, id).await?.ok_or(StoreError::NotFound)?;
        if row.revision != revision {
            return Err(StoreError::State("the story changed since you read it; read the new text before approving"));
        }
        let (mine, other) = if row.org_low == org.0 {
            ("approved_low", row.approved_high)
        } else {
            ("approved_high", row.approved_low)
        };
        let published_at = (other == Some(revision)).then(|| row.published_at.unwrap_or(now));
        let sql = format!(
            "UPDATE stories SET {mine} = ?, withdrawn_at = NULL, published_at = ?, updated_at = ? \
             WHERE match_id = ? AND revision = ?"
        );
        txn.execute_raw(statement(
            self.backend(),
            &sql,
            [revision.into(), published_at.into(), now.into(), id.into(), revision.into()],
        ))
        .await?;
        let row = story_row(&txn, self, id).await?.ok_or(StoreError::NotFound)?;
        txn.commit().await?;
        Ok(view(row, org))
    }

    /// Withdraws the story of match `id`: it is no longer published, and both approvals are
    /// gone. Either party may do this at any time; withdrawing twice is harmless.
    pub async fn withdraw_story(&self, org: OrgId, id: &str, now: DateTime<Utc>) -> Result<StoryView, StoreError> {
        let txn = self.write().await?;
        lock_match(&txn, org, id, now).await?;
        let (mine, _) = parties(&txn, id, org).await?;
        if PartyStatus::parse(&mine.status)? == PartyStatus::Declined {
            return Err(StoreError::NotFound);
        }
        txn.execute_raw(statement(
            self.backend(),
            "UPDATE stories SET withdrawn_at = COALESCE(withdrawn_at, ?), approved_low = NULL, approved_high = NULL, \
             published_at = NULL, updated_at = ? WHERE match_id = ?",
            [now.into(), now.into(), id.into()],
        ))
        .await?;
        let row = story_row(&txn, self, id).await?.ok_or(StoreError::NotFound)?;
        txn.commit().await?;
        Ok(view(row, org))
    }

    /// The published stories that no facilitator hid, newest first, at most `limit`.
    pub async fn published_stories(&self, limit: u64) -> Result<Vec<PublishedStory>, StoreError> {
        let sql = format!("{} LIMIT {limit}", published_sql("AND s.hidden_at IS NULL"));
        let rows = PublishedRow::find_by_statement(statement(self.backend(), &sql, [])).all(&self.read).await?;
        Ok(rows.into_iter().map(PublishedStory::from).collect())
    }

    /// The stories first published in `[start, end)` and published still, for digests.
    pub async fn stories_published_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<PublishedStory>, StoreError> {
        let sql = published_sql("AND s.hidden_at IS NULL AND s.published_at >= ? AND s.published_at < ?");
        let rows = PublishedRow::find_by_statement(statement(self.backend(), &sql, [start.into(), end.into()]))
            .all(&self.read)
            .await?;
        Ok(rows.into_iter().map(PublishedStory::from).collect())
    }

    /// Every published story, hidden or not, for facilitators.
    pub async fn stories_for_facilitators(&self) -> Result<Vec<PublishedStory>, StoreError> {
        let rows =
            PublishedRow::find_by_statement(statement(self.backend(), &published_sql(""), [])).all(&self.read).await?;
        Ok(rows.into_iter().map(PublishedStory::from).collect())
    }

    /// Hides (or shows again) the published story `public_id`; [`StoreError::NotFound`] when
    /// no published story has that id.
    pub async fn hide_story(&self, public_id: &str, hidden: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE stories SET hidden_at = {}, updated_at = ? WHERE public_id = ? AND approved_low = revision \
             AND approved_high = revision AND withdrawn_at IS NULL AND published_at IS NOT NULL",
            if hidden { "COALESCE(hidden_at, ?)" } else { "NULL" }
        );
        let mut values: Vec<sea_orm::Value> = Vec::new();
        if hidden {
            values.push(now.into());
        }
        values.extend([now.into(), public_id.into()]);
        let done = self.db.execute_raw(statement(self.backend(), &sql, values)).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
