//! `spikeforge.toml`: choices per model, per layer kind and per layer name, the way hls4ml
//! configures a model, type and layer. More specific entries win; a command-line option
//! replaces the `[model]` entry of the same name, never a kind's or a layer's.
//! `spikeforge init model.nir` writes a commented one for a model.
//!
//! ```toml
//! [model]
//! arch = "auto"        # parallel | folded | folded:R | auto
//! weight_bits = 8      # signed weight bits, 2..=16
//! reset = "subtract"   # zero | subtract | zero-next | subtract-next (float models)
//! threshold = "gt"     # gt | ge: spike when the membrane exceeds / reaches the threshold
//!
//! [kind.lif]           # every neuron layer of a kind: if, lif, li, cuba_lif, i, cuba_li, threshold
//! arch = "folded:4"    # 4 output channels share each accumulator
//!
//! [layer."lif1"]       # one layer, by its node name
//! arch = "parallel"
//! weight_bits = 6      # the weights into this layer
//! ```

use crate::backend::{Arch, LayerArch};
use crate::frontend::conventions::Conventions;
use crate::ir::{Compare, Graph, NeuronKind, Op, Reset};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub model: Entry,
    #[serde(default)]
    pub kind: BTreeMap<String, Entry>,
    #[serde(default)]
    pub layer: BTreeMap<String, Entry>,
}

/// What can be chosen at each level.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub arch: Option<String>,
    pub weight_bits: Option<u32>,
    pub reset: Option<String>,
    pub threshold: Option<String>,
}

/// The choices a config makes for one graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Choices {
    /// The model-wide architecture, when the config names one.
    pub arch: Option<Arch>,
    /// Per neuron layer (node name).
    pub layers: BTreeMap<String, LayerArch>,
    /// The `[model]` weight bits and conventions (a command-line option replaces them).
    pub weight_bits: Option<u32>,
    pub conventions: Conventions,
    /// Per neuron layer, from kind and layer entries.
    pub layer_weight_bits: BTreeMap<String, u32>,
    pub layer_conventions: BTreeMap<String, Conventions>,
}

/// The spellings `reset` takes, as on the command line.
pub const RESETS: [(&str, Reset); 4] = [
    ("zero", Reset::Zero),
    ("subtract", Reset::Subtract),
    ("zero-next", Reset::ZeroNext),
    ("subtract-next", Reset::SubtractNext),
];

/// What one entry sets beyond the architecture, checked; `at` names the entry in errors.
fn settings(e: &Entry, at: &str) -> Result<(Option<u32>, Conventions), String> {
    if let Some(b) = e.weight_bits {
        if !(2..=16).contains(&b) {
            return Err(format!("{at} weight_bits: {b} outside 2..=16"));
        }
    }
    let reset = match &e.reset {
        None => None,
        Some(r) => Some(
            RESETS
                .iter()
                .find(|(n, _)| n == r)
                .map(|&(_, v)| v)
                .ok_or_else(|| {
                    format!("{at} reset: '{r}' is not zero, subtract, zero-next or subtract-next")
                })?,
        ),
    };
    let compare = match e.threshold.as_deref() {
        None => None,
        Some("gt") => Some(Compare::Gt),
        Some("ge") => Some(Compare::Ge),
        Some(t) => return Err(format!("{at} threshold: '{t}' is not gt or ge")),
    };
    Ok((e.weight_bits, Conventions { reset, compare }))
}

/// `over` on top of `base`: what `over` sets wins.
fn merge(base: Conventions, over: Conventions) -> Conventions {
    Conventions {
        reset: over.reset.or(base.reset),
        compare: over.compare.or(base.compare),
    }
}

/// Reads and parses a config file; errors name the file.
pub fn load(path: &Path) -> Result<Config, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > 1 << 20 {
        return Err(format!(
            "{shown}: a config file larger than 1 MiB is not one"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    parse(&text).map_err(|e| format!("{shown}: {e}"))
}

pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

impl Config {
    /// Resolves the config against `g`: unknown kinds and layer names are errors.
    pub fn choices(&self, g: &Graph) -> Result<Choices, String> {
        let neurons: Vec<(&str, NeuronKind)> = g
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::IntNeuron(nr) => Some((n.name.as_str(), nr.kind)),
                Op::Neuron(nr) => Some((n.name.as_str(), nr.kind)),
                _ => None,
            })
            .collect();
        let mut out = Choices::default();
        let (bits, conv) = settings(&self.model, "[model]")?;
        out.weight_bits = bits;
        out.conventions = conv;
        let set_settings = |out: &mut Choices,
                            which: &dyn Fn(&str, NeuronKind) -> bool,
                            (bits, conv): (Option<u32>, Conventions)| {
            for &(name, kind) in &neurons {
                if which(name, kind) {
                    if let Some(b) = bits {
                        out.layer_weight_bits.insert(name.to_string(), b);
                    }
                    let c = out.layer_conventions.entry(name.to_string()).or_default();
                    *c = merge(*c, conv);
                }
            }
        };
        let set_all = |out: &mut Choices, which: &dyn Fn(&str, NeuronKind) -> bool, a| {
            for &(name, kind) in &neurons {
                if which(name, kind) {
                    out.layers.insert(name.to_string(), a);
                }
            }
        };
        if let Some(a) = &self.model.arch {
            if a == "auto" {
                out.arch = Some(Arch::Auto);
            } else if a == "parallel" {
                out.arch = Some(Arch::Parallel);
            } else if a == "folded" {
                out.arch = Some(Arch::Folded);
            } else {
                let la = LayerArch::parse(a).map_err(|e| format!("[model] arch: {e}"))?;
                set_all(&mut out, &|_, _| true, la);
            }
        }
        for (k, e) in &self.kind {
            let kind = NeuronKind::ALL
                .into_iter()
                .find(|n| n.keyword() == k)
                .ok_or_else(|| {
                    let names: Vec<&str> = NeuronKind::ALL.iter().map(|n| n.keyword()).collect();
                    format!("[kind.{k}]: unknown kind (kinds: {})", names.join(", "))
                })?;
            if let Some(a) = &e.arch {
                let la = LayerArch::parse(a).map_err(|e| format!("[kind.{k}] arch: {e}"))?;
                set_all(&mut out, &|_, nk| nk == kind, la);
            }
            let s = settings(e, &format!("[kind.{k}]"))?;
            set_settings(&mut out, &|_, nk| nk == kind, s);
        }
        for (name, e) in &self.layer {
            if !neurons.iter().any(|&(n, _)| n == name) {
                let names: Vec<&str> = neurons.iter().map(|&(n, _)| n).collect();
                return Err(format!(
                    "[layer.\"{name}\"]: no neuron layer of this name (layers: {})",
                    names.join(", ")
                ));
            }
            if let Some(a) = &e.arch {
                let la =
                    LayerArch::parse(a).map_err(|e| format!("[layer.\"{name}\"] arch: {e}"))?;
                out.layers.insert(name.clone(), la);
            }
            let s = settings(e, &format!("[layer.\"{name}\"]"))?;
            set_settings(&mut out, &|n, _| n == name, s);
        }
        out.layer_conventions.retain(|_, c| !c.is_empty());
        Ok(out)
    }
}

/// A commented `spikeforge.toml` for `g` (`spikeforge init`): the `[model]` defaults set,
/// and a table per neuron kind and layer, with what the model says of it, ready to edit.
pub fn init_text(g: &Graph, model: &str, config: &str) -> String {
    let reset_name = |r: Reset| RESETS.iter().find(|x| x.1 == r).map_or("?", |x| x.0);
    let compare_name = |c: Compare| match c {
        Compare::Gt => "gt",
        Compare::Ge => "ge",
    };
    let mut t = format!(
        "# spikeforge.toml for {model}, written by `spikeforge init`.\n\
         # Use: spikeforge compile {model} --config {config}\n\
         # More specific entries win: [layer.\"name\"] over [kind.K] over [model]; a\n\
         # command-line option (--arch, --weight-bits, --reset, --threshold) replaces the\n\
         # [model] entry of the same name.\n\n\
         [model]\n\
         # parallel (weights in logic, a timestep a cycle) | folded (one accumulator per\n\
         # layer, a tap a cycle) | folded:R (R output channels share one) | auto (parallel\n\
         # unless it is large; --max-cycles and --max-luts set budgets)\n\
         arch = \"auto\"\n\
         # Signed bits per weight, 2..=16.\n\
         weight_bits = 8\n"
    );
    let neurons: Vec<_> = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Neuron(nr) => Some((n, nr.kind, Some((nr.reset, nr.compare)))),
            Op::IntNeuron(nr) => Some((n, nr.kind, None)),
            _ => None,
        })
        .collect();
    if neurons.iter().any(|n| n.2.is_some()) {
        t.push_str(
            "# After a spike: zero | subtract | zero-next | subtract-next (the -next forms reset\n\
             # a step later, as snnTorch does). Threshold: gt (v > thr) | ge (v >= thr).\n\
             # Unset, each layer keeps what the model file says (listed below).\n\
             # reset = \"subtract\"\n\
             # threshold = \"gt\"\n",
        );
    }
    let mut kinds: Vec<&str> = neurons.iter().map(|n| n.1.keyword()).collect();
    kinds.dedup();
    kinds.sort();
    kinds.dedup();
    for k in kinds {
        let _ = write!(
            t,
            "\n# Every {k} layer:\n# [kind.{k}]\n# arch = \"folded\"\n"
        );
    }
    for (n, kind, conv) in &neurons {
        let fed: Vec<String> = n
            .inputs
            .iter()
            .map(|p| g.node(p.node).name.clone())
            .collect();
        let _ = write!(
            t,
            "\n# {}: {} neurons, fed by {}{}\n[layer.\"{}\"]\n# arch = \"parallel\"\nweight_bits = 8\n",
            kind.keyword(),
            n.ty.len(),
            fed.join(", "),
            conv.map_or(String::new(), |(r, c)| format!(
                "; reset {}, threshold {}",
                reset_name(r),
                compare_name(c)
            )),
            n.name.replace('\\', "\\\\").replace('"', "\\\""),
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::lif_mlp;

    #[test]
    fn layer_beats_kind_beats_model() {
        let g = lif_mlp(&[4, 8, 8, 2], 1, 1e-4);
        let c = parse(
            r#"
            [model]
            arch = "folded:2"
            [kind.lif]
            arch = "folded"
            [layer."lif2"]
            arch = "parallel"
            "#,
        )
        .unwrap()
        .choices(&g)
        .unwrap();
        assert_eq!(c.arch, None);
        assert_eq!(c.layers["lif1"], LayerArch::Folded { reuse: None });
        assert_eq!(c.layers["lif2"], LayerArch::Parallel);
        assert_eq!(c.layers["lif3"], LayerArch::Folded { reuse: None });
    }

    #[test]
    fn mistakes_are_named() {
        let g = lif_mlp(&[4, 8, 2], 1, 1e-4);
        let err = |t: &str| parse(t).and_then(|c| c.choices(&g)).unwrap_err();
        assert!(err("[layer.\"nope\"]\narch = \"folded\"").contains("lif1"));
        assert!(err("[kind.lfi]\narch = \"folded\"").contains("unknown kind"));
        assert!(err("[model]\narch = \"folded:0\"").contains("positive"));
        assert!(err("[model]\narhc = \"folded\"").contains("arhc"));
        assert!(err("[model]\narch = \"fast\"").contains("not a layer architecture"));
        assert!(
            err("[layer.\"lif1\"]\nweight_bits = 20").contains("[layer.\"lif1\"] weight_bits: 20")
        );
        assert!(err("[kind.lif]\nreset = \"soft\"").contains("[kind.lif] reset: 'soft'"));
        assert!(err("[model]\nthreshold = \">\"").contains("not gt or ge"));
    }

    /// What `init` writes parses back to the defaults it states, one entry per layer; and
    /// settings land where the precedence rule says.
    #[test]
    fn init_writes_a_config_that_parses_to_its_defaults() {
        let g = lif_mlp(&[4, 8, 8, 2], 1, 1e-4);
        let text = init_text(&g, "m.nir", "spikeforge.toml");
        let c = parse(&text).unwrap().choices(&g).unwrap();
        assert_eq!(c.arch, Some(Arch::Auto));
        assert_eq!(c.weight_bits, Some(8));
        let layers: Vec<&str> = c.layer_weight_bits.keys().map(String::as_str).collect();
        assert_eq!(layers, ["lif1", "lif2", "lif3"]);
        assert!(c.layer_conventions.is_empty() && c.layers.is_empty());
        assert!(
            text.contains("reset subtract") || text.contains("reset zero"),
            "{text}"
        );
        let c = parse(
            "[model]\nreset = \"zero\"\n[kind.lif]\nthreshold = \"ge\"\nweight_bits = 6\n\
             [layer.\"lif2\"]\nreset = \"subtract-next\"\nweight_bits = 4\n",
        )
        .unwrap()
        .choices(&g)
        .unwrap();
        assert_eq!(c.conventions.reset, Some(Reset::Zero));
        assert_eq!(c.layer_weight_bits["lif1"], 6);
        assert_eq!(c.layer_weight_bits["lif2"], 4);
        assert_eq!(c.layer_conventions["lif1"].compare, Some(Compare::Ge));
        assert_eq!(c.layer_conventions["lif1"].reset, None);
        assert_eq!(c.layer_conventions["lif2"].reset, Some(Reset::SubtractNext));
        assert_eq!(c.layer_conventions["lif2"].compare, Some(Compare::Ge));
    }
}
