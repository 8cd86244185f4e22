//! Uses iot-deploy as a library: parses a small TOML service spec, renders
//! the Docker and Kubernetes targets in memory, prints the generated file
//! paths and the Dockerfile, and runs the lint rules over the result.
//!
//! Nothing is written to disk; `iot-deploy render` (or
//! `cargo run -p iot-examples --bin render`) writes the files.
//!
//! Run: `cargo run -p iot-deploy --example render_spec`

use iot_deploy::generate::{Target, render};
use iot_deploy::lint::lint;
use iot_deploy::{Format, SpecFile};

const SPEC: &str = r#"
name = "telemetry-gateway"
description = "MQTT telemetry gateway"

[image]
repository = "ghcr.io/acme/telemetry-gateway"
tag = "1.4.2"

[build]
binary = "gateway"
runtime = "distroless"

[ports]
http = 8080                      # /health/* and /metrics

[env]
RUST_LOG = "info"

[resources.requests]
cpu = "100m"
memory = "64Mi"

[resources.limits]
cpu = "none"                     # no CPU limit: the linter reports ID001
memory = "256Mi"

[scaling]
replicas = 1                     # one replica: the linter reports ID007

[environments.prod]              # overrides, merged over the base spec
scaling = { replicas = 3 }
resources = { limits = { cpu = "1" } }
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Parsing validates everything and reports every problem with its
    // line and column (see the crate docs for an example).
    let file = SpecFile::parse(SPEC, Format::Toml)?;
    let environments: Vec<&str> = file.environments.keys().map(String::as_str).collect();
    println!(
        "spec {:?}: image {}, environments {environments:?}",
        file.base.name,
        file.base.image.reference(),
    );

    // Rendering is pure: the same spec always gives the same bytes.
    for env in [None, Some("prod")] {
        let files = render(&file, env, &[Target::Docker, Target::K8s])
            .ok_or("the spec has no such environment")?;
        println!();
        println!(
            "{} files for {}:",
            files.len(),
            env.unwrap_or("the base spec")
        );
        for f in &files {
            println!("  {:<40} {:>6} bytes", f.path, f.contents.len());
        }
        if env.is_none() {
            let dockerfile = files
                .iter()
                .find(|f| f.path == "Dockerfile")
                .ok_or("no Dockerfile rendered")?;
            println!();
            println!("--- Dockerfile ---");
            print!("{}", dockerfile.contents);
            println!("------------------");
        }
    }

    // The lint rules run over the Kubernetes objects the spec generates.
    for env in [None, Some("prod")] {
        let spec = file
            .resolve(env)
            .ok_or("the spec has no such environment")?;
        let findings = lint(spec);
        println!();
        println!(
            "lint ({}): {} finding(s)",
            env.unwrap_or("base"),
            findings.len()
        );
        for finding in findings {
            println!("  {finding}");
        }
    }
    Ok(())
}
