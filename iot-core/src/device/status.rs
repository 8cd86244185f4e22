//! Device status (being written).
