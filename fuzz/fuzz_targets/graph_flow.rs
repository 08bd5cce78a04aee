//! Structure-aware: the bytes choose a random valid SNN (seed, size, weight bits) that goes
//! through quantisation, graph pruning and the golden model on a random stimulus. Pruning must
//! not change any output at any step.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spikeforge::cosim::stimulus;
use spikeforge::ir::Op;
use spikeforge::testgen::{random_snn, RandomSnn};
use spikeforge::{golden, opt::prune, quant};

fuzz_target!(|data: &[u8]| {
    let mut b = [0u8; 12];
    for (i, x) in data.iter().take(12).enumerate() {
        b[i] = *x;
    }
    let seed = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let lim = RandomSnn {
        max_inputs: 1 + b[8] as usize % 24,
        max_width: 1 + b[9] as usize % 48,
        max_layers: 1 + b[10] as usize % 4,
        ..RandomSnn::default()
    };
    let g = random_snn(seed, &lim);
    let opt = quant::QuantOptions {
        weight_bits: 2 + (b[11] % 7) as u32,
        ..quant::QuantOptions::default()
    };
    let Ok((int, _)) = quant::quantise(&g, &opt) else {
        return;
    };
    let (pruned, _) = prune::prune(&int);
    let n_in = spikeforge::flow::input_len(&int);
    let stim = stimulus::random(n_in, 2, 12, 0.3, seed);
    let (Ok(full), Ok(small)) = (golden::run(&int, &stim), golden::run(&pruned, &stim)) else {
        panic!("the golden model failed on a quantised graph");
    };
    for id in int.ids().filter(|&i| matches!(int.node(i).op, Op::Output)) {
        let name = &int.node(id).name;
        let p = pruned.find(name).expect("pruning keeps every output");
        assert_eq!(
            full.values[id.index()],
            small.values[p.index()],
            "output '{name}' changed by pruning"
        );
    }
});
