//! The data layer: file → polars frame → profile → numeric matrix.

pub mod column;
pub mod csv_scan;
pub mod demo;
pub mod error;
pub mod json_depth;
pub mod label;
pub mod load;
pub mod prepare;
pub mod profile;

pub use demo::Demo;
pub use error::{DataError, DataResult};
pub use load::{load, Format, LoadOptions, Loaded, Source};
pub use prepare::{Matrix, PrepareReport, PrepareSpec, Prepared};
pub use profile::{profile, ColumnProfile, DatasetProfile};
