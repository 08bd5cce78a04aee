// Spikeforge generic Verilator harness: drives any Spikeforge top level through its stream
// ports. Every design has the same ports, so one harness serves all; the per-design header
// sf_trace.h names the internal node buses to record (SF_TRACES) and SF_IN_BITS/SF_OUT_BITS.
//
// Usage: sim STIMULUS TRACE SEED BACKPRESSURE
//   STIMULUS: "steps N" then N lines "<last> <hex input beat>".
//   TRACE (written): per timestep "T <hex> <hex> ..." (one per traced bus), and per accepted
//   output beat "O <last> <hex> <latency>", the latency in cycles from the input beat's
//   acceptance to the output beat's tvalid, or "-" when the beat was accepted behind an output
//   that downstream was stalling (it waited in the skid buffer, not in the schedule).
// With BACKPRESSURE=1, tvalid and tready toggle pseudo-randomly to exercise the handshake.
#include "Vdut.h"
#include "Vdut___024root.h"
#include "verilated.h"
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

int main(int argc, char** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s STIMULUS TRACE SEED BACKPRESSURE\n", argv[0]);
        return 2;
    }
    FILE* in = fopen(argv[1], "r");
    FILE* out = fopen(argv[2], "w");
    if (!in || !out) {
        fprintf(stderr, "cannot open stimulus or trace file\n");
        return 2;
    }
    uint64_t rng = strtoull(argv[3], nullptr, 10) * 2862933555777941757ull + 3037000493ull;
    const bool bp = atoi(argv[4]) != 0;
    long steps = 0;
    if (fscanf(in, "steps %ld", &steps) != 1 || steps < 0) {
        fprintf(stderr, "bad stimulus header\n");
        return 2;
    }
    std::vector<Beat> beats;
    static char buf[1 << 16];
    for (long i = 0; i < steps; ++i) {
        int last = 0;
        if (fscanf(in, "%d %65535s", &last, buf) != 2) {
            fprintf(stderr, "bad stimulus line %ld\n", i + 2);
            return 2;
        }
        beats.push_back(Beat{last != 0, parse_hex(buf)});
    }
    fclose(in);

    VerilatedContext ctx;
    Vdut dut(&ctx);
    auto rand_bit = [&]() {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        return ((rng >> 33) % 5) != 0;  // 80% high
    };
    dut.clk = 0;
    dut.rst = 1;
    dut.s_axis_tvalid = 0;
    dut.m_axis_tready = 0;
    for (int i = 0; i < 4; ++i) {
        dut.clk = !dut.clk;
        dut.eval();
    }
    dut.rst = 0;
    size_t sent = 0, received = 0;
    // Latency of each beat: cycles from its acceptance to its output becoming valid.
    std::vector<uint64_t> accepted_at;
    std::vector<bool> unstalled;
    bool was_valid = false;
    uint64_t latency = 0;
    // Folded designs take SF_CYCLES_PER_STEP cycles a step; stalls at most double that.
    const uint64_t limit = 64 + (8ull + 2ull * SF_CYCLES_PER_STEP) * (uint64_t)beats.size();
    for (uint64_t cycle = 0; received < beats.size() && cycle < limit; ++cycle) {
        dut.clk = 0;
        const bool offer = sent < beats.size() && (!bp || rand_bit());
        dut.s_axis_tvalid = offer;
        if (sent < beats.size()) {
            set_words(dut.s_axis_tdata, beats[sent].data);
            dut.s_axis_tlast = beats[sent].last;
        } else {
            dut.s_axis_tlast = 0;
        }
        dut.m_axis_tready = !bp || rand_bit();
        dut.eval();
        if (dut.m_axis_tvalid && !was_valid && received < accepted_at.size())
            latency = cycle - accepted_at[received];
        was_valid = dut.m_axis_tvalid;
#define SF_PUT(expr, bits) fputc(' ', out); put_hex(out, dut.rootp->expr, bits);
        if (dut.m_axis_tvalid && dut.m_axis_tready) {
            fprintf(out, "O %d ", (int)dut.m_axis_tlast);
            put_hex(out, dut.m_axis_tdata, SF_OUT_BITS);
            if (unstalled[received])
                fprintf(out, " %llu\n", (unsigned long long)latency);
            else
                fputs(" -\n", out);
            was_valid = false;
            ++received;
#if SF_SAMPLE_AT_OUTPUT
            // Folded: node registers hold the step's values until the next step starts.
            fputc('T', out);
            SF_TRACES(SF_PUT)
            fputc('\n', out);
#endif
        }
        if (offer && dut.s_axis_tready) {
#if !SF_SAMPLE_AT_OUTPUT
            // Parallel: node values are combinational in the cycle the input is accepted.
            fputc('T', out);
            SF_TRACES(SF_PUT)
            fputc('\n', out);
#endif
            accepted_at.push_back(cycle);
            unstalled.push_back(!dut.m_axis_tvalid || dut.m_axis_tready);
            ++sent;
        }
#undef SF_PUT
        dut.clk = 1;
        dut.eval();
    }
    dut.final();
    fclose(out);
    if (received != beats.size()) {
        fprintf(stderr, "timeout: %zu of %zu output beats\n", received, beats.size());
        return 3;
    }
    return 0;
}
