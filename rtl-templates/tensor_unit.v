// {{ header }}
// {{ doc }}
// A multi-cycle unit: `start` (one cycle; the inputs hold until `done`) begins it, `done`
// pulses {{ latency }} cycles later with the result in `y`, which holds until the next start.
`default_nettype none
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire start,
{%- for p in inputs %}
    input  wire [{{ p.1 }}-1:0] {{ p.0 }},
{%- endfor %}
    output reg  done,
    output wire [{{ y_bits }}-1:0] y
);
{%- for l in lines %}
    {{ l }}
{%- endfor %}
endmodule
`default_nettype wire
