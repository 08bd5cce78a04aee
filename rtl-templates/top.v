// {{ header }}
// Stream interface: one input beat per timestep ({{ in_bits }} bits: {{ in_doc }}),
// one output beat per timestep ({{ out_bits }} bits: {{ out_doc }}).
// s_axis_tlast marks the last step of a sample: all state is cleared after it.
`default_nettype none
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire [{{ in_bits }}-1:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    input  wire s_axis_tlast,
    output reg  [{{ out_bits }}-1:0] m_axis_tdata,
    output reg  m_axis_tvalid,
    input  wire m_axis_tready,
    output reg  m_axis_tlast
);
{%- if folded %}
    // Folded layers: a timestep takes {{ cycles }} cycles. An input beat is accepted when the
    // layers are idle and the output register is empty; it is latched, the layers run in
    // order (each starts when the previous is done), and the last one's `done` presents the
    // output beat. After the last step of a sample, `clear` zeroes the layers' state.
    reg busy, go, first, last_q, clear;
    reg [{{ in_bits }}-1:0] x_in;
    wire accept = s_axis_tvalid & s_axis_tready;
    // The last layer's IR-order outputs settle in the cycle after its `done`.
    reg fin;
    always @(posedge clk) fin <= ~rst & {{ fin }};
    // `first` zeroes the previous-step registers of recurrent reads, if the design has any.
    wire unused_first = first;
    wire unused_clear = clear;
    assign s_axis_tready = ~busy & ~m_axis_tvalid;
    always @(posedge clk) begin
        go <= 1'b0;
        clear <= 1'b0;
        if (rst) begin
            busy <= 1'b0;
            first <= 1'b1;
            last_q <= 1'b0;
            x_in <= {{ in_bits }}'d0;
        end else if (accept) begin
            busy <= 1'b1;
            go <= 1'b1;
            first <= 1'b0;
            last_q <= s_axis_tlast;
            x_in <= s_axis_tdata;
        end else if (fin) begin
            busy <= 1'b0;
            clear <= last_q;
            first <= last_q;
        end
    end
{%- else %}
    // A step happens when an input beat is accepted; the output register must be free.
    wire step = s_axis_tvalid & s_axis_tready;
    wire clear = s_axis_tlast;
    assign s_axis_tready = ~m_axis_tvalid | m_axis_tready;
    // `clear` resets the stateful layers, if the design has any.
    wire unused_clear = clear;
{%- endif %}

{%- for l in lines %}
    {{ l }}
{%- endfor %}

    always @(posedge clk) begin
        if (rst) begin
            m_axis_tvalid <= 1'b0;
            m_axis_tlast <= 1'b0;
            m_axis_tdata <= {{ out_bits }}'d0;
{%- if folded %}
        end else if (fin) begin
            m_axis_tvalid <= 1'b1;
            m_axis_tlast <= last_q;
            m_axis_tdata <= {{ out_expr }};
{%- else %}
        end else if (step) begin
            m_axis_tvalid <= 1'b1;
            m_axis_tlast <= s_axis_tlast;
            m_axis_tdata <= {{ out_expr }};
{%- endif %}
        end else if (m_axis_tready) begin
            m_axis_tvalid <= 1'b0;
        end
    end
endmodule
`default_nettype wire
