//! SenML interop (being written).
