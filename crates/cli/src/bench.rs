//! `matchwell bench score`: the engine on the raw inputs of `shared/bench/peer_numpy.py`
//! (`meta.json`, `ans.i8`, `acc.u8`, `imp.u16`, little-endian, C order), computing the peer's
//! plain model and printing `elapsed_s=` and `checksum=` lines in the peer's format.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use scoring::{Importance, Layout, Model, Options, OrgInput, Population, Profile, QuestionAnswer};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct Meta {
    N: usize,
    Q: usize,
    K: usize,
}

/// The peer's raw arrays, checked against `meta.json`.
#[derive(Debug)]
struct RawInputs {
    meta: Meta,
    answers: Vec<i8>,
    acceptable: Vec<u8>,
    importance: Vec<u16>,
}

fn read(dir: &Path, name: &str, expected: usize) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
    ensure!(bytes.len() == expected, "{} has {} bytes; meta.json implies {expected}", path.display(), bytes.len());
    Ok(bytes)
}

fn load(dir: &Path) -> anyhow::Result<RawInputs> {
    let meta_path = dir.join("meta.json");
    let meta =
        std::fs::read_to_string(&meta_path).with_context(|| format!("failed to read {}", meta_path.display()))?;
    let meta: Meta = serde_json::from_str(&meta)
        .with_context(|| format!("{} is not {{\"N\", \"Q\", \"K\"}}", meta_path.display()))?;
    ensure!(meta.N > 0 && meta.Q > 0, "meta.json: N and Q must be positive");
    ensure!((2..=usize::from(scoring::MAX_OPTIONS)).contains(&meta.K), "meta.json: K must be between 2 and 32");
    let cells = meta.N.checked_mul(meta.Q).context("meta.json: N * Q overflows")?;
    let answers = read(dir, "ans.i8", cells)?.into_iter().map(|b| b as i8).collect();
    let acceptable = read(dir, "acc.u8", cells * meta.K)?;
    let importance =
        read(dir, "imp.u16", cells * 2)?.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]])).collect();
    Ok(RawInputs { meta, answers, acceptable, importance })
}

fn organisations(raw: &RawInputs) -> anyhow::Result<Vec<OrgInput>> {
    let Meta { N: n, Q: q, K: k } = raw.meta;
    (0..n)
        .map(|i| {
            let answers = (0..q)
                .map(|question| {
                    let cell = i * q + question;
                    let answer = raw.answers[cell];
                    if answer < 0 {
                        return Ok(None);
                    }
                    ensure!(
                        (answer as usize) < k,
                        "ans.i8: organisation {i}, question {question}: option {answer} >= K"
                    );
                    let weight = raw.importance[cell];
                    let Some(importance) = Importance::from_weight(u32::from(weight)) else {
                        bail!(
                            "imp.u16: organisation {i}, question {question}: {weight} is not one of 0, 1, 10, 50, 250"
                        );
                    };
                    let mut acceptable = 0u32;
                    for (option, &flag) in raw.acceptable[cell * k..][..k].iter().enumerate() {
                        ensure!(flag <= 1, "acc.u8: organisation {i}, question {question}: {flag} is not 0 or 1");
                        acceptable |= u32::from(flag) << option;
                    }
                    Ok(Some(QuestionAnswer { answer: answer as u8, acceptable, importance }))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(OrgInput { answers, profile: Profile::default() })
        })
        .collect()
}

/// What one benchmark run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub organisations: usize,
    pub questions: usize,
    pub options: usize,
    /// Partners kept per organisation: `min(k, N - 1)`.
    pub k: usize,
    /// Seconds for packing the inputs and computing every top-k list (reading files excluded,
    /// as the peer excludes them).
    pub elapsed_s: f64,
    /// Sum of all top-k scores.
    pub checksum: f64,
    pub mean_top1: f64,
    pub incremental: Option<Incremental>,
}

/// Timings of organisations changing their answers one at a time (lists with `k` spare).
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    pub rescored: usize,
    pub median_ms: f64,
    pub max_ms: f64,
    pub rows_recomputed: usize,
}

impl std::fmt::Display for Report {
    /// The peer's output format: a header line, `elapsed_s=` and `checksum=`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "N={} Q={} K={} k={}", self.organisations, self.questions, self.options, self.k)?;
        writeln!(f, "elapsed_s={:.3}", self.elapsed_s)?;
        write!(f, "checksum={:.6} mean_top1={:.6}", self.checksum, self.mean_top1)?;
        if let Some(inc) = &self.incremental {
            write!(
                f,
                "\nincremental_ms_median={:.3} incremental_ms_max={:.3} rescored={} rows_recomputed={}",
                inc.median_ms, inc.max_ms, inc.rescored, inc.rows_recomputed
            )?;
        }
        Ok(())
    }
}

/// Runs the engine on the inputs in `dir`; with `incremental > 0`, then lets that many
/// organisations take another's answers, one at a time, and re-scores each incrementally.
pub fn score(dir: &Path, k: usize, options: &Options, incremental: usize) -> anyhow::Result<Report> {
    score_with(dir, k, options, incremental, 0.0)
}

/// As [`score`], with the plain model's shared standards weighing `standards_weight` (0 in
/// the peer's model): what the engine does for the service's model.
pub fn score_with(
    dir: &Path,
    k: usize,
    options: &Options,
    incremental: usize,
    standards_weight: f32,
) -> anyhow::Result<Report> {
    let raw = load(dir)?;
    let orgs = organisations(&raw)?;
    let Meta { N: n, Q: q, K: options_per_question } = raw.meta;
    let layout = Layout::uniform(q, u8::try_from(options_per_question)?)?;
    let model = Model { standards_weight, ..Model::plain(&layout) };
    ensure!(model.check(&layout).is_ok(), "the standards weight must be finite and not negative");

    let start = Instant::now();
    let mut population = Population::new(layout, &orgs)?;
    let top = scoring::top_k(&population, &model, k, options)?;
    let elapsed_s = start.elapsed().as_secs_f64();

    let top1: f64 = (0..n).filter_map(|i| top.row(i).first()).map(|p| f64::from(p.score)).sum();
    let mut report = Report {
        organisations: n,
        questions: q,
        options: options_per_question,
        k: k.min(n - 1),
        elapsed_s,
        checksum: top.checksum(),
        mean_top1: top1 / n as f64,
        incremental: None,
    };
    if incremental > 0 {
        // The service's configuration: lists keep k spare partners.
        let options = Options { slack: k, ..options.clone() };
        let mut top = scoring::top_k(&population, &model, k, &options)?;
        let mut times = Vec::with_capacity(incremental);
        let mut rows_recomputed = 0;
        for step in 0..incremental {
            // Organisation `org` changes its answers to those of `donor`, then is re-scored.
            let (org, donor) = (step * 7919 % n, (step * 104_729 + 1) % n);
            let start = Instant::now();
            population.replace(org, &orgs[donor])?;
            let done = scoring::rescore(&population, &model, org, &mut top, &options)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            rows_recomputed += done.recomputed_rows;
        }
        times.sort_by(f64::total_cmp);
        report.incremental = Some(Incremental {
            rescored: incremental,
            median_ms: times[times.len() / 2],
            max_ms: times[times.len() - 1],
            rows_recomputed,
        });
    }
    Ok(report)
}
