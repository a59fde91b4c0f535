//! Import and sync of the CRMs' people: sync runs, the `sync_run` job that pages through a
//! provider, the scheduler of incremental runs, and the `sync_records` job that webhooks start.
//!
//! **A run** has a plan of steps, one query per object: an initial run lists everything
//! (`PeopleQuery::All`, with the settings' limits); an incremental run asks for what changed
//! and what was deleted since each object's cursor (`ChangedSince`, `DeletedSince`). The
//! `sync_run` job fetches a page through the vault (refresh on expiry and 401 included),
//! converts it with the connection's settings ([`Normalizer`]), and commits it with the run's
//! checkpoint (step, provider cursor, counts) in one transaction. A crash therefore loses at
//! most the pages in flight (below), which are fetched again once on resume. The job works for
//! a time slice and then hands over to a fresh job in the same transaction, so a long import
//! neither holds one lease for hours nor starves other work.
//!
//! **Staging.** A page is committed in one of two ways. Pages accumulate in the run's open
//! group until it holds [`MERGE_AT`] people (or the run has nothing more to fetch); the page
//! that closes the group *merges* it into the tenant's people, the change feed with it, in one
//! transaction that also removes the group's staged pages. Every other page is *staged*: stored
//! with the run as one row, its people not yet the host app's (`Progress::pending` counts them).
//! A Salesforce page (2,000 people) closes its group by itself and is merged as it comes; 20
//! HubSpot pages or 10 Zoho pages make one merge. Why: on SQLite a commit writes each index
//! leaf its people touched, and a 100-person page touched nearly as many leaves per person as a
//! 2,000-person one, at twenty times the commits (docs/benchmarks.md, "People import"). A
//! resumed run reads its staged pages back into the group, so it merges the same groups an
//! uninterrupted run would. A run that stops to wait (rate limit, daily quota) or fails merges
//! what it staged first; a record that two pages of a group name is stored once, in its last
//! version; and a staged version older than what a webhook's sync stored meanwhile does not
//! overwrite it.
//!
//! **Pipelining.** While a page is converted (on a blocking thread) and its transaction
//! commits, the next page is already being fetched (a task of its own): where a step goes on
//! is the provider's cursor, which needs no converted record, so the provider's answer, the
//! CPU-bound normalising and the store's writes overlap. A page converted before the next is
//! asked for is one that may reach the step's limit or close its group. Commits run in a task of
//! their own too: a page that arrives while one runs waits in memory and goes with the next
//! commit, so a merge does not stop the fetching. A page that closes its group waits for the
//! commit before it. The page fetched ahead is the one the last processed page names, and
//! pages are still stored in order, each once. Nothing is fetched ahead when the slice is about
//! to hand over or the run to end, so every call made is a page the run counts; a slice that
//! ends on an error first waits for its commit and stores the pages waiting in memory, and
//! aborts the page it was fetching ahead, which the next job fetches again. A crash loses the
//! pages waiting in memory and the one fetched ahead: each is fetched once more on resume.
//!
//! **Windows.** A run's cursors, saved when it succeeds, start `overlap` before the run was
//! created: changes made at the CRM while the run was paging, or stamped by a clock a little
//! behind ours, are asked for again next time. Re-fetched, unchanged people cost no write
//! (their content hash is equal) and produce no change-feed entry.
//!
//! **Limits.** A 429 or an exhausted window snoozes the job until the provider's time (no
//! attempt is spent); 5xx and network failures retry with backoff; an expired token is the
//! vault's. A provider's daily quota is never spent past the settings' `quota_share`: the run
//! waits for the next window instead. The share is checked before every fetch is started, a
//! page fetched ahead included; an error answered to a page fetched ahead is handled when the
//! loop comes to that page, at the position the last commit reached, as if fetched then.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use renkei_connectors::people::{PeopleQuery, PersonObject};
use renkei_connectors::{ConnectorError, Connectors, Provider};
use renkei_core::{Millis, TenantId};
use renkei_store::StoreError;
use renkei_store::people::{PageGroup, PageItem, PageOutcome};
use renkei_store::queue::Lease;
use renkei_store::sync::{Created, NewSyncRun, SyncCursor, SyncRun, stage_json};
use renkei_store::{Store, Tx};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::jobs::{BoxFuture, Done, JobContext, JobError, JobPayload, Registry};
use crate::people::{Normalizer, SkipReason};
use crate::settings::{ConnectionSettings, SettingsError};
use crate::vault::{Target, Vault, VaultError};

/// Tuning of sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// How long one `sync_run` job pages before handing over to the next.
    pub slice: Duration,
    /// How far before a run's start the next incremental window begins.
    pub overlap: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            slice: Duration::from_secs(20),
            overlap: Duration::from_secs(300),
        }
    }
}

/// `initial` or `incremental`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Initial,
    Incremental,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Initial => "initial",
            RunKind::Incremental => "incremental",
        }
    }
}

/// One step of a run's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub object: PersonObject,
    pub query: PeopleQuery,
    /// Stop the step after this many people were kept (the initial `max_records`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// A run's counts, as `GET …/sync-runs/{id}` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Records received from the provider.
    pub fetched: u64,
    /// People stored for the first time.
    pub imported: u64,
    /// People whose content changed.
    pub updated: u64,
    /// People fetched again without a change.
    pub unchanged: u64,
    /// People deleted at the provider, or no longer importable.
    pub removed: u64,
    /// People not imported, by reason (`missing_phone`, `invalid_phone`, `missing_name`, …).
    pub skipped: BTreeMap<String, u64>,
    /// Change-feed entries written.
    pub changes: u64,
    pub pages: u64,
    /// Requests made to the provider.
    pub api_calls: u64,
    /// Time spent on pages: fetching (the rate budget's pacing and the HTTP client's retries
    /// included) and storing; not the time a snoozed or queued job waits.
    pub elapsed_ms: u64,
    /// People kept in the current step (for its limit).
    #[serde(default)]
    pub step_kept: u64,
    /// Why the run is waiting, when it is (`rate_limited`, `daily_quota`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// People fetched and kept but not stored among the tenant's people yet: staged with the
    /// run until some 2,000 have gathered (fewer than that and a page), then merged.
    #[serde(default)]
    pub pending: u64,
}

impl Progress {
    /// Counts what a merge stored.
    fn count(&mut self, out: PageOutcome) {
        self.imported += out.inserted;
        self.updated += out.updated;
        self.unchanged += out.unchanged;
        self.removed += out.removed;
        self.changes += out.changes;
    }
}

/// The payload of the job that advances a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRunJob {
    pub run_id: i64,
}

impl JobPayload for SyncRunJob {
    const KIND: &'static str = "sync_run";
    const VERSION: i64 = 1;

    /// A run whose job the reaper killed (its worker died on every attempt) ends `failed`
    /// with code `worker_lost`, keeping its progress, instead of staying `running` and, by
    /// the one-active-run rule, holding back every later run of the connection.
    fn on_abandoned<'a>(
        &'a self,
        store: &'a Store,
        error: &'a str,
        now: Millis,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(run) = store.get_sync_run(self.run_id).await? else {
                return Ok(());
            };
            if !matches!(run.status.as_str(), "queued" | "running") {
                return Ok(());
            }
            tracing::warn!(run = run.id, provider = %run.provider, "sync run failed: worker lost");
            let mut tx = store.begin().await?;
            // What the run staged is kept, as `SyncService::fail` keeps it.
            let mut progress: Progress = serde_json::from_str(&run.progress).unwrap_or_default();
            merge_staged(store, &mut tx, &run, &mut progress, now).await?;
            store
                .finish_sync_run(
                    &mut tx,
                    run.id,
                    "failed",
                    &serde_json::to_string(&progress).unwrap_or_default(),
                    Some(("worker_lost", error)),
                    now,
                )
                .await?;
            tx.commit().await
        })
    }
}

/// The payload of the job that syncs named records now (after a webhook).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRecordsJob {
    pub tenant: TenantId,
    pub provider: String,
    pub object: PersonObject,
    pub changed: Vec<String>,
    pub deleted: Vec<String>,
}

impl JobPayload for SyncRecordsJob {
    const KIND: &'static str = "sync_records";
    const VERSION: i64 = 1;
    fn tenant(&self) -> Option<TenantId> {
        Some(self.tenant.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{provider} is not connected")]
    NotConnected { provider: String },
    #[error("people sync is turned off in the {provider} connection's settings")]
    Disabled { provider: String },
    #[error("{provider} cannot import people")]
    Unsupported { provider: String },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotConnected { .. } => "tenant_not_connected",
            SyncError::Disabled { .. } => "sync_disabled",
            SyncError::Unsupported { .. } => "provider_unsupported",
            SyncError::Settings(e) => e.code,
            SyncError::Store(_) => "unavailable",
        }
    }
}

/// A started (or already running) run.
#[derive(Debug, Clone)]
pub struct Started {
    pub run: SyncRun,
    /// False when the connection already had an active run, which is the one returned.
    pub created: bool,
}

pub struct SyncService {
    store: Store,
    vault: Arc<Vault>,
    connectors: Arc<Connectors>,
    clock: Arc<dyn Clock>,
    options: SyncOptions,
}

impl SyncService {
    pub fn new(vault: Arc<Vault>, options: SyncOptions) -> Self {
        Self {
            store: vault.store().clone(),
            connectors: vault.shared_connectors().clone(),
            clock: vault.clock().clone(),
            vault,
            options,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The effective settings of a tenant's connection to `provider`.
    pub async fn settings(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<(renkei_store::connections::Connection, ConnectionSettings), SyncError> {
        let conn = self
            .store
            .get_connection(renkei_store::connections::ConnectionKey {
                tenant,
                provider: provider.as_str(),
                member: None,
            })
            .await?
            .ok_or_else(|| SyncError::NotConnected {
                provider: provider.as_str().to_owned(),
            })?;
        let locale = self.locale(tenant).await?;
        let s = ConnectionSettings::effective(provider, &locale, &conn.settings)?;
        Ok((conn, s))
    }

    async fn locale(&self, tenant: &TenantId) -> Result<String, SyncError> {
        Ok(self
            .store
            .get_tenant(tenant)
            .await?
            .map(|t| t.locale)
            .unwrap_or_else(|| "ja".to_owned()))
    }

    /// Starts a run of `tenant`'s connection to `provider`, or answers the active one.
    /// `kind: None` chooses: incremental when every object has a cursor, else initial.
    pub async fn start(
        &self,
        tenant: &TenantId,
        provider: Provider,
        kind: Option<RunKind>,
        started_by: &str,
    ) -> Result<Started, SyncError> {
        if !provider.info().capabilities.contains(&"people") {
            return Err(SyncError::Unsupported {
                provider: provider.as_str().to_owned(),
            });
        }
        let (conn, settings) = self.settings(tenant, provider).await?;
        if !settings.people.enabled {
            return Err(SyncError::Disabled {
                provider: provider.as_str().to_owned(),
            });
        }
        let now = self.clock.now();
        let mut cursors = HashMap::new();
        for o in &settings.people.objects {
            if let Some(c) = self.store.get_sync_cursor(conn.id, o.as_str()).await? {
                cursors.insert(*o, c);
            }
        }
        let kind = kind.unwrap_or(if cursors.len() == settings.people.objects.len() {
            RunKind::Incremental
        } else {
            RunKind::Initial
        });
        let initial = &settings.people.initial;
        let mut steps = Vec::new();
        for o in &settings.people.objects {
            match (kind, cursors.get(o)) {
                (RunKind::Incremental, Some(c)) => {
                    steps.push(Step {
                        object: *o,
                        query: PeopleQuery::ChangedSince {
                            since: c.changed_since,
                        },
                        limit: None,
                    });
                    steps.push(Step {
                        object: *o,
                        query: PeopleQuery::DeletedSince {
                            since: c.deleted_since,
                        },
                        limit: None,
                    });
                }
                // An object without a cursor (new in the settings) is imported in full.
                _ => steps.push(Step {
                    object: *o,
                    query: PeopleQuery::All {
                        updated_since: initial
                            .updated_within_days
                            .map(|d| now.plus_ms(-(i64::from(d) * 86_400_000))),
                        newest_first: initial.max_records.is_some(),
                    },
                    limit: initial.max_records,
                }),
            }
        }
        let plan = serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into());
        let progress = serde_json::to_string(&Progress::default()).unwrap_or_default();
        let mut tx = self.store.begin().await?;
        let created = self
            .store
            .create_sync_run(
                &mut tx,
                &NewSyncRun {
                    tenant,
                    connection_id: conn.id,
                    provider: provider.as_str(),
                    kind: kind.as_str(),
                    started_by,
                    plan: &plan,
                    progress: &progress,
                },
                now,
            )
            .await?;
        let (id, fresh) = match created {
            Created::New(id) => {
                self.store
                    .enqueue(&mut tx, &SyncRunJob { run_id: id }.to_job(now), now)
                    .await?;
                (id, true)
            }
            Created::Active(id) => (id, false),
        };
        tx.commit().await?;
        let run = self
            .store
            .get_sync_run(id)
            .await?
            .ok_or_else(|| StoreError::Decode("a created sync run vanished".into()))?;
        Ok(Started {
            run,
            created: fresh,
        })
    }

    /// Starts incremental runs of the connections whose time has come; returns how many.
    pub async fn schedule_due(&self, limit: i64) -> Result<usize, SyncError> {
        let now = self.clock.now();
        let mut n = 0;
        for id in self.store.due_syncs(now, limit).await? {
            let Some(conn) = self.store.get_connection_fresh(id).await? else {
                continue;
            };
            let Some(provider) = Provider::parse(&conn.provider) else {
                continue;
            };
            let result = self
                .start(&conn.tenant_id, provider, None, "schedule")
                .await;
            let interval = match &result {
                Ok(_) => {
                    n += 1;
                    self.settings(&conn.tenant_id, provider)
                        .await
                        .map(|(_, s)| s.people.interval_seconds)
                        .unwrap_or(300)
                }
                Err(e) => {
                    tracing::warn!(tenant = %conn.tenant_id, provider = %conn.provider,
                        code = e.code(), "scheduled sync not started");
                    // Try again later rather than every tick.
                    3600
                }
            };
            let mut tx = self.store.begin().await?;
            self.store
                .set_next_sync_at(
                    &mut tx,
                    id,
                    Some(now.plus_ms(i64::try_from(interval).unwrap_or(300) * 1000)),
                )
                .await?;
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Advances a run for one time slice (the `sync_run` job).
    async fn run_slice(&self, ctx: JobContext<'_>, job: SyncRunJob) -> Result<Done, JobError> {
        let Some(run) = self.store.get_sync_run(job.run_id).await? else {
            return Ok(Done::Completed);
        };
        if !run.is_active() {
            return Ok(Done::Completed);
        }
        let Some(provider) = Provider::parse(&run.provider) else {
            return self
                .fail(
                    &ctx,
                    &run,
                    &Progress::default(),
                    "provider_unsupported",
                    "unknown provider",
                )
                .await;
        };
        let mut progress: Progress = serde_json::from_str(&run.progress).unwrap_or_default();
        let steps: Vec<Step> = match serde_json::from_str(&run.plan) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .fail(&ctx, &run, &progress, "plan_invalid", &e.to_string())
                    .await;
            }
        };
        let tenant = run.tenant_id.clone();
        let (region, locale) = match self.store.get_tenant(&tenant).await? {
            Some(t) => (t.default_region, t.locale),
            None => return Ok(Done::Completed),
        };
        let Some(conn) = self.store.get_connection_fresh(run.connection_id).await? else {
            return Ok(Done::Completed);
        };
        let settings = match ConnectionSettings::effective(provider, &locale, &conn.settings) {
            Ok(s) => s,
            Err(e) => return self.fail(&ctx, &run, &progress, e.code, &e.message).await,
        };
        let normalizer = Arc::new(Normalizer::new(&region, settings.people.clone()));
        let target = Target::tenant(&tenant, provider);
        let deadline = Instant::now() + self.options.slice;
        let mut step = usize::try_from(run.step).unwrap_or(0);
        let mut cursor = run.cursor.clone();
        progress.waiting = None;
        // The page at (`step`, `cursor`), when it was fetched ahead while the previous page
        // committed.
        let mut ahead: Option<Prefetch> = None;
        // The run's open group: the people of the pages since its last merge, staged with the
        // run by earlier commits (and slices) or, when fetched while a commit was running,
        // only here until the next one. See "Staging" in the module doc.
        let (group, next_seq) = self.store.staged_sync_pages(run.id).await?;
        let mut open = OpenGroup {
            staged: group.pages().len(),
            group,
            next_seq,
            committing: None,
        };
        let fetch = |step: Step, cursor: Option<String>| {
            fetch_page(
                self.vault.clone(),
                self.connectors.clone(),
                normalizer.clone(),
                target.clone(),
                provider,
                step,
                cursor,
            )
        };
        // Where the time not yet counted in `elapsed_ms` began.
        let mut mark = Instant::now();
        loop {
            let Some(st) = steps.get(step) else {
                // The last page merged the group; its commit may still run.
                self.settle(
                    &ctx,
                    &run_now(&run, step, &cursor),
                    &mut progress,
                    &mut open,
                )
                .await?;
                return self.succeed(&ctx, &run, &steps, &progress).await;
            };
            let fetched = match ahead.take() {
                Some(p) => p.join().await?,
                None => {
                    if let Some(until) = self.quota_wait(&conn, settings.people.quota_share) {
                        let here = run_now(&run, step, &cursor);
                        self.settle(&ctx, &here, &mut progress, &mut open).await?;
                        self.note_waiting(&here, &progress, "daily_quota").await?;
                        return Err(JobError::Snooze {
                            reason: "daily quota share used".into(),
                            until,
                        });
                    }
                    fetch(st.clone(), cursor.clone()).await
                }
            };
            let page = match fetched {
                Ok(p) => p,
                // The provider dropped the server-side cursor (a Salesforce query locator, a
                // Zoho page token after 24 h): start the step again. Re-fetched people are
                // unchanged and cost no write.
                Err(VaultError::Connector(ConnectorError::Invalid { code, .. }))
                    if code == "cursor_expired" && cursor.is_some() =>
                {
                    tracing::info!(run = run.id, "provider cursor expired; restarting the step");
                    cursor = None;
                    progress.step_kept = 0;
                    continue;
                }
                // The wait is noted at the position this slice reached, not where it began.
                Err(e) => {
                    let here = run_now(&run, step, &cursor);
                    self.settle(&ctx, &here, &mut progress, &mut open).await?;
                    return self.on_error(&ctx, &here, &progress, e).await;
                }
            };
            progress.pages += 1;
            progress.api_calls += u64::from(page.api_calls);
            progress.fetched += page.count as u64;
            metrics::counter!("renkei_sync_pages_total", "provider" => provider.as_str())
                .increment(1);

            // Where the run goes on from this page is the provider's cursor, known before the
            // people are converted: the next page is fetched during the conversion. Not when
            // the step's limit may be reached on this page (the people are counted first), nor
            // when the page may close its group: such a page waits for the commit before it
            // anyway, and holding its records beside the next page's would raise peak memory
            // with Salesforce's pages of 2,000, each of which closes its group.
            let mut people = PagePeople::Converting(page.converting);
            if st
                .limit
                .is_some_and(|l| progress.step_kept + page.count as u64 >= l)
                || open.group.items() + page.count >= MERGE_AT
            {
                people = PagePeople::Kept(people.kept(st.limit, &mut progress).await?);
            }
            let limit_reached = matches!(&people, PagePeople::Kept(k) if k.limit_reached);
            let (next_step, next_cursor) = match page.next {
                Some(c) if !limit_reached => (step, Some(c)),
                _ => (step + 1, None),
            };
            // The slice ends with this page when its time is up. Decided before the commit so
            // that a slice that ends never fetches ahead: a page fetched and then dropped would
            // be a call the run does not count.
            let hand_over = next_step < steps.len() && Instant::now() >= deadline;
            // The group is merged once it holds `MERGE_AT` people, and at the run's end. (A page
            // still converting has fewer records than would close it.)
            let fills = match &people {
                PagePeople::Kept(k) => open.group.items() + k.items.len() >= MERGE_AT,
                PagePeople::Converting(_) => false,
            };
            let closes = fills || next_step >= steps.len();
            // A page that closes its group or ends the slice waits for the commit before it, and
            // only then has the next page fetched: beside a merge, one page is held and one
            // fetched, no more than before commits ran beside the fetching (peak memory with
            // Salesforce's 2,000-person pages, docs/benchmarks.md).
            if (closes || hand_over)
                && let Some(c) = open.committing.take()
            {
                self.join_commit(c, &mut progress).await?;
            }
            // Fetch the next page while this one is converted and committed. The daily quota
            // is checked before this fetch as before any other; when it says wait, the next
            // turn of the loop notes it. The checkpoint committed below names that page, so
            // whether or not this slice lives to use it, it is neither skipped nor stored twice.
            if !hand_over
                && let Some(next) = steps.get(next_step)
                && self
                    .quota_wait(&conn, settings.people.quota_share)
                    .is_none()
            {
                let page = fetch(next.clone(), next_cursor.clone());
                ahead = Some(Prefetch::spawn("fetching a page ahead", async {
                    Ok(page.await)
                }));
            }
            let items = people.kept(st.limit, &mut progress).await?.items;
            if next_step != step {
                progress.step_kept = 0;
            }
            step = next_step;
            cursor = next_cursor;
            open.group.push(items);
            // While the previous commit runs, the pages fetched meanwhile wait here for the next
            // one (a page that closes its group or ends the slice waited for it above).
            if let Some(c) = &open.committing
                && !c.is_finished()
            {
                continue;
            }
            if let Some(c) = open.committing.take() {
                self.join_commit(c, &mut progress).await?;
            }
            // Whole milliseconds are counted and the rest carried, so that thousands of pages
            // do not each lose a fraction.
            let ms = mark.elapsed().as_millis() as u64;
            progress.elapsed_ms += ms;
            mark += Duration::from_millis(ms);
            let here = run_now(&run, step, &cursor);
            let commit =
                self.next_commit(&ctx, &here, &mut open, &mut progress, closes, hand_over)?;
            let task = Committing::spawn("committing a page", commit.run());
            if hand_over {
                self.join_commit(task, &mut progress).await?;
                return Ok(Done::CompletedInTx);
            }
            open.committing = Some(task);
        }
    }

    /// Waits for the commit running in the background, if any, and stages the pages fetched
    /// meanwhile, so that everything this slice fetched is stored and `run` (the position the
    /// slice reached) is the checkpoint before the slice stops.
    async fn settle(
        &self,
        ctx: &JobContext<'_>,
        run: &SyncRun,
        progress: &mut Progress,
        open: &mut OpenGroup,
    ) -> Result<(), JobError> {
        if let Some(c) = open.committing.take() {
            self.join_commit(c, progress).await?;
        }
        if open.staged == open.group.pages().len() {
            return Ok(());
        }
        self.next_commit(ctx, run, open, progress, false, false)?
            .run()
            .await?;
        Ok(())
    }

    /// The commit of the pages of `open` not stored yet, checkpointed at `run`'s position
    /// (the page after them): the whole group merged with `merge`, else those pages staged.
    fn next_commit(
        &self,
        ctx: &JobContext<'_>,
        run: &SyncRun,
        open: &mut OpenGroup,
        progress: &mut Progress,
        merge: bool,
        hand_over: bool,
    ) -> Result<Commit, StoreError> {
        let (merge, stage) = if merge {
            open.staged = 0;
            (Some(open.group.take()), Vec::new())
        } else {
            (None, open.unstaged()?)
        };
        let first_seq = open.next_seq;
        open.next_seq += stage.len() as i64;
        progress.pending = open.group.items() as u64;
        Ok(Commit {
            store: self.store.clone(),
            lease: ctx.lease(),
            run_id: run.id,
            tenant: run.tenant_id.clone(),
            provider: run.provider.clone(),
            merge,
            stage,
            first_seq,
            step: usize::try_from(run.step).unwrap_or(0),
            cursor: run.cursor.clone(),
            progress: progress.clone(),
            hand_over,
            now: self.clock.now(),
        })
    }

    /// Waits for a commit and counts what it stored.
    async fn join_commit(&self, c: Committing, progress: &mut Progress) -> Result<(), JobError> {
        let before = progress.imported;
        let out = c.join().await?;
        progress.count(out);
        self.refresh_statistics(before, progress.imported).await;
        Ok(())
    }

    /// Refreshes the database's statistics of the people tables when this run's inserts
    /// crossed a power of two from 1,024 up (see [`renkei_store::Store::analyze_people`]):
    /// a handful of times per import, at most twice the cost of the last. Stateless, so a
    /// run resumed by another job keeps the same schedule. A failure only costs speed, so it
    /// is logged and the import goes on.
    async fn refresh_statistics(&self, before: u64, after: u64) {
        if !statistics_due(before, after) {
            return;
        }
        if let Err(e) = self.store.analyze_people().await {
            tracing::warn!(error = %e, "refreshing the people tables' statistics failed");
        }
    }

    /// When the provider's daily window is used past `share`, until when to wait.
    fn quota_wait(
        &self,
        conn: &renkei_store::connections::Connection,
        share: f64,
    ) -> Option<Millis> {
        let state = self
            .connectors
            .http
            .budget_state(&crate::vault::budget_key(conn))?;
        let daily = state.daily()?;
        let (limit, remaining) = (daily.limit? as f64, daily.remaining as f64);
        if limit <= 0.0 || (limit - remaining) / limit < share {
            return None;
        }
        // What is known of the window is only as new as the provider's last answer, and only a
        // call brings a newer one. So the wait ends at the window's stated end or, when it names
        // none (Salesforce's rolling 24 hours), an hour after that answer; past it, the next call
        // goes ahead and its answer tells whether there is room again. Counting the hour from
        // "now", or waiting for an end already past, would hold a run that no longer calls for
        // ever.
        let millis = |t: SystemTime| {
            Millis(
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
            )
        };
        let until = match daily.resets_at {
            Some(t) => millis(t),
            None => millis(daily.observed_at).plus_ms(3_600_000),
        };
        (until > self.clock.now()).then_some(until)
    }

    async fn on_error(
        &self,
        ctx: &JobContext<'_>,
        run: &SyncRun,
        progress: &Progress,
        e: VaultError,
    ) -> Result<Done, JobError> {
        let now = self.clock.now();
        if let VaultError::Connector(ConnectorError::RateLimited { retry_after, .. }) = &e {
            let wait = retry_after.unwrap_or(Duration::from_secs(30));
            self.note_waiting(run, progress, "rate_limited").await?;
            return Err(JobError::Snooze {
                reason: "rate limited".into(),
                until: now.plus_ms(wait.as_millis() as i64),
            });
        }
        if e.is_retryable() && ctx.job.attempt < ctx.job.max_attempts {
            let after = match &e {
                VaultError::Connector(c) => c.retry_after(),
                _ => None,
            };
            return Err(JobError::Retry {
                error: e.to_string(),
                after,
            });
        }
        self.fail(ctx, run, progress, e.code(), &e.to_string())
            .await
    }

    async fn note_waiting(
        &self,
        run: &SyncRun,
        progress: &Progress,
        why: &str,
    ) -> Result<(), StoreError> {
        let mut p = progress.clone();
        p.waiting = Some(why.to_owned());
        let mut tx = self.store.begin().await?;
        // The people fetched so far are the host app's while the run waits.
        merge_staged(&self.store, &mut tx, run, &mut p, self.clock.now()).await?;
        self.store
            .save_sync_checkpoint(
                &mut tx,
                run.id,
                run.step,
                run.cursor.as_deref(),
                &serde_json::to_string(&p).unwrap_or_default(),
                self.clock.now(),
            )
            .await?;
        tx.commit().await
    }

    async fn fail(
        &self,
        ctx: &JobContext<'_>,
        run: &SyncRun,
        progress: &Progress,
        code: &str,
        message: &str,
    ) -> Result<Done, JobError> {
        tracing::warn!(run = run.id, provider = %run.provider, code, "sync run failed");
        let now = self.clock.now();
        let mut progress = progress.clone();
        let mut tx = self.store.begin().await?;
        // The pages fetched before the failure are kept, as if each had been merged as it came.
        merge_staged(&self.store, &mut tx, run, &mut progress, now).await?;
        self.store
            .finish_sync_run(
                &mut tx,
                run.id,
                "failed",
                &serde_json::to_string(&progress).unwrap_or_default(),
                Some((code, message)),
                now,
            )
            .await?;
        self.store
            .complete_job_in(&mut tx, &ctx.lease(), now)
            .await?;
        tx.commit().await?;
        Ok(Done::CompletedInTx)
    }

    async fn succeed(
        &self,
        ctx: &JobContext<'_>,
        run: &SyncRun,
        steps: &[Step],
        progress: &Progress,
    ) -> Result<Done, JobError> {
        let now = self.clock.now();
        let from = run
            .created_at
            .plus_ms(-(self.options.overlap.as_millis() as i64));
        let mut progress = progress.clone();
        let mut tx = self.store.begin().await?;
        // Nothing is staged when the last page merged its group, as it does; this is for a
        // run that was left with staged pages and nothing more to fetch.
        merge_staged(&self.store, &mut tx, run, &mut progress, now).await?;
        let mut objects: Vec<PersonObject> = steps.iter().map(|s| s.object).collect();
        objects.dedup();
        for o in objects {
            self.store
                .set_sync_cursor(
                    &mut tx,
                    run.connection_id,
                    o.as_str(),
                    SyncCursor {
                        changed_since: from,
                        deleted_since: from,
                    },
                    now,
                )
                .await?;
        }
        self.schedule_next(&mut tx, run, now).await?;
        self.store
            .finish_sync_run(
                &mut tx,
                run.id,
                "succeeded",
                &serde_json::to_string(&progress).unwrap_or_default(),
                None,
                now,
            )
            .await?;
        self.store
            .complete_job_in(&mut tx, &ctx.lease(), now)
            .await?;
        tx.commit().await?;
        tracing::info!(run = run.id, provider = %run.provider, kind = %run.kind,
            imported = progress.imported, updated = progress.updated, removed = progress.removed,
            pages = progress.pages, "sync run succeeded");
        Ok(Done::CompletedInTx)
    }

    async fn schedule_next(
        &self,
        tx: &mut Tx,
        run: &SyncRun,
        now: Millis,
    ) -> Result<(), StoreError> {
        let interval = match Provider::parse(&run.provider) {
            Some(p) => self
                .settings(&run.tenant_id, p)
                .await
                .map(|(_, s)| s.people.interval_seconds)
                .unwrap_or(300),
            None => 300,
        };
        self.store
            .set_next_sync_at(
                tx,
                run.connection_id,
                Some(now.plus_ms(i64::try_from(interval).unwrap_or(300) * 1000)),
            )
            .await
    }

    /// Syncs the named records now (the `sync_records` job, after a webhook).
    async fn sync_records(
        &self,
        ctx: JobContext<'_>,
        job: SyncRecordsJob,
    ) -> Result<Done, JobError> {
        let Some(provider) = Provider::parse(&job.provider) else {
            return Err(JobError::Permanent(format!(
                "unknown provider {}",
                job.provider
            )));
        };
        let (_, settings) = match self.settings(&job.tenant, provider).await {
            Ok(x) => x,
            Err(SyncError::Store(e)) => return Err(e.into()),
            // Disconnected since the webhook came: nothing to sync into.
            Err(_) => return Ok(Done::Completed),
        };
        if !settings.people.enabled || !settings.people.objects.contains(&job.object) {
            return Ok(Done::Completed);
        }
        let region = self
            .store
            .get_tenant(&job.tenant)
            .await?
            .map(|t| t.default_region)
            .unwrap_or_else(|| "JP".into());
        let normalizer = Normalizer::new(&region, settings.people.clone());
        let target = Target::tenant(&job.tenant, provider);
        let connectors = self.connectors.clone();
        let ids = job.changed.clone();
        let object = job.object;
        let found = self
            .vault
            .call(&target, move |a| {
                let connectors = connectors.clone();
                let ids = ids.clone();
                async move {
                    connectors
                        .people_by_ids(provider, a.session(), object, &ids)
                        .await
                }
            })
            .await;
        let found = match found {
            Ok(f) => f,
            Err(VaultError::Connector(ConnectorError::RateLimited { retry_after, .. })) => {
                return Err(JobError::Snooze {
                    reason: "rate limited".into(),
                    until: ctx
                        .now()
                        .plus_ms(retry_after.unwrap_or(Duration::from_secs(30)).as_millis() as i64),
                });
            }
            Err(e) if e.is_retryable() => return Err(JobError::retry(e.to_string())),
            Err(e) => return Err(JobError::Permanent(format!("{}: {e}", e.code()))),
        };
        let now = ctx.now();
        let mut items = Vec::new();
        let mut present = std::collections::HashSet::new();
        for p in &found {
            present.insert(p.remote_id.clone());
            match normalizer.convert(p) {
                Ok(i) => items.push(i),
                // No longer importable: leaves the host app's view like a deletion.
                Err(_) => items.push(PageItem::Remove {
                    object: p.object.as_str().to_owned(),
                    remote_id: p.remote_id.clone(),
                    at: p.updated_at,
                }),
            }
        }
        for id in job
            .changed
            .iter()
            .filter(|i| !present.contains(*i))
            .chain(&job.deleted)
        {
            if items
                .iter()
                .any(|i| matches!(i, PageItem::Remove { remote_id, .. } if remote_id == id))
            {
                continue;
            }
            items.push(PageItem::Remove {
                object: job.object.as_str().to_owned(),
                remote_id: id.clone(),
                at: now,
            });
        }
        let mut tx = self.store.begin().await?;
        self.store
            .apply_people(&mut tx, &job.tenant, provider.as_str(), &items, now)
            .await?;
        self.store
            .complete_job_in(&mut tx, &ctx.lease(), now)
            .await?;
        tx.commit().await?;
        Ok(Done::CompletedInTx)
    }

    /// Enqueues a `sync_records` job (webhook intake).
    pub async fn enqueue_records(&self, job: SyncRecordsJob) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store
            .enqueue_one(&job.to_job(now), now)
            .await
            .map(|_| ())
    }
}

/// The people of a page: still being converted, or converted and kept.
enum PagePeople {
    Converting(Converting),
    Kept(Kept),
}

impl PagePeople {
    /// Waits for the conversion, if it still runs, and keeps its people.
    async fn kept(self, limit: Option<u64>, progress: &mut Progress) -> Result<Kept, JobError> {
        match self {
            PagePeople::Converting(c) => Ok(keep(c.join().await?, limit, progress)),
            PagePeople::Kept(k) => Ok(k),
        }
    }
}

/// The people of a converted page that a run keeps.
struct Kept {
    items: Vec<PageItem>,
    /// The step's limit was reached: the step ends with this page.
    limit_reached: bool,
}

/// Keeps the people of a converted page: each record once (its last occurrence in the page
/// wins) and no more than the step's `limit`, counting those skipped by reason.
fn keep(people: Converted, limit: Option<u64>, progress: &mut Progress) -> Kept {
    let mut items: Vec<PageItem> = Vec::with_capacity(people.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut limit_reached = false;
    for (remote_id, converted) in people {
        if let Some(l) = limit
            && progress.step_kept >= l
        {
            limit_reached = true;
            break;
        }
        match converted {
            Ok(item) => match seen.get(&remote_id) {
                Some(&i) => items[i] = item,
                None => {
                    seen.insert(remote_id, items.len());
                    items.push(item);
                    progress.step_kept += 1;
                }
            },
            Err(reason) => {
                *progress
                    .skipped
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1;
            }
        }
    }
    if let Some(l) = limit
        && progress.step_kept >= l
    {
        limit_reached = true;
    }
    Kept {
        items,
        limit_reached,
    }
}

/// A page as the provider answered it: where the step goes on from it, and its records, being
/// converted under the connection's settings on a blocking thread.
struct FetchedPage {
    /// The records, as many as were answered.
    count: usize,
    converting: Converting,
    next: Option<String>,
    api_calls: u32,
}

/// Each record of a page, in the page's order: its remote id and its stored form, or why it
/// is skipped.
type Converted = Vec<(String, Result<PageItem, SkipReason>)>;

/// Fetches the page of `step` at `cursor` through the vault and starts its conversion.
///
/// The conversion (phone numbers, NFKC, the content hash) runs on a blocking thread, so that
/// it neither holds a runtime worker nor waits behind the store, and the page is answered
/// before it ends: the loop can start the next page's request meanwhile, since where the step
/// goes on is the provider's cursor and needs no converted record (see "Pipelining" in the
/// module doc). The conversion starts inside the vault's call, which then records the
/// connection's use.
async fn fetch_page(
    vault: Arc<Vault>,
    connectors: Arc<Connectors>,
    normalizer: Arc<Normalizer>,
    target: Target,
    provider: Provider,
    step: Step,
    cursor: Option<String>,
) -> Result<FetchedPage, VaultError> {
    vault
        .call(&target, move |a| {
            let (connectors, normalizer, step, cursor) = (
                connectors.clone(),
                normalizer.clone(),
                step.clone(),
                cursor.clone(),
            );
            async move {
                let page = connectors
                    .people_page(
                        provider,
                        a.session(),
                        step.object,
                        &step.query,
                        cursor.as_deref(),
                    )
                    .await?;
                let (records, next, api_calls) = (page.people, page.next, page.api_calls);
                let count = records.len();
                let converting = Beside {
                    task: tokio::task::spawn_blocking(move || {
                        Ok(records
                            .iter()
                            .map(|p| (p.remote_id.clone(), normalizer.convert(p)))
                            .collect())
                    }),
                    what: "converting a page",
                };
                Ok(FetchedPage {
                    count,
                    converting,
                    next,
                    api_calls,
                })
            }
        })
        .await
}

/// A task of the sync loop that runs beside it: a page fetched ahead ([`Prefetch`]) or a
/// commit ([`Committing`]). Dropping it (the slice ended on an error) aborts the task. A page
/// fetched ahead was not stored, and the checkpoint never names a page beyond the one it was
/// fetched for, so whichever job goes on fetches it again. An aborted commit rolls its
/// transaction back: the checkpoint before it stands, and its pages are fetched again.
struct Beside<T> {
    task: tokio::task::JoinHandle<Result<T, JobError>>,
    /// What the task does, for the error when it was cancelled.
    what: &'static str,
}

type Prefetch = Beside<Result<FetchedPage, VaultError>>;
type Converting = Beside<Converted>;
type Committing = Beside<PageOutcome>;

impl<T: Send + 'static> Beside<T> {
    fn spawn(
        what: &'static str,
        f: impl Future<Output = Result<T, JobError>> + Send + 'static,
    ) -> Self {
        Beside {
            task: tokio::spawn(f),
            what,
        }
    }

    fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    async fn join(mut self) -> Result<T, JobError> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(JobError::retry(format!("{}: {e}", self.what))),
            },
        }
    }
}

impl<T> Drop for Beside<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// People per merge of a run's staged pages into the tenant's people: a Salesforce page (2,000)
/// is merged as it comes, 20 HubSpot pages or 10 Zoho pages at once. A merge writes each index
/// leaf its people touch once, however many pages brought them (see
/// [`renkei_store::Store::stage_sync_pages`]); more per merge would gain little (docs/benchmarks.md)
/// and keep people from the host app for longer.
const MERGE_AT: usize = 2_000;

/// A run's pages since its last merge (see "Staging" in the module doc).
struct OpenGroup {
    /// Those pages.
    group: PageGroup,
    /// How many of them are staged; the others were fetched while a commit was running.
    staged: usize,
    /// The number of the next staged page.
    next_seq: i64,
    /// The commit running in the background.
    committing: Option<Committing>,
}

impl OpenGroup {
    /// The pages not staged yet, as [`Store::stage_sync_pages`] takes them, now counted as
    /// staged.
    fn unstaged(&mut self) -> Result<Vec<String>, StoreError> {
        let pages = &self.group.pages()[self.staged..];
        self.staged += pages.len();
        pages.iter().map(|p| stage_json(p)).collect()
    }
}

/// One transaction of a run: the pages since the previous one, staged or merged with the open
/// group, and the checkpoint after them.
struct Commit {
    store: Store,
    lease: Lease,
    run_id: i64,
    tenant: TenantId,
    provider: String,
    /// The group's people, when this commit merges them; its staged pages are then removed.
    merge: Option<Vec<PageItem>>,
    /// Pages to stage, numbered from `first_seq`.
    stage: Vec<String>,
    first_seq: i64,
    step: usize,
    cursor: Option<String>,
    progress: Progress,
    /// Hand the run over to a fresh job in the same transaction.
    hand_over: bool,
    now: Millis,
}

impl Commit {
    /// Commits; answers what the merge stored.
    async fn run(mut self) -> Result<PageOutcome, JobError> {
        let store = &self.store;
        let mut tx = store.begin().await?;
        // Only the lease holder commits pages: a worker whose lease lapsed mid-slice stops
        // here (the error rolls the page back) instead of importing beside the new holder.
        store.hold_lease(&mut tx, &self.lease).await?;
        let mut out = PageOutcome::default();
        if let Some(items) = &self.merge {
            out = store
                .apply_people(&mut tx, &self.tenant, &self.provider, items, self.now)
                .await?;
            store.clear_staged_pages(&mut tx, self.run_id).await?;
        }
        store
            .stage_sync_pages(&mut tx, self.run_id, self.first_seq, &self.stage)
            .await?;
        self.progress.count(out);
        let json = serde_json::to_string(&self.progress).unwrap_or_default();
        store
            .save_sync_checkpoint(
                &mut tx,
                self.run_id,
                self.step as i64,
                self.cursor.as_deref(),
                &json,
                self.now,
            )
            .await?;
        if self.hand_over {
            // Hand over to a fresh job in the same transaction as this page.
            let job = SyncRunJob {
                run_id: self.run_id,
            };
            store
                .enqueue(&mut tx, &job.to_job(self.now), self.now)
                .await?;
            store
                .complete_job_in(&mut tx, &self.lease, self.now)
                .await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// Merges the pages `run` staged into its tenant's people, in `tx`, and counts them.
async fn merge_staged(
    store: &Store,
    tx: &mut Tx,
    run: &SyncRun,
    progress: &mut Progress,
    now: Millis,
) -> Result<(), StoreError> {
    let out = store
        .merge_staged_pages(tx, &run.tenant_id, &run.provider, run.id, now)
        .await?;
    progress.count(out);
    progress.pending = 0;
    Ok(())
}

/// `run` with the position reached in this slice (for a checkpoint that only notes a wait).
fn run_now(run: &SyncRun, step: usize, cursor: &Option<String>) -> SyncRun {
    let mut r = run.clone();
    r.step = step as i64;
    r.cursor = cursor.clone();
    r
}

/// Whether a run that had inserted `before` people and now has `after` crossed one of
/// 1,024, 2,048, 4,096, … on the way.
fn statistics_due(before: u64, after: u64) -> bool {
    let next = (before + 1).max(1_024).next_power_of_two();
    after >= next
}

/// Registers the sync jobs' handlers.
pub fn register(r: &mut Registry, sync: Arc<SyncService>) {
    let s = sync.clone();
    r.register::<SyncRunJob, _>(move |ctx, job| -> BoxFuture<'_, Result<Done, JobError>> {
        let s = s.clone();
        Box::pin(async move { s.run_slice(ctx, job).await })
    });
    let s = sync;
    r.register::<SyncRecordsJob, _>(move |ctx, job| -> BoxFuture<'_, Result<Done, JobError>> {
        let s = s.clone();
        Box::pin(async move { s.sync_records(ctx, job).await })
    });
}

#[cfg(test)]
mod statistics_tests {
    use super::statistics_due;

    #[test]
    fn due_when_a_power_of_two_is_crossed() {
        assert!(!statistics_due(0, 1_023));
        assert!(statistics_due(0, 1_024));
        assert!(statistics_due(1_000, 2_000));
        assert!(!statistics_due(1_024, 2_047));
        assert!(statistics_due(2_047, 2_048));
        assert!(!statistics_due(2_048, 2_048));
        assert!(statistics_due(60_000, 100_000));
        assert!(!statistics_due(70_000, 100_000));
    }
}
