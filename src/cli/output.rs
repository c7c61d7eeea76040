//! Human-readable and JSON renderings for the terminal. Every string that came from data goes
//! through `text::sanitize` here.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::data::column::ColumnKind;
use crate::data::csv_scan::Dialect;
use crate::data::{DatasetProfile, Matrix, Prepared};
use crate::text::{sanitize, sanitize_json_text, sparkline, truncate};

pub(crate) use crate::output_file::{is_not_regular_file, replace_file, NewFileMode};

pub fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let json = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    writeln!(out, "{}", sanitize_json_text(&json))
}

/// Safe, bounded text for a table cell.
pub(crate) fn cell(text: &str, max: usize) -> String {
    truncate(&sanitize(text), max).into_owned()
}

/// Compact number: up to 4 significant digits, scientific for very large or small values.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn bytes(n: usize) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        b',' => "','".into(),
        other => format!("'{}'", other as char),
    }
}

pub fn write_profile_table(
    out: &mut impl Write,
    p: &DatasetProfile,
    dialect: Option<Dialect>,
) -> io::Result<()> {
    let how = match dialect {
        Some(d) => format!(
            "{}, delimiter {}, {}",
            p.format,
            delimiter_name(d.delimiter),
            if d.has_header { "header" } else { "no header" }
        ),
        None => p.format.clone(),
    };
    let none = || "none".to_string();
    writeln!(out, "Source      {} ({how})", cell(&p.source, 100))?;
    writeln!(
        out,
        "Rows        {}    Columns {}    Memory {}",
        thousands(p.rows),
        p.columns,
        bytes(p.memory_bytes)
    )?;
    writeln!(out, "Duplicates  {} rows", thousands(p.duplicate_rows))?;
    let constants = if p.constant_columns.is_empty() {
        none()
    } else {
        p.constant_columns
            .iter()
            .map(|c| cell(c, 30))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "Constant    {constants}")?;
    writeln!(
        out,
        "Label       {}",
        p.label_candidate
            .as_deref()
            .map(|c| cell(c, 40))
            .unwrap_or_else(none)
    )?;
    writeln!(
        out,
        "Time        {}",
        p.time_candidate
            .as_deref()
            .map(|c| cell(c, 40))
            .unwrap_or_else(none)
    )?;
    writeln!(out)?;

    let name_width = p
        .column_profiles
        .iter()
        .map(|c| cell(&c.name, 24).chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:<name_width$} {:<12} {:>9} {:>7} {:>8}  {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  histogram",
        "column", "type", "count", "missing", "distinct", "min", "q05", "q25", "median", "q75", "q95", "max", "mean", "std"
    )?;
    for c in &p.column_profiles {
        let distinct = if c.distinct_is_exact {
            thousands(c.distinct)
        } else {
            format!("~{}", thousands(c.distinct))
        };
        let dtype = cell(&c.dtype, 12);
        write!(
            out,
            "{:<name_width$} {:<12} {:>9} {:>7} {:>8}  ",
            cell(&c.name, 24),
            dtype,
            thousands(c.count),
            thousands(c.missing),
            distinct
        )?;
        match (&c.numeric, c.kind) {
            (Some(s), _) => {
                let cols = [
                    s.min, s.q05, s.q25, s.median, s.q75, s.q95, s.max, s.mean, s.std,
                ];
                for v in cols {
                    write!(out, "{:>9} ", num(v))?;
                }
                write!(out, " {}", sparkline(&s.histogram))?;
                if c.infinite > 0 {
                    write!(out, "  ({} infinite)", c.infinite)?;
                }
            }
            (None, ColumnKind::Temporal) => {
                if let Some((lo, hi)) = &c.range {
                    write!(out, "{} … {}", cell(lo, 30), cell(hi, 30))?;
                }
            }
            (None, _) => {
                let top: Vec<String> = c
                    .top_values
                    .iter()
                    .map(|(v, n)| format!("{} ({})", cell(v, 20), thousands(*n)))
                    .collect();
                if !top.is_empty() {
                    write!(out, "top: {}", top.join(", "))?;
                }
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

pub fn write_prepare_summary(
    out: &mut impl Write,
    source: &str,
    prepared: &Prepared,
) -> io::Result<()> {
    let r = &prepared.report;
    let m = &prepared.matrix;
    writeln!(
        out,
        "Prepared {}: {} rows × {} features",
        cell(source, 100),
        thousands(m.x.nrows()),
        m.x.ncols()
    )?;
    let label = match (&r.label_column, &m.label) {
        (Some(c), Some(l)) => {
            let anomalies = l.iter().filter(|&&v| v == 1).count();
            format!(
                "{} ({} anomalies, {:.2} %)",
                cell(c, 40),
                thousands(anomalies),
                100.0 * anomalies as f64 / l.len() as f64
            )
        }
        _ => "none".into(),
    };
    writeln!(out, "Label     {label}")?;
    writeln!(
        out,
        "Time      {}",
        r.time_column
            .as_deref()
            .map(|c| cell(c, 40))
            .unwrap_or_else(|| "none".into())
    )?;
    write_missing_values(out, 10, r.dropped_rows, &r.imputed, &r.infinite)?;
    for (c, n) in &r.unseen_categories {
        writeln!(
            out,
            "Unseen    {} values of {} not seen when fitted (fallback used)",
            thousands(*n),
            cell(c, 40)
        )?;
    }
    for (c, why) in &r.dropped_columns {
        writeln!(out, "Skipped   {}: {}", cell(c, 40), why)?;
    }
    for w in &r.warnings {
        writeln!(out, "Warning   {}", cell(w, 200))?;
    }
    let names: Vec<String> = m.feature_names.iter().map(|f| cell(f, 30)).collect();
    writeln!(out, "Features  {}", names.join(", "))?;
    Ok(())
}

/// How missing and infinite values were handled, as `prepare` and `detect` print it: rows
/// dropped, values filled in and infinities treated as missing, each label padded to `width`.
pub fn write_missing_values(
    out: &mut impl Write,
    width: usize,
    dropped_rows: usize,
    imputed: &[(String, usize)],
    infinite: &[(String, usize)],
) -> io::Result<()> {
    // "1 row", "2 rows": the noun agrees with the count.
    let counted = |n: usize, one: &str, many: &str| {
        format!("{} {}", thousands(n), if n == 1 { one } else { many })
    };
    if dropped_rows > 0 {
        let rows = counted(dropped_rows, "row", "rows");
        writeln!(out, "{:<width$}{rows} with missing values", "Dropped")?;
    }
    for (c, n) in imputed {
        let (values, c) = (counted(*n, "missing value", "missing values"), cell(c, 40));
        writeln!(out, "{:<width$}{values} in {c}", "Imputed")?;
    }
    for (c, n) in infinite {
        let (values, c) = (counted(*n, "value", "values"), cell(c, 40));
        writeln!(
            out,
            "{:<width$}{values} in {c} treated as missing",
            "Infinite"
        )?;
    }
    Ok(())
}

pub fn write_matrix_csv(path: &Path, m: &Matrix) -> io::Result<()> {
    replace_file(path, NewFileMode::Usual, |w| write_matrix(w, m))
}

fn write_matrix(w: &mut dyn Write, m: &Matrix) -> io::Result<()> {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut header = vec!["row_id".to_string()];
    header.extend(m.feature_names.iter().map(|f| quote(f)));
    if m.label.is_some() {
        header.push("label".into());
    }
    writeln!(w, "{}", header.join(","))?;
    for (i, row) in m.x.rows().into_iter().enumerate() {
        write!(w, "{}", m.row_ids[i])?;
        for v in row {
            write!(w, ",{v}")?;
        }
        if let Some(l) = &m.label {
            write!(w, ",{}", l[i])?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// Features shown per explained row in the readable table (`--json` has them all).
const EXPLAINED_FEATURES_SHOWN: usize = 5;

/// `--explain` as a table: per row, its strongest features with their value, percentile,
/// robust z-score and contribution.
pub fn write_explanations(
    out: &mut impl Write,
    rows: &[crate::service::explain::ExplainedRow],
) -> io::Result<()> {
    for r in rows {
        writeln!(out)?;
        let neighbours = if r.neighbours.is_empty() {
            String::new()
        } else {
            let shown: Vec<String> = r.neighbours.iter().take(5).map(u64::to_string).collect();
            format!(", nearest rows {}", shown.join(" "))
        };
        writeln!(
            out,
            "#{} row {}  score {}  ({}{neighbours})",
            r.rank,
            r.row_id,
            num(r.score),
            r.method
        )?;
        writeln!(
            out,
            "  {:<28} {:>12} {:>10} {:>9} {:>12}",
            "feature", "value", "percentile", "robust z", "contribution"
        )?;
        for c in r.contributions.iter().take(EXPLAINED_FEATURES_SHOWN) {
            let z = c.robust_z.map_or_else(|| "—".to_string(), num);
            writeln!(
                out,
                "  {:<28} {:>12} {:>10.1} {:>9} {:>12}",
                cell(&c.feature, 28),
                num(c.value),
                c.percentile,
                z,
                num(c.contribution)
            )?;
        }
        if r.contributions.len() > EXPLAINED_FEATURES_SHOWN {
            writeln!(
                out,
                "  … {} more features (--json for all)",
                r.contributions.len() - EXPLAINED_FEATURES_SHOWN
            )?;
        }
        // Encoded columns (one-hot, ordinal, frequency) summed back into the file's columns.
        if r.columns.len() != r.contributions.len() {
            writeln!(
                out,
                "  {:<28} {:>12} {:>33}",
                "by column", "value", "contribution"
            )?;
            for c in r.columns.iter().take(EXPLAINED_FEATURES_SHOWN) {
                writeln!(
                    out,
                    "  {:<28} {:>12} {:>33}",
                    cell(&c.column, 28),
                    cell(&c.value, 12),
                    num(c.contribution)
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1234.5678), "1235");
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(-2.5), "-2.5");
        assert_eq!(num(1.5e9), "1.50e9");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(sparkline(&[0, 1, 2, 4]), " ▃▅█");
    }
}
