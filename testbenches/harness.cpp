// Spikeforge generic Verilator harness: drives Spikeforge top levels through their stream
// ports. Every design has the same ports, so one harness serves all. Several designs may be
// simulated in one build (a "batch": the property test runs hundreds of random designs and one
// Verilator build each would take most of the CI budget): a generated wrapper, cosim_batch,
// instantiates each design k as u<k> with its ports renamed d<k>_<port>, and the generated
// header sf_trace.h lists the lanes:
//   SF_LANES(X): X(k, in_bits, out_bits, sample_at_output, cycles_per_step, traces) per design,
//   traces(P):   P(internal bus, bits) per traced node of that design.
//
// Usage: sim SEED BACKPRESSURE STIMULUS_0 TRACE_0 [STIMULUS_1 TRACE_1 ...]
//   STIMULUS: "steps N" then N lines "<last> <hex input beat>".
//   TRACE (written): per timestep "T <hex> <hex> ..." (one per traced bus), and per accepted
//   output beat "O <last> <hex> <latency>", the latency in cycles from the input beat's
//   acceptance to the output beat's tvalid, or "-" when the beat was accepted behind an output
//   that downstream was stalling (it waited in the skid buffer, not in the schedule).
// With BACKPRESSURE=1, tvalid and tready toggle pseudo-randomly to exercise the handshake.
// All lanes share the clock and reset; each has its own stimulus, trace and random stream.
#include "Vdut.h"
#include "Vdut___024root.h"
#include "verilated.h"
#ifdef SF_VCD
#include "verilated_vcd_c.h"
#endif
#include "sf_trace.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

static uint32_t word_of(uint64_t v, int i) { return i < 2 ? (uint32_t)(v >> (32 * i)) : 0u; }
template <std::size_t N> static uint32_t word_of(const VlWide<N>& v, int i) {
    return i < (int)N ? v[i] : 0u;
}

template <typename T> static void put_hex(FILE* f, const T& v, int bits) {
    const int nib = (bits + 3) / 4;
    for (int k = nib - 1; k >= 0; --k) {
        const uint32_t w = word_of(v, k / 8);
        fputc("0123456789abcdef"[(w >> (4 * (k % 8))) & 0xf], f);
    }
}

template <typename T> static void set_words(T& dst, const std::vector<uint32_t>& w) {
    uint64_t v = 0;
    if (w.size() > 0) v |= w[0];
    if (w.size() > 1) v |= (uint64_t)w[1] << 32;
    dst = (T)v;
}
template <std::size_t N> static void set_words(VlWide<N>& dst, const std::vector<uint32_t>& w) {
    for (std::size_t i = 0; i < N; ++i) dst[i] = i < w.size() ? w[i] : 0u;
}

static std::vector<uint32_t> parse_hex(const char* s) {
    std::vector<uint32_t> w;
    const int n = (int)strlen(s);
    for (int i = 0; i < n; ++i) {
        const char c = s[n - 1 - i];
        const uint32_t d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 0;
        if ((size_t)(i / 8) >= w.size()) w.push_back(0);
        w[i / 8] |= d << (4 * (i % 8));
    }
    return w;
}

struct Beat {
    bool last;
    std::vector<uint32_t> data;
};

// One design's stream driver. The port members are bound by reference, so one class serves
// every port width Verilator chooses.
struct Lane {
    virtual ~Lane() {}
    std::vector<Beat> beats;
    FILE* out = nullptr;
    uint64_t rng = 0;
    size_t sent = 0, received = 0;
    std::vector<uint64_t> accepted_at;  // cycle each beat was accepted
    std::vector<bool> unstalled;        // accepted while the output was not stalled
    bool was_valid = false, offer = false;
    uint64_t latency = 0, limit = 0;
    bool done() const { return received >= beats.size(); }
    bool rand_bit() {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        return ((rng >> 33) % 5) != 0;  // 80% high
    }
    virtual void idle() = 0;
    virtual void drive(bool bp) = 0;
    virtual void observe(uint64_t cycle) = 0;
};

template <typename In, typename Out, typename Traces> struct LaneOf : Lane {
    In& tdata;
    CData &tvalid, &tlast, &tready, &mvalid, &mlast, &mready;
    Out& mdata;
    int out_bits;
    bool sample_at_output;
    Traces traces;  // writes " <hex>" per traced bus
    LaneOf(In& td, CData& tv, CData& tl, CData& tr, Out& md, CData& mv, CData& ml, CData& mr,
           int ob, bool at_out, Traces t)
        : tdata(td), tvalid(tv), tlast(tl), tready(tr), mvalid(mv), mlast(ml), mready(mr),
          mdata(md), out_bits(ob), sample_at_output(at_out), traces(t) {}
    void idle() override {
        tvalid = 0;
        mready = 0;
    }
    void drive(bool bp) override {
        offer = sent < beats.size() && (!bp || rand_bit());
        tvalid = offer;
        if (sent < beats.size()) {
            set_words(tdata, beats[sent].data);
            tlast = beats[sent].last;
        } else {
            tlast = 0;
        }
        mready = !bp || rand_bit();
    }
    void observe(uint64_t cycle) override {
        if (mvalid && !was_valid && received < accepted_at.size())
            latency = cycle - accepted_at[received];
        was_valid = mvalid;
        if (mvalid && mready) {
            fprintf(out, "O %d ", (int)mlast);
            put_hex(out, mdata, out_bits);
            if (unstalled[received])
                fprintf(out, " %llu\n", (unsigned long long)latency);
            else
                fputs(" -\n", out);
            was_valid = false;
            ++received;
            // Folded: node registers hold the step's values until the next step starts.
            if (sample_at_output) {
                fputc('T', out);
                traces(out);
                fputc('\n', out);
            }
        }
        if (offer && tready) {
            // Parallel: node values are combinational in the cycle the input is accepted.
            if (!sample_at_output) {
                fputc('T', out);
                traces(out);
                fputc('\n', out);
            }
            accepted_at.push_back(cycle);
            unstalled.push_back(!mvalid || mready);
            ++sent;
        }
    }
};

template <typename In, typename Out, typename Traces>
static Lane* make_lane(In& td, CData& tv, CData& tl, CData& tr, Out& md, CData& mv, CData& ml,
                       CData& mr, int ob, bool at_out, Traces t) {
    return new LaneOf<In, Out, Traces>(td, tv, tl, tr, md, mv, ml, mr, ob, at_out, t);
}

static bool read_stimulus(const char* path, std::vector<Beat>& beats) {
    FILE* in = fopen(path, "r");
    if (!in) return false;
    long steps = 0;
    bool ok = fscanf(in, "steps %ld", &steps) == 1 && steps >= 0;
    static char buf[1 << 16];
    for (long i = 0; ok && i < steps; ++i) {
        int last = 0;
        ok = fscanf(in, "%d %65535s", &last, buf) == 2;
        if (ok) beats.push_back(Beat{last != 0, parse_hex(buf)});
    }
    fclose(in);
    return ok;
}

int main(int argc, char** argv) {
    VerilatedContext ctx;
#ifdef SF_VCD
    ctx.traceEverOn(true);
#endif
    Vdut dut(&ctx);
#ifdef SF_VCD
    // Waveforms (spikeforge cosim --vcd): every signal at every clock edge, to $SF_VCD.
    VerilatedVcdC vcd;
    dut.trace(&vcd, 99);
    vcd.open(getenv("SF_VCD") ? getenv("SF_VCD") : "cosim.vcd");
    uint64_t vcd_time = 0;
#define SF_DUMP() vcd.dump(vcd_time += 5)
#else
#define SF_DUMP()
#endif
    std::vector<Lane*> lanes;
    std::vector<uint64_t> cycles_per_step;
#define SF_PUT(expr, bits) fputc(' ', f); put_hex(f, dut.rootp->expr, bits);
#define SF_LANE(k, in_bits, out_bits, at_out, cps, traces)                                    \
    lanes.push_back(make_lane(dut.d##k##_s_axis_tdata, dut.d##k##_s_axis_tvalid,              \
                              dut.d##k##_s_axis_tlast, dut.d##k##_s_axis_tready,              \
                              dut.d##k##_m_axis_tdata, dut.d##k##_m_axis_tvalid,              \
                              dut.d##k##_m_axis_tlast, dut.d##k##_m_axis_tready, out_bits,    \
                              at_out, [&dut](FILE* f) { traces(SF_PUT) }));                   \
    cycles_per_step.push_back(cps);
    SF_LANES(SF_LANE)
#undef SF_LANE
#undef SF_PUT
    const int n = (int)lanes.size();
    if (argc != 3 + 2 * n) {
        fprintf(stderr, "usage: %s SEED BACKPRESSURE then STIMULUS TRACE for each of %d designs\n",
                argv[0], n);
        return 2;
    }
    const uint64_t seed = strtoull(argv[1], nullptr, 10);
    const bool bp = atoi(argv[2]) != 0;
    for (int k = 0; k < n; ++k) {
        Lane& L = *lanes[k];
        if (!read_stimulus(argv[3 + 2 * k], L.beats)) {
            fprintf(stderr, "design %d: cannot read stimulus %s\n", k, argv[3 + 2 * k]);
            return 2;
        }
        L.out = fopen(argv[4 + 2 * k], "w");
        if (!L.out) {
            fprintf(stderr, "design %d: cannot write trace %s\n", k, argv[4 + 2 * k]);
            return 2;
        }
        L.rng = (seed + (uint64_t)k) * 2862933555777941757ull + 3037000493ull;
        // Folded designs take cycles_per_step cycles a step; stalls at most double that.
        L.limit = 64 + (8ull + 2ull * cycles_per_step[k]) * (uint64_t)L.beats.size();
    }
    dut.clk = 0;
    dut.rst = 1;
    for (Lane* L : lanes) L->idle();
    for (int i = 0; i < 4; ++i) {
        dut.clk = !dut.clk;
        dut.eval();
        SF_DUMP();
    }
    dut.rst = 0;
    for (uint64_t cycle = 0;; ++cycle) {
        bool running = false;
        for (Lane* L : lanes) {
            const bool on = !L->done() && cycle < L->limit;
            running |= on;
            if (on)
                L->drive(bp);
            else
                L->idle();
        }
        if (!running) break;
        dut.clk = 0;
        dut.eval();
        SF_DUMP();
        for (Lane* L : lanes)
            if (!L->done() && cycle < L->limit) L->observe(cycle);
        dut.clk = 1;
        dut.eval();
        SF_DUMP();
    }
    dut.final();
#ifdef SF_VCD
    vcd.close();
#endif
    int status = 0;
    for (int k = 0; k < n; ++k) {
        fclose(lanes[k]->out);
        if (!lanes[k]->done()) {
            fprintf(stderr, "design %d: timeout: %zu of %zu output beats\n", k,
                    lanes[k]->received, lanes[k]->beats.size());
            status = 3;
        }
        delete lanes[k];
    }
    return status;
}
