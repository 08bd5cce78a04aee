//! Folded layers: a neuron layer and the weight layers feeding it as one time-multiplexed
//! spike-addition core (`rtl-templates/folded.v`). Dense layers are 1x1 convolutions here, so
//! one core serves both.

use super::{pack_hex, signed_lit, Param};
use crate::ir::{signed_width, Conv, Graph, NodeId, Op, Tensor};

/// Most lanes (output channels updated together) a folded core gets.
pub const MAX_LANES: usize = 16;

/// One synapse (weight layer) of a folded core, as the template needs it.
pub struct FoldSyn {
    pub k: usize,
    pub n_in: usize,
    pub doc: String,
    pub aw: u32,
    pub cl_bits: u32,
    pub ky_bits: u32,
    pub kx_bits: u32,
    pub wa_bits: u32,
    pub idx_bits: u32,
    pub cig: usize,
    pub kh: usize,
    pub kw: usize,
    pub taps: usize,
    pub depth: usize,
    pub word_bits: usize,
    pub words: Vec<String>,
    /// Yosys attribute placing a large weight ROM in block RAM (small ones stay in LUTs).
    pub rom_attr: &'static str,
    pub zero: String,
    pub h_lit: String,
    pub w_lit: String,
    pub dy_lit: String,
    pub dx_lit: String,
    pub sy_lit: String,
    pub sx_lit: String,
    pub by0: String,
    pub bx0: String,
    /// Per block group, the first input channel of its convolution group (grouped only).
    pub cbase: Option<Vec<String>>,
    /// The tapped input's index in the bus, and a comment on the bus's layout.
    pub flat: String,
    pub layout: String,
}

/// What a folded core is built from: the graph, its weight layers, their input layouts, the
/// reuse factor, and whether it walks only the inputs that spiked.
pub struct FoldInputs<'a> {
    pub g: &'a Graph,
    pub syns: &'a [NodeId],
    pub layouts: &'a [Layout],
    pub reuse: Option<usize>,
    pub event: bool,
}

/// An event-driven core's input walk: only inputs that spiked are visited (one weight-row read
/// each), for a layer with one dense weight layer.
pub struct EventCtx {
    /// Per synapse, per index bit: the inputs whose index has it set (a constant mask).
    pub masks: Vec<Vec<String>>,
}

/// An event-driven convolution (scatter): each input spike, taken from a pending queue, adds
/// its kernel's weights to the partial sums of every output it reaches (held in a sum memory);
/// then the block walk updates the neurons from those sums, one read per block.
pub struct ScatterCtx {
    pub n_in: usize,
    /// Per index bit of the spike's channel, row and column: the inputs whose field has it set.
    pub c_masks: Vec<String>,
    pub y_masks: Vec<String>,
    pub x_masks: Vec<String>,
    pub c_bits: u32,
    pub y_bits: u32,
    pub x_bits: u32,
    pub ky_bits: u32,
    pub kx_bits: u32,
    pub kh: usize,
    pub kw: usize,
    /// (case key {row, ky}, output row times the output width) of the taps that land.
    pub rows: Vec<(String, String)>,
    /// (case key {column, kx}, output column) of the taps that land.
    pub cols: Vec<(String, String)>,
    pub pos_bits: u32,
    /// Sum-memory address bits: position, then channel group.
    pub am_bits: u32,
    /// First weight word of each input channel (words are ordered channel, ky, kx, group).
    pub wbase: Vec<String>,
    pub wa_bits: u32,
}

/// The folded-core part of a neuron layer's template context.
pub struct FoldCtx {
    /// Event-driven input walk instead of every tap (see [`EventCtx`]).
    pub event: Option<EventCtx>,
    /// Event-driven convolution: input spikes scatter into partial sums first.
    pub scatter: Option<ScatterCtx>,
    /// What starts the block walk: `start`, or the end of the scatter phase.
    pub run_when: String,
    /// A scatter lane's weight (lane `sl` of the weight word), sign-extended to the sums.
    pub scatter_w: String,
    /// Per synapse, the visited index `at<k>` widened to the weight address.
    pub at_ext: Vec<String>,
    pub lanes: usize,
    pub co: usize,
    pub positions: usize,
    pub blocks: usize,
    pub groups: usize,
    pub oh: usize,
    pub ow: usize,
    pub ab: u32,
    pub cycles: u64,
    pub blk_bits: u32,
    pub grp_bits: u32,
    pub oy_bits: u32,
    pub ox_bits: u32,
    pub syn_bits: u32,
    pub syns: Vec<FoldSyn>,
    /// 0..groups, for the case tables.
    pub group_ids: Vec<usize>,
    /// Per-channel parameters each lane reads through a case table on the block group.
    pub tables: Vec<LaneTable>,
    pub tap_end: String,
    pub first_tap: String,
    pub hit: String,
    pub lane_weight: String,
    pub acc_init: String,
    /// Yosys attribute placing large state memories in block RAM.
    pub ram_attr: &'static str,
}

/// A per-channel parameter (packed `param`, `width` bits each) read by each lane as `wire`.
pub struct LaneTable {
    pub wire: String,
    pub param: String,
    pub width: String,
}

impl LaneTable {
    /// The table for `param`; its lane-local wire is the lower-case name with `_l`.
    pub fn new(param: &str, width: &str) -> Self {
        LaneTable {
            wire: format!("{}_l", param.to_ascii_lowercase()),
            param: param.to_string(),
            width: width.to_string(),
        }
    }
}

/// Memories of at least this many bits go to block RAM; smaller ones to LUTs.
pub const BRAM_MIN_BITS: usize = 4096;

fn style(kind: &str, bits: usize) -> &'static str {
    match (kind, bits >= BRAM_MIN_BITS) {
        ("rom", true) => "(* rom_style = \"block\" *) ",
        (_, true) => "(* ram_style = \"block\" *) ",
        _ => "",
    }
}

/// Bits to count `0..n` (at least one).
pub fn count_bits(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// A weight layer as a convolution on its spike input: dense layers are 1x1 convolutions
/// over a `[inputs, 1, 1]` image.
pub fn as_conv(op: &Op) -> Option<Conv<i64>> {
    match op {
        Op::IntConv(ic) => Some(ic.conv.clone()),
        Op::Dense(d) => {
            let (rows, cols) = d.weight.dims2();
            Some(Conv {
                weight: Tensor::new(vec![rows, cols, 1, 1], d.weight.data.clone()),
                bias: d.bias.clone(),
                in_shape: vec![cols, 1, 1],
                stride: vec![1, 1],
                padding: vec![0, 0],
                dilation: vec![1, 1],
                groups: 1,
            })
        }
        _ => None,
    }
}

/// A vector with one value per neuron (channel-major over `positions`) as one value per
/// channel, or `None` when some channel's positions differ.
pub fn per_channel(v: &[i64], positions: usize) -> Option<Vec<i64>> {
    let p = positions.max(1);
    v.chunks(p)
        .map(|c| c.iter().all(|&x| x == c[0]).then_some(c[0]))
        .collect()
}

/// Lanes: the largest divisor of every synapse's channels-per-group, at most [`MAX_LANES`]
/// and at most `cap`.
fn lanes_for(convs: &[Conv<i64>], co: usize, cap: usize) -> usize {
    let per_group: Vec<usize> = convs.iter().map(|c| co / c.groups.max(1)).collect();
    (1..=MAX_LANES.min(co).min(cap).max(1))
        .rev()
        .find(|l| per_group.iter().all(|pg| pg % l == 0))
        .unwrap_or(1)
}

/// The shape of a folded core's schedule.
struct Geometry {
    convs: Vec<Conv<i64>>,
    co: usize,
    oh: usize,
    ow: usize,
    lanes: usize,
    groups: usize,
    positions: usize,
    blocks: usize,
}

fn geometry(g: &Graph, syn_ids: &[NodeId], reuse: Option<usize>) -> Result<Geometry, String> {
    // A folded core adds a weight per input spike; integer inputs need a multiplier per tap.
    for &id in syn_ids {
        if let Some(p) = g.node(id).inputs.first() {
            let src = g.node(p.node);
            if !matches!(src.ty.elem, crate::ir::Elem::Spike) {
                return Err(format!(
                    "weight layer '{}' reads integers from '{}' ({}); folded and event-driven cores read spikes, so make its layer parallel",
                    g.node(id).name,
                    src.name,
                    src.ty
                ));
            }
        }
    }
    let convs: Vec<Conv<i64>> = syn_ids
        .iter()
        .map(|&id| {
            as_conv(&g.node(id).op).ok_or_else(|| {
                format!(
                    "input '{}' ({}) is not a weight layer; folded layers read weight layers only",
                    g.node(id).name,
                    g.node(id).op.keyword()
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let shapes: Vec<[usize; 3]> = convs
        .iter()
        .map(|c| c.out_shape().ok_or("inconsistent convolution geometry"))
        .collect::<Result<_, _>>()?;
    let [co, oh, ow] = *shapes
        .first()
        .ok_or("a folded layer needs a weight layer")?;
    if shapes.iter().any(|s| *s != shapes[0]) {
        return Err(format!(
            "its weight layers produce different output shapes {shapes:?}; a folded core needs one"
        ));
    }
    // A reuse factor R shares each accumulator among R output channels.
    let cap = reuse.map_or(MAX_LANES, |r| co.div_ceil(r.max(1)));
    let lanes = lanes_for(&convs, co, cap);
    let groups = co / lanes;
    let positions = oh * ow;
    Ok(Geometry {
        convs,
        co,
        oh,
        ow,
        lanes,
        groups,
        positions,
        blocks: positions * groups,
    })
}

/// Cycles per timestep of a folded core over `syn_ids` (the most, for an event core), and its
/// lanes, without planning the rest.
pub fn schedule(
    g: &Graph,
    syn_ids: &[NodeId],
    reuse: Option<usize>,
) -> Result<(u64, usize), String> {
    let geo = geometry(g, syn_ids, reuse)?;
    let taps: u64 = geo
        .convs
        .iter()
        .map(|c| c.weight.shape.iter().skip(1).product::<usize>() as u64)
        .sum();
    Ok((geo.blocks as u64 * (taps + 2) + 1, geo.lanes))
}

/// Plans the folded core of a neuron layer fed by weight layers `syn_ids`. Each one's spike
/// input is in IR order, or (`layouts[k] = Some((channels, positions))`) in the hardware order
/// of a folded layer upstream: position-major, `index = position * channels + channel`. `xb` is the width of the summed input, `state_bits` of a stored
/// state; `params` receives the
/// per-channel accumulator start values when they differ.
pub(super) fn plan(
    inp: &FoldInputs,
    xb: u32,
    state_bits: u32,
    params: &mut Vec<Param>,
) -> Result<FoldCtx, String> {
    let (g, syn_ids, layouts) = (inp.g, inp.syns, inp.layouts);
    let event = inp.event;
    let Geometry {
        convs,
        co,
        oh,
        ow,
        lanes,
        groups,
        positions,
        blocks,
    } = geometry(g, syn_ids, inp.reuse)?;
    // Trailing zero bits every weight of a synapse shares (the quantiser's guard bits) are
    // not stored: the ROM holds w >> tz and the lane shifts back with wiring.
    let tzs: Vec<u32> = convs
        .iter()
        .map(|c| {
            c.weight
                .data
                .iter()
                .filter(|&&w| w != 0)
                .map(|w| w.trailing_zeros())
                .min()
                .unwrap_or(0)
                .min(32)
        })
        .collect();
    let wbits: Vec<u32> = convs
        .iter()
        .zip(&tzs)
        .map(|(c, &tz)| {
            let (lo, hi) = c
                .weight
                .data
                .iter()
                .fold((0i64, 0i64), |(l, h), &w| (l.min(w >> tz), h.max(w >> tz)));
            signed_width(lo as i128, hi as i128).max(2)
        })
        .collect();
    let ab = xb.max(
        wbits
            .iter()
            .zip(&tzs)
            .map(|(w, t)| w + t + 1)
            .max()
            .unwrap_or(3),
    );
    let dense_only = all_dense(&convs, positions);
    let scatter = event && !dense_only;
    // Scattered partial sums lack the bias: the sum memory holds any subset of a channel's
    // weights, so the width covers those too.
    let ab = if scatter {
        let partial = convs
            .iter()
            .flat_map(|c| {
                let per = c.weight.data.len() / c.weight.shape[0].max(1);
                c.weight.data.chunks(per.max(1)).map(|ws| {
                    let neg: i64 = ws.iter().filter(|&&w| w < 0).sum();
                    let pos: i64 = ws.iter().filter(|&&w| w > 0).sum();
                    signed_width(neg as i128, pos as i128)
                })
            })
            .max()
            .unwrap_or(2);
        ab.max(partial)
    } else {
        ab
    };
    let syn_bits = count_bits(convs.len());
    let grp_bits = count_bits(groups);
    let mut tables = Vec::new();
    let mut syns = Vec::new();
    for (k, c) in convs.iter().enumerate() {
        let [cin, h, w] = <[usize; 3]>::try_from(c.in_shape.as_slice()).map_err(|_| "in_shape")?;
        let [_, cig, kh, kw] =
            <[usize; 4]>::try_from(c.weight.shape.as_slice()).map_err(|_| "weight shape")?;
        let taps = cig * kh * kw;
        let depth = groups * taps;
        let (ww, tz) = (wbits[k], tzs[k]);
        // Every intermediate of the address arithmetic, padding and overhang included.
        let span = |n: usize, o: usize, s: usize, p: usize, k: usize, d: usize| {
            n as u128 + (o * s + p + k * d) as u128 + 1
        };
        let bound = (cin as u128 + 1)
            * span(h, oh, c.stride[0], c.padding[0], kh, c.dilation[0])
            * span(w, ow, c.stride[1], c.padding[1], kw, c.dilation[1]);
        let aw = (u128::BITS - bound.leading_zeros()) + 2;
        if aw > 62 {
            return Err(format!("input of {cin}x{h}x{w} is too large to address"));
        }
        let lit = |v: i64| signed_lit(v, aw);
        let dense = kh == 1 && kw == 1 && h == 1 && w == 1;
        // A position-major source is read in its own order: a dense layer walks it as stored
        // (the ROM holds each word's weights in that order); a convolution whose geometry
        // matches computes the position-major index.
        let layout = layouts[k].filter(|&l| reads_hardware_order(c, l));
        let col = |t: usize| match layout {
            Some((sc, sp)) if dense => (t % sc) * sp + t / sc,
            _ => t,
        };
        let mut words = Vec::with_capacity(depth);
        let word = |grp: usize, t: usize| -> String {
            let lanes_w: Vec<i64> = (0..lanes)
                .map(|l| c.weight.data[(grp * lanes + l) * taps + col(t)] >> tz)
                .collect();
            pack_hex(&lanes_w, ww)
        };
        if scatter {
            // A spike walks its channel's taps with the group fastest: consecutive words.
            for t in 0..taps {
                for grp in 0..groups {
                    words.push(word(grp, t));
                }
            }
        } else {
            for grp in 0..groups {
                for t in 0..taps {
                    words.push(word(grp, t));
                }
            }
        }
        let (flat, layout_doc) = match (dense, layout) {
            (true, Some(_)) => (
                format!("ch{k}"),
                "hardware order of the folded layer upstream",
            ),
            (true, None) => (format!("ch{k}"), "IR order"),
            (false, Some(_)) => (
                format!(
                    "(iy{k} * {} + ix{k}) * {} + ch{k}",
                    lit(w as i64),
                    lit(cin as i64)
                ),
                "hardware order of the folded layer upstream: (y * W + x) * C + c",
            ),
            (false, None) => (
                format!(
                    "(ch{k} * {} + iy{k}) * {} + ix{k}",
                    lit(h as i64),
                    lit(w as i64)
                ),
                "IR order: (c * H + y) * W + x",
            ),
        };
        // Input channels start at (convolution group of this block) * cig.
        let cbase = (c.groups > 1).then(|| {
            let per_group = co / c.groups;
            (0..groups)
                .map(|grp| lit(((grp * lanes / per_group) * cig) as i64))
                .collect()
        });
        syns.push(FoldSyn {
            k,
            n_in: cin * h * w,
            doc: format!(
                "'{}', {cin}x{h}x{w} spikes, kernel {kh}x{kw}, stride {:?}, padding {:?}, dilation {:?}, groups {}, {ww}-bit weights stored (<< {tz})",
                super::names::comment_text(&g.node(syn_ids[k]).name),
                c.stride,
                c.padding,
                c.dilation,
                c.groups
            ),
            aw,
            cl_bits: count_bits(cig),
            ky_bits: count_bits(kh),
            kx_bits: count_bits(kw),
            wa_bits: count_bits(depth),
            idx_bits: count_bits(cin * h * w),
            cig,
            kh,
            kw,
            taps,
            depth,
            word_bits: lanes * ww as usize,
            rom_attr: style("rom", depth * lanes * ww as usize),
            words,
            zero: lit(0),
            h_lit: lit(h as i64),
            w_lit: lit(w as i64),
            dy_lit: lit(c.dilation[0] as i64),
            dx_lit: lit(c.dilation[1] as i64),
            sy_lit: lit(c.stride[0] as i64),
            sx_lit: lit(c.stride[1] as i64),
            by0: lit(-(c.padding[0] as i64)),
            bx0: lit(-(c.padding[1] as i64)),
            cbase,
            flat,
            layout: layout_doc.into(),
        });
    }
    // Select by synapse: the last one is the default arm.
    let by_syn = |sel: &str, f: &dyn Fn(usize) -> String| -> String {
        let mut e = f(convs.len() - 1);
        for k in (0..convs.len() - 1).rev() {
            e = format!("({sel} == {syn_bits}'d{k}) ? {} : {e}", f(k));
        }
        e
    };
    let sext = |k: usize| {
        let (ww, tz) = (wbits[k], tzs[k]);
        let low = if tz > 0 {
            format!(", {tz}'b0")
        } else {
            String::new()
        };
        format!(
            "{{ {{{}{{w{k}[l*{ww} + {}]}}}}, w{k}[l*{ww} +: {ww}]{low} }}",
            ab - ww - tz,
            ww - 1
        )
    };
    let init: Vec<i64> = (0..co)
        .map(|ch| convs.iter().map(|c| c.bias[ch]).sum())
        .collect();
    let uniform_init = init.iter().all(|&v| v == init[0]);
    let acc_init = if uniform_init {
        signed_lit(init[0], ab)
    } else {
        params.push(Param::packed_named(
            "ACC_INIT".into(),
            &init,
            ab,
            "accumulator start per channel: the weight layers' biases",
        ));
        let t = LaneTable::new("ACC_INIT", &ab.to_string());
        let w = t.wire.clone();
        tables.push(t);
        w
    };
    let taps_total: u64 = syns.iter().map(|s| s.taps as u64).sum();
    let scatter = match scatter {
        false => None,
        true => Some(scatter_plan(&convs, layouts, groups, oh, ow, positions)?),
    };
    let event = match event && dense_only {
        false => None,
        true => {
            let masks = syns
                .iter()
                .map(|sy| bit_masks(sy.n_in, sy.idx_bits, &|i| i))
                .collect();
            Some(EventCtx { masks })
        }
    };
    let (tap_end, first_tap) = match &event {
        // After scattering, a block's one "tap" is its partial sums.
        None if scatter.is_some() => ("1'b1".to_string(), "1'b1".to_string()),
        Some(_) => (
            by_syn("syn", &|k| format!("tap_end{k}")),
            format!("syn == {syn_bits}'d0 && fst0"),
        ),
        None => (
            by_syn("syn", &|k| format!("tap_end{k}")),
            format!(
                "syn == {syn_bits}'d0 && cl0 == {}'d0 && ky0 == {}'d0 && kx0 == {}'d0",
                syns[0].cl_bits, syns[0].ky_bits, syns[0].kx_bits
            ),
        ),
    };
    let at_ext = syns
        .iter()
        .map(|sy| match sy.wa_bits.cmp(&sy.idx_bits) {
            std::cmp::Ordering::Greater => {
                format!("{{{}'d0, at{}}}", sy.wa_bits - sy.idx_bits, sy.k)
            }
            std::cmp::Ordering::Equal => format!("at{}", sy.k),
            // Fewer address bits than index bits: one group, and the ROM is as deep as the input.
            std::cmp::Ordering::Less => format!("at{}[{}:0]", sy.k, sy.wa_bits - 1),
        })
        .collect();
    let cycles = match &scatter {
        Some(sc) => scatter_cycles(sc.n_in, sc.kh * sc.kw, groups, blocks),
        None => blocks as u64 * (taps_total + 2) + 1,
    };
    let (hit, lane_weight) = match &scatter {
        Some(_) => ("st == S_RUN".to_string(), "am_q[l*AB +: AB]".to_string()),
        None => (
            format!("st == S_RUN && ({})", by_syn("syn", &|k| format!("bit{k}"))),
            by_syn("syn_q", &sext),
        ),
    };
    Ok(FoldCtx {
        run_when: if scatter.is_some() {
            "sc_done"
        } else {
            "start"
        }
        .into(),
        // The lanes' sign extension, on the scatter's own lane index.
        scatter_w: sext(0).replace("[l*", "[sl*"),
        scatter,
        event,
        at_ext,
        lanes,
        co,
        positions,
        blocks,
        groups,
        oh,
        ow,
        ab,
        cycles,
        blk_bits: count_bits(blocks),
        grp_bits,
        oy_bits: count_bits(oh),
        ox_bits: count_bits(ow),
        syn_bits,
        group_ids: (0..groups).collect(),
        tables,
        tap_end,
        first_tap,
        hit,
        lane_weight,
        acc_init,
        ram_attr: style("ram", blocks * lanes * state_bits as usize),
        syns,
    })
}

/// A bus layout: `None` for IR order, or the (channels, positions) of a position-major bus.
pub type Layout = Option<(usize, usize)>;

/// True when a folded core with weight layer `c` can read a bus in the position-major `layout`
/// of a folded layer upstream: an ungrouped dense layer (its ROM follows any order), or a
/// convolution whose input shape is that layer's (channels, positions). Otherwise it reads the
/// IR-order bus.
pub fn reads_hardware_order(c: &Conv<i64>, (channels, positions): (usize, usize)) -> bool {
    let Ok([cin, h, w]) = <[usize; 3]>::try_from(c.in_shape.as_slice()) else {
        return false;
    };
    let one = |v: &[usize]| v.iter().all(|&x| x == 1);
    let dense = h == 1 && w == 1 && c.weight.shape.get(2..).is_some_and(one);
    (dense && c.groups == 1) || (cin == channels && h * w == positions)
}

/// (channels, positions) of the output of a folded layer fed by `syn_ids`.
pub fn layout_of(g: &Graph, syn_ids: &[NodeId]) -> Option<(usize, usize)> {
    let c = as_conv(&g.node(*syn_ids.first()?).op)?;
    let [co, oh, ow] = c.out_shape()?;
    Some((co, oh * ow))
}

/// What a folded core over `syn_ids` is made of, for cost estimates: lanes, and per synapse
/// its input count and weight-ROM bits.
#[derive(Clone, Debug)]
pub struct FoldShape {
    pub lanes: usize,
    /// Per synapse: (inputs on its bus, weight-ROM bits).
    pub syns: Vec<(usize, usize)>,
}

/// The [`FoldShape`] of a folded core over `syn_ids` with reuse factor `reuse`.
pub fn shape(g: &Graph, syn_ids: &[NodeId], reuse: Option<usize>) -> Result<FoldShape, String> {
    let geo = geometry(g, syn_ids, reuse)?;
    let syns = geo
        .convs
        .iter()
        .map(|c| {
            let taps: usize = c.weight.shape.iter().skip(1).product();
            let lo = c.weight.data.iter().copied().min().unwrap_or(0);
            let hi = c.weight.data.iter().copied().max().unwrap_or(0);
            let ww = signed_width(lo as i128, hi as i128);
            (
                c.in_shape.iter().product(),
                geo.groups * taps * geo.lanes * ww as usize,
            )
        })
        .collect();
    Ok(FoldShape {
        lanes: geo.lanes,
        syns,
    })
}

/// Per bit `b` of a field of the `n` inputs of a spike bus, the constant selecting the inputs
/// whose `field(i)` has bit `b` set: OR-ing a one-hot input against it gives that bit.
fn bit_masks(n: usize, bits: u32, field: &dyn Fn(usize) -> usize) -> Vec<String> {
    (0..bits)
        .map(|b| {
            // Hex digits from the top: digit d covers inputs 4d .. 4d + 3.
            let digits: String = (0..n.div_ceil(4))
                .rev()
                .map(|d| {
                    let v = (0..4)
                        .filter(|&i| 4 * d + i < n && (field(4 * d + i) >> b) & 1 == 1)
                        .fold(0u32, |acc, i| acc | 1 << i);
                    char::from_digit(v, 16).expect("a hex digit")
                })
                .collect();
            format!("{n}'h{digits}")
        })
        .collect()
}

/// True when every weight layer is dense (an ungrouped 1x1 convolution of a 1x1 image): an
/// event core then walks inputs, not kernel taps.
fn all_dense(convs: &[Conv<i64>], positions: usize) -> bool {
    let one = |v: &[usize]| v.iter().all(|&x| x == 1);
    positions == 1
        && convs.iter().all(|c| {
            c.groups == 1 && c.weight.shape.get(2..).is_some_and(one) && one(&c.in_shape[1..])
        })
}

/// Most cycles of an event-driven convolution's step (every input spiking): a take and a walk
/// of the kernel's taps per spike, the drain, then one read per block.
fn scatter_cycles(n_in: usize, kernel: usize, groups: usize, blocks: usize) -> u64 {
    n_in as u64 * (1 + (kernel * groups) as u64) + 3 + blocks as u64 * 3 + 1
}

/// Most cycles per timestep of an event-driven core over `syn_ids`: the folded schedule for
/// dense layers, the scatter bound for a convolution.
pub fn event_schedule(g: &Graph, syn_ids: &[NodeId]) -> Result<u64, String> {
    let geo = geometry(g, syn_ids, None)?;
    match (all_dense(&geo.convs, geo.positions), geo.convs.as_slice()) {
        (true, _) => schedule(g, syn_ids, None).map(|x| x.0),
        (false, [c]) => Ok(scatter_cycles(
            c.in_shape.iter().product(),
            c.weight.shape.iter().skip(2).product(),
            geo.groups,
            geo.blocks,
        )),
        _ => Err("an event-driven convolution takes one weight layer".into()),
    }
}

/// The [`ScatterCtx`] of an event-driven convolution: one ungrouped convolution reading a spike
/// bus in IR order or (`layouts[0]`) the hardware order of a folded layer upstream.
fn scatter_plan(
    convs: &[Conv<i64>],
    layouts: &[Layout],
    groups: usize,
    oh: usize,
    ow: usize,
    positions: usize,
) -> Result<ScatterCtx, String> {
    let [c] = convs else {
        return Err("an event-driven convolution takes one weight layer".into());
    };
    if c.groups != 1 {
        return Err("an event-driven convolution must be ungrouped (groups = 1)".into());
    }
    let [cin, h, w] = <[usize; 3]>::try_from(c.in_shape.as_slice()).map_err(|_| "in_shape")?;
    let [_, _, kh, kw] =
        <[usize; 4]>::try_from(c.weight.shape.as_slice()).map_err(|_| "weight shape")?;
    let n_in = cin * h * w;
    // (channel, row, column) of each bus index.
    let layout = layouts
        .first()
        .copied()
        .flatten()
        .filter(|&l| reads_hardware_order(c, l));
    let field = |i: usize| -> (usize, usize, usize) {
        match layout {
            Some(_) => (i % cin, (i / cin) / w, (i / cin) % w),
            None => (i / (h * w), (i / w) % h, i % w),
        }
    };
    let masks = |bits: u32, f: &dyn Fn(usize) -> usize| bit_masks(n_in, bits, f);
    let (c_bits, y_bits, x_bits) = (count_bits(cin), count_bits(h), count_bits(w));
    let (ky_bits, kx_bits) = (count_bits(kh), count_bits(kw));
    let pos_bits = count_bits(positions);
    let grp_bits = count_bits(groups);
    // Output index reached from input coordinate `i` by kernel tap `k`, if any:
    // o * stride = i + padding - k * dilation.
    let land = |i: usize, k: usize, axis: usize, n_out: usize| -> Option<usize> {
        let t = (i + c.padding[axis]) as i64 - (k * c.dilation[axis]) as i64;
        let s = c.stride[axis] as i64;
        (t >= 0 && t % s == 0 && ((t / s) as usize) < n_out).then_some((t / s) as usize)
    };
    let key = |a: usize, ab: u32, k: usize, kb: u32| format!("{}'d{}", ab + kb, (a << kb) | k);
    let mut rows = Vec::new();
    for iy in 0..h {
        for ky in 0..kh {
            if let Some(oy) = land(iy, ky, 0, oh) {
                rows.push((
                    key(iy, y_bits, ky, ky_bits),
                    format!("{pos_bits}'d{}", oy * ow),
                ));
            }
        }
    }
    let mut cols = Vec::new();
    for ix in 0..w {
        for kx in 0..kw {
            if let Some(ox) = land(ix, kx, 1, ow) {
                cols.push((key(ix, x_bits, kx, kx_bits), format!("{pos_bits}'d{ox}")));
            }
        }
    }
    let depth = cin * kh * kw * groups;
    let wa_bits = count_bits(depth);
    Ok(ScatterCtx {
        n_in,
        c_masks: masks(c_bits, &|i| field(i).0),
        y_masks: masks(y_bits, &|i| field(i).1),
        x_masks: masks(x_bits, &|i| field(i).2),
        c_bits,
        y_bits,
        x_bits,
        ky_bits,
        kx_bits,
        kh,
        kw,
        rows,
        cols,
        pos_bits,
        am_bits: pos_bits + grp_bits,
        wbase: (0..cin)
            .map(|ch| format!("{wa_bits}'d{}", ch * kh * kw * groups))
            .collect(),
        wa_bits,
    })
}
