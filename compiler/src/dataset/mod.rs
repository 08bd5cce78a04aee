//! Ground truth for the resource surrogate: a deterministic sweep of random designs, each
//! compiled and synthesised by Yosys, one JSON line per design.
//!
//! Design `i` of a sweep depends only on `(seed, i)`, so a sweep splits into shards (`i % K
//! == shard`) that any batch scheduler can run apart; `merge` sorts the lines by id, and the
//! result is the same file one run writes. A run appends a line as each design finishes and
//! skips the ids already in its file, so an interrupted run resumes where it stopped (a torn
//! last line is dropped). Wall-clock times go to a `.timing.jsonl` beside it, so the data file
//! itself is reproducible byte for byte.

use crate::backend::{Arch, LayerArch};
use crate::cosim;
use crate::flow::{self, Compiled};
use crate::ir::{Graph, Op};
use crate::quant::QuantOptions;
use crate::synth::{self, Target};
use crate::testgen::{
    random_conv_snn, random_int_mlp, random_int_transformer, random_multi_threshold, random_snn,
    random_spike_transformer, RandomSnn,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Model families of the sweep; validation holds whole families out. A sweep takes a list
/// of them (`--families`), design `id` being of family `list[id % len]`, so a sweep over the
/// first four is the same whether or not later families exist.
pub const FAMILIES: [&str; 6] = [
    "snn",
    "conv",
    "multi_threshold",
    "int_mlp",
    "spike_attention",
    "int_attention",
];

/// One design of a sweep: what to build.
#[derive(Clone, Debug)]
pub struct Spec {
    pub id: u64,
    pub family: &'static str,
    pub graph_seed: u64,
    pub weight_bits: u32,
    pub arch: &'static str,
    pub size: usize,
}

/// Design `id` of the sweep seeded `seed` over `families`.
pub fn spec(seed: u64, id: u64, families: &[&'static str]) -> Spec {
    spec_of(
        seed,
        id,
        families[(id % families.len().max(1) as u64) as usize],
    )
}

/// Design `id` of the sweep seeded `seed`, of `family` (what a record says it was).
pub fn spec_of(seed: u64, id: u64, family: &'static str) -> Spec {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let arch = match family {
        // Integer-input and threshold-unit designs are hardwired; integer attention is its
        // units (serial).
        "multi_threshold" | "int_mlp" | "int_attention" => "parallel",
        _ => ["parallel", "folded", "event", "mixed"][rng.random_range(0..4)],
    };
    Spec {
        id,
        family,
        graph_seed: rng.random(),
        weight_bits: rng.random_range(2..=8),
        arch,
        size: rng.random_range(4..=96),
    }
}

/// The graph of a spec (named by its id, so designs never share module names).
pub fn graph(s: &Spec) -> Graph {
    let mut g = match s.family {
        "snn" => random_snn(
            s.graph_seed,
            &RandomSnn {
                max_inputs: s.size.min(64),
                max_width: s.size,
                max_layers: 3,
                ..RandomSnn::default()
            },
        ),
        "conv" => random_conv_snn(s.graph_seed),
        "multi_threshold" => random_multi_threshold(s.graph_seed),
        "spike_attention" => random_spike_transformer(s.graph_seed),
        "int_attention" => random_int_transformer(s.graph_seed),
        _ => random_int_mlp(s.graph_seed),
    };
    g.name = format!("d{}", s.id);
    g
}

pub fn compile(s: &Spec) -> Result<Compiled, String> {
    let g = graph(s);
    let mut opt = flow::Options {
        quant: QuantOptions {
            weight_bits: s.weight_bits,
            ..QuantOptions::default()
        },
        arch: match s.arch {
            "folded" => Arch::Folded,
            "parallel" => Arch::Parallel,
            _ => Arch::Auto,
        },
        ..flow::Options::default()
    };
    let neurons: Vec<String> = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Neuron(_)))
        .map(|n| n.name.clone())
        .collect();
    match s.arch {
        "event" => {
            opt.layers = neurons
                .iter()
                .map(|n| (n.clone(), LayerArch::Event))
                .collect();
        }
        "mixed" => {
            let choices = [
                LayerArch::Parallel,
                LayerArch::Folded { reuse: None },
                LayerArch::Event,
                LayerArch::Pipelined { levels: 2 },
            ];
            opt.layers = neurons
                .iter()
                .enumerate()
                .map(|(k, n)| (n.clone(), choices[(s.graph_seed as usize + k) % 4]))
                .collect();
        }
        _ => {}
    }
    flow::compile_opts(g, &opt).map_err(|e| e.to_string())
}

/// Features of a compiled design, from the IR and the backend, never from synthesis.
pub fn features(c: &Compiled) -> Value {
    let g = &c.int;
    let mut layers = Vec::new();
    let (mut weights, mut nonzero, mut state_bits, mut neurons) = (0u64, 0u64, 0u64, 0u64);
    let mut distinct = BTreeSet::new();
    for id in g.ids() {
        let n = g.node(id);
        let (rows, cols, w): (usize, usize, Vec<i64>) = match &n.op {
            Op::Dense(d) => {
                let (r, c) = d.weight.dims2();
                (r, c, d.weight.data.clone())
            }
            Op::IntConv(ic) => (n.ty.len(), 0, ic.conv.weight.data.clone()),
            _ => (0, 0, Vec::new()),
        };
        if !w.is_empty() {
            weights += w.len() as u64;
            nonzero += w.iter().filter(|&&x| x != 0).count() as u64;
            distinct.extend(w.iter().copied());
        }
        if let Op::IntNeuron(nr) = &n.op {
            neurons += nr.len() as u64;
            state_bits += nr.len() as u64 * nr.mem_bits as u64;
        }
        let arch = c
            .design
            .layers
            .iter()
            .find(|l| l.0 == n.name)
            .map(|l| l.1.to_string());
        layers.push(json!({
            "op": n.op.keyword(),
            "len": n.ty.len(),
            "bits": n.ty.elem_bits().unwrap_or(1),
            "rows": rows,
            "cols": cols,
            "nonzero": w.iter().filter(|&&x| x != 0).count(),
            "arch": arch,
        }));
    }
    let adders: usize = c.design.blocks.iter().map(|b| b.1.adders).sum();
    let adder_bits: u64 = c.design.blocks.iter().map(|b| b.1.onebit_adders).sum();
    let estimate: f64 = crate::estimate::top_luts()
        + c.design
            .layers
            .iter()
            .filter_map(|(name, arch, _)| {
                let id = g.find(name)?;
                crate::estimate::layer_luts(g, id, *arch).ok()
            })
            .sum::<f64>();
    json!({
        "in_bits": c.design.in_bits,
        "out_bits": c.design.out_bits,
        "cycles": c.design.cycles_per_step,
        "folded": c.design.folded,
        "weights": weights,
        "nonzero": nonzero,
        "distinct_weights": distinct.len(),
        "neurons": neurons,
        "state_bits": state_bits,
        "adders": adders,
        "adder_bits": adder_bits,
        "estimate_luts": (estimate * 10.0).round() / 10.0,
        "layers": layers,
    })
}

/// A digest of a design's RTL (64-bit FNV-1a over file names and contents): training recompiles
/// each design from its spec and keeps the record only while the RTL is still what Yosys saw.
pub fn rtl_digest(d: &crate::backend::Design) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, text) in &d.files {
        for b in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The ids in `path` already done; a torn last line (an interrupted write) is cut off.
fn done_ids(path: &Path) -> Result<BTreeSet<u64>, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(BTreeSet::new());
    };
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        std::fs::write(path, &text[..complete]).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    text[..complete]
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| v["id"].as_u64())
                .ok_or_else(|| format!("{}: a line that is not a dataset record", path.display()))
        })
        .collect()
}

/// Which designs a shard runs: `i / k` takes the ids `i, i + k, ...` below `n`.
pub fn shard_ids(n: u64, shard: (u64, u64)) -> impl Iterator<Item = u64> {
    (shard.0..n).step_by(shard.1.max(1) as usize)
}

/// Runs (or resumes) one shard of a sweep into `out`; `progress` is told after each design.
#[allow(clippy::too_many_arguments)]
pub fn run(
    target: &Target,
    n: u64,
    seed: u64,
    families: &[&'static str],
    shard: (u64, u64),
    out: &Path,
    work: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, String> {
    let done = done_ids(out)?;
    let todo: Vec<u64> = shard_ids(n, shard).filter(|i| !done.contains(i)).collect();
    let total = todo.len() as u64;
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut file = open(out)?;
    let timing_path = out.with_extension("timing.jsonl");
    let mut timing = open(&timing_path)?;
    let version = synth::yosys_version().map_err(|e| e.to_string())?;
    for (k, &id) in todo.iter().enumerate() {
        let s = spec(seed, id, families);
        let t0 = Instant::now();
        let record = match compile(&s) {
            Err(e) => {
                json!({"id": id, "seed": seed, "family": s.family, "arch": s.arch, "error": e})
            }
            Ok(c) => {
                let dir = work.join(format!("d{id}"));
                let rtl =
                    cosim::write_rtl(&c.design, &dir.join("rtl")).map_err(|e| e.to_string())?;
                let r = synth::synth(&c.design.top, &rtl, target, &dir.join("synth"));
                // A failure's whole message (the tool's last lines) is kept beside the data:
                // the work directory goes away.
                let kept = r.as_ref().err().map(|e| {
                    let p = out.with_extension(format!("d{id}.log"));
                    let _ = std::fs::write(&p, e.to_string());
                    p
                });
                let _ = std::fs::remove_dir_all(&dir);
                // A failed or timed-out synthesis is recorded too, so a resumed run moves on.
                match r {
                    Err(e) => json!({"id": id, "seed": seed, "family": s.family, "arch": s.arch,
                        "error": format!("{} (saved in {})",
                            e.to_string().lines().next().unwrap_or_default()
                                .split(" (full log").next().unwrap_or_default(),
                            kept.map(|p| p.display().to_string()).unwrap_or_default())}),
                    Ok(r) => json!({
                    "id": id,
                    "seed": seed,
                    "family": s.family,
                    "arch": s.arch,
                    "weight_bits": s.weight_bits,
                    "target": target.name,
                    "yosys": version,
                    "features": features(&c),
                    "lut": r.lut + r.lutram,
                    "ff": r.ff,
                    "carry": r.carry,
                    "bram36": r.bram36,
                    "bram_4k": r.bram_4k,
                    "bram_18k": r.bram_18k,
                    "dsp": r.dsp,
                    "cycles": c.design.cycles_per_step,
                    "rtl": rtl_digest(&c.design),
                    }),
                }
            }
        };
        writeln!(file, "{record}").map_err(|e| format!("{}: {e}", out.display()))?;
        file.flush().map_err(|e| e.to_string())?;
        let secs = t0.elapsed().as_secs_f64();
        writeln!(timing, "{}", json!({"id": id, "seconds": secs})).map_err(|e| e.to_string())?;
        progress(k as u64 + 1, total);
    }
    Ok(total)
}

/// Merges shard files into one, sorted by id, each design once: the file a single run writes.
pub fn merge(inputs: &[&Path], out: &Path) -> Result<u64, String> {
    let mut lines = std::collections::BTreeMap::new();
    for p in inputs {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(l)
                .map_err(|e| format!("{}: not a dataset record: {e}", p.display()))?;
            let id = v["id"]
                .as_u64()
                .ok_or_else(|| format!("{}: a record without an id", p.display()))?;
            if let Some(old) = lines.insert(id, l.to_string()) {
                if old != l {
                    return Err(format!(
                        "{}: design {id} differs from another shard's (different sweeps?)",
                        p.display()
                    ));
                }
            }
        }
    }
    let mut text = String::new();
    for l in lines.values() {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(lines.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_depend_on_seed_and_id_alone_and_cover_every_family() {
        let a: Vec<_> = (0..50)
            .map(|i| format!("{:?}", spec(7, i, &FAMILIES)))
            .collect();
        let b: Vec<_> = (0..50)
            .map(|i| format!("{:?}", spec(7, i, &FAMILIES)))
            .collect();
        assert_eq!(a, b);
        assert_ne!(
            format!("{:?}", spec(7, 3, &FAMILIES)),
            format!("{:?}", spec(8, 3, &FAMILIES))
        );
        let fams: BTreeSet<_> = (0..50).map(|i| spec(7, i, &FAMILIES).family).collect();
        assert_eq!(fams.len(), FAMILIES.len());
        // Shards partition the ids.
        let mut all: Vec<u64> = (0..3).flat_map(|k| shard_ids(20, (k, 3))).collect();
        all.sort();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
    }
}
