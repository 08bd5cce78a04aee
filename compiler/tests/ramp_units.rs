//! Ramp-family nonlinear units end to end: every variant of monotone and non-monotone
//! functions, signed and unsigned, linted (`verilator --lint-only -Wall`), checked by Yosys, and
//! simulated in Verilator on every input with 0 mismatches in value and cycle count.

use spikeforge::backend::ramp::Variant;
use spikeforge::flow;
use spikeforge::quant::table::{tabulate, Fixed, Func};

fn fx(bits: u32, frac: i32, signed: bool) -> Fixed {
    Fixed { bits, frac, signed }
}

fn check(func: Func, input: Fixed, output: Fixed, variants: &[Variant]) {
    let t = tabulate(func, input, output).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for &v in variants {
        let r = flow::ramp(&t, v, dir.path(), true, None)
            .unwrap_or_else(|e| panic!("{} {}: {e}", func.name(), v.name()));
        let c = r.check.unwrap();
        assert_eq!(c.inputs, 1 << input.bits);
        assert_eq!(c.mismatches, 0, "{} {}", func.name(), v.name());
        // The schedule the generator states is the one the RTL keeps.
        assert_eq!(
            c.max_cycles,
            r.unit.max_cycles,
            "{} {}",
            func.name(),
            v.name()
        );
        let rtl = dir.path().join(format!("{}.v", r.unit.module));
        spikeforge::synth::check(&r.unit.module, &[rtl]).unwrap();
    }
}

#[test]
fn sigmoid_every_variant() {
    check(
        Func::Sigmoid,
        fx(12, 8, true),
        fx(5, 5, false),
        &Variant::ALL,
    );
}

#[test]
fn gelu_falls_then_rises_every_variant() {
    check(Func::Gelu, fx(9, 6, true), fx(6, 3, true), &Variant::ALL);
}

#[test]
fn tanh_signed_output_and_reciprocal_unsigned_input() {
    check(
        Func::Tanh,
        fx(10, 7, true),
        fx(6, 5, true),
        &[Variant::Ramp, Variant::Rom],
    );
    check(
        Func::Recip,
        fx(8, 4, false),
        fx(8, 3, false),
        &[Variant::Bsearch, Variant::Parallel],
    );
}

#[test]
fn constant_functions_are_refused_with_a_reason() {
    // exp on [-8, -7.9] with 2 output bits is 0 everywhere.
    let t = tabulate(Func::Exp, fx(4, 7, true), fx(2, 0, false)).unwrap();
    let e = spikeforge::backend::ramp::unit(&t, Variant::Ramp, "u").unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
}
