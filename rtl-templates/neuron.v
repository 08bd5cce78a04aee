// {{ header }}
// One timestep per `step`; `clear` (with step) zeroes the state after this step (end of sample).
// All arithmetic is in WB-bit two's complement, wide enough that nothing wraps; `>>>` floors.
`default_nettype none
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire step,
    input  wire clear,
    input  wire [{{ x_bits }}-1:0] x,
    output wire [{{ y_bits }}-1:0] y
);
    localparam integer N  = {{ n }};
    localparam integer XB = {{ xb }};  // input bits
    localparam integer VB = {{ vb }};  // membrane state bits
{%- if cuba %}
    localparam integer SB = {{ sb }};  // synaptic current state bits
{%- endif %}
    localparam integer WB = {{ wb }};  // width of the update's sums
{%- if uses_f %}
    localparam integer PW = {{ pw }};  // width of the leak's products
    localparam integer F  = {{ f }};  // fraction bits of the leak constants
{%- endif %}
{%- for p in params %}
    localparam [{{ p.bits }}-1:0] {{ p.name }} = {{ p.value }};  // {{ p.doc }}
{%- endfor %}
{%- if saturate %}
    localparam signed [WB-1:0] VMAX = {{ vmax }};
    localparam signed [WB-1:0] VMIN = {{ vmin }};
{%- if cuba %}
    localparam signed [WB-1:0] SMAX = {{ smax }};
    localparam signed [WB-1:0] SMIN = {{ smin }};
{%- endif %}
{%- endif %}

    genvar j;
    generate
        for (j = 0; j < N; j = j + 1) begin : g_neuron
            wire signed [WB-1:0] x_w = { {(WB-XB){x[j*XB + XB-1]}}, x[j*XB +: XB] };
{%- if cuba %}
            reg  signed [SB-1:0] s_q;
            wire signed [WB-1:0] s_w = { {(WB-SB){s_q[SB-1]}}, s_q };
            // {{ syn_decay_doc }}
{%- if syn_lost.is_empty() %}
            wire signed [WB-1:0] s_nxt = s_w + x_w;
{%- else %}
            wire signed [PW-1:0] s_p = { {(PW-SB){s_q[SB-1]}}, s_q };
            wire signed [PW-1:0] s_lost_p = {{ syn_lost }};
            wire [PW-WB-1:0] unused_s_lost = s_lost_p[PW-1:WB];
            wire signed [WB-1:0] s_nxt = s_w - s_lost_p[WB-1:0] + x_w;
{%- endif %}
{%- if saturate %}
            wire signed [WB-1:0] s_new = (s_nxt > SMAX) ? SMAX : (s_nxt < SMIN) ? SMIN : s_nxt;
{%- else %}
            wire signed [WB-1:0] s_new = s_nxt;
{%- endif %}
            wire [WB-SB-1:0] unused_s_hi = s_new[WB-1:SB];
            always @(posedge clk)
                if (rst) s_q <= {SB{1'b0}};
                else if (step) s_q <= clear ? {SB{1'b0}} : s_new[SB-1:0];
            wire signed [WB-1:0] u_w = s_new;
{%- else %}
            wire signed [WB-1:0] u_w = x_w;
{%- endif %}
            reg  signed [VB-1:0] v_q;
            wire signed [WB-1:0] v_w = { {(WB-VB){v_q[VB-1]}}, v_q };
            // {{ mem_decay_doc }}
{%- if mem_lost.is_empty() %}
            wire signed [WB-1:0] pre_int = v_w + u_w + $signed(BIAS[j*WB +: WB]);
{%- else %}
            wire signed [PW-1:0] v_p = { {(PW-VB){v_q[VB-1]}}, v_q };
            wire signed [PW-1:0] v_lost_p = {{ mem_lost }};
            wire [PW-WB-1:0] unused_v_lost = v_lost_p[PW-1:WB];
            wire signed [WB-1:0] pre_int = v_w - v_lost_p[WB-1:0] + u_w + $signed(BIAS[j*WB +: WB]);
{%- endif %}
{%- if spikes %}
            wire signed [WB-1:0] th = $signed(THRESHOLD[j*WB +: WB]);
{%- if reset_next %}
            // Delayed reset (snnTorch): a spike in the previous step, visible in the stored
            // membrane, resets this step after integration.
            wire fired_before = v_w {{ cmp }} th;
{%- if reset_zero %}
            wire signed [WB-1:0] pre = fired_before ? $signed(V_RESET[j*WB +: WB]) : pre_int;
{%- else %}
            wire signed [WB-1:0] pre = fired_before ? pre_int - th : pre_int;
{%- endif %}
{%- else %}
            wire signed [WB-1:0] pre = pre_int;
{%- endif %}
            wire fire = pre {{ cmp }} th;
{%- if reset_next %}
            wire signed [WB-1:0] v_nxt = pre;
{%- else if reset_zero %}
            wire signed [WB-1:0] v_nxt = fire ? $signed(V_RESET[j*WB +: WB]) : pre;
{%- else %}
            wire signed [WB-1:0] v_nxt = fire ? pre - th : pre;
{%- endif %}
            assign y[j] = fire;
{%- else %}
            wire signed [WB-1:0] v_nxt = pre_int;
{%- endif %}
{%- if saturate %}
            wire signed [WB-1:0] v_new = (v_nxt > VMAX) ? VMAX : (v_nxt < VMIN) ? VMIN : v_nxt;
{%- else %}
            wire signed [WB-1:0] v_new = v_nxt;
{%- endif %}
            wire [WB-VB-1:0] unused_v_hi = v_new[WB-1:VB];
            always @(posedge clk)
                if (rst) v_q <= {VB{1'b0}};
                else if (step) v_q <= clear ? {VB{1'b0}} : v_new[VB-1:0];
{%- if !spikes %}
            assign y[j*VB +: VB] = v_new[VB-1:0];
{%- endif %}
        end
    endgenerate
endmodule
`default_nettype wire
