// {{ header }}
// Ramp-family nonlinear unit, variant `{{ variant }}`: y = Q(x) for a quantised function whose
// table is base + (one step per threshold t_k <= x), {{ k }} thresholds. `start` samples x;
// `done` pulses when y holds the result ({{ cycles_doc }}).
`default_nettype none
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire start,
    input  wire [{{ ib }}-1:0] x,
    output reg  done,
    output reg  [{{ ob }}-1:0] y
);
    // The input as an offset from its smallest value, so every comparison is unsigned.
    wire [{{ ib }}-1:0] u = {{ u_expr }};
{%- if variant != "rom" %}

    // Thresholds passed -> output: base plus the steps so far.
    function [{{ ob }}-1:0] out_of(input [{{ cb }}-1:0] c);
{%- if monotone %}
        out_of = {{ base }} + {{ c_ext }};
{%- else %}
        case (c)
{%- for p in prefix %}
            {{ p }}
{%- endfor %}
            default: out_of = {{ ob }}'d0;
        endcase
{%- endif %}
    endfunction
{%- endif %}
{%- if variant == "ramp" || variant == "bsearch" %}

    // The stored ramp: threshold k (offset like u), ascending.
    function [{{ ib }}-1:0] thr(input [{{ cb }}-1:0] k);
        case (k)
{%- for t in thr_cases %}
            {{ t }}
{%- endfor %}
            default: thr = {{ ib }}'d0;
        endcase
    endfunction

    reg busy;
    reg [{{ ib }}-1:0] uq;
    reg [{{ cb }}-1:0] c;
{%- endif %}
{%- if variant == "ramp" %}
    // One comparison per cycle until the ramp passes x (thresholds ascend, so the first miss
    // ends the count).
    wire hit = (c != {{ cb }}'d{{ k }}) && (uq >= thr(c));
    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            done <= 1'b0;
        end else begin
            done <= 1'b0;
            if (start) begin
                uq <= u;
                c <= {{ cb }}'d0;
                busy <= 1'b1;
            end else if (busy) begin
                if (hit) begin
                    c <= c + {{ cb }}'d1;
                end else begin
                    busy <= 1'b0;
                    done <= 1'b1;
                    y <= out_of(c);
                end
            end
        end
    end
{%- endif %}
{%- if variant == "bsearch" %}
    // Binary search for the count: step b keeps c + 2^b when threshold c + 2^b - 1 <= x.
    reg [{{ sb }}-1:0] b;
    wire [{{ cb }}-1:0] probe = c | ({{ cb }}'d1 << b);
    wire [{{ cb }}-1:0] c_next = ({{ probe_ok }}uq >= thr(probe - {{ cb }}'d1)) ? probe : c;
    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            done <= 1'b0;
        end else begin
            done <= 1'b0;
            if (start) begin
                uq <= u;
                c <= {{ cb }}'d0;
                b <= {{ sb }}'d{{ steps_m1 }};
                busy <= 1'b1;
            end else if (busy) begin
                c <= c_next;
                if (b == {{ sb }}'d0) begin
                    busy <= 1'b0;
                    done <= 1'b1;
                    y <= out_of(c_next);
                end else begin
                    b <= b - {{ sb }}'d1;
                end
            end
        end
    end
{%- endif %}
{%- if variant == "parallel" %}
    // Every comparator at once; the results form a thermometer code, so the count is its sum.
    wire [{{ k_vec }}-1:0] ge;
{%- for g in ge_lines %}
    {{ g }}
{%- endfor %}
    wire [{{ cb }}-1:0] c = {{ count_expr }};
    always @(posedge clk) begin
        if (rst) done <= 1'b0;
        else done <= start;
        if (start) y <= out_of(c);
    end
{%- endif %}
{%- if variant == "rom" %}
    // The whole table, read in one cycle (block RAM when large).
    {{ rom_attr }}reg [{{ ob }}-1:0] rom [0:{{ n }}-1];
    initial begin
{%- for r in rom %}
        {{ r }}
{%- endfor %}
    end
    always @(posedge clk) begin
        if (rst) done <= 1'b0;
        else done <= start;
    end
    always @(posedge clk) begin
        if (start) y <= rom[u];
    end
{%- endif %}
endmodule
