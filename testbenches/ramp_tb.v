// Self-checking testbench of a ramp-family unit (filled in by compiler/src/cosim/ramp.rs):
// every input in turn, result and cycle count against want.hex and cycles.hex.
`timescale 1ns/1ps
module tb;
  reg clk = 1'b0, rst = 1'b1, start = 1'b0;
  reg [{IB}-1:0] x = {IB}'d0;
  wire done;
  wire [{OB}-1:0] y;
  {MODULE} dut(.clk(clk), .rst(rst), .start(start), .x(x), .done(done), .y(y));
  reg [{OB}-1:0] want [0:{N}-1];
  reg [31:0] cyc [0:{N}-1];
  integer i, bad, maxc, lat;
  always #5 clk = ~clk;
  initial begin
    $readmemh("want.hex", want);
    $readmemh("cycles.hex", cyc);
    bad = 0;
    maxc = 0;
    @(negedge clk);
    rst = 1'b0;
    for (i = 0; i < {N}; i = i + 1) begin
      @(negedge clk);
      x = {IB}'d{XLO} + i[{IB}-1:0];
      start = 1'b1;
      @(negedge clk);
      start = 1'b0;
      lat = 1;
      while (!done) begin
        @(negedge clk);
        lat = lat + 1;
      end
      if (y !== want[i] || lat != cyc[i]) begin
        bad = bad + 1;
        if (bad <= 5) $display("MISMATCH input %0d: y %0h want %0h, %0d cycles want %0d", i, y, want[i], lat, cyc[i]);
      end
      if (lat > maxc) maxc = lat;
    end
    $display("RESULT %0d %0d", bad, maxc);
    $finish;
  end
endmodule
