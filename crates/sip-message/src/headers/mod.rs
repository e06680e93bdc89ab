//! Typed headers (placeholder; being written).
