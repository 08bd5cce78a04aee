// {{ header }}
// {{ doc }}
// Combinational: the output follows the inputs within the cycle.
`default_nettype none
module {{ module }} (
{%- for p in inputs %}
    input  wire [{{ p.1 }}-1:0] {{ p.0 }},
{%- endfor %}
    output wire [{{ y_bits }}-1:0] y
);
{%- for l in lines %}
    {{ l }}
{%- endfor %}
endmodule
`default_nettype wire
