//! The `iot-deploy` command-line tool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use iot_deploy::generate::{Target, render, write_files};
use iot_deploy::lint::lint;
use iot_deploy::{SpecFile, starter};

const EXAMPLES: &str = "Examples:
  iot-deploy init                                   # writes iot-deploy.toml
  iot-deploy check iot-deploy.toml                  # validate and lint; exit 1 on findings
  iot-deploy render iot-deploy.toml --out deploy    # every artifact, base spec
  iot-deploy render iot-deploy.toml --out deploy --env prod --only k8s,helm";

/// One service spec to production-grade Dockerfile, compose, Kubernetes,
/// Helm, Kustomize, Prometheus, Grafana, systemd and CI files.
#[derive(Parser)]
#[command(name = "iot-deploy", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented starter spec.
    Init {
        /// Where to write it.
        #[arg(default_value = "iot-deploy.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Generate files from a spec.
    Render {
        /// The spec (.toml, .yaml or .yml).
        spec: PathBuf,
        /// Output directory (created if missing; existing files are overwritten,
        /// except password files and ACLs, which are kept).
        #[arg(long)]
        out: PathBuf,
        /// Only these targets (comma-separated).
        #[arg(long, value_delimiter = ',', value_enum)]
        only: Vec<TargetArg>,
        /// Render this environment's overrides (Kustomize always covers all).
        #[arg(long)]
        env: Option<String>,
    },
    /// Validate a spec and lint what it would generate; exit 1 on any finding.
    Check {
        /// The spec (.toml, .yaml or .yml).
        spec: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TargetArg {
    Docker,
    Compose,
    K8s,
    Helm,
    Kustomize,
    Prometheus,
    Grafana,
    Systemd,
    Ci,
}

impl TargetArg {
    fn target(self) -> Target {
        match self {
            TargetArg::Docker => Target::Docker,
            TargetArg::Compose => Target::Compose,
            TargetArg::K8s => Target::K8s,
            TargetArg::Helm => Target::Helm,
            TargetArg::Kustomize => Target::Kustomize,
            TargetArg::Prometheus => Target::Prometheus,
            TargetArg::Grafana => Target::Grafana,
            TargetArg::Systemd => Target::Systemd,
            TargetArg::Ci => Target::Ci,
        }
    }
}

fn load(path: &Path) -> Result<SpecFile, String> {
    SpecFile::load(path).map_err(|d| {
        let n = d.len();
        format!(
            "{}{n} problem{} in the spec",
            d.render(),
            if n == 1 { "" } else { "s" }
        )
    })
}

fn init(path: &Path, force: bool) -> Result<String, String> {
    if path.exists() && !force {
        return Err(format!(
            "{}: already exists (use --force to overwrite)",
            path.display()
        ));
    }
    std::fs::write(path, starter::STARTER_TOML)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok(format!(
        "wrote {}; edit it, then run `iot-deploy check {}`",
        path.display(),
        path.display()
    ))
}

fn render_cmd(
    spec: &Path,
    out: &Path,
    only: &[TargetArg],
    env: Option<&str>,
) -> Result<String, String> {
    let file = load(spec)?;
    let targets: Vec<Target> = if only.is_empty() {
        Target::ALL.to_vec()
    } else {
        only.iter().map(|t| t.target()).collect()
    };
    let files = render(&file, env, &targets).ok_or_else(|| {
        let known: Vec<&str> = file.environments.keys().map(String::as_str).collect();
        format!(
            "--env {}: the spec has no such environment (it has: {})",
            env.unwrap_or(""),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )
    })?;
    let done = write_files(out, &files).map_err(|e| e.to_string())?;
    let mut msg = format!("wrote {} files to {}", done.written.len(), out.display());
    for kept in &done.kept {
        msg.push_str(&format!(
            "\nkept existing {kept} (never overwritten; delete it to regenerate)"
        ));
    }
    Ok(msg)
}

fn check(spec: &Path) -> Result<String, String> {
    let file = load(spec)?;
    let mut report = String::new();
    let mut count = 0;
    let base = lint(&file.base);
    let mut all: Vec<(Option<&str>, iot_deploy::lint::Finding)> =
        base.iter().cloned().map(|f| (None, f)).collect();
    for (env, s) in &file.environments {
        // Findings the base already has are reported once.
        all.extend(
            lint(s)
                .into_iter()
                .filter(|f| !base.contains(f))
                .map(|f| (Some(env.as_str()), f)),
        );
    }
    let mut acked = 0;
    for (env, f) in all {
        let scope = env.map_or(String::new(), |e| format!(" [{e}]"));
        let s = env
            .and_then(|e| file.environments.get(e))
            .unwrap_or(&file.base);
        if let Some(a) = iot_deploy::lint::acknowledged(s, env, &f) {
            acked += 1;
            report.push_str(&format!(
                "{}:{scope} acknowledged {f} (reason: {})\n",
                spec.display(),
                a.reason
            ));
        } else {
            count += 1;
            report.push_str(&format!("{}:{scope} {f}\n", spec.display()));
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if count > 0 {
        return Err(format!(
            "{report}{count} finding{}, {acked} acknowledged",
            plural(count)
        ));
    }
    if acked > 0 {
        return Ok(format!(
            "{report}{}: spec valid, no findings ({acked} acknowledged)",
            spec.display()
        ));
    }
    Ok(format!("{}: spec valid, no findings", spec.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Init { path, force } => init(path, *force),
        Command::Render {
            spec,
            out,
            only,
            env,
        } => render_cmd(spec, out, only, env.as_deref()),
        Command::Check { spec } => check(spec),
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("{}", msg.trim_end());
            ExitCode::FAILURE
        }
    }
}
