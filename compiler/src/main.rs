//! The `spikeforge` command line.
fn main() {}
