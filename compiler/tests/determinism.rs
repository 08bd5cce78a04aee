//! The same model and options give byte-identical RTL, run after run (the constant-matrix
//! solver runs its forms on two threads and must merge them in a fixed order).

use spikeforge::backend::{Arch, LayerArch};
use spikeforge::flow;
use std::path::Path;

#[test]
fn compiling_twice_gives_identical_rtl() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = [
        root.join("../examples/rsnn_16_32_10.nir"),
        root.join("../examples/conv_snn_2x8x8.nir"),
        root.join("../../shared/models/braille_noDelay_noBias_subtract.nir"),
    ];
    for m in &models {
        for opt in [
            flow::Options::default(),
            flow::Options {
                arch: Arch::Folded,
                ..flow::Options::default()
            },
        ] {
            let runs: Vec<Vec<(String, String)>> = (0..3)
                .map(|_| {
                    let g = flow::load(m).unwrap();
                    flow::compile_opts(g, &opt).unwrap().design.files
                })
                .collect();
            assert!(runs.windows(2).all(|w| w[0] == w[1]), "{}", m.display());
        }
    }
    // Mixed and event-driven layers too.
    let g = || flow::load(&models[0]).unwrap();
    let opt = flow::Options {
        layers: [("lif2".to_string(), LayerArch::Event)].into(),
        ..flow::Options::default()
    };
    let a = flow::compile_opts(g(), &opt).unwrap().design.files;
    let b = flow::compile_opts(g(), &opt).unwrap().design.files;
    assert_eq!(a, b);
}

/// The optimiser's thread count changes nothing: the constant-matrix solver splits its forms
/// over the threads and joins them in order.
#[test]
fn thread_count_does_not_change_the_rtl() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let m = root.join("../../shared/models/braille_noDelay_noBias_subtract.nir");
    let files = |threads: usize| {
        spikeforge::opt::set_threads(threads);
        let g = flow::load(&m).unwrap();
        flow::compile_opts(g, &flow::Options::default())
            .unwrap()
            .design
            .files
    };
    let one = files(1);
    for t in [2, 3, 8] {
        assert!(one == files(t), "{t} threads");
    }
}

/// Every file the command line writes (RTL, IR dumps, report.json with compile, sim and cosim
/// sections) is byte-identical across runs and thread counts; wall-clock times live in
/// timing.json alone.
#[test]
fn command_line_outputs_are_byte_identical() {
    use std::process::Command;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("../examples/rsnn_16_32_10.nir");
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &Path, threads: &str| {
        for args in [
            &["compile", "--dump-ir"][..],
            &["sim", "-T", "32"][..],
            &["cosim", "-T", "16"][..],
        ] {
            let o = Command::new(env!("CARGO_BIN_EXE_spikeforge"))
                .args(&args[..1])
                .arg(&model)
                .args(&args[1..])
                .arg("-o")
                .arg(out)
                .args(["--threads", threads])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run(&a, "1");
    run(&b, "4");
    let mut compared = 0;
    for sub in ["rtl", "ir", "."] {
        let mut names: Vec<_> = std::fs::read_dir(a.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| {
                let p = a.join(sub).join(n);
                p.is_file() && n != "timing.json"
            })
            .collect();
        names.sort();
        for n in names {
            let (x, y) = (a.join(sub).join(&n), b.join(sub).join(&n));
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "{} differs",
                x.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 8, "only {compared} files");
    let report = std::fs::read_to_string(a.join("report.json")).unwrap();
    assert!(report.contains("\"cosim\"") && report.contains("\"sim\""));
    assert!(!report.contains("seconds"), "times belong in timing.json");
    let timing = std::fs::read_to_string(a.join("timing.json")).unwrap();
    assert!(timing.contains("build_seconds"), "{timing}");
}
