//! The surrogate's dataset: shards of a sweep merge to the file one run writes, byte for byte,
//! and an interrupted run resumes where it stopped.

use std::path::Path;
use std::process::Command;

fn dataset(args: &[&str], cwd: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_spikeforge"))
        .arg("dataset")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn shards_merge_to_one_run_and_interrupted_runs_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sweep = ["--target", "ice40up5k", "--n", "4", "--seed", "11"];
    dataset(&[&sweep[..], &["-o", "one.jsonl"]].concat(), d);
    let one = std::fs::read_to_string(d.join("one.jsonl")).unwrap();
    assert_eq!(one.lines().count(), 4);
    for (id, line) in one.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["id"], id as u64);
        // Synthesised: Yosys counts and IR features side by side.
        assert!(v["lut"].as_u64().unwrap() > 0, "{line}");
        assert!(v["features"]["layers"].as_array().unwrap().len() >= 2);
        assert!(!line.contains("seconds"), "times belong in the timing file");
    }
    dataset(
        &[&sweep[..], &["--shard", "0/2", "-o", "a.jsonl"]].concat(),
        d,
    );
    dataset(
        &[&sweep[..], &["--shard", "1/2", "-o", "b.jsonl"]].concat(),
        d,
    );
    // Interrupt shard 1 mid-write: its last line torn in half.
    let b = std::fs::read_to_string(d.join("b.jsonl")).unwrap();
    let cut = b.trim_end().rfind('\n').unwrap() + 1 + 20;
    std::fs::write(d.join("b.jsonl"), &b[..cut]).unwrap();
    let out = dataset(
        &[&sweep[..], &["--shard", "1/2", "-o", "b.jsonl"]].concat(),
        d,
    );
    assert!(
        out.contains("dataset: 1 designs"),
        "resumed one design: {out}"
    );
    assert_eq!(std::fs::read_to_string(d.join("b.jsonl")).unwrap(), b);
    // Running a finished shard again does nothing.
    let out = dataset(
        &[&sweep[..], &["--shard", "0/2", "-o", "a.jsonl"]].concat(),
        d,
    );
    assert!(out.contains("dataset: 0 designs"), "{out}");
    dataset(&["merge", "b.jsonl", "a.jsonl", "-o", "merged.jsonl"], d);
    assert_eq!(
        std::fs::read_to_string(d.join("merged.jsonl")).unwrap(),
        one
    );
}
