// {{ header }}
// Delay line: y[j] = x[j] of `D_j` steps ago (zero before that within a sample). One shift
// register of D_j x W bits per element, advanced on `step`, cleared with `clear`.
`default_nettype none
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire step,
    input  wire clear,
    input  wire [{{ bits }}-1:0] x,
    output wire [{{ bits }}-1:0] y
);
    localparam integer W = {{ w }};  // bits per element
{%- for e in elems %}
{%- if e.d == 0 %}
    assign y[{{ e.j }}*W +: W] = x[{{ e.j }}*W +: W];  // element {{ e.j }}: no delay
{%- else %}
    // element {{ e.j }}: {{ e.d }} step(s)
    reg [{{ e.d }}*W-1:0] line_{{ e.j }};
    always @(posedge clk)
        if (rst) line_{{ e.j }} <= {({{ e.d }}*W){1'b0}};
        else if (step) line_{{ e.j }} <= clear ? {({{ e.d }}*W){1'b0}} : {{ e.shift }};
    assign y[{{ e.j }}*W +: W] = line_{{ e.j }}[({{ e.d }}-1)*W +: W];
{%- endif %}
{%- endfor %}
{%- if !delayed %}
    // No element is delayed: the clock and step controls are not needed here.
    wire unused_controls = &{1'b0, clk, rst, step, clear};
{%- endif %}
endmodule
`default_nettype wire
