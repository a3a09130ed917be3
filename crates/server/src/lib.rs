//! The HTTP API: search, mentions, health, metrics
