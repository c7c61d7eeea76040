//! The application layer: every capability both faces offer, written once. The CLI (`cli/`) and
//! the workbench (`tui/`) only turn user input into calls of this module and its results into
//! output; neither runs a detector or a search, nor records a run, itself. (Listing, showing
//! and deleting stored runs are single calls of `store::Store`, made by both faces directly.)
//!
//! - [`detect`]: load and prepare a dataset, run one detector end to end.
//! - [`automl`]: plan and run a search, refit and record the best.
//! - [`score`]: read a saved model and apply it to new data.
//! - [`explain`]: why rows are anomalous, per feature and per source column.
//! - [`drift`]: per-feature drift between two files.
//! - [`watch`]: follow a growing source and score each record as it arrives.
//! - [`run_view`]: finished and stored runs as the views draw them.
//! - [`run_guard`]: a stored run that always ends (`done`, `failed` or `cancelled`).
//! - [`error`]: one error policy (whose fault, which exit code) for every layer.

pub mod automl;
pub mod detect;
pub mod drift;
pub mod error;
pub mod explain;
pub mod export;
pub mod jobs;
pub mod run_guard;
pub mod run_view;
pub mod score;
pub mod watch;

pub use error::{Blame, Fault, ServiceError, ServiceResult};
