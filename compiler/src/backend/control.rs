//! Fixed-width control blocks, written with `rust_hdl`. Their widths never depend on the model,
//! so one Rust description is both simulated (rust_hdl's simulator, in the tests below) and
//! turned into Verilog; the model-sized datapaths around them come from the askama templates.

use rust_hdl::prelude::*;

/// Timestep sequencer of a folded design: accepts an input beat when the layers are idle and
/// the output register is empty, pulses `go` to start the first layer, and after the last
/// layer's `fin` ends the step; after a sample's last step it pulses `clear` (layers zero their
/// state) and raises `first` (recurrent reads see zeros).
#[derive(LogicBlock, Default)]
pub struct StepSequencer {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    /// Upstream offers a beat, and it is the sample's last step.
    pub in_valid: Signal<In, Bit>,
    pub in_last: Signal<In, Bit>,
    /// The output register still holds the previous step's beat.
    pub out_full: Signal<In, Bit>,
    /// The last layer finished this step.
    pub fin: Signal<In, Bit>,
    pub in_ready: Signal<Out, Bit>,
    pub go: Signal<Out, Bit>,
    pub clear: Signal<Out, Bit>,
    pub first: Signal<Out, Bit>,
    /// The step in flight is the sample's last.
    pub last: Signal<Out, Bit>,
    busy: DFF<Bit>,
    go_r: DFF<Bit>,
    clear_r: DFF<Bit>,
    first_r: DFF<Bit>,
    last_r: DFF<Bit>,
}

impl Logic for StepSequencer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy, go_r, clear_r, first_r, last_r);
        self.in_ready.next = !self.busy.q.val() & !self.out_full.val();
        self.go.next = self.go_r.q.val();
        self.clear.next = self.clear_r.q.val();
        self.first.next = self.first_r.q.val();
        self.last.next = self.last_r.q.val();
        self.go_r.d.next = false;
        self.clear_r.d.next = false;
        if self.rst.val() {
            self.busy.d.next = false;
            self.first_r.d.next = true;
            self.last_r.d.next = false;
        } else if self.in_valid.val() & !self.busy.q.val() & !self.out_full.val() {
            self.busy.d.next = true;
            self.go_r.d.next = true;
            self.first_r.d.next = false;
            self.last_r.d.next = self.in_last.val();
        } else if self.fin.val() {
            self.busy.d.next = false;
            self.clear_r.d.next = self.last_r.q.val();
            self.first_r.d.next = self.last_r.q.val();
        }
    }
}

/// Control of a two-entry skid buffer on an output stream: `in_ready` and `out_valid` come
/// straight from registers, so the consumer's `ready` never reaches the producer through logic,
/// and a beat per cycle still flows. The datapath (a main and a skid register) follows the load
/// enables: `load_main` loads the main register from the skid register when `main_from_skid`,
/// else from the input; `load_skid` loads the skid register from the input.
#[derive(LogicBlock, Default)]
pub struct SkidControl {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub in_valid: Signal<In, Bit>,
    pub out_ready: Signal<In, Bit>,
    pub in_ready: Signal<Out, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub load_main: Signal<Out, Bit>,
    pub load_skid: Signal<Out, Bit>,
    pub main_from_skid: Signal<Out, Bit>,
    /// The main register holds a beat (it is the output).
    main_full: DFF<Bit>,
    /// The skid register holds the beat that arrived while the output stalled.
    skid_full: DFF<Bit>,
}

impl Logic for SkidControl {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, main_full, skid_full);
        self.in_ready.next = !self.skid_full.q.val();
        self.out_valid.next = self.main_full.q.val();
        self.load_main.next = false;
        self.load_skid.next = false;
        self.main_from_skid.next = false;
        if self.skid_full.q.val() {
            // Two beats held: no input; the skid beat moves up when the output is taken.
            if self.out_ready.val() {
                self.load_main.next = true;
                self.main_from_skid.next = true;
                self.skid_full.d.next = false;
            }
        } else if !self.main_full.q.val() {
            if self.in_valid.val() {
                self.load_main.next = true;
                self.main_full.d.next = true;
            }
        } else if self.in_valid.val() & self.out_ready.val() {
            self.load_main.next = true;
        } else if self.in_valid.val() {
            self.load_skid.next = true;
            self.skid_full.d.next = true;
        } else if self.out_ready.val() {
            self.main_full.d.next = false;
        }
        if self.rst.val() {
            self.main_full.d.next = false;
            self.skid_full.d.next = false;
        }
    }
}

/// Stands for a module's own name while bodies are compared (never in Verilog text).
const BLANK: &str = "\u{1}";

/// rust_hdl names the top module `top` and each child `top$<field>`.
const RUST_HDL_TOP: &str = "top";

/// The Verilog of `block` with its top module named `name`, one (file name, text) per module,
/// the top module last. rust_hdl writes every register as its own child module; identical ones
/// share one module (`<name>_r<k>`), so a sequencer of five one-bit registers is two files, not
/// six.
pub fn emit<L: Block>(mut block: L, name: &str) -> Vec<(String, String)> {
    block.connect_all();
    let text = generate_verilog(&block);
    let modules = split_modules(&text);
    // Child module bodies with their own name blanked, to find identical ones.
    let mut shared: Vec<(String, String)> = Vec::new();
    let mut rename: Vec<(String, String)> = Vec::new();
    for (m, body) in &modules {
        if m == RUST_HDL_TOP {
            continue;
        }
        let canon = replace_ident(body, m, BLANK);
        let k = match shared.iter().position(|(c, _)| *c == canon) {
            Some(k) => k,
            None => {
                shared.push((canon, body.clone()));
                shared.len() - 1
            }
        };
        rename.push((m.clone(), format!("{name}_r{k}")));
    }
    let fix = |body: &str| {
        let mut s = replace_ident(body, RUST_HDL_TOP, name);
        for (from, to) in &rename {
            s = replace_ident(&s, from, to);
        }
        s
    };
    let mut files: Vec<(String, String)> = shared
        .iter()
        .enumerate()
        .map(|(k, (canon, _))| {
            let m = format!("{name}_r{k}");
            let body = fix(&replace_ident(canon, BLANK, &m));
            (format!("{m}.v"), wrap(&m, &body))
        })
        .collect();
    let top = modules
        .iter()
        .find(|(m, _)| m == RUST_HDL_TOP)
        .map(|(_, b)| fix(b))
        .unwrap_or_default();
    files.push((format!("{name}.v"), wrap(name, &top)));
    files
}

fn wrap(name: &str, body: &str) -> String {
    let lines: Vec<&str> = body.trim().lines().map(str::trim_end).collect();
    format!(
        "// {name}: generated by rust_hdl from compiler/src/backend/control.rs; do not edit.\n\
         `default_nettype none\n{}\n`default_nettype wire\n",
        lines.join("\n")
    )
}

/// (module name, text from `module` to `endmodule`) for each module of rust_hdl's output.
fn split_modules(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("\nmodule ").map(|i| i + 1) {
        let after = &rest[start + "module ".len()..];
        let name: String = after.chars().take_while(|&c| c != '(').collect();
        let end = rest[start..]
            .find("endmodule")
            .map(|i| start + i + "endmodule".len())
            .unwrap_or(rest.len());
        out.push((name.trim().to_string(), rest[start..end].to_string()));
        rest = &rest[end..];
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// `text` with every whole identifier `from` replaced by `to`.
fn replace_ident(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(j) = text[i..].find(from).map(|j| i + j) {
        let before = text[..j].chars().next_back();
        let after = text[j + from.len()..].chars().next();
        out.push_str(&text[i..j]);
        if before.is_some_and(is_ident) || after.is_some_and(is_ident) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        i = j + from.len();
    }
    out.push_str(&text[i..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::sync::{Arc, Mutex};

    /// Clock access for the blocks under test.
    trait Clocked: Block + Send + 'static {
        fn toggle(&mut self);
    }
    impl Clocked for StepSequencer {
        fn toggle(&mut self) {
            self.clock.next = !self.clock.val();
        }
    }
    impl Clocked for SkidControl {
        fn toggle(&mut self) {
            self.clock.next = !self.clock.val();
        }
    }

    /// Runs `uut` in rust_hdl's simulator for `cycles` cycles. Each cycle, with the clock low,
    /// `step` sets the inputs (it sees the outputs as the last edge left them), the logic
    /// settles, `step` is called again to read the settled outputs, and the clock rises.
    /// `step(x, cycle, settled)` returns nothing; it records what the test checks afterwards.
    fn run<U: Clocked>(
        uut: U,
        cycles: usize,
        step: impl FnMut(&mut U, usize, bool) + Send + 'static,
    ) {
        let mut uut = uut;
        uut.connect_all();
        let step = Arc::new(Mutex::new(step));
        let mut sim = Simulation::new();
        // Rising edges at 5, 15, 25, ...: the clock is low from 10k to 10k + 5.
        sim.add_clock(5, |x: &mut Box<U>| x.toggle());
        sim.add_testbench(move |mut sim: Sim<U>| {
            let mut x = sim.init()?;
            x = sim.wait(11, x)?;
            for cycle in 0..cycles {
                (step.lock().unwrap())(&mut x, cycle, false);
                x = sim.wait(2, x)?;
                (step.lock().unwrap())(&mut x, cycle, true);
                x = sim.wait(8, x)?;
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 10 * cycles as u64 + 100)
            .expect("rust_hdl simulation");
    }

    #[test]
    fn skid_buffer_passes_every_beat_once_in_order_with_registered_handshake() {
        #[derive(Default)]
        struct Model {
            main: u32,
            skid: u32,
            offered: u32,
            received: Vec<u32>,
            ready_before: bool,
            violations: Vec<String>,
            busiest_run: usize,
            run: usize,
        }
        let log = Arc::new(Mutex::new(Model::default()));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Phases of free flow (both sides always willing) and of random backpressure.
        let pattern: Vec<(bool, bool)> = (0..4000)
            .map(|i| match (i / 400) % 2 {
                0 => (true, true),
                _ => (rng.random_bool(0.7), rng.random_bool(0.5)),
            })
            .collect();
        let l = log.clone();
        run(
            SkidControl::default(),
            pattern.len(),
            move |x, cycle, settled| {
                let mut m = l.lock().unwrap();
                let (valid, ready) = pattern[cycle];
                if !settled {
                    m.ready_before = x.in_ready.val();
                    x.rst.next = cycle < 2;
                    x.in_valid.next = valid && cycle >= 2;
                    x.out_ready.next = ready;
                    return;
                }
                if cycle < 2 {
                    return;
                }
                if x.in_ready.val() != m.ready_before {
                    m.violations
                        .push(format!("cycle {cycle}: in_ready follows an input"));
                }
                // What the edge does to the datapath.
                let accept = valid && x.in_ready.val();
                if x.out_valid.val() && ready {
                    let v = m.main;
                    m.received.push(v);
                    m.run += 1;
                    m.busiest_run = m.busiest_run.max(m.run);
                } else {
                    m.run = 0;
                }
                let beat = m.offered;
                if x.load_skid.val() {
                    m.skid = beat;
                }
                if x.load_main.val() {
                    m.main = if x.main_from_skid.val() { m.skid } else { beat };
                }
                if accept {
                    m.offered += 1;
                }
            },
        );
        let m = log.lock().unwrap();
        assert!(m.violations.is_empty(), "{:?}", &m.violations[..1]);
        let expect: Vec<u32> = (0..m.received.len() as u32).collect();
        assert_eq!(m.received, expect, "every beat once, in order");
        assert!(
            m.offered as usize - m.received.len() <= 2,
            "at most two beats buffered"
        );
        assert!(m.received.len() > 2000);
        // Free flow: a beat every cycle.
        assert!(
            m.busiest_run >= 390,
            "longest run of beats: {}",
            m.busiest_run
        );
    }

    #[test]
    fn sequencer_runs_one_step_at_a_time_and_clears_after_the_last() {
        #[derive(Default)]
        struct Trace {
            // Per cycle: (accept, last offered, go, fin, clear, first, last).
            rows: Vec<[bool; 7]>,
        }
        let log = Arc::new(Mutex::new(Trace::default()));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let offers: Vec<(bool, bool, bool, u32)> = (0..3000)
            .map(|_| {
                (
                    rng.random_bool(0.6),
                    rng.random_bool(0.25),
                    rng.random_bool(0.5),
                    rng.random_range(1..6),
                )
            })
            .collect();
        let l = log.clone();
        // The layers and the output register, modelled: `fin` comes `delay` cycles after
        // `go`; the output register fills on `fin` and empties when downstream is ready.
        let mut countdown: Option<u32> = None;
        let mut out_full = false;
        let mut fin = false;
        run(
            StepSequencer::default(),
            offers.len(),
            move |x, cycle, settled| {
                let (valid, last, ready, delay) = offers[cycle];
                if !settled {
                    x.rst.next = cycle < 2;
                    x.in_valid.next = valid;
                    x.in_last.next = last;
                    x.out_full.next = out_full;
                    x.fin.next = fin;
                    return;
                }
                let accept = cycle >= 2 && valid && x.in_ready.val();
                if cycle >= 2 {
                    l.lock().unwrap().rows.push([
                        accept,
                        last,
                        x.go.val(),
                        fin,
                        x.clear.val(),
                        x.first.val(),
                        x.last.val(),
                    ]);
                }
                // Next cycle's environment.
                let go = x.go.val();
                fin = false;
                countdown = match countdown {
                    Some(0) => {
                        fin = true;
                        None
                    }
                    Some(n) => Some(n - 1),
                    None if go => Some(delay),
                    None => None,
                };
                out_full = (out_full && !ready) || fin;
            },
        );
        let t = log.lock().unwrap();
        let rows = &t.rows;
        let (mut in_flight, mut prev_last, mut steps, mut samples) = (false, true, 0, 0);
        let mut cur_last = false;
        for (i, r) in rows.iter().enumerate() {
            let [accept, last, go, fin, clear, first, last_q] = *r;
            if i > 0 && rows[i - 1][0] != go {
                panic!("cycle {i}: go must follow an accepted beat by one cycle");
            }
            if accept {
                assert!(!in_flight, "cycle {i}: a beat accepted during a step");
                // Sampled with the beat: recurrent registers read zeros on a first step.
                assert_eq!(
                    first, prev_last,
                    "cycle {i}: first marks a sample's first step"
                );
                in_flight = true;
                cur_last = last;
                steps += 1;
            }
            if fin {
                assert_eq!(last_q, cur_last, "cycle {i}: last is the finished beat's");
            }
            let cleared_by_prev = i > 0 && rows[i - 1][3] && prev_fin_last(rows, i - 1);
            assert_eq!(
                clear, cleared_by_prev,
                "cycle {i}: clear follows a sample's last fin"
            );
            if fin {
                in_flight = false;
                prev_last = cur_last;
                samples += cur_last as usize;
            }
        }
        assert!(
            steps > 300 && samples > 50,
            "{steps} steps, {samples} samples"
        );

        /// True when the step that ends with the `fin` in row `i` was a sample's last.
        fn prev_fin_last(rows: &[[bool; 7]], i: usize) -> bool {
            rows[..=i].iter().rev().find(|r| r[0]).is_some_and(|r| r[1])
        }
    }

    #[test]
    fn emitted_modules_are_named_after_the_design_and_share_identical_registers() {
        let files = emit(StepSequencer::default(), "sf_net_seq");
        let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
        // Five one-bit registers with the same reset value: one shared register module.
        assert_eq!(names, ["sf_net_seq_r0.v", "sf_net_seq.v"]);
        let top = &files[1].1;
        assert!(top.contains("module sf_net_seq("));
        assert_eq!(top.matches("sf_net_seq_r0 ").count(), 5);
        assert!(!top.contains("top$"));
        let skid = emit(SkidControl::default(), "sf_net_skid");
        assert_eq!(skid.len(), 2);
        assert!(skid[0].1.contains("module sf_net_skid_r0("));
        assert_eq!(skid[1].1.matches("sf_net_skid_r0 ").count(), 2);
    }

    #[test]
    fn identifiers_are_replaced_whole() {
        assert_eq!(
            replace_ident("top top$a stop top_x (top)", "top", "t"),
            "t top$a stop top_x (t)"
        );
        assert_eq!(replace_ident("top$a x$top$a", "top$a", "q"), "q x$top$a");
    }
}
