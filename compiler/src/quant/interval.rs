//! Interval analysis of neuron state: the narrowest widths under which no overflow can happen.
//!
//! For a state update `s' = f(s) + in` followed by a threshold/reset, we look for the smallest
//! width `w` whose whole range `[-2^(w-1), 2^(w-1)-1]` maps into itself for every input in the
//! input interval. Starting from zero (inside every such range) the state then never leaves it.
//! `f(s) = s - floor(s * d / 2^F)` is monotone for `0 <= d <= 2^F`, so endpoints suffice.

use crate::ir::{Compare, Reset};

/// A closed integer interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub lo: i128,
    pub hi: i128,
}

impl Interval {
    pub fn new(lo: i128, hi: i128) -> Self {
        Interval { lo, hi }
    }

    pub fn point(v: i128) -> Self {
        Interval { lo: v, hi: v }
    }

    pub fn hull(self, o: Interval) -> Interval {
        Interval::new(self.lo.min(o.lo), self.hi.max(o.hi))
    }

    pub fn plus(self, o: Interval) -> Interval {
        Interval::new(self.lo + o.lo, self.hi + o.hi)
    }

    pub fn within(self, o: Interval) -> bool {
        self.lo >= o.lo && self.hi <= o.hi
    }

    /// The full range of a signed `w`-bit value.
    pub fn of_width(w: u32) -> Interval {
        Interval::new(-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    }
}

/// `s - floor(s * d / 2^f)`: the state after one step of decay.
pub fn decay(s: i128, d: i64, f: u32) -> i128 {
    s - ((s * d as i128) >> f)
}

/// The image of an interval under [`decay`] (monotone, so its endpoints).
pub fn decay_interval(s: Interval, d: i64, f: u32) -> Interval {
    Interval::new(decay(s.lo, d, f), decay(s.hi, d, f))
}

/// How a membrane reacts to the value computed before the threshold test.
#[derive(Clone, Copy, Debug)]
pub struct Firing {
    pub threshold: i128,
    pub v_reset: i128,
    pub reset: Reset,
    pub compare: Compare,
}

/// The stored state after threshold and reset, for `pre` in an interval.
pub fn after_firing(pre: Interval, fire: Option<Firing>) -> Interval {
    let Some(fr) = fire else { return pre };
    // Largest value that does not fire, smallest that does.
    let (quiet_max, fire_min) = match fr.compare {
        Compare::Gt => (fr.threshold, fr.threshold + 1),
        Compare::Ge => (fr.threshold - 1, fr.threshold),
    };
    let mut out: Option<Interval> = None;
    let mut join = |i: Interval| out = Some(out.map_or(i, |o| o.hull(i)));
    if fr.reset.delayed() {
        // The step that spikes keeps its value; the reset happens in `delayed_reset`.
        return pre;
    }
    if pre.lo <= quiet_max {
        join(Interval::new(pre.lo, pre.hi.min(quiet_max)));
    }
    if pre.hi >= fire_min {
        match fr.reset {
            Reset::Zero | Reset::ZeroNext => join(Interval::point(fr.v_reset)),
            Reset::Subtract | Reset::SubtractNext => join(Interval::new(
                pre.lo.max(fire_min) - fr.threshold,
                pre.hi - fr.threshold,
            )),
        }
    }
    out.unwrap_or(pre)
}

/// One step of a delayed-reset membrane from states in `s`: states that spiked (compared with
/// the threshold) are reset now, the others integrate. `step` is decay plus input.
pub fn delayed_reset(s: Interval, fire: Firing, step: impl Fn(Interval) -> Interval) -> Interval {
    let (quiet_max, fire_min) = match fire.compare {
        Compare::Gt => (fire.threshold, fire.threshold + 1),
        Compare::Ge => (fire.threshold - 1, fire.threshold),
    };
    let mut out: Option<Interval> = None;
    let mut join = |i: Interval| out = Some(out.map_or(i, |o| o.hull(i)));
    if s.lo <= quiet_max {
        join(step(Interval::new(s.lo, s.hi.min(quiet_max))));
    }
    if s.hi >= fire_min {
        let fired = Interval::new(s.lo.max(fire_min), s.hi);
        if fire.reset.subtracts() {
            let t = Interval::point(-fire.threshold);
            join(step(fired).plus(t));
        } else {
            join(Interval::point(fire.v_reset));
        }
    }
    out.unwrap_or(s)
}

/// The result of sizing one state variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sized {
    /// Width of the stored state.
    pub bits: u32,
    /// True when no width up to the cap is closed under the update: the state saturates.
    pub saturate: bool,
    /// Range of the value before threshold/clamp, given states in range.
    pub pre: Interval,
}

/// Finds the narrowest closed width for `s' = fire(decay(s) + input)`, up to `cap` bits.
/// `input` and `fire` are per neuron; the width is shared by the layer.
pub fn size_state(
    decays: &[i64],
    frac_bits: u32,
    inputs: &[Interval],
    fires: &[Option<Firing>],
    cap: u32,
) -> Sized {
    let mut w = 2;
    loop {
        let range = Interval::of_width(w);
        let mut closed = true;
        let mut pre_all: Option<Interval> = None;
        for j in 0..inputs.len() {
            let step = |s: Interval| decay_interval(s, decays[j], frac_bits).plus(inputs[j]);
            let pre = match fires[j] {
                Some(f) if f.reset.delayed() => delayed_reset(range, f, step),
                _ => step(range),
            };
            pre_all = Some(pre_all.map_or(pre, |p| p.hull(pre)));
            // Reset and threshold values must be representable too.
            let next = after_firing(pre, fires[j]);
            let mut need = next.hull(Interval::point(0));
            if let Some(f) = fires[j] {
                if f.reset == Reset::Zero {
                    need = need.hull(Interval::point(f.v_reset));
                }
            }
            if !need.within(range) {
                closed = false;
            }
        }
        let pre = pre_all.unwrap_or(Interval::point(0));
        if closed {
            return Sized {
                bits: w,
                saturate: false,
                pre,
            };
        }
        if w >= cap {
            return Sized {
                bits: cap,
                saturate: true,
                pre,
            };
        }
        w += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_floors_towards_minus_infinity() {
        // 1/8 leak: 9 - floor(9/8) = 8, -9 - floor(-9/8) = -9 + 2 = -7.
        assert_eq!(decay(9, 512, 12), 8);
        assert_eq!(decay(-9, 512, 12), -7);
        assert_eq!(decay(5, 0, 12), 5);
        assert_eq!(decay(5, 4096, 12), 0);
    }

    #[test]
    fn integrator_with_negative_input_saturates() {
        let s = size_state(&[0], 12, &[Interval::new(-3, 3)], &[None], 16);
        assert!(s.saturate);
        assert_eq!(s.bits, 16);
    }

    #[test]
    fn leaky_state_closes_near_its_fixed_point() {
        // Leak 1/4, input up to 100: fixed point about 400, so 10 bits suffice.
        let s = size_state(&[1024], 12, &[Interval::new(-100, 100)], &[None], 32);
        assert!(!s.saturate);
        assert_eq!(s.bits, 10);
    }

    #[test]
    fn firing_bounds_the_membrane_by_the_threshold() {
        let f = Firing {
            threshold: 100,
            v_reset: 0,
            reset: Reset::Zero,
            compare: Compare::Gt,
        };
        // IF neuron with non-negative input: membrane stays in [0, 100].
        let s = size_state(&[0], 12, &[Interval::new(0, 50)], &[Some(f)], 32);
        assert_eq!(s.bits, 8);
        assert!(!s.saturate);
        assert_eq!(
            after_firing(Interval::new(90, 150), Some(f)),
            Interval::new(0, 100)
        );
    }
}
