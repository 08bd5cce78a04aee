// {{ header }}
// Hardwired-weight block: y = W x + b with the weights baked into a shift-add network whose
// sub-sums are shared across outputs: {{ summary }}. Node widths come from exact value ranges;
// a node's high bits wrap away only where the sum provably fits.
`default_nettype none
module {{ module }} (
{%- if clocked %}
    // Pipeline registers every few adder levels: y follows x after the latency above.
    input  wire clk,
{%- endif %}
    input  wire [{{ x_bits }}-1:0] x,
    output wire [{{ y_bits }}-1:0] y
);
{%- if counters %}
    // Parallel counters of the bit heaps: how many inputs are one, written as logic (one LUT
    // per output bit) so that synthesis keeps them off the carry chain.
    function [1:0] fa3(input a, input b, input c);
        fa3 = {(a & b) | (a & c) | (b & c), a ^ b ^ c};
    endfunction
    function [2:0] pop6(input a, input b, input c, input d, input e, input f);
        reg s1, k1, s2, k2;
        begin
            s1 = a ^ b ^ c;
            k1 = (a & b) | (a & c) | (b & c);
            s2 = d ^ e ^ f;
            k2 = (d & e) | (d & f) | (e & f);
            pop6 = {(k1 & k2) | ((k1 | k2) & s1 & s2), k1 ^ k2 ^ (s1 & s2), s1 ^ s2};
        end
    endfunction
{%- endif %}
{%- for l in lines %}
    {{ l }}
{%- endfor %}
endmodule
`default_nettype wire
