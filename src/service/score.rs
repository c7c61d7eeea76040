//! Scoring new data with a saved model: read and check the model (a stored run or an exported
//! file), replay its preparation, score, and flag with the training threshold.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::data::{LoadOptions, Prepared, Source};
use crate::saved_model::ModelEnvelope;
use crate::store::Store;
use crate::threshold;

use super::detect::{self as detect_service, Metrics};
use super::error::{catch_panic, ServiceError, ServiceResult};

/// The most a model file may hold: models keep at most their training data, and a file that
/// never ends (`/dev/zero`) must not fill the memory.
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Reads a model: an existing file wins; otherwise a number is a run id in the store. Also
/// returns where it came from (`run N` or the path).
pub fn read_model(
    model: &str,
    store_path: Option<&Path>,
) -> ServiceResult<(ModelEnvelope, String)> {
    let as_path = Path::new(model);
    if as_path.exists() {
        let bytes = read_capped(as_path, MAX_MODEL_BYTES).map_err(|e| {
            ServiceError::input(format!("{model}: cannot read the model file: {e}"))
        })?;
        let envelope = ModelEnvelope::from_json(&bytes, model)?;
        return Ok((envelope, model.to_string()));
    }
    let Ok(id) = model.parse::<i64>() else {
        return Err(ServiceError::input(format!(
            "--model {model}: no such file, and not a run id"
        )));
    };
    let store = Store::open_default(store_path)?;
    let run = store.run(id)?;
    let bytes = store.model(id)?.ok_or_else(|| {
        ServiceError::input(format!(
            "run {id} has no saved model (its status is {})",
            run.summary.status
        ))
    })?;
    let origin = format!("run {id}");
    let envelope = ModelEnvelope::from_json(&bytes, &origin)?;
    Ok((envelope, origin))
}

/// Reads at most `limit` bytes; a longer file (or an endless device) is an error.
/// The first bytes of a model file must open a JSON object: a file of zeros or an endless
/// device is refused after one small read, not after gigabytes.
fn read_capped(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?.take(limit + 1);
    let mut bytes = Vec::new();
    let mut head = [0u8; 4096];
    loop {
        let got = file.read(&mut head)?;
        if got == 0 {
            break;
        }
        bytes.extend_from_slice(&head[..got]);
        if let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            if *first != b'{' {
                return Err(std::io::Error::other(
                    "not a Pynomaly model (a model file is a JSON object starting with `{`)",
                ));
            }
            break;
        }
        if bytes.len() > 1 << 20 {
            return Err(std::io::Error::other(
                "not a Pynomaly model (only whitespace)",
            ));
        }
    }
    file.read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "larger than the {} GiB limit for a model file",
            limit >> 30
        )));
    }
    Ok(bytes)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreTiming {
    pub load_s: f64,
    pub score_s: f64,
}

/// New data scored by a saved model.
#[derive(Debug, Clone)]
pub struct ScoreOutcome {
    pub source: String,
    /// The data as read (for original values next to explanations).
    pub loaded: crate::data::Loaded,
    pub prepared: Prepared,
    pub scores: Vec<f64>,
    pub flags: Vec<u8>,
    pub n_anomalies: usize,
    pub metrics: Option<Metrics>,
    pub timing: ScoreTiming,
}

/// Loads `source`, replays the model's preparation, scores and flags with the training threshold.
pub fn score_source(
    envelope: &ModelEnvelope,
    source: &Source,
    options: &LoadOptions,
) -> ServiceResult<ScoreOutcome> {
    let started = Instant::now();
    let (loaded, _) = detect_service::load(source, options)?;
    let prepared = catch_panic("prepare", || {
        Ok(envelope.prepare.transform(&loaded.df, &loaded.source)?)
    })?;
    let load_s = started.elapsed().as_secs_f64();
    let m = &prepared.matrix;
    if m.feature_names != envelope.feature_names {
        return Err(ServiceError::input(format!(
            "{}: the prepared features ({}) do not match the model's ({})",
            loaded.source,
            list_names(&m.feature_names),
            list_names(&envelope.feature_names)
        )));
    }
    let started = Instant::now();
    let scores = catch_panic("score", || {
        envelope
            .model
            .score(m.x.view())
            .map(|s| s.to_vec())
            .map_err(|e| ServiceError::input(format!("{}: {e}", loaded.source)))
    })?;
    detect_service::check_finite_scores(&envelope.detector, &scores, m)
        .map_err(|e| e.context(&loaded.source))?;
    let flags = threshold::flags(&scores, envelope.threshold.value);
    let score_s = started.elapsed().as_secs_f64();
    Ok(ScoreOutcome {
        source: loaded.source.clone(),
        metrics: Metrics::of_matrix(&scores, m),
        n_anomalies: flags.iter().filter(|&&f| f == 1).count(),
        scores,
        flags,
        prepared,
        loaded,
        timing: ScoreTiming { load_s, score_s },
    })
}

fn list_names(names: &[String]) -> String {
    crate::data::prepare::short_list(names.iter().map(String::as_str))
}
