{#- The constants of a neuron layer's update, shared by the parallel and the folded layers. #}
{%- if fold.is_none() %}
    localparam integer XB = {{ xb }};  // input bits
{%- endif %}
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
