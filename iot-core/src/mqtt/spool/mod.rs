//! A crash-safe on-disk spool for the publisher (feature `spool`).
