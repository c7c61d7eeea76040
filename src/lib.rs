//! Pynomaly: an anomaly-detection workbench for the terminal.
//!
//! Data flows one way: file → frame (`data::load`) → profile (`data::profile`) → matrix
//! (`data::prepare`) → detectors → scores → store and views. The binary (`src/main.rs`) is a
//! thin command-line face over this library.

// Numeric code: `!(x > 0.0)` is deliberate (it also catches NaN), and index loops mirror the
// reference implementations the detectors reproduce bit for bit.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

pub mod automl;
pub mod cli;
pub mod data;

pub mod combine;
pub mod detectors;
pub mod jobctx;
pub mod metrics;
pub mod neighbors;
mod numeric;
mod output_file;
pub mod panic_boundary;
pub mod record;
mod replicas;
pub mod saved_model;
pub mod service;
pub mod store;
pub mod streaming;
pub mod text;
pub mod threshold;
pub mod tui;
