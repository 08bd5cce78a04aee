//! Framework conventions NIR does not record (reset mode, threshold comparison), applied to a
//! float graph at the user's request.

use crate::ir::{Compare, Graph, Op, Reset};

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
