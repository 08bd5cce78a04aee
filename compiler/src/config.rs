//! `spikeforge.toml`: architecture choices per model, per layer kind and per layer name, the
//! way hls4ml configures a model, type and layer. More specific entries win.
//!
//! ```toml
//! [model]
//! arch = "auto"        # parallel | folded | folded:R | auto
//!
//! [kind.lif]           # every neuron layer of a kind: if, lif, li, cuba_lif, i, cuba_li, threshold
//! arch = "folded:4"    # 4 output channels share each accumulator
//!
//! [layer."lif1"]       # one layer, by its node name
//! arch = "parallel"
//! ```

use crate::backend::{Arch, LayerArch};
use crate::ir::{Graph, NeuronKind, Op};
use serde::Deserialize;
use std::collections::BTreeMap;
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
}

/// The choices a config makes for one graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Choices {
    /// The model-wide architecture, when the config names one.
    pub arch: Option<Arch>,
    /// Per neuron layer (node name).
    pub layers: BTreeMap<String, LayerArch>,
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
        }
        Ok(out)
    }
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
    }
}
