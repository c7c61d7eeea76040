//! The experiment store: one SQLite file (bundled SQLite) holding every dataset seen, every run
//! with its parameters, prepare spec, metrics and timings, AutoML trials, compact per-row scores
//! and the saved model.
//!
//! Safety rules, each relied on by a test in `tests/store.rs`:
//! - Nothing is written before the file is known to be a store this build understands: the
//!   schema version is read first, so a foreign, corrupted or newer file is left untouched.
//! - WAL journal, `synchronous = FULL`, foreign keys on, a 30 s busy timeout, and every logical
//!   write in one `BEGIN IMMEDIATE` transaction: concurrent writers queue instead of failing, and
//!   a process killed mid-write leaves the previous state.
//! - A run is inserted as `running` (with the writer's pid) before the work starts and finished
//!   in one transaction with its scores and model; a `running` run whose process is gone is
//!   marked `interrupted` by the next open.
//! - Opening runs `PRAGMA quick_check` within a time budget: a store found damaged can still be
//!   read, but every write is refused (writing into a damaged b-tree can spread the damage).

pub mod codec;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

pub use schema::CURRENT_VERSION;

pub const STORE_ENV: &str = "PYNOMALY_STORE";
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time the open-time `quick_check` may take; a bigger store is simply not checked on open.
const QUICK_CHECK_BUDGET: Duration = Duration::from_millis(200);
/// Problems quoted from `quick_check` in the error message.
const QUICK_CHECK_QUOTED: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Unusable { path: String, message: String },
    #[error("store {path}: written by a newer Pynomaly (schema version {found}; this build knows up to {known}); nothing was changed. Upgrade Pynomaly or choose another store with --store")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("store {path} is damaged (integrity check: {details}); nothing was written. {}", recovery_hint(.path))]
    Damaged { path: String, details: String },
    #[error("no run {0} in the store (see `pynomaly experiments list`)")]
    NoSuchRun(i64),
    #[error("store {path}: {message}")]
    Internal { path: String, message: String },
}

impl StoreError {
    /// Problems the user can fix (another path, a newer binary, another id): exit 2.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, StoreError::Internal { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What to do with a damaged store at `path`.
pub fn recovery_hint(path: &str) -> String {
    format!(
        "Recover what can be read with `{}`, see `pynomaly experiments check` for details, or use --store to choose another file",
        recover_command(path)
    )
}

/// The shell command that copies what can still be read from the store at `path` into a new one.
pub fn recover_command(path: &str) -> String {
    format!(
        "sqlite3 {} .recover | sqlite3 new.sqlite",
        shell_quote(path)
    )
}

/// `path` as one shell word, for commands the user may paste.
fn shell_quote(path: &str) -> String {
    let plain = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c));
    if plain {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

/// Where the store lives when neither `--store` nor `PYNOMALY_STORE` says otherwise.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "pynomaly").map(|d| d.data_dir().join("store.sqlite"))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Detect,
    Automl,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Detect => "detect",
            RunKind::Automl => "automl",
        }
    }
}

/// How a run ended when it did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Failed,
    Cancelled,
}

/// The dataset a run used.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetRecord {
    pub path: String,
    pub fingerprint: String,
    pub format: String,
    pub n_rows: usize,
    pub n_columns: usize,
    /// JSON of the profile, when one was computed.
    pub profile: Option<String>,
}

/// What is known when a run starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub kind: RunKind,
    pub dataset: DatasetRecord,
    pub detector: String,
    pub params: serde_json::Value,
    pub prepare_spec: serde_json::Value,
    pub seed: u64,
    pub n_rows: usize,
    pub n_features: usize,
    pub label_column: Option<String>,
}

/// What a finished run adds.
#[derive(Debug, Clone)]
pub struct RunOutcome<'a> {
    pub threshold_method: String,
    pub threshold_value: f64,
    pub n_anomalies: usize,
    pub metrics: serde_json::Value,
    pub timing: serde_json::Value,
    pub row_ids: &'a [u64],
    pub scores: &'a [f64],
    pub flags: &'a [u8],
    /// The serialised [`crate::saved_model::ModelEnvelope`].
    pub model: Option<&'a [u8]>,
    /// The detector and parameters finally chosen (AutoML decides them during the run).
    pub chosen: Option<(String, serde_json::Value)>,
}

/// One AutoML trial.
#[derive(Debug, Clone, Serialize)]
pub struct TrialRecord {
    pub trial: u32,
    pub detector: String,
    pub params: serde_json::Value,
    pub objective: Option<f64>,
    pub metrics: serde_json::Value,
    pub time_s: f64,
    /// done, failed, cancelled or pruned.
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Substring of the dataset path.
    pub dataset: Option<String>,
    pub detector: Option<String>,
    pub status: Option<String>,
    pub limit: Option<usize>,
}

/// A row of `experiments list`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub kind: String,
    pub detector: String,
    pub dataset: Option<String>,
    pub n_rows: Option<i64>,
    pub n_features: Option<i64>,
    pub status: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub started: String,
    pub duration_s: Option<f64>,
    pub n_anomalies: Option<i64>,
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
}

/// Everything stored about one run except its scores and model.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub dataset_fingerprint: Option<String>,
    pub params: serde_json::Value,
    pub prepare_spec: serde_json::Value,
    pub seed: u64,
    pub label_column: Option<String>,
    pub threshold_method: Option<String>,
    pub threshold_value: Option<f64>,
    pub metrics: serde_json::Value,
    pub timing: serde_json::Value,
    pub error: Option<String>,
    pub finished: Option<String>,
    pub app_version: String,
    pub has_model: bool,
    pub n_trials: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredScores {
    pub row_ids: Vec<u64>,
    pub scores: Vec<f64>,
    pub flags: Vec<u8>,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// What the open-time quick check found wrong; writes are refused while this is set.
    damage: Option<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// The store at `--store`, else `PYNOMALY_STORE`, else the platform data directory.
    pub fn open_default(explicit: Option<&Path>) -> StoreResult<Store> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os(STORE_ENV).filter(|v| !v.is_empty()) {
                Some(p) => PathBuf::from(p),
                None => default_path().ok_or_else(|| StoreError::Unusable {
                    path: "(default)".into(),
                    message: "no home directory to put the store in; use --store PATH".into(),
                })?,
            },
        };
        Store::open(&path)
    }

    /// Opens (creating if needed, mode 0600) and migrates the store at `path`.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let shown = path.display().to_string();
        let unusable = |message: String| StoreError::Unusable {
            path: shown.clone(),
            message,
        };
        if path.is_dir() {
            return Err(unusable("is a directory; expected a store file".into()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                unusable(format!(
                    "cannot create the folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
        create_private_file(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                unusable(format!(
                    "the location is not writable ({e}); choose another --store or set {STORE_ENV}"
                ))
            }
            _ => unusable(format!("cannot create the file: {e}")),
        })?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| describe(&shown, e))?;
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(unusable(
                "the file is read-only; Pynomaly needs to write runs to it (choose another --store)"
                    .into(),
            ));
        }
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| describe(&shown, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            damage: None,
        };
        // Read before any write: a foreign, corrupted or newer file must stay as it is.
        let (version, tables) = store.version_and_table_count()?;
        if version > CURRENT_VERSION {
            return Err(StoreError::TooNew {
                path: shown,
                found: version,
                known: CURRENT_VERSION,
            });
        }
        if version == 0 && tables > 0 {
            return Err(unusable(
                "an SQLite database, but not a Pynomaly store; it was left untouched".into(),
            ));
        }
        // Still before any write. A damaged store stays readable, and query_only backs up the
        // refusal in `write_tx` at the SQLite level.
        if let Some(problems) = store.quick_check(QUICK_CHECK_BUDGET)? {
            store
                .conn
                .pragma_update(None, "query_only", true)
                .map_err(|e| store.err(e))?;
            store.damage = Some(problems);
            return Ok(store);
        }
        store
            .conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(|e| store.err(e))?;
        store.enable_wal()?;
        store
            .conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| store.err(e))?;
        if version < CURRENT_VERSION {
            store.migrate()?;
        }
        store.mark_interrupted_runs()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the quick check on open found wrong, when the store is damaged (then read-only).
    pub fn damage(&self) -> Option<&str> {
        self.damage.as_deref()
    }

    /// `PRAGMA quick_check` stopped at `budget`: `None` when the store is healthy or the check
    /// did not finish in time, else the first problems found (sanitised: they quote names from
    /// the file's schema).
    fn quick_check(&self, budget: Duration) -> StoreResult<Option<String>> {
        let deadline = Instant::now() + budget;
        let checked = {
            let _handler = ProgressDeadline::install(&self.conn, &deadline);
            pragma_lines(
                &self.conn,
                &format!("PRAGMA quick_check({QUICK_CHECK_QUOTED})"),
            )
        };
        match checked {
            Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(None),
            Ok(rows) => Ok(Some(quote_problems(&rows))),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) => Ok(None),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseCorrupt) => {
                Ok(Some(quote_problems(&[e.to_string()])))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// The problems `PRAGMA integrity_check` finds (no time limit), one per line, at most `max`,
    /// sanitised; empty for a healthy store.
    pub fn integrity_problems(&self, max: usize) -> StoreResult<Vec<String>> {
        let rows = match pragma_lines(
            &self.conn,
            &format!("PRAGMA integrity_check({})", max.max(1)),
        ) {
            Ok(rows) => rows,
            // Damage bad enough to stop the check is one more problem to report.
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseCorrupt) => {
                vec![e.to_string()]
            }
            Err(e) => return Err(self.err(e)),
        };
        if rows.len() == 1 && rows[0] == "ok" {
            return Ok(Vec::new());
        }
        let problems: Vec<String> = problem_lines(&rows).take(max).collect();
        if problems.is_empty() {
            return Ok(vec![quote_problems(&rows)]);
        }
        Ok(problems)
    }

    pub fn schema_version(&self) -> StoreResult<i64> {
        self.user_version()
    }

    fn user_version(&self) -> StoreResult<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The schema version and the number of schema objects, read in one statement so both come
    /// from the same snapshot: a process that starts while another one creates the store must not
    /// see version 0 together with the other's new tables (and call the file foreign).
    fn version_and_table_count(&self) -> StoreResult<(i64, i64)> {
        self.conn
            .query_row(
                "SELECT (SELECT user_version FROM pragma_user_version()),
                        (SELECT count(*) FROM sqlite_master)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))
    }

    /// Switches a new store to WAL. SQLite answers "database is locked" at once, without calling
    /// the busy handler, when two processes create the store at the same moment and both try to
    /// change the journal mode; so the switch is retried here until the usual busy timeout.
    fn enable_wal(&self) -> StoreResult<()> {
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        loop {
            let attempt: rusqlite::Result<String> =
                self.conn
                    .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0));
            match attempt {
                Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
                Ok(mode) => {
                    return Err(StoreError::Unusable {
                        path: self.path.display().to_string(),
                        message: format!(
                            "cannot switch the journal to WAL (got {mode}); is it on a network file system?"
                        ),
                    })
                }
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    fn migrate(&mut self) -> StoreResult<()> {
        let path = self.path.display().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| describe(&path, e))?;
        // Another process may have migrated while we waited for the write lock.
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| describe(&path, e))?;
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(|e| describe(&path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| describe(&path, e))?;
        }
        tx.commit().map_err(|e| describe(&path, e))
    }

    /// Runs left `running` by a process that no longer exists were interrupted (killed, power
    /// loss): say so instead of showing them as running forever.
    fn mark_interrupted_runs(&mut self) -> StoreResult<()> {
        let orphans: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, pid FROM runs WHERE status = 'running'")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
                })
                .map_err(|e| self.err(e))?;
            let mut orphans = Vec::new();
            for row in rows {
                let (id, pid) = row.map_err(|e| self.err(e))?;
                if !pid.is_some_and(process_alive) {
                    orphans.push(id);
                }
            }
            orphans
        };
        if orphans.is_empty() {
            return Ok(());
        }
        let path = self.path.display().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| describe(&path, e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE runs SET status = 'interrupted', pid = NULL, error = ?2
                     WHERE id = ?1 AND status = 'running'",
                )
                .map_err(|e| describe(&path, e))?;
            for id in orphans {
                stmt.execute(params![
                    id,
                    "the process recording this run ended before the run finished"
                ])
                .map_err(|e| describe(&path, e))?;
            }
        }
        tx.commit().map_err(|e| describe(&path, e))
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        describe(&self.path.display().to_string(), e)
    }

    fn write_tx(&mut self) -> StoreResult<rusqlite::Transaction<'_>> {
        let path = self.path.display().to_string();
        if let Some(details) = &self.damage {
            return Err(StoreError::Damaged {
                path,
                details: details.clone(),
            });
        }
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| describe(&path, e))
    }

    /// Whether this content at this path is already known (its profile is then stored).
    pub fn has_dataset(&self, path: &str, fingerprint: &str) -> StoreResult<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM datasets
                 WHERE path = ?1 AND fingerprint = ?2 AND profile IS NOT NULL)",
            )
            .and_then(|mut s| s.query_row(params![path, fingerprint], |r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    /// Records the dataset (once per path and content) and a new run marked `running`.
    pub fn begin_run(&mut self, run: &NewRun) -> StoreResult<i64> {
        let path = self.path.display().to_string();
        let e = |e| describe(&path, e);
        let tx = self.write_tx()?;
        let now = now_ms();
        let d = &run.dataset;
        tx.prepare_cached(
            "INSERT INTO datasets (path, fingerprint, format, n_rows, n_columns, profile, first_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (path, fingerprint) DO UPDATE SET profile = coalesce(excluded.profile, profile)",
        )
        .and_then(|mut s| {
            s.execute(params![
                d.path,
                d.fingerprint,
                d.format,
                d.n_rows as i64,
                d.n_columns as i64,
                d.profile,
                now
            ])
        })
        .map_err(e)?;
        let dataset_id: i64 = tx
            .prepare_cached("SELECT id FROM datasets WHERE path = ?1 AND fingerprint = ?2")
            .and_then(|mut s| s.query_row(params![d.path, d.fingerprint], |r| r.get(0)))
            .map_err(e)?;
        tx.prepare_cached(
            "INSERT INTO runs (dataset_id, kind, detector, params, prepare_spec, seed, n_rows,
                               n_features, label_column, status, started_ms, app_version, pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'running', ?10, ?11, ?12)",
        )
        .and_then(|mut s| {
            s.execute(params![
                dataset_id,
                run.kind.as_str(),
                run.detector,
                run.params.to_string(),
                run.prepare_spec.to_string(),
                run.seed as i64,
                run.n_rows as i64,
                run.n_features as i64,
                run.label_column,
                now,
                env!("CARGO_PKG_VERSION"),
                std::process::id() as i64,
            ])
        })
        .map_err(e)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(e)?;
        Ok(id)
    }

    /// Completes a run: results, scores and model land together or not at all.
    pub fn finish_run(&mut self, id: i64, outcome: &RunOutcome<'_>) -> StoreResult<()> {
        let n = outcome.scores.len();
        assert!(
            outcome.row_ids.len() == n && outcome.flags.len() == n,
            "row ids, scores and flags of a run have one entry per row"
        );
        let path = self.path.display().to_string();
        let e = |e| describe(&path, e);
        let tx = self.write_tx()?;
        let changed = tx
            .prepare_cached(
                "UPDATE runs SET status = 'done', pid = NULL, threshold_method = ?2,
                        threshold_value = ?3, n_anomalies = ?4, metrics = ?5, timing = ?6,
                        finished_ms = ?7
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    outcome.threshold_method,
                    outcome.threshold_value,
                    outcome.n_anomalies as i64,
                    outcome.metrics.to_string(),
                    outcome.timing.to_string(),
                    now_ms()
                ])
            })
            .map_err(e)?;
        if changed == 0 {
            return Err(StoreError::NoSuchRun(id));
        }
        if let Some((detector, params)) = &outcome.chosen {
            tx.prepare_cached("UPDATE runs SET detector = ?2, params = ?3 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id, detector, params.to_string()]))
                .map_err(e)?;
        }
        tx.prepare_cached(
            "INSERT OR REPLACE INTO scores (run_id, n, encoding, scores, flags, row_ids)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                n as i64,
                codec::ENCODING,
                codec::encode_scores(outcome.scores),
                codec::encode_flags(outcome.flags),
                codec::encode_row_ids(outcome.row_ids),
            ])
        })
        .map_err(e)?;
        if let Some(model) = outcome.model {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO models (run_id, format_version, envelope) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    crate::saved_model::MODEL_FORMAT_VERSION,
                    model
                ])
            })
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    /// Marks a run failed or cancelled, keeping the error text.
    pub fn end_run(&mut self, id: i64, end: RunEnd, error: &str) -> StoreResult<()> {
        let status = match end {
            RunEnd::Failed => "failed",
            RunEnd::Cancelled => "cancelled",
        };
        let path = self.path.display().to_string();
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "UPDATE runs SET status = ?2, error = ?3, pid = NULL, finished_ms = ?4 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, status, error, now_ms()]))
        .map_err(|e| describe(&path, e))?;
        tx.commit().map_err(|e| describe(&path, e))
    }

    /// Records AutoML trials of a run (one transaction for the batch).
    pub fn record_trials(&mut self, run_id: i64, trials: &[TrialRecord]) -> StoreResult<()> {
        let path = self.path.display().to_string();
        let e = |e| describe(&path, e);
        let tx = self.write_tx()?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO trials
                     (run_id, trial, detector, params, objective, metrics, time_s, status, error)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(e)?;
            for t in trials {
                stmt.execute(params![
                    run_id,
                    t.trial,
                    t.detector,
                    t.params.to_string(),
                    t.objective,
                    t.metrics.to_string(),
                    t.time_s,
                    t.status,
                    t.error
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    pub fn trials(&self, run_id: i64) -> StoreResult<Vec<TrialRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT trial, detector, params, objective, metrics, time_s, status, error
                 FROM trials WHERE run_id = ?1 ORDER BY trial",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(TrialRecord {
                    trial: r.get(0)?,
                    detector: r.get(1)?,
                    params: json_column(r.get::<_, Option<String>>(2)?),
                    objective: r.get(3)?,
                    metrics: json_column(r.get::<_, Option<String>>(4)?),
                    time_s: r.get::<_, Option<f64>>(5)?.unwrap_or(0.0),
                    status: r.get(6)?,
                    error: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Newest first.
    pub fn list_runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunSummary>> {
        let sql = format!(
            "{SUMMARY_SELECT}
             WHERE (?1 IS NULL OR instr(d.path, ?1) > 0)
               AND (?2 IS NULL OR r.detector = ?2)
               AND (?3 IS NULL OR r.status = ?3)
             ORDER BY r.started_ms DESC, r.id DESC
             LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        let rows = stmt
            .query_map(
                params![filter.dataset, filter.detector, filter.status, limit],
                summary_from_row,
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn run(&self, id: i64) -> StoreResult<RunDetail> {
        let sql = format!(
            "{SUMMARY_SELECT_DETAIL}
             WHERE r.id = ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        stmt.query_row([id], |r| {
            let summary = summary_from_row(r)?;
            Ok(RunDetail {
                summary,
                dataset_fingerprint: r.get(12)?,
                params: json_column(r.get(13)?),
                prepare_spec: json_column(r.get(14)?),
                seed: r.get::<_, i64>(15)? as u64,
                label_column: r.get(16)?,
                threshold_method: r.get(17)?,
                threshold_value: r.get(18)?,
                metrics: json_column(r.get(19)?),
                timing: json_column(r.get(20)?),
                error: r.get(21)?,
                finished: r.get(22)?,
                app_version: r.get(23)?,
                has_model: r.get::<_, i64>(24)? != 0,
                n_trials: r.get(25)?,
            })
        })
        .optional()
        .map_err(|e| self.err(e))?
        .ok_or(StoreError::NoSuchRun(id))
    }

    pub fn scores(&self, id: i64) -> StoreResult<Option<StoredScores>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT n, encoding, scores, flags, row_ids FROM scores WHERE run_id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, Option<Vec<u8>>>(4)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        let Some((n, encoding, scores, flags, row_ids)) = row else {
            return Ok(None);
        };
        let damaged = |what: &str| StoreError::Unusable {
            path: self.path.display().to_string(),
            message: format!("run {id}: the stored {what} are damaged"),
        };
        if encoding != codec::ENCODING {
            return Err(damaged("scores (unknown encoding)"));
        }
        let n = n as usize;
        Ok(Some(StoredScores {
            scores: codec::decode_scores(&scores, n).ok_or_else(|| damaged("scores"))?,
            flags: codec::decode_flags(&flags, n).ok_or_else(|| damaged("flags"))?,
            row_ids: codec::decode_row_ids(row_ids.as_deref(), n)
                .ok_or_else(|| damaged("row ids"))?,
        }))
    }

    /// The serialised model envelope of a run, if it has one.
    pub fn model(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT envelope FROM models WHERE run_id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Deletes a run with its scores, model and trials. False when there was no such run.
    pub fn delete_run(&mut self, id: i64) -> StoreResult<bool> {
        let path = self.path.display().to_string();
        let tx = self.write_tx()?;
        let n = tx
            .prepare_cached("DELETE FROM runs WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(|e| describe(&path, e))?;
        tx.commit().map_err(|e| describe(&path, e))?;
        Ok(n > 0)
    }

    /// `PRAGMA integrity_check`: "ok" for a healthy file.
    pub fn integrity_check(&self) -> StoreResult<String> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

/// The columns `summary_from_row` reads, in order; the detail query extends this list.
const SUMMARY_SELECT: &str =
    "SELECT r.id, r.kind, r.detector, d.path, r.n_rows, r.n_features, r.status,
            strftime('%Y-%m-%d %H:%M:%S', r.started_ms / 1000, 'unixepoch'),
            (r.finished_ms - r.started_ms) / 1000.0, r.n_anomalies,
            json_extract(r.metrics, '$.roc_auc'), json_extract(r.metrics, '$.average_precision')
     FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id";

const SUMMARY_SELECT_DETAIL: &str =
    "SELECT r.id, r.kind, r.detector, d.path, r.n_rows, r.n_features, r.status,
            strftime('%Y-%m-%d %H:%M:%S', r.started_ms / 1000, 'unixepoch'),
            (r.finished_ms - r.started_ms) / 1000.0, r.n_anomalies,
            json_extract(r.metrics, '$.roc_auc'), json_extract(r.metrics, '$.average_precision'),
            d.fingerprint, r.params, r.prepare_spec, r.seed, r.label_column, r.threshold_method,
            r.threshold_value, r.metrics, r.timing, r.error,
            strftime('%Y-%m-%d %H:%M:%S', r.finished_ms / 1000, 'unixepoch'), r.app_version,
            EXISTS (SELECT 1 FROM models m WHERE m.run_id = r.id),
            (SELECT count(*) FROM trials t WHERE t.run_id = r.id)
     FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id";

fn summary_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    Ok(RunSummary {
        id: r.get(0)?,
        kind: r.get(1)?,
        detector: r.get(2)?,
        dataset: r.get(3)?,
        n_rows: r.get(4)?,
        n_features: r.get(5)?,
        status: r.get(6)?,
        started: r.get(7)?,
        duration_s: r.get(8)?,
        n_anomalies: r.get(9)?,
        roc_auc: r.get(10)?,
        average_precision: r.get(11)?,
    })
}

/// Calls SQLite's progress handler with a deadline for as long as it lives. Through the FFI:
/// rusqlite's safe wrapper needs its `hooks` feature.
struct ProgressDeadline<'a> {
    conn: &'a Connection,
    _deadline: std::marker::PhantomData<&'a Instant>,
}

impl<'a> ProgressDeadline<'a> {
    /// Virtual-machine steps between two looks at the clock.
    const STEPS: std::ffi::c_int = 1000;

    fn install(conn: &'a Connection, deadline: &'a Instant) -> Self {
        unsafe extern "C" fn past_deadline(arg: *mut std::ffi::c_void) -> std::ffi::c_int {
            // SAFETY: `arg` is the `&Instant` given to `install`; the handler is removed in
            // `drop`, while that reference is still alive.
            let deadline = unsafe { &*(arg as *const Instant) };
            std::ffi::c_int::from(Instant::now() >= *deadline)
        }
        // SAFETY: the handle is valid while `conn` lives, which outlives `self`; the argument
        // is only read by `past_deadline`, and only until `drop` unregisters it.
        unsafe {
            rusqlite::ffi::sqlite3_progress_handler(
                conn.handle(),
                Self::STEPS,
                Some(past_deadline as unsafe extern "C" fn(_) -> _),
                deadline as *const Instant as *mut std::ffi::c_void,
            );
        }
        ProgressDeadline {
            conn,
            _deadline: std::marker::PhantomData,
        }
    }
}

impl Drop for ProgressDeadline<'_> {
    fn drop(&mut self) {
        // SAFETY: as in `install`; a zero step count and no handler unregister it.
        unsafe {
            rusqlite::ffi::sqlite3_progress_handler(
                self.conn.handle(),
                0,
                None,
                std::ptr::null_mut(),
            );
        }
    }
}

/// The text rows of a pragma such as `integrity_check`.
fn pragma_lines(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// The problems in the rows of an integrity check, one per item, sanitised. A row may hold
/// several problems separated by newlines, after a `*** in database main ***` heading.
fn problem_lines(rows: &[String]) -> impl Iterator<Item = String> + '_ {
    rows.iter()
        .flat_map(|row| row.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("***"))
        .map(|line| crate::text::sanitize(line).into_owned())
}

/// The first problems of an integrity check, on one line, safe to print.
fn quote_problems(rows: &[String]) -> String {
    let text = problem_lines(rows)
        .take(QUICK_CHECK_QUOTED)
        .collect::<Vec<_>>()
        .join("; ");
    if text.is_empty() {
        return "problems without details".into();
    }
    crate::text::truncate(&text, 300).into_owned()
}

fn json_column(text: Option<String>) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Creates the file with owner-only permissions if it does not exist yet (SQLite would create
/// it with the umask's, usually world-readable, and its -wal/-shm files copy the main file's).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether the process that started a run still exists.
fn process_alive(pid: i64) -> bool {
    if pid == std::process::id() as i64 {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // Signal 0 checks existence; EPERM means it exists under another user.
        // SAFETY: kill with signal 0 sends nothing; it only performs the permission check.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Turns SQLite's error codes into messages a user can act on.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked)
    )
}

fn describe(path: &str, e: rusqlite::Error) -> StoreError {
    let unusable = |message: String| StoreError::Unusable {
        path: path.to_string(),
        message,
    };
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            unusable("not a Pynomaly store (not an SQLite database); the file was left untouched".into())
        }
        Some(ErrorCode::DatabaseCorrupt) => unusable(format!(
            "the database file is corrupted; it was left untouched. Recover what can be read with `{}`, move it aside (a new store is created in its place) or restore a backup; `pynomaly experiments check` lists the damage",
            recover_command(path)
        )),
        Some(ErrorCode::ReadOnly) => unusable("the store is read-only; choose a writable --store".into()),
        Some(ErrorCode::CannotOpen) => unusable(format!("cannot open the file: {e}")),
        Some(ErrorCode::PermissionDenied) => unusable(format!("permission denied: {e}")),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => unusable(format!(
            "another process kept the store locked for more than {} s",
            BUSY_TIMEOUT.as_secs()
        )),
        Some(ErrorCode::DiskFull) => unusable("the disk is full".into()),
        Some(ErrorCode::SystemIoFailure) => unusable(format!("input/output error: {e}")),
        _ => StoreError::Internal {
            path: path.to_string(),
            message: e.to_string(),
        },
    }
}
