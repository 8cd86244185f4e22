//! # iot-deploy
//!
//! From one typed service spec, generates a Dockerfile, docker-compose,
//! Kubernetes manifests, a Helm chart, Prometheus rules and scrape config, a
//! Grafana dashboard, a systemd unit and a CI workflow whose probe paths,
//! ports and metric names match what `iot-observe` serves.
//!
//! **Status:** under construction; this release reserves the crate name.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
