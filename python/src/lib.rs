//! `spikeforge._native`: the command line's entry point for Python. The Python package
//! (`python/spikeforge/__init__.py`) turns keyword arguments into the CLI's options, so both
//! accept the same options and give the same errors.

use pyo3::prelude::*;

pyo3::create_exception!(
    _native,
    SpikeforgeError,
    pyo3::exceptions::PyException,
    "A Spikeforge command failed; the message is the CLI's one-line error."
);

/// Runs one command (`["compile", "model.nir", "--weight-bits", "6"]`) as the `spikeforge`
/// binary would. Returns `(output folder, report JSON)` for commands that write a report,
/// otherwise `None`; raises `SpikeforgeError` with the CLI's message on failure.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<String>) -> PyResult<Option<(String, String)>> {
    // Compiles, Verilator and Yosys runs take seconds to minutes: let other threads run.
    match py.detach(|| spikeforge::cli::run_args(args)) {
        Ok(Some((dir, report))) => Ok(Some((dir.display().to_string(), report.to_string()))),
        Ok(None) => Ok(None),
        Err(e) => Err(SpikeforgeError::new_err(e)),
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add("SpikeforgeError", m.py().get_type::<SpikeforgeError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
