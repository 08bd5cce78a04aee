//! `spikeforge lint`: pitfalls that would make the hardware disagree with the framework a model
//! came from, found before any RTL is written: defaulted fields, a `dt` that does not match the
//! exporter's convention, Euler steps longer than a time constant, and values the chosen
//! precision rounds away.

use crate::frontend::nir::Defaulted;
use crate::ir::{Graph, Op};
use crate::quant::{self, QuantOptions};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Likely to change behaviour.
    Warning,
    /// Worth knowing.
    Note,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub node: String,
    pub message: String,
}

fn push(out: &mut Vec<Finding>, severity: Severity, node: &str, message: String) {
    out.push(Finding {
        severity,
        node: node.to_string(),
        message,
    });
}

/// Relative difference, safe at zero.
fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// All findings for a float graph; `defaulted` lists fields the file left out.
pub fn lint(g: &Graph, defaulted: &[Defaulted], opt: &QuantOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in defaulted {
        let msg = match d.field {
            "v_reset" => "has no v_reset (a file from NIR < 1.0.6): reset to 0 assumed".to_string(),
            f => format!("has no {f}: NIR's default assumed"),
        };
        let sev = if d.field == "v_reset" {
            Severity::Warning
        } else {
            Severity::Note
        };
        push(&mut out, sev, &d.node, msg);
    }
    for node in &g.nodes {
        let Op::Neuron(nr) = &node.op else { continue };
        let name = &node.name;
        if nr.kind.has_leak() {
            // snnTorch exports tau = dt/(1-beta) and r = tau/dt, so tau/r reveals its dt.
            let implied: Vec<f64> = nr
                .tau_mem
                .iter()
                .zip(&nr.r)
                .filter(|(_, &r)| r != 0.0)
                .map(|(t, r)| t / r)
                .collect();
            let first = implied.first().copied().unwrap_or(0.0);
            let uniform = !implied.is_empty() && implied.iter().all(|&d| rel(d, first) < 1e-5);
            if uniform && nr.r.iter().any(|&r| r != 1.0) {
                if rel(first, opt.dt) > 1e-5 {
                    push(&mut out, Severity::Warning, name, format!(
                        "r = tau/dt holds with dt = {first:e} s (snnTorch's export convention), but dt is {:e} s; pass --dt {first:e}",
                        opt.dt
                    ));
                } else {
                    push(&mut out, Severity::Note, name, format!(
                        "consistent with snnTorch's export convention (r = tau/dt at dt = {first:e} s); snnTorch resets one step late: --reset subtract-next (or zero-next) reproduces it"
                    ));
                }
            } else if nr.r.iter().all(|&r| r == 1.0) {
                push(&mut out, Severity::Note, name, format!(
                    "r = 1, so the file does not reveal its timestep (Norse's cells default to dt = 1e-3 s); using dt = {:e} s",
                    opt.dt
                ));
            }
            for (label, taus) in [("tau_mem", &nr.tau_mem), ("tau_syn", &nr.tau_syn)] {
                if label == "tau_syn" && !nr.kind.has_synapse() {
                    continue;
                }
                if let Some(t) = taus
                    .iter()
                    .copied()
                    .filter(|&t| t < opt.dt)
                    .reduce(f64::min)
                {
                    push(&mut out, Severity::Warning, name, format!(
                        "{label} = {t:e} s is shorter than dt = {:e} s: the forward Euler step overshoots (the hardware clamps the decay to 1)",
                        opt.dt
                    ));
                }
            }
        }
        if nr.kind.spikes() {
            let (lo, hi) = nr
                .v_threshold
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| {
                    (a.min(t), b.max(t))
                });
            if lo != hi {
                push(&mut out, Severity::Note, name, format!(
                    "v_threshold varies across the layer ({lo} to {hi}): one constant per neuron in hardware"
                ));
            }
            if lo <= 0.0 {
                push(
                    &mut out,
                    Severity::Warning,
                    name,
                    format!("a v_threshold of {lo} <= 0 fires without input"),
                );
            }
        }
    }
    match quant::quantise(g, opt) {
        Ok((q, layers)) => precision_findings(g, &q, &layers, opt, &mut out),
        Err(e) => push(
            &mut out,
            Severity::Warning,
            &e.node,
            format!("cannot be quantised: {}", e.message),
        ),
    }
    out
}

/// What the chosen precision rounds away.
fn precision_findings(
    g: &Graph,
    q: &Graph,
    layers: &[quant::LayerQuant],
    opt: &QuantOptions,
    out: &mut Vec<Finding>,
) {
    for node in &q.nodes {
        match &node.op {
            Op::Dense(_) | Op::IntConv(_) => {
                let Some(src) = g.find(&node.name).map(|i| g.node(i)) else {
                    continue;
                };
                let (w, q) = match (&src.op, &node.op) {
                    (Op::Affine { weight, .. } | Op::Linear { weight }, Op::Dense(d)) => {
                        (weight, &d.weight)
                    }
                    (Op::Conv(c), Op::IntConv(ic)) => (&c.weight, &ic.conv.weight),
                    _ => continue,
                };
                if w.shape != q.shape {
                    // A pooling was folded into the kernel: no one-to-one weights to compare.
                    continue;
                }
                let lost = w
                    .data
                    .iter()
                    .zip(&q.data)
                    .filter(|(&f, &i)| f != 0.0 && i == 0)
                    .count();
                let nonzero = w.data.iter().filter(|&&f| f != 0.0).count();
                if lost > 0 {
                    push(
                        out,
                        Severity::Warning,
                        &node.name,
                        format!(
                            "{lost} of {nonzero} nonzero weights round to 0 at {} bits",
                            opt.weight_bits
                        ),
                    );
                }
            }
            Op::IntNeuron(nr) => {
                let Some(Op::Neuron(f)) = g.find(&node.name).map(|i| &g.node(i).op) else {
                    continue;
                };
                let one = (1i64 << nr.frac_bits) as f64;
                if f.kind.has_leak() && f.kind.has_memory() {
                    let worst = f
                        .tau_mem
                        .iter()
                        .zip(&nr.mem_decay)
                        .map(|(t, &d)| rel((opt.dt / t).min(1.0), d as f64 / one))
                        .fold(0.0, f64::max);
                    if worst > 0.01 {
                        push(out, Severity::Warning, &node.name, format!(
                            "the membrane leak is off by up to {:.1}% at {} fraction bits; raise --frac-bits",
                            100.0 * worst,
                            nr.frac_bits
                        ));
                    }
                }
                if f.kind.spikes() {
                    let worst = f
                        .v_threshold
                        .iter()
                        .zip(&nr.threshold)
                        .zip(&nr.scale)
                        .map(|((t, &q), s)| rel(t * s, q as f64))
                        .fold(0.0, f64::max);
                    if worst > 0.01 {
                        push(out, Severity::Warning, &node.name, format!(
                            "thresholds are off by up to {:.1}% after rounding; raise --weight-bits",
                            100.0 * worst
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    for l in layers {
        if l.saturate {
            push(out, Severity::Warning, &l.node, l.note.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{FloatNeuron, NeuronKind, Port, Tensor, Type};

    fn graph(tau: f64, r: f64, weights: Vec<f64>) -> Graph {
        let mut g = Graph::new("l");
        let n = weights.len() / 2;
        let i = g.add("in", Op::Input, vec![], Type::spike(2));
        let w = Tensor::new(vec![n, 2], weights);
        let fc = g.add(
            "fc",
            Op::Linear { weight: w },
            vec![Port::now(i)],
            Type::real(n),
        );
        let mut nr = FloatNeuron::neutral(NeuronKind::Lif, n);
        nr.tau_mem = vec![tau; n];
        nr.r = vec![r; n];
        let l = g.add("lif", Op::Neuron(nr), vec![Port::now(fc)], Type::spike(n));
        g.add("out", Op::Output, vec![Port::now(l)], Type::spike(n));
        g
    }

    fn has(f: &[Finding], sev: Severity, node: &str, text: &str) -> bool {
        f.iter()
            .any(|x| x.severity == sev && x.node == node && x.message.contains(text))
    }

    #[test]
    fn snntorch_dt_is_recognised_and_a_mismatch_is_a_warning() {
        // beta = 0.9 at dt = 1e-3: tau = 1e-2, r = 10.
        let g = graph(1e-2, 10.0, vec![0.5, -0.5]);
        let f = lint(&g, &[], &QuantOptions::default());
        assert!(has(&f, Severity::Warning, "lif", "pass --dt 1e-3"), "{f:?}");
        let opt = QuantOptions {
            dt: 1e-3,
            ..QuantOptions::default()
        };
        let f = lint(&g, &[], &opt);
        assert!(has(&f, Severity::Note, "lif", "snnTorch"), "{f:?}");
        assert!(!f.iter().any(|x| x.severity == Severity::Warning), "{f:?}");
    }

    #[test]
    fn euler_overshoot_tiny_weights_and_legacy_reset_are_reported() {
        let g = graph(5e-5, 1.0, vec![1.0, 1e-4]);
        let legacy = [Defaulted {
            node: "lif".into(),
            field: "v_reset",
        }];
        let f = lint(&g, &legacy, &QuantOptions::default());
        assert!(has(&f, Severity::Warning, "lif", "overshoots"), "{f:?}");
        assert!(
            has(
                &f,
                Severity::Warning,
                "fc",
                "1 of 2 nonzero weights round to 0"
            ),
            "{f:?}"
        );
        assert!(has(&f, Severity::Warning, "lif", "NIR < 1.0.6"), "{f:?}");
        assert!(
            has(&f, Severity::Note, "lif", "does not reveal its timestep"),
            "{f:?}"
        );
    }
}
