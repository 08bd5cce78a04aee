{%- if let Some(fd) = fold %}
{%- include "folded.v" %}
{%- else -%}
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
{%- include "neuron_params.v" %}

    genvar j;
    generate
        for (j = 0; j < N; j = j + 1) begin : g_neuron
{%- if cuba %}
            reg  signed [SB-1:0] s_q;
{%- endif %}
            reg  signed [VB-1:0] v_q;
            wire signed [WB-1:0] x_w = { {(WB-XB){x[j*XB + XB-1]}}, x[j*XB +: XB] };
{%- include "neuron_update.v" %}
{%- if cuba %}
            always @(posedge clk)
                if (rst) s_q <= {SB{1'b0}};
                else if (step) s_q <= clear ? {SB{1'b0}} : s_new[SB-1:0];
{%- endif %}
            always @(posedge clk)
                if (rst) v_q <= {VB{1'b0}};
                else if (step) v_q <= clear ? {VB{1'b0}} : v_new[VB-1:0];
{%- if spikes %}
            assign y[j] = fire;
{%- endif %}
{%- if !spikes %}
            assign y[j*VB +: VB] = v_new[VB-1:0];
{%- endif %}
        end
    endgenerate
endmodule
`default_nettype wire
{%- endif %}
