//! The `spikeforge` binary; the command line lives in `spikeforge::cli`.

fn main() -> std::process::ExitCode {
    spikeforge::cli::main()
}
