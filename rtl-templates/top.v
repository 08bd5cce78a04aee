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
    // A step happens when an input beat is accepted; the output register must be free.
    wire step = s_axis_tvalid & s_axis_tready;
    wire clear = s_axis_tlast;
    assign s_axis_tready = ~m_axis_tvalid | m_axis_tready;

{%- for l in lines %}
    {{ l }}
{%- endfor %}

    always @(posedge clk) begin
        if (rst) begin
            m_axis_tvalid <= 1'b0;
            m_axis_tlast <= 1'b0;
            m_axis_tdata <= {{ out_bits }}'d0;
        end else if (step) begin
            m_axis_tvalid <= 1'b1;
            m_axis_tlast <= s_axis_tlast;
            m_axis_tdata <= {{ out_expr }};
        end else if (m_axis_tready) begin
            m_axis_tvalid <= 1'b0;
        end
    end
endmodule
`default_nettype wire
