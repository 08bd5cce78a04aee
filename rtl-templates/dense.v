// {{ header }}
// Spike-addition core, fully parallel: output j adds the weight of every input that spiked.
// Weights are constants in the logic (zero weights vanish); Yosys maps each sum as one adder
// tree. Accumulator width from interval analysis: no overflow.
`default_nettype none
module {{ module }} (
    input  wire [{{ n_in }}-1:0] x,
    output wire [{{ y_bits }}-1:0] y
);
{%- for row in rows %}
    wire signed [{{ ab }}-1:0] acc_{{ loop.index0 }} = {{ row }};
    assign y[{{ loop.index0 }}*{{ ab }} +: {{ ab }}] = acc_{{ loop.index0 }};
{%- endfor %}
{%- if !unused.is_empty() %}
    // Inputs whose weights are all zero.
    wire unused_inputs = {{ unused }};
{%- endif %}
endmodule
`default_nettype wire
