//! Framework conventions NIR does not record (reset mode, threshold comparison, timestep),
//! applied to a float graph: named by the user (`--framework`, `--reset`, `--threshold`, `--dt`)
//! or revealed by the file's metadata.

use crate::ir::{Compare, Graph, Op, Reset};
use std::collections::BTreeMap;

/// A source framework whose simulation Spikeforge can reproduce. Each was checked against the
/// framework's own code (`tools/framework_traces.py` records traces the tests replay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// NIR's own definition: reset to v_reset in the step that spikes, `v > threshold`.
    Nir,
    /// snnTorch: `mem > threshold`; `reset_mechanism="subtract"` (its default) with the default
    /// delayed reset subtracts one step late; exported time constants assume dt = 1e-4.
    Snntorch,
    /// Sinabs: IAF with `MembraneSubtract` (its default), `v >= threshold` (MultiSpike emits
    /// one spike while v < 2 * threshold).
    Sinabs,
    /// Norse: `v > v_th`, reset to v_reset in the same step; `from_nir` uses dt = 1e-3.
    Norse,
    /// SpikingJelly: `v >= v_threshold`, hard reset to v_reset in the same step.
    SpikingJelly,
}

impl Framework {
    pub const ALL: [Framework; 5] = [
        Framework::Nir,
        Framework::Snntorch,
        Framework::Sinabs,
        Framework::Norse,
        Framework::SpikingJelly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Framework::Nir => "nir",
            Framework::Snntorch => "snntorch",
            Framework::Sinabs => "sinabs",
            Framework::Norse => "norse",
            Framework::SpikingJelly => "spikingjelly",
        }
    }

    /// The reset and comparison that reproduce the framework.
    pub fn conventions(self) -> Conventions {
        let (reset, compare) = match self {
            Framework::Nir | Framework::Norse => (Reset::Zero, Compare::Gt),
            Framework::Snntorch => (Reset::SubtractNext, Compare::Gt),
            Framework::Sinabs => (Reset::Subtract, Compare::Ge),
            Framework::SpikingJelly => (Reset::Zero, Compare::Ge),
        };
        Conventions {
            reset: Some(reset),
            compare: Some(compare),
        }
    }

    /// The timestep the framework's NIR import assumes, where it fixes one.
    pub fn dt(self) -> Option<f64> {
        match self {
            Framework::Snntorch => Some(1e-4),
            Framework::Norse => Some(1e-3),
            _ => None,
        }
    }

    /// The framework a NIR file's metadata names (`source`, `framework` or `exporter`, any
    /// case, e.g. "snntorch 0.9.1"), if any.
    pub fn from_metadata(meta: &BTreeMap<String, String>) -> Option<Framework> {
        ["source", "framework", "exporter"]
            .iter()
            .filter_map(|k| meta.get(*k))
            .find_map(|v| {
                let v = v.to_ascii_lowercase();
                Framework::ALL
                    .into_iter()
                    .filter(|f| *f != Framework::Nir)
                    .find(|f| v.contains(f.name()))
            })
    }
}

/// What to impose on every spiking neuron layer; `None` keeps what the graph says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conventions {
    pub reset: Option<Reset>,
    pub compare: Option<Compare>,
}

impl Conventions {
    pub fn is_empty(&self) -> bool {
        self.reset.is_none() && self.compare.is_none()
    }
}

/// Sets the conventions on every spiking float neuron; returns how many layers changed.
/// Integer graphs carry their semantics already and are refused.
pub fn apply(g: &mut Graph, c: &Conventions) -> Result<usize, String> {
    apply_where(g, c, &|_| true)
}

/// Sets the conventions on the spiking float neuron layer `layer` alone (a config's kind and
/// layer entries).
pub fn apply_to(g: &mut Graph, layer: &str, c: &Conventions) -> Result<usize, String> {
    apply_where(g, c, &|name| name == layer)
}

fn apply_where(
    g: &mut Graph,
    c: &Conventions,
    which: &dyn Fn(&str) -> bool,
) -> Result<usize, String> {
    if c.is_empty() {
        return Ok(0);
    }
    if g.nodes.iter().any(|n| n.op.is_integer()) {
        return Err(
            "--reset/--threshold apply to float models; this graph is already quantised".into(),
        );
    }
    let mut changed = 0;
    for node in &mut g.nodes {
        if !which(&node.name) {
            continue;
        }
        if let Op::Neuron(nr) = &mut node.op {
            if !nr.kind.spikes() {
                continue;
            }
            let before = (nr.reset, nr.compare);
            if nr.kind.has_memory() {
                nr.reset = c.reset.unwrap_or(nr.reset);
            }
            nr.compare = c.compare.unwrap_or(nr.compare);
            changed += usize::from(before != (nr.reset, nr.compare));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{random_snn, RandomSnn};

    #[test]
    fn metadata_names_the_framework() {
        let meta = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(
            Framework::from_metadata(&meta("source", "snnTorch 0.9.1")),
            Some(Framework::Snntorch)
        );
        assert_eq!(
            Framework::from_metadata(&meta("framework", "SpikingJelly")),
            Some(Framework::SpikingJelly)
        );
        assert_eq!(Framework::from_metadata(&meta("author", "sinabs")), None);
        assert_eq!(Framework::from_metadata(&meta("source", "my tool")), None);
        let c = Framework::Sinabs.conventions();
        assert_eq!(
            (c.reset, c.compare),
            (Some(Reset::Subtract), Some(Compare::Ge))
        );
    }

    #[test]
    fn sets_every_spiking_layer_and_only_those() {
        let mut g = random_snn(3, &RandomSnn::default());
        let c = Conventions {
            reset: Some(Reset::Subtract),
            compare: Some(Compare::Ge),
        };
        apply(&mut g, &c).unwrap();
        for n in &g.nodes {
            if let Op::Neuron(nr) = &n.op {
                if nr.kind.spikes() && nr.kind.has_memory() {
                    assert_eq!((nr.reset, nr.compare), (Reset::Subtract, Compare::Ge));
                }
            }
        }
        // Applying again changes nothing.
        assert_eq!(apply(&mut g, &c).unwrap(), 0);
    }
}
