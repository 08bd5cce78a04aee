//! Stimulus: seeded random spike trains, and a plain text file format for users' own.
//!
//! File format: one line per timestep, one value per input element (element 0 first): `0`/`1`
//! characters run together (`0110`), or integers separated by white space (`3 -7 0 12`: a
//! quantised network's integer inputs, checked against each input's type); a blank line ends
//! a sample. `#` starts a comment (a comment-only line is skipped).

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

/// Parses the text format for inputs of these ranges ([`input_ranges`]); errors name the line
/// and, for a value out of range, the input.
pub fn parse(text: &str, ranges: &[(i64, i64)]) -> Result<Stimulus, String> {
    let in_len = ranges.len();
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
        let beat = if line.contains(char::is_whitespace) {
            line.split_whitespace()
                .map(|w| {
                    w.parse::<i64>()
                        .map_err(|_| format!("line {}: '{w}' is not an integer", i + 1))
                })
                .collect::<Result<Vec<i64>, String>>()?
        } else {
            line.chars()
                .map(|c| match c {
                    '0' => Ok(0),
                    '1' => Ok(1),
                    _ => Err(format!(
                        "line {}: '{c}' is not 0 or 1 (separate integers with spaces)",
                        i + 1
                    )),
                })
                .collect::<Result<Vec<i64>, String>>()?
        };
        if beat.len() != in_len {
            return Err(format!(
                "line {}: {} values, the model has {in_len} inputs",
                i + 1,
                beat.len()
            ));
        }
        if let Some((k, (v, (lo, hi)))) = beat
            .iter()
            .zip(ranges)
            .enumerate()
            .find(|(_, (v, (lo, hi)))| *v < lo || *v > hi)
        {
            return Err(format!(
                "line {}: input {k} is {v}, outside its range {lo}..={hi}",
                i + 1
            ));
        }
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
        let spikes = [(0, 1); 2];
        let s = parse(
            "# two inputs\n10\n# still sample one\n01\n\n11 # tail comment\n",
            &spikes,
        )
        .unwrap();
        assert_eq!(
            s.samples,
            vec![vec![vec![1, 0], vec![0, 1]], vec![vec![1, 1]]]
        );
        assert!(parse("101\n", &spikes).unwrap_err().contains("line 1"));
        assert!(parse("# nothing\n", &spikes)
            .unwrap_err()
            .contains("no timesteps"));
        // Integers, separated by spaces, each within its input's range.
        let ints = [(-8, 7), (0, 255)];
        let s = parse("-8 255\n3\t0\n", &ints).unwrap();
        assert_eq!(s.samples, vec![vec![vec![-8, 255], vec![3, 0]]]);
        let e = parse("1 1\n8 0\n", &ints).unwrap_err();
        assert_eq!(e, "line 2: input 0 is 8, outside its range -8..=7");
        assert!(parse("1 x\n", &ints)
            .unwrap_err()
            .contains("'x' is not an integer"));
        assert!(parse("1 2 3\n", &ints).unwrap_err().contains("3 values"));
        assert!(parse("0 2\n", &spikes)
            .unwrap_err()
            .contains("input 1 is 2"));
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
