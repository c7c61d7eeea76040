//! Measuring one candidate: fit it (on all rows, a subsample, or the hold-out training share),
//! score, and turn the scores into the search objective. Shared by every strategy.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis, CowArray, Ix2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{AutomlError, Config, Metric, Protocol, Trial, TrialStatus, CONSENSUS};
use crate::detectors::{registry, DetectError, DetectorInfo, JobCtx, Params};
use crate::metrics;

/// A detector with parameters and the seed of its randomised parts.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub info: &'static DetectorInfo,
    pub params: Params,
    pub seed: u64,
}

/// Rank-normalised scores in (0, 1]: ties share their average rank.
pub(crate) fn rank_normalise(scores: &[f64]) -> Vec<f64> {
    let n = scores.len() as f64;
    metrics::average_ranks(scores)
        .into_iter()
        .map(|r| r / n)
        .collect()
}

pub(crate) struct Consensus {
    /// Per member: its name and rank-normalised training scores.
    pub members: Vec<(String, Vec<f64>)>,
}

impl Consensus {
    fn build(x: ArrayView2<f64>, seed: u64, ctx: &JobCtx) -> Result<Consensus, AutomlError> {
        let members = CONSENSUS
            .par_iter()
            .filter_map(|name| {
                let info = registry().iter().find(|d| d.name == *name)?;
                let params = info.resolve(&BTreeMap::new()).ok()?;
                let fitted = info
                    .build(&params)
                    .fit_on_pool(x, &JobCtx::new(seed).sharing_cancel(ctx.cancel_flag()))
                    .ok()?;
                Some((
                    name.to_string(),
                    rank_normalise(&fitted.training_scores.to_vec()),
                ))
            })
            .collect::<Vec<_>>();
        ctx.checkpoint()?;
        if members.len() < 2 {
            return Err(AutomlError::Invalid(
                "the label-free objective needs at least two reference detectors that can fit this data".into(),
            ));
        }
        Ok(Consensus { members })
    }

    /// Spearman correlation of a candidate with the average of the other members (a member is
    /// not compared with itself, which would favour the consensus detectors). `rows` restricts
    /// the comparison to a subsample the candidate was fitted on.
    fn agreement(&self, detector: &str, scores: &[f64], rows: Option<&[usize]>) -> Option<f64> {
        let others: Vec<&Vec<f64>> = self
            .members
            .iter()
            .filter(|(name, _)| name != detector)
            .map(|(_, s)| s)
            .collect();
        let row = |i: usize| rows.map_or(i, |r| r[i]);
        let mean: Vec<f64> = (0..scores.len())
            .map(|i| others.iter().map(|s| s[row(i)]).sum::<f64>() / others.len() as f64)
            .collect();
        metrics::spearman(scores, &mean).ok()
    }
}

/// Rows for fitting and for measuring under the hold-out protocol: a seeded shuffle within
/// each class, so both sides keep the anomaly share.
pub(crate) fn holdout_split(
    labels: &[u8],
    test_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SPLIT_SALT);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [0u8, 1u8] {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        shuffle(&mut rows, &mut rng);
        let n_test = ((rows.len() as f64) * test_fraction).round() as usize;
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Fisher–Yates with our seeded generator (stable across platforms).
pub(crate) fn shuffle(rows: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..rows.len()).rev() {
        let j = rng.gen_range(0..=i);
        rows.swap(i, j);
    }
}

/// Keeps the split's random stream apart from the trials' (both derive from the user's seed).
const SPLIT_SALT: u64 = 0x5eed_5011;

/// Everything a trial needs, built once per search.
/// A detector's best full-data trial: objective, trial number, scores.
type BestOfDetector = (f64, usize, Vec<f64>);

pub(crate) struct Evaluator<'a> {
    config: &'a Config,
    /// The rows detectors are fitted on: the caller's matrix itself (no copy), or the hold-out
    /// training share.
    pub fit_x: CowArray<'a, f64, Ix2>,
    /// Labels of `fit_x`'s rows (unsupervised protocol with a labelled metric).
    fit_labels: Option<Vec<u8>>,
    /// The hold-out test share and its labels.
    holdout: Option<(Array2<f64>, Vec<u8>)>,
    consensus: Option<Consensus>,
    started: Instant,
    ctx: &'a JobCtx,
    stopped: AtomicBool,
    /// Serialises `on_trial` calls so callers need no locking of their own.
    report: Mutex<()>,
    /// For the top-k ensemble: per detector, its best full-data trial (objective, number,
    /// scores).
    best_per_detector: Mutex<BTreeMap<String, BestOfDetector>>,
    on_trial: &'a (dyn Fn(&Trial) + Sync),
}

impl<'a> Evaluator<'a> {
    pub fn new(
        x: ArrayView2<'a, f64>,
        labels: Option<&[u8]>,
        config: &'a Config,
        ctx: &'a JobCtx,
        on_trial: &'a (dyn Fn(&Trial) + Sync),
    ) -> Result<Evaluator<'a>, AutomlError> {
        let started = Instant::now();
        let consensus = match config.metric {
            Metric::LabelFree => Some(Consensus::build(x, config.seed, ctx)?),
            _ => None,
        };
        let labelled = config.metric != Metric::LabelFree;
        let (fit_x, fit_labels, holdout) = match (config.protocol, labels) {
            (Protocol::Holdout { test_fraction }, Some(l)) if labelled => {
                let (train, test) = holdout_split(l, test_fraction, config.seed);
                let test_labels = test.iter().map(|&i| l[i]).collect();
                (
                    CowArray::from(x.select(Axis(0), &train)),
                    None,
                    Some((x.select(Axis(0), &test), test_labels)),
                )
            }
            _ => (
                CowArray::from(x),
                labels.filter(|_| labelled).map(<[u8]>::to_vec),
                None,
            ),
        };
        Ok(Evaluator {
            config,
            fit_x,
            fit_labels,
            holdout,
            consensus,
            started,
            ctx,
            stopped: AtomicBool::new(false),
            report: Mutex::new(()),
            best_per_detector: Mutex::new(BTreeMap::new()),
            on_trial,
        })
    }

    /// Labels of the fitting rows when the search may read them (for stratified subsamples).
    pub fn fit_labels(&self) -> Option<&[u8]> {
        // Under hold-out the training labels are not kept; subsamples are then plain random.
        self.fit_labels.as_deref()
    }

    /// True once the budget is spent or the search was cancelled: no new trial starts.
    pub fn should_stop(&self) -> bool {
        let out_of_budget = self
            .config
            .budget
            .is_some_and(|b| self.started.elapsed() >= b);
        if out_of_budget || self.ctx.checkpoint().is_err() {
            self.stopped.store(true, Ordering::Relaxed);
        }
        self.stopped.load(Ordering::Relaxed)
    }

    pub fn stopped_early(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    pub fn consensus_members(&self) -> Vec<String> {
        self.consensus
            .as_ref()
            .map(|c| c.members.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default()
    }

    /// Runs a batch in parallel; trial numbers start at `first_number`. `rows` (sorted indices
    /// into the fitting rows) fits every candidate on that subsample instead of all rows.
    pub fn run_batch(
        &self,
        batch: &[Candidate],
        first_number: usize,
        rows: Option<&[usize]>,
    ) -> Vec<Trial> {
        let sub_x = rows.map(|r| self.fit_x.select(Axis(0), r));
        batch
            .par_iter()
            .enumerate()
            .map(|(i, c)| self.evaluate(c, first_number + i, rows, sub_x.as_ref()))
            .collect()
    }

    fn evaluate(
        &self,
        c: &Candidate,
        number: usize,
        rows: Option<&[usize]>,
        sub_x: Option<&Array2<f64>>,
    ) -> Trial {
        let x = sub_x.map_or_else(|| self.fit_x.view(), |s| s.view());
        let mut trial = Trial::pending(number, c.info.name, c.params.clone(), c.seed, x.nrows());
        if self.should_stop() {
            return trial;
        }
        let t0 = Instant::now();
        let result = (|| -> Result<Vec<f64>, DetectError> {
            let fitted = c.info.build(&c.params).fit_on_pool(
                x.view(),
                &JobCtx::new(c.seed).sharing_cancel(self.ctx.cancel_flag()),
            )?;
            match &self.holdout {
                Some((test_x, _)) => Ok(fitted.model.score(test_x.view())?.to_vec()),
                None => Ok(fitted.training_scores.to_vec()),
            }
        })();
        trial.time_s = t0.elapsed().as_secs_f64();
        match result {
            Ok(scores) => {
                self.measure(&mut trial, &scores, rows);
                if rows.is_none() && self.config.ensemble >= 2 {
                    self.keep_for_ensemble(&trial, scores);
                }
            }
            // Cancelled while running: reported like a trial that never started.
            Err(DetectError::Cancelled) => self.stopped.store(true, Ordering::Relaxed),
            Err(e) => {
                trial.status = TrialStatus::Failed;
                trial.error = Some(e.to_string());
            }
        }
        let _serial = self.report.lock();
        (self.on_trial)(&trial);
        trial
    }

    fn keep_for_ensemble(&self, trial: &Trial, scores: Vec<f64>) {
        let Some(objective) = trial.objective else {
            return;
        };
        let mut best = self.best_per_detector.lock().expect("not poisoned");
        // Higher objective wins, ties to the earlier trial: the same set whatever the order in
        // which trials finish.
        let better = best
            .get(&trial.detector)
            .is_none_or(|(o, n, _)| objective > *o || (objective == *o && trial.number < *n));
        if better {
            best.insert(trial.detector.clone(), (objective, trial.number, scores));
        }
    }

    /// The top-k ensemble as one more trial: the rank average of the best trial of each of the
    /// k best detectors, measured like any trial. `None` without an ensemble or with fewer
    /// than two detectors finished.
    pub fn ensemble_trial(&self, number: usize) -> Option<Trial> {
        let k = self.config.ensemble;
        let best = self.best_per_detector.lock().expect("not poisoned");
        let mut ranked: Vec<&(f64, usize, Vec<f64>)> = best.values().collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(k);
        if k < 2 || ranked.len() < 2 {
            return None;
        }
        let t0 = Instant::now();
        // Summed in trial order and divided once, exactly as the refitted ensemble model does,
        // so that the refit reproduces these scores bit for bit (ties included).
        ranked.sort_by_key(|m| m.1);
        let n = ranked[0].2.len();
        let mut scores = vec![0.0; n];
        for (_, _, member) in &ranked {
            for (s, r) in scores.iter_mut().zip(rank_normalise(member)) {
                *s += r;
            }
        }
        scores.iter_mut().for_each(|s| *s /= ranked.len() as f64);
        let members: Vec<usize> = ranked.iter().map(|m| m.1).collect();
        let members_text: Vec<String> = members.iter().map(|m| m.to_string()).collect();
        let mut params = BTreeMap::new();
        params.insert(
            "members".to_string(),
            crate::detectors::ParamValue::Text(members_text.join(",")),
        );
        let mut trial = Trial::pending(
            number,
            super::ENSEMBLE,
            Params(params),
            self.config.seed,
            self.fit_x.nrows(),
        );
        self.measure(&mut trial, &scores, None);
        trial.time_s = t0.elapsed().as_secs_f64();
        let _serial = self.report.lock();
        (self.on_trial)(&trial);
        Some(trial)
    }

    fn measure(&self, trial: &mut Trial, scores: &[f64], rows: Option<&[usize]>) {
        let labels: Option<Vec<u8>> = match (&self.holdout, &self.fit_labels) {
            (Some((_, test_labels)), _) => Some(test_labels.clone()),
            (None, Some(l)) => Some(match rows {
                Some(r) => r.iter().map(|&i| l[i]).collect(),
                None => l.clone(),
            }),
            (None, None) => None,
        };
        if let Some(l) = &labels {
            trial.metrics.roc_auc = metrics::roc_auc(scores, l).ok();
            trial.metrics.average_precision = metrics::average_precision(scores, l).ok();
        }
        trial.objective = match self.config.metric {
            Metric::Auc => trial.metrics.roc_auc,
            Metric::Ap => trial.metrics.average_precision,
            Metric::LabelFree => self
                .consensus
                .as_ref()
                .and_then(|c| c.agreement(&trial.detector, scores, rows)),
        };
        trial.status = TrialStatus::Done;
        if trial.objective.is_none_or(|o| !o.is_finite()) {
            trial.objective = None;
            trial.status = TrialStatus::Failed;
            trial.error = Some("the objective is undefined for these scores".into());
        }
    }
}
