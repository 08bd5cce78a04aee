// Balanced adder tree: y = sum of {{ k }} terms of {{ tb }} bits{% if masked %}, term k counted
// only where m[k] is set (a spike selects it){% endif %}; widths grow one bit a level up to
// the {{ w }} bits the whole sum needs, which every partial sum also fits.
`default_nettype none
module {{ module }} (
    input  wire [{{ k }}*{{ tb }}-1:0] t,
{%- if masked %}
    input  wire [{{ k }}-1:0] m,
{%- endif %}
    output wire [{{ w }}-1:0] y
);
{%- for l in lines %}
    {{ l }}
{%- endfor %}
endmodule
`default_nettype wire
