//! The learned resource surrogate: per target, a non-negative weight per hardware term
//! ([`features::TERMS`]) fitted to Yosys's counts on the designs `spikeforge dataset` sweeps,
//! minimising relative error. Training recompiles each recorded design from its spec, so the
//! features always come from today's compiler, and keeps a record only while the RTL digest
//! still matches what Yosys saw. Validation holds whole model families out.

pub mod census;
pub mod estimate;
pub mod features;
pub mod nnls;

use crate::dataset;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// One synthesised design, re-derived from its record.
#[derive(Clone, Debug)]
pub struct Sample {
    pub id: u64,
    pub family: String,
    pub terms: Vec<f64>,
    pub lut: f64,
    pub ff: f64,
    /// DSP blocks and block RAMs in the target's own unit (36 Kb on Xilinx, 4 Kb on iCE40).
    pub dsp: f64,
    pub bram: f64,
}

/// What reading a dataset found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub samples: Vec<Sample>,
    pub target: String,
    pub yosys: String,
    /// Records of failed syntheses (timeouts), skipped.
    pub failed: usize,
    /// Records whose design compiles to different RTL today, skipped.
    pub stale: usize,
}

/// Reads a dataset file and re-derives each design's terms.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Loaded::default();
    for (k, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("{}: line {}: {e}", path.display(), k + 1))?;
        if v.get("error").is_some() {
            out.failed += 1;
            continue;
        }
        let field = |f: &str| {
            v[f].as_u64()
                .ok_or_else(|| format!("{}: line {}: no '{f}'", path.display(), k + 1))
        };
        let (id, seed) = (field("id")?, field("seed")?);
        let target = v["target"].as_str().unwrap_or_default().to_string();
        if !out.target.is_empty() && out.target != target {
            return Err(format!(
                "{}: line {}: target {target}, earlier lines {}",
                path.display(),
                k + 1,
                out.target
            ));
        }
        out.target = target;
        out.yosys = v["yosys"].as_str().unwrap_or_default().to_string();
        let Some(family) = dataset::FAMILIES
            .iter()
            .find(|f| v["family"].as_str() == Some(**f))
        else {
            out.stale += 1;
            continue;
        };
        let spec = dataset::spec_of(seed, id, family);
        let Ok(c) = dataset::compile(&spec) else {
            out.stale += 1;
            continue;
        };
        if v["rtl"].as_str() != Some(dataset::rtl_digest(&c.design).as_str()) {
            out.stale += 1;
            continue;
        }
        out.samples.push(Sample {
            id,
            family: spec.family.to_string(),
            terms: features::terms(&c),
            lut: v["lut"].as_f64().unwrap_or(0.0),
            ff: v["ff"].as_f64().unwrap_or(0.0),
            dsp: v["dsp"].as_f64().unwrap_or(0.0),
            bram: ["bram36", "bram_18k", "bram_4k"]
                .iter()
                .filter_map(|f| v[*f].as_f64())
                .sum(),
        });
    }
    Ok(out)
}

/// Shipped weights for one target.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Model {
    pub target: String,
    pub yosys: String,
    pub terms: Vec<String>,
    pub lut: Vec<f64>,
    pub ff: Vec<f64>,
    /// Least-squares weights (absolute error; most designs have none).
    #[serde(default)]
    pub dsp: Vec<f64>,
    #[serde(default)]
    pub bram: Vec<f64>,
    pub trained_on: usize,
    /// The errors measured with each family held out of training.
    #[serde(default)]
    pub held_out: Vec<HeldOut>,
    /// Each term some training design had, with the largest value one had: hardware outside
    /// them was never measured, and far beyond them is extrapolated, so an estimate of such a
    /// design says so.
    #[serde(default)]
    pub seen: std::collections::BTreeMap<String, f64>,
}

/// Weights for one resource: NNLS, relative error (each row divided by its count) or absolute,
/// over the terms `used` allows (the others weigh 0).
fn fit_one(
    samples: &[&Sample],
    y: &dyn Fn(&Sample) -> f64,
    relative: bool,
    used: &dyn Fn(&str) -> bool,
) -> Vec<f64> {
    let cols: Vec<usize> = (0..features::TERMS.len())
        .filter(|&k| used(features::TERMS[k]))
        .collect();
    let mut coef = vec![0.0; features::TERMS.len()];
    if cols.is_empty() {
        return coef;
    }
    let mut a = Vec::with_capacity(samples.len() * cols.len());
    let mut b = Vec::with_capacity(samples.len());
    for s in samples {
        let w = if relative { 1.0 / y(s).max(1.0) } else { 1.0 };
        a.extend(cols.iter().map(|&k| s.terms[k] * w));
        b.push(y(s) * w);
    }
    let x = nnls::nnls(&a, &b, cols.len());
    for (&k, v) in cols.iter().zip(x) {
        coef[k] = v;
    }
    coef
}

/// Weights for a resource counted structurally: the `exact` terms weigh 1 each, and the
/// `fitted` ones are fitted (least squares, absolute) to what the exact ones leave.
fn fit_counted(
    samples: &[&Sample],
    y: &dyn Fn(&Sample) -> f64,
    exact: &[&str],
    fitted: &[&str],
) -> Vec<f64> {
    let fixed: Vec<usize> = exact
        .iter()
        .filter_map(|t| features::TERMS.iter().position(|x| x == t))
        .collect();
    let rest = |s: &Sample| y(s) - fixed.iter().map(|&k| s.terms[k]).sum::<f64>();
    let mut c = fit_one(samples, &rest, false, &|t| fitted.contains(&t));
    for &k in &fixed {
        c[k] = 1.0;
    }
    c
}

pub fn fit(samples: &[&Sample], target: &str, yosys: &str) -> Model {
    let family = crate::synth::target::load(target)
        .map(|t| t.family)
        .unwrap_or_default();
    Model {
        target: target.to_string(),
        yosys: yosys.to_string(),
        terms: features::TERMS.iter().map(|s| s.to_string()).collect(),
        lut: fit_one(samples, &|s| s.lut, true, &|t| {
            !features::LUT_EXCLUDED.contains(&t)
        }),
        ff: fit_one(samples, &|s| s.ff, true, &|t| {
            features::FF_TERMS.contains(&t)
        }),
        dsp: fit_counted(
            samples,
            &|s| s.dsp,
            &features::dsp_exact_terms(&family),
            &features::DSP_TERMS,
        ),
        bram: fit_counted(
            samples,
            &|s| s.bram,
            &[features::bram_exact_term(&family)],
            &features::BRAM_TERMS,
        ),
        trained_on: samples.len(),
        held_out: Vec::new(),
        seen: features::TERMS
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let most = samples.iter().map(|s| s.terms[k]).fold(0.0, f64::max);
                (t.to_string(), most)
            })
            .filter(|(_, most)| *most > 0.0)
            .collect(),
    }
}

impl Model {
    /// The weights in [`features::TERMS`] order, matched by name (a term the file lacks
    /// weighs 0), so weights trained before a term was added still predict what they did.
    pub fn aligned(mut self) -> Model {
        let remap = |coef: &[f64], names: &[String]| -> Vec<f64> {
            features::TERMS
                .iter()
                .map(|t| {
                    names
                        .iter()
                        .position(|n| n == t)
                        .and_then(|k| coef.get(k).copied())
                        .unwrap_or(0.0)
                })
                .collect()
        };
        let names = std::mem::take(&mut self.terms);
        self.lut = remap(&self.lut, &names);
        self.ff = remap(&self.ff, &names);
        self.dsp = remap(&self.dsp, &names);
        self.bram = remap(&self.bram, &names);
        self.terms = features::TERMS.iter().map(|s| s.to_string()).collect();
        self
    }
}

pub fn predict(coef: &[f64], terms: &[f64]) -> f64 {
    coef.iter().zip(terms).map(|(c, t)| c * t).sum()
}

/// One row per design: id, family, every term, the counts and the model's predictions.
pub fn csv(samples: &[Sample], m: &Model) -> String {
    let mut out = format!(
        "id,family,{},lut,ff,lut_pred,ff_pred\n",
        features::TERMS.join(",")
    );
    for s in samples {
        let terms: Vec<String> = s.terms.iter().map(|t| t.to_string()).collect();
        out += &format!(
            "{},{},{},{},{},{:.1},{:.1}\n",
            s.id,
            s.family,
            terms.join(","),
            s.lut,
            s.ff,
            predict(&m.lut, &s.terms),
            predict(&m.ff, &s.terms)
        );
    }
    out
}

/// Median and 90th percentile of absolute percentage errors.
pub fn ape_quantiles(errors: &mut [f64]) -> (f64, f64) {
    if errors.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    errors.sort_by(f64::total_cmp);
    let q = |p: f64| errors[((errors.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.9))
}

/// Errors on one held-out family: designs, (median, 90th percentile) absolute percentage
/// error of LUT and FF, and the fraction of designs whose DSP and BRAM counts come out exact.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeldOut {
    pub family: String,
    pub designs: usize,
    pub lut: (f64, f64),
    pub ff: (f64, f64),
    #[serde(default)]
    pub dsp_exact: f64,
    #[serde(default)]
    pub bram_exact: f64,
}

/// Every design's LUT and FF as predicted by a model fitted without its family, in sample
/// order: what the validation plot shows.
pub fn held_out_predictions(samples: &[Sample], target: &str) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); samples.len()];
    let mut fams: Vec<&str> = samples.iter().map(|s| s.family.as_str()).collect();
    fams.sort();
    fams.dedup();
    for f in fams {
        let train: Vec<&Sample> = samples.iter().filter(|s| s.family != f).collect();
        let m = fit(&train, target, "");
        for (k, s) in samples.iter().enumerate().filter(|(_, s)| s.family == f) {
            out[k] = (predict(&m.lut, &s.terms), predict(&m.ff, &s.terms));
        }
    }
    out
}

/// Predicted (held out) against synthesised LUT and FF, coloured by family: two SVG plots.
pub fn plots(samples: &[Sample], target: &str) -> (String, String) {
    let mut fams: Vec<String> = samples.iter().map(|s| s.family.clone()).collect();
    fams.sort();
    fams.dedup();
    let pred = held_out_predictions(samples, target);
    let group = |s: &Sample| fams.iter().position(|f| *f == s.family).unwrap_or(0);
    let points = |which: fn(&Sample) -> f64, p: fn(&(f64, f64)) -> f64| -> Vec<(f64, f64, usize)> {
        samples
            .iter()
            .zip(&pred)
            .map(|(s, q)| (which(s), p(q).max(1.0), group(s)))
            .collect()
    };
    let plot = |what: &str, pts: Vec<(f64, f64, usize)>| {
        crate::report::svg::scatter(
            &format!("{what} on {target}: family held out of training (dashed: +-25%)"),
            (&format!("{what}, Yosys"), &format!("{what}, surrogate")),
            &fams,
            &pts,
            0.25,
        )
    };
    (
        plot("LUT", points(|s| s.lut, |q| q.0)),
        plot("FF", points(|s| s.ff, |q| q.1)),
    )
}

/// Per family, the errors of a model fitted on the other families alone.
pub fn leave_one_family_out(samples: &[Sample], target: &str) -> Vec<HeldOut> {
    let mut fams: Vec<String> = samples.iter().map(|s| s.family.clone()).collect();
    fams.sort();
    fams.dedup();
    fams.iter()
        .map(|f| {
            let train: Vec<&Sample> = samples.iter().filter(|s| &s.family != f).collect();
            let test: Vec<&Sample> = samples.iter().filter(|s| &s.family == f).collect();
            let m = fit(&train, target, "");
            let ape = |coef: &[f64], y: &dyn Fn(&Sample) -> f64| {
                let mut e: Vec<f64> = test
                    .iter()
                    .map(|s| 100.0 * (predict(coef, &s.terms) - y(s)).abs() / y(s).max(1.0))
                    .collect();
                ape_quantiles(&mut e)
            };
            let exact = |coef: &[f64], y: &dyn Fn(&Sample) -> f64| {
                let hits = test
                    .iter()
                    .filter(|s| predict(coef, &s.terms).round().max(0.0) == y(s).round())
                    .count();
                hits as f64 / test.len().max(1) as f64
            };
            HeldOut {
                family: f.clone(),
                designs: test.len(),
                lut: ape(&m.lut, &|s| s.lut),
                ff: ape(&m.ff, &|s| s.ff),
                dsp_exact: exact(&m.dsp, &|s| s.dsp),
                bram_exact: exact(&m.bram, &|s| s.bram),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records whose counts are a known non-negative combination of the terms: training
    /// recovers predictions within 1%, and a record whose RTL no longer matches is skipped.
    #[test]
    fn training_recovers_a_known_cost_and_skips_stale_records() {
        let weights = |t: &[f64]| 40.0 + 0.9 * t[3] + 4.0 * t[4] + 7.0 * t[8] + 1.5 * t[9];
        let mut lines = String::new();
        for id in 0..24u64 {
            let spec = dataset::spec(5, id, &dataset::FAMILIES[..4]);
            let c = dataset::compile(&spec).expect("compiles");
            let t = features::terms(&c);
            let mut digest = dataset::rtl_digest(&c.design);
            if id == 7 {
                digest = "0000000000000000".into();
            }
            lines.push_str(
                &serde_json::json!({
                    "id": id, "seed": 5, "family": spec.family, "target": "t", "yosys": "y",
                    "lut": weights(&t), "ff": t[17], "rtl": digest,
                })
                .to_string(),
            );
            lines.push('\n');
        }
        lines.push_str("{\"id\": 99, \"seed\": 5, \"error\": \"timed out\"}\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jsonl");
        std::fs::write(&path, lines).unwrap();
        let l = load(&path).unwrap();
        assert_eq!((l.samples.len(), l.stale, l.failed), (23, 1, 1));
        let refs: Vec<&Sample> = l.samples.iter().collect();
        let m = fit(&refs, &l.target, &l.yosys);
        for s in &l.samples {
            let p = predict(&m.lut, &s.terms);
            assert!((p - s.lut).abs() <= 0.01 * s.lut, "{p} vs {}", s.lut);
        }
        assert!(m.lut.iter().all(|&c| c >= 0.0));
        // The validation plots: a point per design in each, every family in the legend.
        let (lut, ff) = plots(&l.samples, "t");
        for svg in [&lut, &ff] {
            assert_eq!(svg.matches("<circle").count(), l.samples.len());
            for s in &l.samples {
                assert!(svg.contains(&s.family), "{} not in the legend", s.family);
            }
        }
    }

    /// Weights are matched to terms by name: a file from before a term existed predicts as it
    /// did, and the shipped files name every current term (retrain when one is added).
    #[test]
    fn weights_follow_term_names_and_shipped_ones_are_current() {
        let names: Vec<String> = ["io_bits", "no_longer_a_term", "one"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = Model {
            target: "t".into(),
            yosys: "y".into(),
            terms: names,
            lut: vec![2.0, 5.0, 100.0],
            ff: vec![1.0, 5.0, 0.0],
            dsp: vec![],
            bram: vec![],
            trained_on: 0,
            held_out: vec![],
            seen: Default::default(),
        }
        .aligned();
        let mut t = vec![0.0; features::TERMS.len()];
        t[features::TERMS.iter().position(|&n| n == "one").unwrap()] = 1.0;
        t[features::TERMS
            .iter()
            .position(|&n| n == "io_bits")
            .unwrap()] = 10.0;
        assert_eq!(predict(&m.lut, &t), 120.0);
        assert_eq!(predict(&m.ff, &t), 10.0);
        assert_eq!(predict(&m.dsp, &t), 0.0);
        for family in ["xc7", "ice40"] {
            let text = estimate::SHIPPED
                .iter()
                .find(|(f, _)| *f == family)
                .map(|(_, t)| *t)
                .expect("shipped");
            let m: Model = serde_json::from_str(text).unwrap();
            assert_eq!(
                m.terms,
                features::TERMS,
                "{family}: retrain the shipped weights"
            );
        }
    }
}
