// {{ header }}
// {{ doc }}
// A multi-cycle unit: `start` (one cycle; the inputs hold until `done`) begins it, `done`
// pulses {{ latency }} cycles later with the result stored, held until the next start.
`default_nettype none
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire start,
{%- for p in ports %}
    {{ p }},
{%- endfor %}
    output reg  done
);
{%- for l in lines %}
    {{ l }}
{%- endfor %}
endmodule
`default_nettype wire
