//! Renders the deployment files of the gateway itself with iot-deploy used
//! as a library: Dockerfile, compose, Kubernetes, Helm, Kustomize,
//! Prometheus, Grafana, systemd and CI.
//!
//! Run: `cargo run -p iot-examples --bin render -- --out deploy`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use iot_deploy::SpecFile;
use iot_deploy::generate::{Target, render};
use iot_deploy::lint::lint;

const EXAMPLES: &str = "\
Examples:
  render                                   # examples/gateway.deploy.toml -> ./deploy
  render --env prod --out /tmp/deploy      # with the prod overrides
  render --only k8s,prometheus             # some targets only";

/// Writes deploy/ for the demo gateway from examples/gateway.deploy.toml.
#[derive(Parser)]
#[command(name = "render", version, after_help = EXAMPLES)]
struct Args {
    /// The spec (default: gateway.deploy.toml next to this crate).
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Output directory (created if missing; files are overwritten).
    #[arg(long, default_value = "deploy")]
    out: PathBuf,
    /// Apply this environment's overrides (dev, prod).
    #[arg(long)]
    env: Option<String>,
    /// Only these targets (docker, compose, k8s, helm, kustomize,
    /// prometheus, grafana, systemd, ci), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn run(args: &Args) -> Result<String, String> {
    let spec = args
        .spec
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.deploy.toml"));
    let file = SpecFile::load(&spec).map_err(|d| d.render())?;
    let mut targets = Vec::new();
    for name in &args.only {
        targets.push(Target::from_name(name).ok_or_else(|| {
            let all: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
            format!("--only {name}: unknown target (known: {})", all.join(", "))
        })?);
    }
    if targets.is_empty() {
        targets = Target::ALL.to_vec();
    }
    let resolved = file.resolve(args.env.as_deref()).ok_or_else(|| {
        format!(
            "--env {}: not in the spec",
            args.env.as_deref().unwrap_or("")
        )
    })?;
    for finding in lint(resolved) {
        eprintln!("{}: {finding}", spec.display());
    }
    let files = render(&file, args.env.as_deref(), &targets)
        .ok_or_else(|| "the spec has no such environment".to_string())?;
    for f in &files {
        let path = args.out.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, &f.contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(format!(
        "wrote {} files for {} to {}",
        files.len(),
        resolved.name,
        args.out.display()
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("render: {}", e.trim_end());
            ExitCode::FAILURE
        }
    }
}
