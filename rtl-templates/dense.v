// {{ header }}
// Spike-addition core, fully parallel: each output adds the weight of every input that spiked.
// Weights are pre-extended to the accumulator width; row j of WEIGHTS holds output j.
`default_nettype none
module {{ module }} (
    input  wire [{{ n_in }}-1:0] x,
    output wire [{{ y_bits }}-1:0] y
);
    localparam integer N_IN  = {{ n_in }};
    localparam integer N_OUT = {{ n_out }};
    localparam integer AB    = {{ ab }};  // accumulator bits (interval analysis: no overflow)
    localparam [N_OUT*N_IN*AB-1:0] WEIGHTS = {
{%- for row in weight_rows %}
        {{ row }}
{%- endfor %}
    };
    localparam [N_OUT*AB-1:0] BIAS = {{ bias }};

    genvar j;
    generate
        for (j = 0; j < N_OUT; j = j + 1) begin : g_out
            reg signed [AB-1:0] acc;
            integer i;
            always @* begin
                acc = $signed(BIAS[j*AB +: AB]);
                for (i = 0; i < N_IN; i = i + 1)
                    if (x[i]) acc = acc + $signed(WEIGHTS[(j*N_IN + i)*AB +: AB]);
            end
            assign y[j*AB +: AB] = acc;
        end
    endgenerate
endmodule
`default_nettype wire
