//! Pynomaly: an anomaly-detection workbench for the terminal.
//!
//! Data flows one way: file → frame (`data::load`) → profile (`data::profile`) → matrix
//! (`data::prepare`) → detectors → scores → store and views. The binary (`src/main.rs`) is a
//! thin command-line face over this library.

pub mod automl;
pub mod cli;
pub mod data;

pub mod combine;
pub mod detectors;
pub mod metrics;
pub mod neighbors;
pub mod record;
pub mod saved_model;
mod simd;
pub mod store;
pub mod text;
pub mod threshold;
pub mod tui;
