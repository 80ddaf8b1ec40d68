//! What the benchmarks share: the public workload list and the networks.
#![allow(dead_code, unreachable_pub)] // each bench uses part of it; pub for the benches that include it

use std::path::PathBuf;

/// One workload of `../shared/workloads.toml`.
pub struct Workload {
    pub name: String,
    pub subscripts: String,
    pub shapes: Vec<Vec<usize>>,
    pub dtype: String,
}

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads `../shared/workloads.toml` (the public benchmark suite) as it is.
pub fn workloads() -> Vec<Workload> {
    let path = root().join("../shared/workloads.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        // A bench has no error channel but a panic: make its message the fix.
        panic!(
            "cannot read {} ({e}): the benches read the public workloads from a \
             `shared/` folder beside this repository's folder (the steering \
             repository's shared/, as CI lays it out); put it there",
            path.display()
        )
    });
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let list = table["workload"].as_array().expect("[[workload]] entries");
    list.iter()
        .map(|w| {
            let field = |k: &str| {
                w[k].as_str()
                    .unwrap_or_else(|| panic!("workload field {k}"))
                    .to_owned()
            };
            let shapes = w["shapes"]
                .as_array()
                .expect("shapes")
                .iter()
                .map(|s| {
                    s.as_array()
                        .expect("shape")
                        .iter()
                        .map(|d| d.as_integer().expect("dimension") as usize)
                        .collect()
                })
                .collect();
            Workload {
                name: field("name"),
                subscripts: field("subscripts"),
                shapes,
                dtype: field("dtype"),
            }
        })
        .collect()
}

/// One planning network of `benches/networks.txt`.
pub struct Network {
    pub n: usize,
    pub subscripts: String,
    pub shapes: Vec<Vec<usize>>,
}

/// Reads `benches/networks.txt` (written by `benches/make_networks.py`).
pub fn networks() -> Vec<Network> {
    let path = root().join("benches/networks.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let n = words.next().and_then(|w| w.parse().ok()).expect("n");
            let subscripts = words.next().expect("subscripts").to_owned();
            let shapes = words
                .map(|s| {
                    s.split('x')
                        .map(|d| d.parse().expect("dimension"))
                        .collect()
                })
                .collect();
            Network {
                n,
                subscripts,
                shapes,
            }
        })
        .collect()
}
