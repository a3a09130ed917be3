//! The ingest pipeline and the daemon that runs it
