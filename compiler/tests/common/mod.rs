//! Writes NIR files in the layout of the `nir` package (1.0.x), for tests of bad and odd models.
#![allow(dead_code)]

use hdf5_pure::{FileBuilder, GroupBuilder};

/// A node to write: a leaf (NIR type and numeric fields) or a nested graph.
pub enum N {
    Leaf(&'static str, Vec<(&'static str, Vec<f64>, Vec<u64>)>),
    Graph(G),
}

pub struct G {
    pub nodes: Vec<(String, N)>,
    pub edges: Vec<(String, String)>,
}

pub fn leaf(ty: &'static str, fields: &[(&'static str, &[f64], &[u64])]) -> N {
    N::Leaf(
        ty,
        fields
            .iter()
            .map(|(n, d, s)| (*n, d.to_vec(), s.to_vec()))
            .collect(),
    )
}

pub fn input(n: u64) -> N {
    // Integer `shape`, as nir writes it.
    N::Leaf("Input", vec![("shape", vec![n as f64], vec![1])])
}

pub fn output(n: u64) -> N {
    N::Leaf("Output", vec![("shape", vec![n as f64], vec![1])])
}

pub fn linear(rows: u64, cols: u64, w: f64) -> N {
    let data = vec![w; (rows * cols) as usize];
    N::Leaf("Linear", vec![("weight", data, vec![rows, cols])])
}

pub fn lif(n: usize) -> N {
    N::Leaf(
        "LIF",
        vec![
            ("tau", vec![0.01; n], vec![n as u64]),
            ("r", vec![1.0; n], vec![n as u64]),
            ("v_leak", vec![0.0; n], vec![n as u64]),
            ("v_threshold", vec![1.0; n], vec![n as u64]),
        ],
    )
}

pub fn graph(nodes: Vec<(&str, N)>, edges: &[(&str, &str)]) -> G {
    G {
        nodes: nodes.into_iter().map(|(n, x)| (n.to_string(), x)).collect(),
        edges: edges
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    }
}

pub fn write_str(g: &mut GroupBuilder, name: &str, s: &str) {
    g.create_dataset(name)
        .with_vlen_strings(&[s])
        .with_shape(&[]);
}

pub fn write_graph(gb: &mut GroupBuilder, g: &G) {
    write_str(gb, "type", "NIRGraph");
    let mut nodes = gb.create_group("nodes");
    for (name, n) in &g.nodes {
        let mut ng = nodes.create_group(name);
        match n {
            N::Leaf(ty, fields) => {
                write_str(&mut ng, "type", ty);
                for (f, data, shape) in fields {
                    if *f == "shape" {
                        let ints: Vec<i64> = data.iter().map(|&x| x as i64).collect();
                        ng.create_dataset(f).with_i64_data(&ints).with_shape(shape);
                    } else {
                        ng.create_dataset(f).with_f64_data(data).with_shape(shape);
                    }
                }
            }
            N::Graph(inner) => write_graph(&mut ng, inner),
        }
        nodes.add_group(ng.finish());
    }
    gb.add_group(nodes.finish());
    let flat: Vec<&str> = g
        .edges
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    gb.create_dataset("edges")
        .with_vlen_strings(&flat)
        .with_shape(&[g.edges.len() as u64, 2]);
}

pub fn nir_bytes(g: &G) -> Vec<u8> {
    nir_bytes_with_metadata(g, &[])
}

/// Like `nir_bytes`, with string entries in the top graph's `metadata` group (as nir >= 1.0
/// writes `NIRGraph.metadata`).
pub fn nir_bytes_with_metadata(g: &G, metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut fb = FileBuilder::new();
    fb.create_dataset("version")
        .with_vlen_strings(&["1.0.8"])
        .with_shape(&[]);
    let mut node = fb.create_group("node");
    write_graph(&mut node, g);
    if !metadata.is_empty() {
        let mut m = node.create_group("metadata");
        for (k, v) in metadata {
            write_str(&mut m, k, v);
        }
        node.add_group(m.finish());
    }
    fb.add_group(node.finish());
    fb.finish().expect("writes")
}
