//! Stimulus: seeded random spike trains, and a plain text file format for users' own.
//!
//! File format: one line per timestep, `0`/`1` characters (one per input element, element 0
//! first); a blank line ends a sample. `#` starts a comment (a comment-only line is skipped).

use crate::golden::Stimulus;
use crate::ir::Graph;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `samples` samples of `steps` timesteps; each input spikes with probability `p`.
pub fn random(in_len: usize, samples: usize, steps: usize, p: f64, seed: u64) -> Stimulus {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Stimulus {
        samples: (0..samples)
            .map(|_| {
                (0..steps)
                    .map(|_| {
                        (0..in_len)
                            .map(|_| rng.random_bool(p.clamp(0.0, 1.0)) as i64)
                            .collect()
                    })
                    .collect()
            })
            .collect(),
    }
}

/// Each input element's range, in beat order: `(0, 1)` for a spike, the type's for an integer.
pub fn input_ranges(g: &Graph) -> Vec<(i64, i64)> {
    g.inputs()
        .iter()
        .flat_map(|&i| {
            let ty = &g.node(i).ty;
            std::iter::repeat_n(ty.elem_range().unwrap_or((0, 1)), ty.len())
        })
        .collect()
}

/// Random stimulus for `g`'s inputs: a spike input spikes with probability `p`; an integer
/// input is nonzero with probability `p`, then uniform over its type (extremes included).
pub fn random_for(g: &Graph, samples: usize, steps: usize, p: f64, seed: u64) -> Stimulus {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ranges = input_ranges(g);
    Stimulus {
        samples: (0..samples)
            .map(|_| {
                (0..steps)
                    .map(|_| {
                        ranges
                            .iter()
                            .map(|&(lo, hi)| {
                                let on = rng.random_bool(p.clamp(0.0, 1.0));
                                // Spikes ((0, 1); no integer type has that range) draw once,
                                // as `random` does: same stream, same trains.
                                match (on, (lo, hi) == (0, 1)) {
                                    (false, _) => 0,
                                    (true, true) => 1,
                                    (true, false) => rng.random_range(lo..=hi),
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect(),
    }
}

/// Parses the text format; errors name the line.
pub fn parse(text: &str, in_len: usize) -> Result<Stimulus, String> {
    let mut samples = vec![];
    let mut cur: Vec<Vec<i64>> = vec![];
    for (i, raw) in text.lines().enumerate() {
        // Only a blank line ends a sample; a comment-only line is skipped.
        if raw.trim().is_empty() {
            if !cur.is_empty() {
                samples.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.len() != in_len {
            return Err(format!(
                "line {}: {} values, the model has {in_len} inputs",
                i + 1,
                line.len()
            ));
        }
        let beat = line
            .chars()
            .map(|c| match c {
                '0' => Ok(0),
                '1' => Ok(1),
                _ => Err(format!("line {}: '{c}' is not 0 or 1", i + 1)),
            })
            .collect::<Result<Vec<i64>, String>>()?;
        cur.push(beat);
    }
    if !cur.is_empty() {
        samples.push(cur);
    }
    if samples.is_empty() {
        return Err("no timesteps in stimulus".into());
    }
    Ok(Stimulus { samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_end_samples_and_comments_do_not() {
        let s = parse(
            "# two inputs\n10\n# still sample one\n01\n\n11 # tail comment\n",
            2,
        )
        .unwrap();
        assert_eq!(
            s.samples,
            vec![vec![vec![1, 0], vec![0, 1]], vec![vec![1, 1]]]
        );
        assert!(parse("101\n", 2).unwrap_err().contains("line 1"));
        assert!(parse("# nothing\n", 2)
            .unwrap_err()
            .contains("no timesteps"));
    }

    #[test]
    fn random_stimulus_is_seeded() {
        assert_eq!(random(5, 2, 10, 0.3, 9), random(5, 2, 10, 0.3, 9));
        assert_ne!(random(5, 2, 10, 0.3, 9), random(5, 2, 10, 0.3, 10));
    }
}

#[cfg(test)]
mod random_for_tests {
    use super::*;
    use crate::ir::{Op, Type};

    /// On spike inputs `random_for` draws exactly as `random` does; integer inputs stay in
    /// their type's range and reach both ends.
    #[test]
    fn spike_streams_match_random_and_integers_cover_their_range() {
        let mut g = Graph::new("s");
        g.add("a", Op::Input, vec![], Type::spike(5));
        assert_eq!(
            random_for(&g, 2, 30, 0.3, 9).samples,
            random(5, 2, 30, 0.3, 9).samples
        );
        let mut h = Graph::new("i");
        h.add("a", Op::Input, vec![], Type::fix(3, 4));
        let s = random_for(&h, 1, 400, 1.0, 9);
        let all: Vec<i64> = s.samples[0].iter().flatten().copied().collect();
        assert!(all.iter().all(|v| (-4..=3).contains(v)));
        assert!(all.contains(&-4) && all.contains(&3));
    }
}
