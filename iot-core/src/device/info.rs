//! Descriptive device information (being written).
