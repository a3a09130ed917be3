//! End-to-end tests: the real `lauscher` binary against feeds served by local HTTP
//! servers on 127.0.0.1. Fixtures in `tests/fixtures/` are written by us.

mod util;

mod api;
mod check;
mod crash;
mod faults;
mod feeds;
mod import;
