//! End-to-end tests: the real `lauscher` binary against feeds served by local HTTP
//! servers on 127.0.0.1. Fixtures in `tests/fixtures/` are written by us.

// The harness is synchronous (it drives child processes) and reads small local
// responses, so sleeping and unbounded reads are fine here.
#![allow(clippy::disallowed_methods)]

mod util;

mod alerts;
mod api;
mod check;
mod crash;
mod desk;
mod faults;
mod feeds;
mod import;
mod insights;
mod jetstream;
mod push;
mod reindex;
mod rules;
mod score;
mod sources;
mod tickets;
