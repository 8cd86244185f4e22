//! Fleet liveness registry (being written).
