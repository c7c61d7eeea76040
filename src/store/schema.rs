//! The store's schema as an ordered list of forward migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration, once released, is
//! never edited: a change to the schema is a new entry at the end of [`MIGRATIONS`], and a
//! fixture database written by the build that introduced the new version goes into `tests/fixtures/store/` so that
//! `tests/store.rs` proves the upgrade path from every earlier version.

/// Migration `i` (0-based) takes a database from `user_version = i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // Version 1: datasets, runs, AutoML trials, compact scores, saved models.
    r#"
    CREATE TABLE datasets (
        id            INTEGER PRIMARY KEY,
        path          TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        format        TEXT,
        n_rows        INTEGER NOT NULL,
        n_columns     INTEGER NOT NULL,
        profile       TEXT,                 -- JSON (DatasetProfile), optional
        first_seen_ms INTEGER NOT NULL,
        UNIQUE (path, fingerprint)
    );

    -- AUTOINCREMENT: a deleted run's id is never given to a new run, so `score --model 7`
    -- cannot silently mean another run later.
    CREATE TABLE runs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset_id       INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        kind             TEXT NOT NULL CHECK (kind IN ('detect', 'automl')),
        detector         TEXT NOT NULL,
        params           TEXT NOT NULL,     -- JSON object, defaults included
        prepare_spec     TEXT NOT NULL,     -- JSON (fitted PrepareSpec)
        seed             INTEGER NOT NULL,
        n_rows           INTEGER,
        n_features       INTEGER,
        label_column     TEXT,
        threshold_method TEXT,
        threshold_value  REAL,
        n_anomalies      INTEGER,
        metrics          TEXT,              -- JSON object
        timing           TEXT,              -- JSON object
        status           TEXT NOT NULL
                         CHECK (status IN ('running', 'done', 'failed', 'cancelled', 'interrupted')),
        error            TEXT,
        started_ms       INTEGER NOT NULL,
        finished_ms      INTEGER,
        app_version      TEXT NOT NULL,
        pid              INTEGER            -- process recording a 'running' run
    );
    CREATE INDEX runs_by_start ON runs (started_ms DESC, id DESC);
    CREATE INDEX runs_by_dataset ON runs (dataset_id);
    CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

    CREATE TABLE trials (
        run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        trial     INTEGER NOT NULL,
        detector  TEXT NOT NULL,
        params    TEXT NOT NULL,            -- JSON object
        objective REAL,
        metrics   TEXT,                     -- JSON object
        time_s    REAL,
        status    TEXT NOT NULL CHECK (status IN ('done', 'failed', 'cancelled', 'pruned')),
        error     TEXT,
        PRIMARY KEY (run_id, trial)
    ) WITHOUT ROWID;

    -- One row per finished run; see store::codec for the encodings.
    CREATE TABLE scores (
        run_id   INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        n        INTEGER NOT NULL,
        encoding INTEGER NOT NULL,
        scores   BLOB NOT NULL,
        flags    BLOB NOT NULL,
        row_ids  BLOB                       -- NULL: rows 0..n
    );

    CREATE TABLE models (
        run_id         INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        format_version INTEGER NOT NULL,
        envelope       BLOB NOT NULL        -- JSON ModelEnvelope
    );
    "#,
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;
