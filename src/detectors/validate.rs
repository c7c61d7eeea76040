//! Checks of a fitted model read back from a file or the store: every length, index, shape and
//! value its `score` relies on. A model file can be edited by hand or damaged; without these
//! checks scoring it could index out of bounds, divide by zero, walk a cyclic tree forever or
//! quietly return garbage. Each check is an invariant the detector's `fit` guarantees, so a model
//! this build fitted always passes.

use ndarray::Array2;

use super::gmm::CovarianceType;
use super::{abod, cblof, cof, copod, ecod, ensemble, gmm, hbos, iforest, inne, kde, knn};
use super::{loda, lof, mcd, ocsvm, pca, sod};
use super::{validate_matrix, Model};

type Check = Result<(), String>;

/// What a stored value must be.
#[derive(Clone, Copy)]
enum Rule {
    Finite,
    NonNegative,
    Positive,
    /// In [0, 1].
    Unit,
    /// In (0, 1).
    OpenUnit,
    /// In (0, 1].
    PositiveUnit,
}

impl Rule {
    fn holds(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                Rule::Finite => true,
                Rule::NonNegative => v >= 0.0,
                Rule::Positive => v > 0.0,
                Rule::Unit => (0.0..=1.0).contains(&v),
                Rule::OpenUnit => v > 0.0 && v < 1.0,
                Rule::PositiveUnit => v > 0.0 && v <= 1.0,
            }
    }

    fn expected(self) -> &'static str {
        match self {
            Rule::Finite => "a finite number",
            Rule::NonNegative => "a finite number ≥ 0",
            Rule::Positive => "a finite number > 0",
            Rule::Unit => "a number in [0, 1]",
            Rule::OpenUnit => "a number in (0, 1)",
            Rule::PositiveUnit => "a number in (0, 1]",
        }
    }
}

fn values<'a>(name: &str, values: impl IntoIterator<Item = &'a f64>, rule: Rule) -> Check {
    match values
        .into_iter()
        .enumerate()
        .find(|(_, v)| !rule.holds(**v))
    {
        Some((i, v)) => Err(format!(
            "{name}: value {i} is {v}, expected {}",
            rule.expected()
        )),
        None => Ok(()),
    }
}

fn value(name: &str, v: f64, rule: Rule) -> Check {
    if rule.holds(v) {
        Ok(())
    } else {
        Err(format!("{name} is {v}, expected {}", rule.expected()))
    }
}

fn length(name: &str, found: usize, expected: usize) -> Check {
    if found == expected {
        Ok(())
    } else {
        Err(format!("{name} has {found} values, expected {expected}"))
    }
}

fn not_empty(name: &str, found: usize) -> Check {
    if found == 0 {
        Err(format!("{name} is empty"))
    } else {
        Ok(())
    }
}

/// `a · b`, or an error when the product does not fit (a hostile size).
fn product(name: &str, a: usize, b: usize) -> Result<usize, String> {
    a.checked_mul(b)
        .ok_or_else(|| format!("{name}: {a} × {b} is too large"))
}

/// A kept training matrix: what `fit` accepted (at least 2 rows and 1 feature, finite, not all
/// constant).
fn training(train: &Array2<f64>) -> Check {
    validate_matrix(train.view(), 2).map_err(|e| format!("train: {e}"))
}

/// Neighbour methods keep `k < n` (each training point's neighbours leave the point out).
fn neighbours(k: usize, rows: usize) -> Check {
    if k == 0 || k >= rows {
        return Err(format!(
            "k is {k}, expected 1 to {} (one less than the {rows} training rows)",
            rows.saturating_sub(1)
        ));
    }
    Ok(())
}

impl Model {
    /// The detector name the model is saved under: its serde tag, the registry's name (AutoML's
    /// `ensemble` for an ensemble).
    pub fn detector_name(&self) -> &'static str {
        match self {
            Model::Ecod(_) => "ecod",
            Model::Copod(_) => "copod",
            Model::Hbos(_) => "hbos",
            Model::Knn(_) => "knn",
            Model::Lof(_) => "lof",
            Model::Kde(_) => "kde",
            Model::Sod(_) => "sod",
            Model::Abod(_) => "abod",
            Model::Cof(_) => "cof",
            Model::IForest(_) => "iforest",
            Model::Loda(_) => "loda",
            Model::Inne(_) => "inne",
            Model::Gmm(_) => "gmm",
            Model::Pca(_) => "pca",
            Model::Ocsvm(_) => "ocsvm",
            Model::Mcd(_) => "mcd",
            Model::Cblof(_) => "cblof",
            Model::Ensemble(_) => "ensemble",
        }
    }

    /// Checks everything [`Model::score`] relies on; the error names the detector and the
    /// field. Run on every model read from outside the process, before it scores anything.
    pub fn validate(&self) -> Result<(), String> {
        let checked = match self {
            Model::Ecod(m) => m.validate(),
            Model::Copod(m) => m.validate(),
            Model::Hbos(m) => m.validate(),
            Model::Knn(m) => m.validate(),
            Model::Lof(m) => m.validate(),
            Model::Kde(m) => m.validate(),
            Model::Sod(m) => m.validate(),
            Model::Abod(m) => m.validate(),
            Model::Cof(m) => m.validate(),
            Model::IForest(m) => m.validate(),
            Model::Loda(m) => m.validate(),
            Model::Inne(m) => m.validate(),
            Model::Gmm(m) => m.validate(),
            Model::Pca(m) => m.validate(),
            Model::Ocsvm(m) => m.validate(),
            Model::Mcd(m) => m.validate(),
            Model::Cblof(m) => m.validate(),
            Model::Ensemble(m) => m.validate(),
        };
        checked.map_err(|e| format!("{}: {e}", self.detector_name()))
    }
}

impl ecod::EcodModel {
    fn validate(&self) -> Check {
        training(&self.train)
    }
}

impl copod::CopodModel {
    fn validate(&self) -> Check {
        training(&self.train)
    }
}

impl hbos::HbosModel {
    fn validate(&self) -> Check {
        let d = self.edges.len();
        not_empty("edges", d)?;
        length("densities", self.densities.len(), d)?;
        value("alpha", self.alpha, Rule::PositiveUnit)?;
        value("tol", self.tol, Rule::Unit)?;
        for (j, (edges, densities)) in self.edges.iter().zip(&self.densities).enumerate() {
            not_empty(&format!("densities of feature {j}"), densities.len())?;
            length(
                &format!("edges of feature {j}"),
                edges.len(),
                densities.len() + 1,
            )?;
            values(&format!("edges of feature {j}"), edges, Rule::Finite)?;
            // The bin lookup walks the edges assuming they increase.
            if let Some(i) = edges.windows(2).position(|w| w[0] >= w[1]) {
                return Err(format!(
                    "edges of feature {j} do not increase at value {}",
                    i + 1
                ));
            }
            values(
                &format!("densities of feature {j}"),
                densities,
                Rule::NonNegative,
            )?;
        }
        Ok(())
    }
}

impl knn::KnnModel {
    fn validate(&self) -> Check {
        training(&self.train)?;
        neighbours(self.k, self.train.nrows())
    }
}

impl lof::LofModel {
    fn validate(&self) -> Check {
        training(&self.train)?;
        let n = self.train.nrows();
        neighbours(self.k, n)?;
        length("k_distance", self.k_distance.len(), n)?;
        values("k_distance", &self.k_distance, Rule::NonNegative)?;
        length("lrd", self.lrd.len(), n)?;
        values("lrd", &self.lrd, Rule::NonNegative)
    }
}

impl kde::KdeModel {
    fn validate(&self) -> Check {
        training(&self.train)?;
        let h = self.bandwidth;
        // The kernel divides by h²: it must neither underflow to 0 nor overflow.
        if !(h.is_finite() && h > 0.0 && h * h > 0.0 && (h * h).is_finite()) {
            return Err(format!(
                "bandwidth is {h}, expected a positive number whose square is finite and not 0"
            ));
        }
        Ok(())
    }
}

impl sod::SodModel {
    fn validate(&self) -> Check {
        training(&self.train)?;
        let n = self.train.nrows();
        neighbours(self.k, n)?;
        if self.ref_set == 0 || self.ref_set >= self.k {
            return Err(format!(
                "ref_set is {}, expected 1 to {} (less than k)",
                self.ref_set,
                self.k - 1
            ));
        }
        value("alpha", self.alpha, Rule::OpenUnit)?;
        let shape = self.train_neighbors.dim();
        if shape != (n, self.k) {
            return Err(format!(
                "train_neighbors is {} × {}, expected {n} × {} (training rows × k)",
                shape.0, shape.1, self.k
            ));
        }
        if let Some(((i, c), &j)) = self.train_neighbors.indexed_iter().find(|(_, j)| **j >= n) {
            return Err(format!(
                "train_neighbors: neighbour {c} of row {i} is row {j}, but there are {n} rows"
            ));
        }
        Ok(())
    }
}

impl abod::AbodModel {
    fn validate(&self) -> Check {
        training(&self.train)?;
        neighbours(self.k, self.train.nrows())?;
        value("no_angle_score", self.no_angle_score, Rule::Finite)
    }
}

impl cof::CofModel {
    fn validate(&self) -> Check {
        training(&self.train)?;
        let n = self.train.nrows();
        neighbours(self.k, n)?;
        length("ac_dist", self.ac_dist.len(), n)?;
        values("ac_dist", &self.ac_dist, Rule::NonNegative)
    }
}

impl iforest::IForestModel {
    /// Beyond lengths and indices: every tree must be a tree (children after their parent and
    /// inside its own tree, each node but the root with exactly one parent), no deeper than
    /// `max_samples` allows. Scoring walks each tree for its depth in steps, so a cycle or a
    /// child index outside the tree can never be reached.
    fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        if self.max_samples == 0 {
            return Err("max_samples is 0".into());
        }
        value("offset", self.offset, Rule::Finite)?;
        let nodes = self.feature.len();
        not_empty("feature", nodes)?;
        // Node indices are u32 and u32::MAX marks a leaf.
        if nodes >= iforest::LEAF as usize {
            return Err(format!("the forest has {nodes} nodes, too many"));
        }
        length("left", self.left.len(), nodes)?;
        length("value", self.value.len(), nodes)?;
        not_empty("roots", self.roots.len())?;
        if self.roots[0] != 0 {
            return Err(format!(
                "roots: the first tree starts at node {}, expected 0",
                self.roots[0]
            ));
        }
        if let Some(t) = self.roots.windows(2).position(|w| w[0] >= w[1]) {
            return Err(format!("roots do not increase at tree {}", t + 1));
        }
        let last = *self.roots.last().expect("not empty") as usize;
        if last >= nodes {
            return Err(format!(
                "roots: the last tree starts at node {last}, but there are {nodes} nodes"
            ));
        }
        let max_depth = (self.max_samples.max(2) as f64).log2().ceil() as usize;
        let mut parents = vec![0u8; nodes];
        let mut depth = vec![0usize; nodes];
        for (t, &root) in self.roots.iter().enumerate() {
            let start = root as usize;
            let end = self.roots.get(t + 1).map_or(nodes, |&next| next as usize);
            for i in start..end {
                let f = self.feature[i];
                let v = self.value[i];
                if f == iforest::LEAF {
                    // A leaf's value is the path length of the rows ending there.
                    if !Rule::NonNegative.holds(v) {
                        return Err(format!("value of leaf {i} is {v}, expected a number ≥ 0"));
                    }
                    continue;
                }
                if f as usize >= d {
                    return Err(format!(
                        "feature of node {i} is {f}, but the model has {d} features"
                    ));
                }
                if !Rule::Finite.holds(v) {
                    return Err(format!(
                        "value of node {i} is {v}, expected a finite threshold"
                    ));
                }
                let left = self.left[i] as usize;
                if left <= i || left + 1 >= end {
                    return Err(format!(
                        "left of node {i} is {left}: children must come after their node and \
                         inside its tree (nodes {start} to {})",
                        end - 1
                    ));
                }
                for child in [left, left + 1] {
                    if parents[child] != 0 {
                        return Err(format!("node {child} has two parents"));
                    }
                    parents[child] = 1;
                    depth[child] = depth[i] + 1;
                    if depth[child] > max_depth {
                        return Err(format!(
                            "tree {t} is deeper than {max_depth} levels, the most \
                             max_samples = {} allows",
                            self.max_samples
                        ));
                    }
                }
            }
            if let Some(orphan) = (start + 1..end).find(|&i| parents[i] == 0) {
                return Err(format!("node {orphan} of tree {t} has no parent"));
            }
        }
        Ok(())
    }
}

impl loda::LodaModel {
    fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        not_empty("projections", self.projections.len())?;
        for (t, p) in self.projections.iter().enumerate() {
            let name = |field: &str| format!("{field} of projection {t}");
            not_empty(&name("features"), p.features.len())?;
            if let Some(&f) = p.features.iter().find(|&&f| f >= d) {
                return Err(format!(
                    "{} include feature {f}, but the model has {d} features",
                    name("features")
                ));
            }
            if p.features.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!("{} do not increase", name("features")));
            }
            length(&name("weights"), p.weights.len(), p.features.len())?;
            values(&name("weights"), &p.weights, Rule::Finite)?;
            not_empty(&name("probabilities"), p.probabilities.len())?;
            values(&name("probabilities"), &p.probabilities, Rule::Positive)?;
            length(&name("edges"), p.edges.len(), p.probabilities.len() + 1)?;
            values(&name("edges"), &p.edges, Rule::Finite)?;
        }
        Ok(())
    }
}

impl inne::InneModel {
    fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        let psi = self.max_samples;
        if psi < 2 {
            return Err(format!("max_samples is {psi}, expected at least 2"));
        }
        let centres = self.radii.len();
        not_empty("radii", centres)?;
        if !centres.is_multiple_of(psi) {
            return Err(format!(
                "radii has {centres} values, not a whole number of sets of {psi}"
            ));
        }
        length("ratios", self.ratios.len(), centres)?;
        length(
            "centres",
            self.centres.len(),
            product("centres", centres, d)?,
        )?;
        values("centres", &self.centres, Rule::Finite)?;
        values("radii", &self.radii, Rule::NonNegative)?;
        values("ratios", &self.ratios, Rule::Unit)
    }
}

impl gmm::GmmModel {
    fn validate(&self) -> Check {
        let d = self.n_features;
        if d == 0 {
            return Err("n_features is 0".into());
        }
        let k = self.weights.len();
        not_empty("weights", k)?;
        values("weights", &self.weights, Rule::Positive)?;
        length("means", self.means.len(), product("means", k, d)?)?;
        values("means", &self.means, Rule::Finite)?;
        let p = &self.precisions_cholesky;
        let name = "precisions_cholesky";
        let square = product(name, d, d)?;
        let expected = match self.covariance_type {
            CovarianceType::Full => product(name, k, square)?,
            CovarianceType::Tied => square,
            CovarianceType::Diag => product(name, k, d)?,
            CovarianceType::Spherical => k,
        };
        length(name, p.len(), expected)?;
        values(name, p, Rule::Finite)?;
        // Their logarithms are taken: diagonals of triangular factors, or the 1/σ values.
        match self.covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                for (m, factor) in p.chunks_exact(square).enumerate() {
                    for i in 0..d {
                        let v = factor[i * d + i];
                        if !Rule::Positive.holds(v) {
                            return Err(format!(
                                "{name}: diagonal entry {i} of factor {m} is {v}, expected > 0"
                            ));
                        }
                    }
                }
                Ok(())
            }
            CovarianceType::Diag | CovarianceType::Spherical => values(name, p, Rule::Positive),
        }
    }
}

impl pca::PcaModel {
    fn validate(&self) -> Check {
        let (k, d) = self.components.dim();
        if d == 0 {
            return Err("components has no features".into());
        }
        not_empty("components", k)?;
        values("components", &self.components, Rule::Finite)?;
        length("weights", self.weights.len(), k)?;
        values("weights", &self.weights, Rule::Positive)?;
        match (&self.mean, &self.scale) {
            (None, None) => Ok(()),
            (Some(mean), Some(scale)) => {
                length("mean", mean.len(), d)?;
                values("mean", mean, Rule::Finite)?;
                length("scale", scale.len(), d)?;
                values("scale", scale, Rule::Positive)
            }
            _ => Err("mean and scale must be given together".into()),
        }
    }
}

impl ocsvm::OcsvmModel {
    fn validate(&self) -> Check {
        let (n, d) = self.support_vectors.dim();
        if d == 0 {
            return Err("support_vectors has no features".into());
        }
        not_empty("support_vectors", n)?;
        values("support_vectors", &self.support_vectors, Rule::Finite)?;
        length("dual_coef", self.dual_coef.len(), n)?;
        values("dual_coef", &self.dual_coef, Rule::Finite)?;
        value("rho", self.rho, Rule::Finite)?;
        value("gamma", self.gamma, Rule::Positive)
    }
}

impl mcd::McdModel {
    fn validate(&self) -> Check {
        let d = self.location.len();
        not_empty("location", d)?;
        values("location", &self.location, Rule::Finite)?;
        length(
            "precision",
            self.precision.len(),
            product("precision", d, d)?,
        )?;
        values("precision", &self.precision, Rule::Finite)
    }
}

impl cblof::CblofModel {
    fn validate(&self) -> Check {
        let (k, d) = self.centers.dim();
        if d == 0 {
            return Err("centers has no features".into());
        }
        not_empty("centers", k)?;
        values("centers", &self.centers, Rule::Finite)?;
        length("sizes", self.sizes.len(), k)?;
        length("large", self.large.len(), k)?;
        // Rows of small clusters are measured to the nearest large centre.
        if !self.large.iter().any(|&l| l) {
            return Err("no cluster is marked large".into());
        }
        Ok(())
    }
}

impl ensemble::EnsembleModel {
    fn validate(&self) -> Check {
        not_empty("members", self.members.len())?;
        let d = self.members[0].model.n_features();
        for (i, m) in self.members.iter().enumerate() {
            let kind = m.model.detector_name();
            // AutoML never nests ensembles; a nested one could recurse as deep as the file.
            if matches!(m.model, Model::Ensemble(_)) {
                return Err(format!("member {i} is itself an ensemble"));
            }
            if m.detector != kind {
                return Err(format!(
                    "member {i} is labelled {:?} but holds a {kind} model",
                    m.detector
                ));
            }
            m.model.validate().map_err(|e| format!("member {i}: {e}"))?;
            if m.model.n_features() != d {
                return Err(format!(
                    "member {i} expects {} features, member 0 expects {d}",
                    m.model.n_features()
                ));
            }
            let name = format!("training scores of member {i}");
            not_empty(&name, m.training_sorted.len())?;
            values(&name, &m.training_sorted, Rule::Finite)?;
            // New scores are ranked among them by binary search.
            if m.training_sorted.windows(2).any(|w| w[0] > w[1]) {
                return Err(format!("{name} are not sorted"));
            }
        }
        Ok(())
    }
}
