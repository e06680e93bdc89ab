//! URIs (placeholder; being written).
