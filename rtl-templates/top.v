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
    output {% if folded %}reg {% else %}wire{% endif %} m_axis_tvalid,
    input  wire m_axis_tready,
    output reg  m_axis_tlast
);
{%- if folded %}
    // Folded layers: a timestep takes {{ cycles }} cycles. The sequencer ({{ module }}_seq,
    // written with rust_hdl) accepts an input beat when the layers are idle and the output
    // register is empty; the beat is latched, `go` starts the layers in order (each starts when
    // the previous is done), and the last one's `done` presents the output beat. After the last
    // step of a sample, `clear` zeroes the layers' state.
    wire go, first, last_q, clear;
    reg [{{ in_bits }}-1:0] x_in;
    wire accept = s_axis_tvalid & s_axis_tready;
    // The last layer's IR-order outputs settle in the cycle after its `done`.
    reg fin;
    always @(posedge clk) fin <= ~rst & {{ fin }};
    // `first` zeroes the previous-step registers of recurrent reads, if the design has any.
    wire unused_first = first;
    wire unused_clear = clear;
    {{ module }}_seq u_seq (
        .clock(clk), .rst(rst), .in_valid(s_axis_tvalid), .in_last(s_axis_tlast),
        .out_full(m_axis_tvalid), .fin(fin), .in_ready(s_axis_tready), .go(go),
        .clear(clear), .first(first), .last(last_q)
    );
    always @(posedge clk)
        if (rst) x_in <= {{ in_bits }}'d0;
        else if (accept) x_in <= s_axis_tdata;
{%- else %}
    // A step happens when an input beat is accepted. Its output beat enters a skid buffer
    // (control {{ module }}_skid, written with rust_hdl): `s_axis_tready` comes from a register,
    // not from `m_axis_tready`, and a beat per cycle still flows.
    wire step = s_axis_tvalid & s_axis_tready;
    wire clear = s_axis_tlast;
    // `step` and `clear` advance and reset the stateful layers, if the design has any.
    wire unused_step = step;
    wire unused_clear = clear;
    wire load_main, load_skid, main_from_skid;
    {{ module }}_skid u_skid (
        .clock(clk), .rst(rst), .in_valid(s_axis_tvalid), .out_ready(m_axis_tready),
        .in_ready(s_axis_tready), .out_valid(m_axis_tvalid), .load_main(load_main),
        .load_skid(load_skid), .main_from_skid(main_from_skid)
    );
{%- endif %}

{%- for l in lines %}
    {{ l }}
{%- endfor %}

{%- if folded %}
    always @(posedge clk) begin
        if (rst) begin
            m_axis_tvalid <= 1'b0;
            m_axis_tlast <= 1'b0;
            m_axis_tdata <= {{ out_bits }}'d0;
        end else if (fin) begin
            m_axis_tvalid <= 1'b1;
            m_axis_tlast <= last_q;
            m_axis_tdata <= {{ out_expr }};
        end else if (m_axis_tready) begin
            m_axis_tvalid <= 1'b0;
        end
    end
{%- else %}
    reg [{{ out_bits }}-1:0] skid_tdata;
    reg skid_tlast;
    always @(posedge clk) begin
        if (rst) begin
            skid_tdata <= {{ out_bits }}'d0;
            skid_tlast <= 1'b0;
            m_axis_tdata <= {{ out_bits }}'d0;
            m_axis_tlast <= 1'b0;
        end else begin
            if (load_skid) begin
                skid_tdata <= {{ out_expr }};
                skid_tlast <= s_axis_tlast;
            end
            if (load_main) begin
                m_axis_tdata <= main_from_skid ? skid_tdata : {{ out_expr }};
                m_axis_tlast <= main_from_skid ? skid_tlast : s_axis_tlast;
            end
        end
    end
{%- endif %}
endmodule
`default_nettype wire
