{#- A folded neuron layer (included by neuron.v when the layer is folded). #}
// {{ header }}
// Folded spike-addition core{% if fd.event.is_some() %}, event-driven (only inputs that spiked cost a cycle){% endif %}: {{ fd.lanes }} lanes (output channels) share one input read per
// cycle. For each output position and group of {{ fd.lanes }} channels the core walks every
// kernel tap of every synapse, adding each lane's weight when the tapped input spiked (a
// conditional add, no multiplier), then updates those {{ fd.lanes }} neurons from state RAM.
// One timestep: `start` .. `done`, {% if fd.event.is_some() %}at most {% endif %}{{ fd.cycles }} cycles. `clear` makes the next timestep start
// from zero state (end of sample). All update arithmetic is in WB-bit two's complement.
`default_nettype none
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire start,
    input  wire clear,
{%- for s in fd.syns %}
    input  wire [{{ s.n_in }}-1:0] x{{ s.k }},
{%- endfor %}
    // y: outputs in IR order (channel-major), updated as the timestep ends; y_hw: the same
    // values in hardware order (position-major), for folded layers downstream.
    output reg  [{{ y_bits }}-1:0] y,
    output wire [{{ y_bits }}-1:0] y_hw,
    output reg  done
);
    localparam integer N  = {{ n }};
    localparam integer L  = {{ fd.lanes }};  // lanes: output channels per block
    localparam integer CO = {{ fd.co }};  // output channels
    localparam integer P  = {{ fd.positions }};  // output positions per channel
    localparam integer B  = {{ fd.blocks }};  // blocks of L neurons: P * CO / L
    localparam integer AB = {{ fd.ab }};  // accumulator bits
{%- include "neuron_params.v" %}

    localparam [1:0] S_IDLE = 2'd0, S_RUN = 2'd1, S_WAIT = 2'd2, S_UPD = 2'd3;
    reg [1:0] st;
    // State reads as zero for a whole timestep after reset or the end of a sample.
    reg fresh;
    reg [{{ fd.blk_bits }}-1:0] blk;
    reg [{{ fd.grp_bits }}-1:0] grp;
    reg [{{ fd.oy_bits }}-1:0] oy;
    reg [{{ fd.ox_bits }}-1:0] ox;
    reg [{{ fd.syn_bits }}-1:0] syn;
    wire last_grp = grp == {{ fd.grp_bits }}'d{{ fd.groups - 1 }};
    wire last_ox = ox == {{ fd.ox_bits }}'d{{ fd.ow - 1 }};
    wire last_oy = oy == {{ fd.oy_bits }}'d{{ fd.oh - 1 }};
    wire last_blk = last_grp & last_ox & last_oy;
    wire advance = st == S_UPD;
    // Position advance: next group, else next column, else next row.
    wire next_ox = advance & last_grp;
    wire next_oy = next_ox & last_ox;
{%- if let Some(sc) = fd.scatter %}
{%- for s in fd.syns %}
    // Synapse {{ s.k }}: {{ s.doc }}
    // Event-driven convolution. Scatter phase: each input that spiked is taken from the pending
    // queue (lowest index first); then its {{ sc.kh }}x{{ sc.kw }} kernel taps and {{ fd.groups }} channel
    // group(s) are walked, one a cycle, adding the L lanes' weights to the partial sums of the
    // output each tap reaches. The block walk then reads each block's sums once.
    reg  sc_on, sc_walk, sc_done, fst;
    reg  [{{ sc.n_in }}-1:0] pend;
    wire [{{ sc.n_in }}-1:0] cur = fst ? x{{ s.k }} : pend;
    wire [{{ sc.n_in }}-1:0] low = cur & (~cur + {{ sc.n_in }}'d1);
    wire take = sc_on & ~sc_walk & |cur;
    // The taken input's channel, row and column: bit i ORs the one-hot bits whose field has it.
    wire [{{ sc.c_bits }}-1:0] sc_c;
    wire [{{ sc.y_bits }}-1:0] sc_y;
    wire [{{ sc.x_bits }}-1:0] sc_x;
{%- for m in sc.c_masks %}
    assign sc_c[{{ loop.index0 }}] = |(low & {{ m }});
{%- endfor %}
{%- for m in sc.y_masks %}
    assign sc_y[{{ loop.index0 }}] = |(low & {{ m }});
{%- endfor %}
{%- for m in sc.x_masks %}
    assign sc_x[{{ loop.index0 }}] = |(low & {{ m }});
{%- endfor %}
    reg  [{{ sc.y_bits }}-1:0] sy_r;
    reg  [{{ sc.x_bits }}-1:0] sx_r;
    reg  [{{ sc.ky_bits }}-1:0] ky;
    reg  [{{ sc.kx_bits }}-1:0] kx;
    reg  [{{ fd.grp_bits }}-1:0] sg;
    wire sg_end = sg == {{ fd.grp_bits }}'d{{ fd.groups - 1 }};
    wire kx_end = kx == {{ sc.kx_bits }}'d{{ sc.kw - 1 }};
    wire ky_end = ky == {{ sc.ky_bits }}'d{{ sc.kh - 1 }};
    always @(posedge clk) begin
        sc_done <= 1'b0;
        if (rst) begin
            sc_on <= 1'b0;
            sc_walk <= 1'b0;
            fst <= 1'b0;
        end else if (start) begin
            sc_on <= 1'b1;
            sc_walk <= 1'b0;
            fst <= 1'b1;
        end else if (take) begin
            pend <= cur & ~low;
            fst <= 1'b0;
            sc_walk <= 1'b1;
            sy_r <= sc_y;
            sx_r <= sc_x;
            ky <= {{ sc.ky_bits }}'d0;
            kx <= {{ sc.kx_bits }}'d0;
            sg <= {{ fd.grp_bits }}'d0;
        end else if (sc_walk) begin
            sg <= sg_end ? {{ fd.grp_bits }}'d0 : sg + {{ fd.grp_bits }}'d1;
            if (sg_end) begin
                kx <= kx_end ? {{ sc.kx_bits }}'d0 : kx + {{ sc.kx_bits }}'d1;
                if (kx_end) ky <= ky + {{ sc.ky_bits }}'d1;
            end
            if (sg_end && kx_end && ky_end) sc_walk <= 1'b0;
        end else if (sc_on) begin
            // Nothing pending: the last sum is written this cycle; the block walk may start.
            sc_on <= 1'b0;
            sc_done <= 1'b1;
        end
    end
    // Where the tap lands: output row (times the output width) and column, if anywhere.
    reg vy, vx;
    reg [{{ sc.pos_bits }}-1:0] rowbase, colo;
    always @(*)
        case ({sy_r, ky})
{%- for r in sc.rows %}
            {{ r.0 }}: begin vy = 1'b1; rowbase = {{ r.1 }}; end
{%- endfor %}
            default: begin vy = 1'b0; rowbase = {{ sc.pos_bits }}'d0; end
        endcase
    always @(*)
        case ({sx_r, kx})
{%- for c in sc.cols %}
            {{ c.0 }}: begin vx = 1'b1; colo = {{ c.1 }}; end
{%- endfor %}
            default: begin vx = 1'b0; colo = {{ sc.pos_bits }}'d0; end
        endcase
    wire [{{ sc.pos_bits }}-1:0] sc_pos = rowbase + colo;
    // Weights: words ordered (channel, ky, kx, group), so a spike's walk reads consecutive
    // words from its channel's first.
    reg  [{{ sc.wa_bits }}-1:0] wbase;
    always @(*)
        case (sc_c)
{%- for b in sc.wbase %}
            {{ sc.c_bits }}'d{{ loop.index0 }}: wbase = {{ b }};
{%- endfor %}
            default: wbase = {{ sc.wa_bits }}'d0;
        endcase
    reg  [{{ sc.wa_bits }}-1:0] wa{{ s.k }};
    always @(posedge clk)
        if (take) wa{{ s.k }} <= wbase;
        else if (sc_walk) wa{{ s.k }} <= wa{{ s.k }} + {{ sc.wa_bits }}'d1;
{%- endfor %}
    // Partial sums, L lanes a word, addressed {position, group}: written by the scatter walk
    // (read, add, write back a cycle later; a spike's taps never revisit a word, and takes
    // separate spikes), read and emptied by the block walk. A word not written since it was
    // last emptied reads as zero.
    reg  [{{ sc.pos_bits }}-1:0] pos;
    always @(posedge clk)
        if (st == S_IDLE) pos <= {{ sc.pos_bits }}'d0;
        else if (next_ox) pos <= pos + {{ sc.pos_bits }}'d1;
    wire [{{ sc.am_bits }}-1:0] am_ra = sc_walk ? {sc_pos, sg} : {pos, grp};
    reg  [{{ sc.am_bits }}-1:0] am_wa;
    reg  am_we, am_ok_q;
    reg  [(1<<{{ sc.am_bits }})-1:0] am_ok;
    {{ fd.ram_attr }}reg [L*AB-1:0] am [0:(1<<{{ sc.am_bits }})-1];
    reg  [L*AB-1:0] am_rd;
    wire [L*AB-1:0] am_q = am_ok_q ? am_rd : {(L*AB){1'b0}};
    wire [L*AB-1:0] am_sum;
    genvar sl;
    generate
        for (sl = 0; sl < L; sl = sl + 1) begin : g_sum
            assign am_sum[sl*AB +: AB] = am_q[sl*AB +: AB] + {{ fd.scatter_w }};
        end
    endgenerate
    always @(posedge clk) begin
        am_we <= ~rst & sc_walk & vy & vx;
        am_wa <= am_ra;
        am_rd <= am[am_ra];
        if (am_we) am[am_wa] <= am_sum;
    end
    always @(posedge clk) begin
        am_ok_q <= am_ok[am_ra];
        if (rst) am_ok <= {(1<<{{ sc.am_bits }}){1'b0}};
        else if (am_we) am_ok[am_wa] <= 1'b1;
        else if (st == S_RUN) am_ok[am_ra] <= 1'b0;
    end
{%- else if let Some(ev) = fd.event %}
{%- for s in fd.syns %}
    // Synapse {{ s.k }}: {{ s.doc }}
    // Event-driven walk: each cycle visits the lowest input that spiked and has not been
    // visited in this block (one weight read per spike); a synapse without spikes makes one
    // empty visit.
    wire on{{ s.k }} = st == S_RUN && syn == {{ fd.syn_bits }}'d{{ s.k }};
    reg  fst{{ s.k }};
    reg  [{{ s.n_in }}-1:0] pend{{ s.k }};
    wire [{{ s.n_in }}-1:0] cur{{ s.k }} = fst{{ s.k }} ? x{{ s.k }} : pend{{ s.k }};
    wire [{{ s.n_in }}-1:0] low{{ s.k }} = cur{{ s.k }} & (~cur{{ s.k }} + {{ s.n_in }}'d1);
    wire tap_end{{ s.k }} = ~|(cur{{ s.k }} & ~low{{ s.k }});
    wire bit{{ s.k }} = |cur{{ s.k }};
    // The visited input's index: its bit i ORs the one-hot bits whose index has bit i set.
    wire [{{ s.idx_bits }}-1:0] at{{ s.k }};
{%- for m in ev.masks[s.k] %}
    assign at{{ s.k }}[{{ loop.index0 }}] = |(low{{ s.k }} & {{ m }});
{%- endfor %}
    always @(posedge clk) begin
        if (st == S_IDLE || advance) begin
            fst{{ s.k }} <= 1'b1;
        end else if (on{{ s.k }}) begin
            fst{{ s.k }} <= 1'b0;
            pend{{ s.k }} <= cur{{ s.k }} & ~low{{ s.k }};
        end
    end
    // Weights: word grp * {{ s.taps }} + input holds the L lanes' weights of that input; the
    // group's first word advances by {{ s.taps }} with the group (an add, not a multiply).
    reg  [{{ s.wa_bits }}-1:0] wbase{{ s.k }};
    always @(posedge clk)
        if (st == S_IDLE || (advance && last_grp)) wbase{{ s.k }} <= {{ s.wa_bits }}'d0;
{%- if fd.groups > 1 %}
        else if (advance) wbase{{ s.k }} <= wbase{{ s.k }} + {{ s.wa_bits }}'d{{ s.taps }};
{%- endif %}
    wire [{{ s.wa_bits }}-1:0] wa{{ s.k }} = wbase{{ s.k }} + {{ fd.at_ext[s.k] }};
{%- endfor %}
{%- else %}
{% for s in fd.syns %}
    // Synapse {{ s.k }}: {{ s.doc }}
    localparam integer AW{{ s.k }} = {{ s.aw }};
    reg  [{{ s.cl_bits }}-1:0] cl{{ s.k }};
    reg  [{{ s.ky_bits }}-1:0] ky{{ s.k }};
    reg  [{{ s.kx_bits }}-1:0] kx{{ s.k }};
    reg  [{{ s.wa_bits }}-1:0] wa{{ s.k }};
    // Window origin of the current position (oy*stride - padding) and the tap's offset in it.
    reg  signed [AW{{ s.k }}-1:0] by{{ s.k }}, bx{{ s.k }}, dy{{ s.k }}, dx{{ s.k }};
    wire on{{ s.k }} = st == S_RUN && syn == {{ fd.syn_bits }}'d{{ s.k }};
    wire kx_end{{ s.k }} = kx{{ s.k }} == {{ s.kx_bits }}'d{{ s.kw - 1 }};
    wire ky_end{{ s.k }} = ky{{ s.k }} == {{ s.ky_bits }}'d{{ s.kh - 1 }};
    wire cl_end{{ s.k }} = cl{{ s.k }} == {{ s.cl_bits }}'d{{ s.cig - 1 }};
    wire tap_end{{ s.k }} = kx_end{{ s.k }} & ky_end{{ s.k }} & cl_end{{ s.k }};
    wire signed [AW{{ s.k }}-1:0] iy{{ s.k }} = by{{ s.k }} + dy{{ s.k }};
    wire signed [AW{{ s.k }}-1:0] ix{{ s.k }} = bx{{ s.k }} + dx{{ s.k }};
{%- if let Some(bases) = s.cbase %}
    // First input channel of each block's convolution group.
    reg signed [AW{{ s.k }}-1:0] cbase{{ s.k }};
    always @(*)
        case (grp)
{%- for b in bases %}
            {{ fd.grp_bits }}'d{{ loop.index0 }}: cbase{{ s.k }} = {{ b }};
{%- endfor %}
            default: cbase{{ s.k }} = {{ s.zero }};
        endcase
    wire signed [AW{{ s.k }}-1:0] ch{{ s.k }} = cbase{{ s.k }} + $signed({ {(AW{{ s.k }}-{{ s.cl_bits }}){1'b0}}, cl{{ s.k }} });
{%- else %}
    wire signed [AW{{ s.k }}-1:0] ch{{ s.k }} = $signed({ {(AW{{ s.k }}-{{ s.cl_bits }}){1'b0}}, cl{{ s.k }} });
{%- endif %}
    wire in{{ s.k }} = iy{{ s.k }} >= {{ s.zero }} && iy{{ s.k }} < {{ s.h_lit }}
                   && ix{{ s.k }} >= {{ s.zero }} && ix{{ s.k }} < {{ s.w_lit }};
    // Index of the tapped input in its bus ({{ s.layout }}).
    wire signed [AW{{ s.k }}-1:0] flat{{ s.k }} = {{ s.flat }};
    wire [AW{{ s.k }}-{{ s.idx_bits }}-1:0] unused_flat{{ s.k }} = flat{{ s.k }}[AW{{ s.k }}-1:{{ s.idx_bits }}];
    wire bit{{ s.k }} = in{{ s.k }} & x{{ s.k }}[flat{{ s.k }}[{{ s.idx_bits }}-1:0]];
    always @(posedge clk) begin
        if (st == S_IDLE || advance) begin
            cl{{ s.k }} <= {{ s.cl_bits }}'d0;
            ky{{ s.k }} <= {{ s.ky_bits }}'d0;
            kx{{ s.k }} <= {{ s.kx_bits }}'d0;
            dy{{ s.k }} <= {{ s.zero }};
            dx{{ s.k }} <= {{ s.zero }};
        end else if (on{{ s.k }}) begin
            kx{{ s.k }} <= kx_end{{ s.k }} ? {{ s.kx_bits }}'d0 : kx{{ s.k }} + {{ s.kx_bits }}'d1;
            dx{{ s.k }} <= kx_end{{ s.k }} ? {{ s.zero }} : dx{{ s.k }} + {{ s.dx_lit }};
            if (kx_end{{ s.k }}) begin
                ky{{ s.k }} <= ky_end{{ s.k }} ? {{ s.ky_bits }}'d0 : ky{{ s.k }} + {{ s.ky_bits }}'d1;
                dy{{ s.k }} <= ky_end{{ s.k }} ? {{ s.zero }} : dy{{ s.k }} + {{ s.dy_lit }};
                if (ky_end{{ s.k }})
                    cl{{ s.k }} <= cl_end{{ s.k }} ? {{ s.cl_bits }}'d0 : cl{{ s.k }} + {{ s.cl_bits }}'d1;
            end
        end
        // The weight address runs through the groups of one position, then restarts.
        if (st == S_IDLE || (advance && last_grp))
            wa{{ s.k }} <= {{ s.wa_bits }}'d0;
        else if (on{{ s.k }})
            wa{{ s.k }} <= wa{{ s.k }} + {{ s.wa_bits }}'d1;
        if (st == S_IDLE || (next_oy && last_oy))
            by{{ s.k }} <= {{ s.by0 }};
        else if (next_oy)
            by{{ s.k }} <= by{{ s.k }} + {{ s.sy_lit }};
        if (st == S_IDLE || next_oy)
            bx{{ s.k }} <= {{ s.bx0 }};
        else if (next_ox)
            bx{{ s.k }} <= bx{{ s.k }} + {{ s.sx_lit }};
    end
{% endfor %}
{%- endif %}
{%- for s in fd.syns %}
    // Synapse {{ s.k }}'s weights: word grp * {{ s.taps }} + tap holds the L lanes' weights of
    // that tap (read at address wa{{ s.k }}).
    reg [{{ s.word_bits }}-1:0] w{{ s.k }};
    always @(posedge clk) begin
        {{ s.rom_attr }}case (wa{{ s.k }})
{%- for w in s.words %}
            {{ s.wa_bits }}'d{{ loop.index0 }}: w{{ s.k }} <= {{ w }};
{%- endfor %}
            default: w{{ s.k }} <= {{ s.word_bits }}'d0;
        endcase
    end
{%- endfor %}
    // Tap in flight: did its input spike, which synapse, is it the block's first.
    reg hit_q, first_q, busy_q;
{%- if fd.syns.len() > 1 %}
    reg [{{ fd.syn_bits }}-1:0] syn_q;
{%- endif %}
    wire tap_end = {{ fd.tap_end }};
    wire syn_last = syn == {{ fd.syn_bits }}'d{{ fd.syns.len() - 1 }};
    wire first_tap = {{ fd.first_tap }};
    always @(posedge clk) begin
        hit_q <= {{ fd.hit }};
{%- if fd.syns.len() > 1 %}
        syn_q <= syn;
{%- endif %}
        first_q <= st == S_RUN && first_tap;
        busy_q <= st == S_RUN;
    end

    always @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            st <= S_IDLE;
            fresh <= 1'b1;
        end else begin
            if (clear) fresh <= 1'b1;
            case (st)
                S_IDLE: if ({{ fd.run_when }}) st <= S_RUN;
                S_RUN: if (tap_end && syn_last) st <= S_WAIT;
                S_WAIT: st <= S_UPD;
                default: begin
                    if (last_blk) begin
                        st <= S_IDLE;
                        done <= 1'b1;
                        fresh <= 1'b0;
                    end else begin
                        st <= S_RUN;
                    end
                end
            endcase
        end
        if (st == S_IDLE) begin
            syn <= {{ fd.syn_bits }}'d0;
            grp <= {{ fd.grp_bits }}'d0;
            ox <= {{ fd.ox_bits }}'d0;
            oy <= {{ fd.oy_bits }}'d0;
            blk <= {{ fd.blk_bits }}'d0;
        end else if (st == S_RUN) begin
            if (tap_end && !syn_last) syn <= syn + {{ fd.syn_bits }}'d1;
        end else if (advance) begin
            syn <= {{ fd.syn_bits }}'d0;
            grp <= last_grp ? {{ fd.grp_bits }}'d0 : grp + {{ fd.grp_bits }}'d1;
            if (next_ox) ox <= last_ox ? {{ fd.ox_bits }}'d0 : ox + {{ fd.ox_bits }}'d1;
            if (next_oy) oy <= last_oy ? {{ fd.oy_bits }}'d0 : oy + {{ fd.oy_bits }}'d1;
            blk <= last_blk ? {{ fd.blk_bits }}'d0 : blk + {{ fd.blk_bits }}'d1;
        end
    end

    // Neuron state of the block, one word of L lanes.
    {{ fd.ram_attr }}reg [L*VB-1:0] vmem [0:B-1];
    reg [L*VB-1:0] v_rd;
    wire [L*VB-1:0] v_wr;
    always @(posedge clk) begin
        if (advance) vmem[blk] <= v_wr;
        v_rd <= vmem[blk];
    end
{%- if cuba %}
    {{ fd.ram_attr }}reg [L*SB-1:0] smem [0:B-1];
    reg [L*SB-1:0] s_rd;
    wire [L*SB-1:0] s_wr;
    always @(posedge clk) begin
        if (advance) smem[blk] <= s_wr;
        s_rd <= smem[blk];
    end
{%- endif %}
    // Outputs in hardware order (position-major, then channel), written a block at a time.
{%- if spikes %}
    reg [N-1:0] y_r;
    wire [L-1:0] fire_w;
{%- else %}
    reg [N*VB-1:0] y_r;
{%- endif %}
    assign y_hw = y_r;
    // One write enable per block word (a decoder, cheaper than a variable part-select).
    genvar b;
    generate
        for (b = 0; b < B; b = b + 1) begin : g_word
            always @(posedge clk)
{%- if spikes %}
                if (rst) y_r[b*L +: L] <= {L{1'b0}};
                else if (advance && blk == b) y_r[b*L +: L] <= fire_w;
{%- else %}
                if (rst) y_r[b*L*VB +: L*VB] <= {(L*VB){1'b0}};
                else if (advance && blk == b) y_r[b*L*VB +: L*VB] <= v_wr;
{%- endif %}
        end
    endgenerate

    genvar l;
    generate
        for (l = 0; l < L; l = l + 1) begin : g_lane
{%- if !fd.tables.is_empty() %}
            localparam integer LANE = l;
{%- endif %}
{%- for t in fd.tables %}
            // {{ t.param }} of this lane's channel (block group grp, lane LANE): a case table,
            // far smaller than a variable part-select of the packed parameter.
            reg signed [{{ t.width }}-1:0] {{ t.wire }};
            always @(*)
                case (grp)
{%- for gi in fd.group_ids %}
                    {{ fd.grp_bits }}'d{{ gi }}: {{ t.wire }} = $signed({{ t.param }}[({{ gi }}*L + LANE)*{{ t.width }} +: {{ t.width }}]);
{%- endfor %}
                    default: {{ t.wire }} = {({{ t.width }}){1'b0}};
                endcase
{%- endfor %}
            wire signed [AB-1:0] w_l = {{ fd.lane_weight }};
            reg  signed [AB-1:0] acc;
            always @(posedge clk)
                if (busy_q) acc <= (first_q ? {{ fd.acc_init }} : acc) + (hit_q ? w_l : {AB{1'b0}});
            wire signed [WB-1:0] x_w = { {(WB-AB){acc[AB-1]}}, acc };
{%- if cuba %}
            wire signed [SB-1:0] s_q = fresh ? {SB{1'b0}} : s_rd[l*SB +: SB];
{%- endif %}
            wire signed [VB-1:0] v_q = fresh ? {VB{1'b0}} : v_rd[l*VB +: VB];
{%- include "neuron_update.v" %}
{%- if cuba %}
            assign s_wr[l*SB +: SB] = s_new[SB-1:0];
{%- endif %}
            assign v_wr[l*VB +: VB] = v_new[VB-1:0];
{%- if spikes %}
            assign fire_w[l] = fire;
{%- endif %}
        end
    endgenerate

    // IR order (channel-major) from hardware order, copied once the timestep is done.
    integer c, q;
    always @(posedge clk)
        if (rst) y <= {{ y_bits }}'d0;
        else if (done)
            for (c = 0; c < CO; c = c + 1)
                for (q = 0; q < P; q = q + 1)
{%- if spikes %}
                    y[c*P + q] <= y_r[q*CO + c];
{%- else %}
                    y[(c*P + q)*VB +: VB] <= y_r[(q*CO + c)*VB +: VB];
{%- endif %}
endmodule
`default_nettype wire
