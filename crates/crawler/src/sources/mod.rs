//! The kinds of source, one module each, and [`poller`], which makes the one a source's
//! config asks for.

pub mod feed;

pub use feed::{Cursor, FeedSource};
pub mod hackernews;
pub mod jetstream;
pub mod lemmy;
pub mod mastodon;
pub mod memory;
pub mod reddit;
pub mod youtube;

mod api;

pub use hackernews::HackerNewsSource;
pub use jetstream::{JetstreamSource, StreamBatch};
pub use lemmy::LemmySource;
pub use mastodon::MastodonSource;
pub use memory::MemorySource;
pub use reddit::RedditSource;
pub use youtube::YouTubeSource;
