//! Typed access to polars columns, shared by profiling and preparation.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// What a column holds, as far as anomaly detection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Numeric,
    Boolean,
    Text,
    Temporal,
    /// Nested or binary data (lists, structs from JSON); never a feature.
    Other,
}

pub fn kind_of(dtype: &DataType) -> ColumnKind {
    match dtype {
        DataType::Boolean => ColumnKind::Boolean,
        DataType::String | DataType::Categorical(..) | DataType::Enum(..) => ColumnKind::Text,
        DataType::Date | DataType::Datetime(..) | DataType::Duration(..) | DataType::Time => {
            ColumnKind::Temporal
        }
        d if d.is_primitive_numeric() => ColumnKind::Numeric,
        _ => ColumnKind::Other,
    }
}

/// A column as `f64` per row, `None` for missing. Temporal columns give their physical value
/// (e.g. microseconds since the epoch), booleans 0/1.
pub fn f64_values(column: &Column) -> PolarsResult<Vec<Option<f64>>> {
    let physical = match kind_of(column.dtype()) {
        ColumnKind::Temporal => column.to_physical_repr(),
        _ => column.clone(),
    };
    let cast = physical.cast(&DataType::Float64)?;
    Ok(cast.f64()?.iter().collect())
}

/// A text-like column as strings per row, `None` for missing.
pub fn string_values(column: &Column) -> PolarsResult<Vec<Option<String>>> {
    let cast = column.cast(&DataType::String)?;
    Ok(cast.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// Calls `f` with each row's string (or `None`), without allocating per row.
pub fn for_each_str(column: &Column, mut f: impl FnMut(usize, Option<&str>)) -> PolarsResult<()> {
    let cast = column.cast(&DataType::String)?;
    for (i, v) in cast.str()?.iter().enumerate() {
        f(i, v);
    }
    Ok(())
}

/// A stable 64-bit mix (splitmix64's finaliser): used for row hashes and distinct sketches.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes, then mixed: fast and deterministic across runs (std's hasher is seeded).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// Bits of a float with -0.0 folded into 0.0 and every NaN into one value.
pub fn f64_key(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else if v.is_nan() {
        0x7ff8_0000_0000_0000
    } else {
        v.to_bits()
    }
}
