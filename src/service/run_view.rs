//! Runs as the views draw them: a finished or stored run's ranking, curves, metrics, threshold
//! and the 2-D projection of its data, computed once off the UI thread so that frames stay cheap.

use std::sync::Arc;

use ndarray::{Array2, Axis};

use crate::data::{Loaded, Prepared};
use crate::detectors::Params;
use crate::numeric::linalg;
use crate::store::{RunDetail, StoredScores};

use super::detect::{Metrics, ThresholdReport};

#[derive(Debug, Clone)]
pub struct PreparedData {
    pub prepared: Arc<Prepared>,
    /// First two principal components of the (standardised) matrix, for the scatter chart.
    pub projection: Arc<Vec<(f64, f64)>>,
    /// Seconds the preparation took (part of every run's `load_s`).
    pub prepare_s: f64,
    /// The time column's values for the prepared rows, when there is one (see [`time_axis`]).
    pub time: Option<Arc<TimeAxis>>,
}

/// One finished detector run, as the charts need it.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub job: u64,
    pub detector: String,
    pub params: Params,
    pub run_id: Option<i64>,
    pub source: String,
    pub scores: Vec<f64>,
    /// Scores sorted from most to least anomalous: the k-th is the cut that flags k rows.
    pub sorted_desc: Vec<f64>,
    /// Row positions in that order (ties by position), computed once: frames must stay cheap.
    pub order: Vec<usize>,
    pub row_ids: Vec<u64>,
    pub labels: Option<Vec<u8>>,
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
    pub roc: Vec<(f64, f64)>,
    pub pr: Vec<(f64, f64)>,
    pub fit_s: f64,
    /// Rows flagged at the current threshold (moved with keys).
    pub flagged: usize,
    /// The threshold the run stored (what `experiments show` prints), when known.
    pub stored_threshold: Option<StoredThreshold>,
    /// A threshold method applied in the view (the Charts pane), while its cut is in force.
    pub view_threshold: Option<StoredThreshold>,
    /// The projection of the data the run used, reduced for drawing, and its time axis.
    pub scatter: Option<Arc<ScatterDots>>,
    pub time: Option<Arc<TimeAxis>>,
    /// The fitted model, for explanations; `None` for a stored run (read from the store when
    /// needed).
    pub model: Option<Arc<crate::detectors::Model>>,
}

/// Points of a curve, (x, y).
pub type Curve = Vec<(f64, f64)>;

/// Per row: the first two principal components of its prepared features.
pub type Projection = Arc<Vec<(f64, f64)>>;

/// A run's threshold as stored: method, value and the rows it flagged.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredThreshold {
    pub method: String,
    pub value: f64,
    pub flagged: usize,
}

/// A scatter reduced to one point per cell of a fine grid (finer than any terminal's braille
/// resolution), each remembering the best anomaly rank that fell on it. Built once per run, so
/// that drawing costs O(cells) and moving the threshold is just a comparison per cell.
#[derive(Debug, Clone)]
pub struct ScatterDots {
    pub x_bounds: [f64; 2],
    pub y_bounds: [f64; 2],
    pub points: Vec<(f64, f64)>,
    /// Per point: the smallest rank (0 = most anomalous) among the rows on that cell.
    pub best_rank: Vec<usize>,
}

impl ScatterDots {
    const GRID_W: usize = 640;
    const GRID_H: usize = 320;

    pub fn new(projection: &[(f64, f64)], order: &[usize]) -> ScatterDots {
        let span = |v: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = v
                .filter(|x| x.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
                    (l.min(x), h.max(x))
                });
            if !lo.is_finite() {
                [0.0, 1.0]
            } else if hi > lo {
                [lo, hi]
            } else {
                [lo - 1.0, lo + 1.0]
            }
        };
        let x_bounds = span(&mut projection.iter().map(|p| p.0));
        let y_bounds = span(&mut projection.iter().map(|p| p.1));
        let (w, h) = (Self::GRID_W, Self::GRID_H);
        let sx = (w - 1) as f64 / (x_bounds[1] - x_bounds[0]);
        let sy = (h - 1) as f64 / (y_bounds[1] - y_bounds[0]);
        let mut cell_of = vec![usize::MAX; w * h];
        let mut points = Vec::new();
        let mut best_rank = Vec::new();
        // In rank order, so the first row to land on a cell has the best rank.
        for (rank, &i) in order.iter().enumerate() {
            let Some(&(x, y)) = projection.get(i) else {
                continue;
            };
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let cx = ((x - x_bounds[0]) * sx).round().clamp(0.0, (w - 1) as f64) as usize;
            let cy = ((y - y_bounds[0]) * sy).round().clamp(0.0, (h - 1) as f64) as usize;
            let cell = &mut cell_of[cy * w + cx];
            if *cell == usize::MAX {
                *cell = points.len();
                points.push((x, y));
                best_rank.push(rank);
            }
        }
        ScatterDots {
            x_bounds,
            y_bounds,
            points,
            best_rank,
        }
    }
}

impl RunResult {
    /// A stored run's scores, ready for the charts (ranking, curves, scatter: run on a job
    /// thread). Labels and projection come from the data on screen when it is the same table,
    /// row for row.
    pub fn from_stored(
        detail: &RunDetail,
        stored: StoredScores,
        on_screen: Option<&(String, PreparedData)>,
    ) -> RunResult {
        let same_data = on_screen
            .filter(|(fingerprint, p)| {
                p.prepared.matrix.row_ids == stored.row_ids
                    && Some(fingerprint.as_str()) == detail.dataset_fingerprint.as_deref()
            })
            .map(|(_, p)| p);
        let labels = same_data.and_then(|p| p.prepared.matrix.label.as_ref().map(|l| l.to_vec()));
        let (roc, pr) = RunResult::curves(&stored.scores, labels.as_deref());
        let (order, sorted_desc) = RunResult::rank(&stored.scores);
        let scatter = same_data.map(|p| Arc::new(ScatterDots::new(&p.projection, &order)));
        let flagged = stored.flags.iter().filter(|&&f| f == 1).count();
        let stored_threshold = detail.threshold_value.map(|value| StoredThreshold {
            method: detail.threshold_method.clone().unwrap_or_default(),
            value,
            flagged,
        });
        RunResult {
            job: 0,
            detector: detail.summary.detector.clone(),
            params: serde_json::from_value(detail.params.clone()).unwrap_or_default(),
            run_id: Some(detail.summary.id),
            source: detail.summary.dataset.clone().unwrap_or_default(),
            scores: stored.scores,
            sorted_desc,
            order,
            row_ids: stored.row_ids,
            labels,
            roc_auc: detail.summary.roc_auc,
            average_precision: detail.summary.average_precision,
            roc,
            pr,
            fit_s: detail
                .timing
                .get("fit_s")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0),
            flagged,
            stored_threshold,
            scatter,
            // The same table on screen: its time axis too.
            time: same_data.and_then(|p| p.time.clone()),
            model: None,
            view_threshold: None,
        }
    }

    /// ROC (fpr, tpr) and precision–recall (recall, precision) points; empty without labels.
    pub fn curves(scores: &[f64], labels: Option<&[u8]>) -> (Curve, Curve) {
        let Some(l) = labels else {
            return (Vec::new(), Vec::new());
        };
        (
            crate::metrics::roc_curve(scores, l)
                .map(|c| c.iter().map(|p| (p.fpr, p.tpr)).collect())
                .unwrap_or_default(),
            crate::metrics::precision_recall_curve(scores, l)
                .map(|c| c.iter().map(|p| (p.recall, p.precision)).collect())
                .unwrap_or_default(),
        )
    }

    /// Positions by descending score (ties by position) and the sorted scores.
    pub fn rank(scores: &[f64]) -> (Vec<usize>, Vec<f64>) {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let sorted = order.iter().map(|&i| scores[i]).collect();
        (order, sorted)
    }

    /// The score at and above which rows are flagged: the stored threshold until the user moves
    /// it, then the lowest flagged score.
    pub fn threshold(&self) -> f64 {
        for t in [&self.view_threshold, &self.stored_threshold]
            .into_iter()
            .flatten()
        {
            if t.flagged == self.flagged {
                return t.value;
            }
        }
        if self.flagged == 0 {
            f64::INFINITY
        } else {
            self.sorted_desc[self.flagged - 1]
        }
    }
}

impl RunResult {
    /// The method behind the threshold in force: the one applied in the view or stored with the
    /// run while its cut holds, else `moved` (stepped with +/-).
    /// The row ids the threshold in force flags, highest score first.
    pub fn flagged_row_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.order
            .iter()
            .take(self.flagged)
            .map(|&i| self.row_ids[i])
    }

    pub fn threshold_method(&self) -> String {
        [&self.view_threshold, &self.stored_threshold]
            .into_iter()
            .flatten()
            .find(|t| t.flagged == self.flagged)
            .map_or_else(|| "moved".to_string(), |t| t.method.clone())
    }

    /// Applies a threshold method to the scores: it becomes the threshold in force.
    pub fn apply_threshold(
        &mut self,
        method: crate::threshold::ThresholdMethod,
    ) -> Result<(), crate::threshold::ThresholdError> {
        let cut = crate::threshold::apply(&self.scores, method)?;
        self.flagged = cut.n_flagged;
        self.view_threshold = Some(StoredThreshold {
            method: cut.method.to_string(),
            value: cut.value,
            flagged: cut.n_flagged,
        });
        Ok(())
    }

    /// One step of the threshold: `up` flags fewer rows. The step is a tenth of the rows flagged
    /// (at least one, at most 2 % of all rows), so it is fine among the few top rows and quick in
    /// the bulk, and it never stops inside a run of tied scores.
    pub fn step_threshold(&mut self, up: bool) {
        let n = self.scores.len();
        let step = (self.flagged / 10).clamp(1, (n / 50).max(1));
        let mut k = if up {
            self.flagged.saturating_sub(step)
        } else {
            (self.flagged + step).min(n)
        };
        let tied = |k: usize| k > 0 && k < n && self.sorted_desc[k] == self.sorted_desc[k - 1];
        while tied(k) {
            if up {
                k -= 1;
            } else {
                k += 1;
            }
        }
        self.flagged = k;
    }

    /// With a label: (precision, recall, F1) of the rows flagged now, and the ROC and
    /// precision–recall points of that cut.
    pub fn operating_point(&self) -> Option<OperatingPoint> {
        let labels = self.labels.as_ref()?;
        let positives = labels.iter().filter(|&&l| l == 1).count();
        let negatives = labels.len() - positives;
        let tp = self
            .order
            .iter()
            .take(self.flagged)
            .filter(|&&i| labels[i] == 1)
            .count();
        let fp = self.flagged - tp;
        let precision = if self.flagged > 0 {
            tp as f64 / self.flagged as f64
        } else {
            1.0
        };
        let recall = if positives > 0 {
            tp as f64 / positives as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        let fpr = if negatives > 0 {
            fp as f64 / negatives as f64
        } else {
            0.0
        };
        Some(OperatingPoint {
            precision,
            recall,
            f1,
            fpr,
        })
    }
}

/// Where the threshold in force sits, against the label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// False-positive rate (the ROC curve's x; its y is the recall).
    pub fpr: f64,
}

/// First two principal components of the standardised matrix (feature count capped so the
/// eigen-decomposition stays instant).
pub fn pca_2d(x: &Array2<f64>) -> Vec<(f64, f64)> {
    const MAX_FEATURES: usize = 200;
    let d = x.ncols().min(MAX_FEATURES);
    let n = x.nrows();
    if n < 2 || d == 0 {
        return vec![(0.0, 0.0); n];
    }
    let x = x.slice(ndarray::s![.., ..d]);
    let mean = x.mean_axis(Axis(0)).expect("rows exist");
    let std = x
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let z = (&x - &mean) / &std;
    let cov = z.t().dot(&z) / (n as f64 - 1.0);
    let flat: Vec<f64> = cov.iter().copied().collect();
    // Signs fixed by the solver's sign rule: the picture does not flip between versions.
    let (_, vectors) = linalg::sym_eigen_sorted_desc(&flat, d);
    let pc = |k: usize, row: ndarray::ArrayView1<f64>| -> f64 {
        if k >= d {
            return 0.0;
        }
        row.iter()
            .zip(&vectors[k * d..(k + 1) * d])
            .map(|(a, b)| a * b)
            .sum()
    };
    z.rows().into_iter().map(|r| (pc(0, r), pc(1, r))).collect()
}

/// What the charts of a finished run are built from.
pub struct RunInput<'a> {
    pub job: u64,
    pub run_id: Option<i64>,
    pub detector: &'a str,
    pub params: &'a Params,
    pub loaded: &'a Loaded,
    pub prepared: &'a Prepared,
    pub projection: &'a [(f64, f64)],
    pub fit_s: f64,
    /// The label metrics the run computed (and stored).
    pub metrics: Option<&'a Metrics>,
}

impl RunInput<'_> {
    /// Ranking, curves, metrics and the scatter of a fresh run, with the threshold it stored.
    pub fn result(
        &self,
        scores: Vec<f64>,
        threshold: &ThresholdReport,
        n_anomalies: usize,
    ) -> RunResult {
        let m = &self.prepared.matrix;
        let labels = m.label.as_ref().map(|l| l.to_vec());
        let roc_auc = self.metrics.and_then(|m| m.roc_auc);
        let average_precision = self.metrics.and_then(|m| m.average_precision);
        let (roc, pr) = RunResult::curves(&scores, labels.as_deref());
        let (order, sorted_desc) = RunResult::rank(&scores);
        let scatter = Some(Arc::new(ScatterDots::new(self.projection, &order)));
        RunResult {
            job: self.job,
            detector: self.detector.to_string(),
            params: self.params.clone(),
            run_id: self.run_id,
            source: self.loaded.source.clone(),
            flagged: n_anomalies,
            stored_threshold: Some(StoredThreshold {
                method: threshold.method.clone(),
                value: threshold.value,
                flagged: n_anomalies,
            }),
            scores,
            sorted_desc,
            order,
            row_ids: m.row_ids.clone(),
            labels,
            roc_auc,
            average_precision,
            roc,
            pr,
            fit_s: self.fit_s,
            scatter,
            time: time_axis(self.loaded, self.prepared),
            model: None,
            view_threshold: None,
        }
    }
}

/// The time column's values (as numbers) for the prepared rows, when one exists.
pub fn time_axis(loaded: &Loaded, prepared: &Prepared) -> Option<Arc<TimeAxis>> {
    use polars::prelude::{DataType, TimeUnit};
    let name = prepared.report.time_column.as_ref()?;
    let column = loaded.df.column(name).ok()?;
    // Dates and times become seconds since 1970 (UTC), so the axis can be labelled as dates.
    let (per_second, epoch) = match column.dtype() {
        DataType::Datetime(TimeUnit::Nanoseconds, _) => (1e9, true),
        DataType::Datetime(TimeUnit::Microseconds, _) => (1e6, true),
        DataType::Datetime(TimeUnit::Milliseconds, _) => (1e3, true),
        DataType::Date => (1.0 / 86_400.0, true),
        _ => (1.0, false),
    };
    let values = column.cast(&DataType::Float64).ok()?;
    let values = values.f64().ok()?;
    let seconds: Vec<f64> = prepared
        .matrix
        .row_ids
        .iter()
        .map(|&r| values.get(r as usize).map_or(f64::NAN, |v| v / per_second))
        .collect();
    let groups = group_column(loaded, prepared);
    Some(Arc::new(TimeAxis {
        values: seconds,
        epoch_seconds: epoch,
        groups,
    }))
}

/// The time column of a result, with what the charts need to draw one series per group.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeAxis {
    /// One per prepared row.
    pub values: Vec<f64>,
    /// `values` are seconds since 1970-01-01 UTC (the column held dates or times).
    pub epoch_seconds: bool,
    /// A text column of a few categories (e.g. `host`): its name, the categories, and each
    /// row's category index.
    pub groups: Option<(String, Vec<String>, Vec<u16>)>,
}

/// Most groups drawn as separate series.
const MAX_GROUPS: usize = 5;

/// The first one-hot encoded column with 2 to [`MAX_GROUPS`] categories.
fn group_column(loaded: &Loaded, prepared: &Prepared) -> Option<(String, Vec<String>, Vec<u16>)> {
    use crate::data::prepare::FittedEncoding;
    let fitted = prepared.spec.fitted.as_ref()?;
    let (name, categories) = fitted.columns.iter().find_map(|c| match &c.encoding {
        FittedEncoding::OneHot {
            categories,
            other: false,
        } if (2..=MAX_GROUPS).contains(&categories.len()) => {
            Some((c.source.clone(), categories.clone()))
        }
        _ => None,
    })?;
    let column = loaded.df.column(&name).ok()?;
    let column = column.cast(&polars::prelude::DataType::String).ok()?;
    let text = column.str().ok()?;
    let index: Vec<u16> = prepared
        .matrix
        .row_ids
        .iter()
        .map(|&r| {
            text.get(r as usize)
                .and_then(|v| categories.iter().position(|c| c == v))
                .map_or(u16::MAX, |i| i as u16)
        })
        .collect();
    Some((name, categories, index))
}

/// `2026-01-01 03:20` for seconds since 1970 (UTC; the civil calendar from days, Howard
/// Hinnant's algorithm).
pub fn format_epoch(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".into();
    }
    let total = seconds.floor() as i64;
    let (days, rest) = (total.div_euclid(86_400), total.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// The `detect`/`prepare` options that give `spec`'s preparation again (defaults left out), so a
/// run from either face can be repeated from a script. The label and time column are the ones
/// the fit resolved.
pub fn preparation_flags(spec: &crate::data::PrepareSpec) -> Vec<String> {
    use crate::data::prepare::{
        CategoricalEncoding, ColumnChoice, MissingPolicy, Scaling, UnseenCategory,
    };
    let defaults = crate::data::PrepareSpec::default();
    let mut flags = Vec::new();
    let resolved = spec.fitted.as_ref();
    let label = match (&spec.label, resolved) {
        (ColumnChoice::Column(c), _) => Some(c.clone()),
        (ColumnChoice::None, _) => None,
        (ColumnChoice::Auto, Some(f)) => f.label_column.clone(),
        (ColumnChoice::Auto, None) => return flags_without_fit(spec),
    };
    match label {
        Some(c) => flags.push(format!("--label {}", shell_word(&c))),
        None => flags.push("--no-label".into()),
    }
    match (&spec.time, resolved.and_then(|f| f.time_column.clone())) {
        (ColumnChoice::None, _) => flags.push("--no-time".into()),
        (_, Some(t)) => flags.push(format!("--time {}", shell_word(&t))),
        _ => {}
    }
    if let Some(features) = &spec.features {
        let list: Vec<String> = features.iter().map(|f| shell_word(f)).collect();
        flags.push(format!("--features {}", list.join(",")));
    }
    if !spec.exclude.is_empty() {
        let list: Vec<String> = spec.exclude.iter().map(|f| shell_word(f)).collect();
        flags.push(format!("--exclude {}", list.join(",")));
    }
    if spec.categorical != defaults.categorical {
        flags.push(format!(
            "--categorical {}",
            match spec.categorical {
                CategoricalEncoding::OneHot => "onehot",
                CategoricalEncoding::Ordinal => "ordinal",
                CategoricalEncoding::Frequency => "frequency",
                CategoricalEncoding::Drop => "drop",
            }
        ));
    }
    if spec.max_categories != defaults.max_categories {
        flags.push(format!("--max-categories {}", spec.max_categories));
    }
    if spec.missing != defaults.missing {
        flags.push(format!(
            "--missing {}",
            match spec.missing {
                MissingPolicy::DropRow => "drop".to_string(),
                MissingPolicy::Mean => "mean".to_string(),
                MissingPolicy::Median => "median".to_string(),
                MissingPolicy::Constant(v) => v.to_string(),
            }
        ));
    }
    if spec.scaling != defaults.scaling {
        flags.push(format!(
            "--scale {}",
            match spec.scaling {
                Scaling::None => "none",
                Scaling::Standard => "standard",
                Scaling::Robust => "robust",
                Scaling::MinMax => "minmax",
            }
        ));
    }
    if spec.unseen == UnseenCategory::Error {
        flags.push("--strict-categories".into());
    }
    flags
}

/// A spec never fitted has no resolved columns: its choices only.
fn flags_without_fit(spec: &crate::data::PrepareSpec) -> Vec<String> {
    let fitted_like = crate::data::PrepareSpec {
        label: match &spec.label {
            crate::data::prepare::ColumnChoice::Auto => crate::data::prepare::ColumnChoice::None,
            other => other.clone(),
        },
        ..spec.clone()
    };
    let mut flags = preparation_flags(&fitted_like);
    flags.retain(|f| f != "--no-label");
    flags
}

/// `word` as one shell word: as it is when it is plain, else in single quotes.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command that repeats a stored detect run: its dataset, detector, parameters, seed,
/// preparation and threshold. `None` for other kinds of run.
pub fn reproduce_command(detail: &crate::store::RunDetail) -> Option<String> {
    let s = &detail.summary;
    if s.kind != "detect" {
        return None;
    }
    let mut words = vec![
        "pynomaly detect".to_string(),
        shell_word(s.dataset.as_deref()?),
        format!("-d {}", shell_word(&s.detector)),
    ];
    if let Ok(params) = serde_json::from_value::<crate::detectors::Params>(detail.params.clone()) {
        for (k, v) in &params.0 {
            let value = crate::detectors::form_value(k, v);
            words.push(format!("-p {}", shell_word(&format!("{k}={value}"))));
        }
    }
    if detail.seed != 0 {
        words.push(format!("--seed {}", detail.seed));
    }
    if let Ok(spec) =
        serde_json::from_value::<crate::data::PrepareSpec>(detail.prepare_spec.clone())
    {
        words.extend(preparation_flags(&spec));
    }
    if let Some(m) = &detail.threshold_method {
        words.push(threshold_flag(m)?);
    }
    Some(words.join(" "))
}

/// `contamination=0.1` → `--contamination 0.1`, `otsu` → `--threshold otsu`.
fn threshold_flag(method: &str) -> Option<String> {
    match method.split_once('=') {
        Some(("contamination", c)) => Some(format!("--contamination {}", shell_word(c))),
        Some(_) => None,
        None => Some(format!("--threshold {}", shell_word(method))),
    }
}

/// A stored run's preparation as the options that repeat it, or `defaults`.
pub fn preparation_text(detail: &crate::store::RunDetail) -> String {
    match serde_json::from_value::<crate::data::PrepareSpec>(detail.prepare_spec.clone()) {
        Ok(spec) => {
            let flags = preparation_flags(&spec);
            if flags.is_empty() {
                "defaults".into()
            } else {
                flags.join(" ")
            }
        }
        Err(_) => "unreadable in the store".into(),
    }
}

/// A stored threshold for reading: a value within rounding of 0 (iForest's scores centre on 0,
/// so its thresholds come out as ±1e-17) reads `0`. The stored and JSON values are exact.
pub fn threshold_value(v: f64) -> f64 {
    if v.abs() < 1e-12 {
        0.0
    } else {
        v
    }
}
