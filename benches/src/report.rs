//! Turns criterion's saved estimates into the Markdown tables of
//! `docs/benchmarks.md`.

use std::path::{Path, PathBuf};

use crate::formats::{Format, Prepared};

/// Where criterion saves its results: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the workspace's `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

/// The median time in nanoseconds of benchmark `<group>/<id>`, if saved.
pub fn median_ns(dir: &Path, group: &str, id: &str) -> Option<f64> {
    // criterion replaces `/` in group names with `_` for the directory.
    let path = dir
        .join(group.replace('/', "_"))
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// The measured numbers of one format on one fixture.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The format.
    pub format: Format,
    /// Encoded size in bytes.
    pub bytes: usize,
    /// Median encode time, ns.
    pub encode_ns: Option<f64>,
    /// Median decode (validate + touch every value) time, ns.
    pub decode_ns: Option<f64>,
}

/// The rows of one fixture, in [`Format::ALL`] order.
pub fn rows(dir: &Path, p: &Prepared) -> Vec<Row> {
    let label = p.fixture.label;
    Format::ALL
        .iter()
        .map(|&format| Row {
            format,
            bytes: p.encoded(format).len(),
            encode_ns: median_ns(dir, &format!("{label}/encode"), format.id()),
            decode_ns: median_ns(dir, &format!("{label}/decode"), format.id()),
        })
        .collect()
}

fn ns(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_owned(),
    }
}

/// Prints a Markdown table per fixture and the reference-frame target ratios.
pub fn print(dir: &Path, prepared: &[Prepared]) {
    println!("\nResults from {} (medians)", dir.display());
    for p in prepared {
        let rows = rows(dir, p);
        let Some(base) = rows
            .iter()
            .find(|r| r.format == Format::IotAliased)
            .copied()
        else {
            continue;
        };
        println!(
            "\n### {} ({} readings)\n",
            p.fixture.label,
            p.fixture.samples.len()
        );
        println!(
            "| format | bytes | encode ns | decode ns | iot_aliased / this: bytes | encode | decode |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for r in &rows {
            println!(
                "| {} | {} | {} | {} | {:.2} | {} | {} |",
                r.format.id(),
                r.bytes,
                ns(r.encode_ns),
                ns(r.decode_ns),
                base.bytes as f64 / r.bytes as f64,
                ratio(base.encode_ns, r.encode_ns),
                ratio(base.decode_ns, r.decode_ns),
            );
        }
        if p.fixture.label == "reference" {
            print_targets(&rows);
        }
    }
}

fn print_targets(rows: &[Row]) {
    let get = |f: Format| rows.iter().find(|r| r.format == f).copied();
    let (Some(iot), Some(pc), Some(spm), Some(spc), Some(sj)) = (
        get(Format::IotAliased),
        get(Format::PostcardAliased),
        get(Format::SparkplugMinimal),
        get(Format::SparkplugConformant),
        get(Format::SenmlJson),
    ) else {
        return;
    };
    let size = |other: Row| iot.bytes as f64 / other.bytes as f64;
    println!("\nTargets (reference frame, iot_aliased):\n");
    println!("- bytes {} (target <= 100)", iot.bytes);
    println!(
        "- bytes / Sparkplug B: {:.3} minimal, {:.3} conformant (target <= 0.85)",
        size(spm),
        size(spc)
    );
    println!("- bytes / SenML JSON: {:.3} (target <= 0.35)", size(sj));
    println!(
        "- decode / postcard_aliased: {} (target <= 0.5)",
        ratio(iot.decode_ns, pc.decode_ns)
    );
    println!(
        "- decode / prost: {} minimal, {} conformant (target <= 0.15)",
        ratio(iot.decode_ns, spm.decode_ns),
        ratio(iot.decode_ns, spc.decode_ns)
    );
    println!(
        "- encode / postcard_aliased: {} (target <= 0.5)",
        ratio(iot.encode_ns, pc.encode_ns)
    );
}
