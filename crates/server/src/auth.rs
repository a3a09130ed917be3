//! API tokens with roles: `viewer` reads, `agent` also acts on desk items, incidents and
//! silences, `admin` also reloads rules. Made with `lauscher token create NAME --role R`
//! (the secret is printed once; the state store keeps its SHA-256).
//!
//! Decision: authentication switches on with the first token. Until one exists the API
//! answers everyone, as it always has (it listens on loopback by default); once one
//! exists every route but `/healthz`, `/readyz`, `/metrics`, the push inbox (its own
//! source tokens) and ticket-system reports (signed) needs `Authorization: Bearer <token>`, and actions are
//! recorded under the token's name, whatever `by` a request names. Tokens are read
//! from the state store at most every 5 s, so a revocation takes effect within 5 s and
//! a busy ingest never holds a request up.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use lauscher_state::StateStore;

use crate::{PUSH_PATH, error};

/// What a token may do, least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Also work desk items, incidents and silences.
    Agent,
    /// Also reload rules.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {s:?}: expected viewer, agent or admin"
            )),
        }
    }
}

/// Who called, when tokens are in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// The SHA-256 of a token's secret, as stored.
pub fn token_hash(secret: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.trim().as_bytes())
        .as_ref()
        .to_vec()
}

/// A new secret: `lsr_` and 256 random bits in hex.
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "no randomness available".to_owned())?;
    Ok(format!("lsr_{}", hex::encode(bytes)))
}

/// The tokens in force, read from the state store at most every 5 s.
#[derive(Clone)]
pub struct Tokens {
    state: Arc<StateStore>,
    cache: Arc<Mutex<Option<Cached>>>,
}

const REFRESH: Duration = Duration::from_secs(5);

/// When the tokens were read, and what was read (`None`: none was ever made).
type Cached = (Instant, Option<HashMap<Vec<u8>, Caller>>);

impl Tokens {
    /// Tokens of `state`.
    pub fn new(state: Arc<StateStore>) -> Tokens {
        Tokens {
            state,
            cache: Arc::new(Mutex::new(None)),
        }
    }

    /// Live tokens by hash; `None` when none was ever made (authentication is off).
    fn current(&self) -> Result<Option<HashMap<Vec<u8>, Caller>>, String> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, known)) = cache.as_ref()
            && at.elapsed() < REFRESH
        {
            return Ok(known.clone());
        }
        let known = if self.state.has_tokens().map_err(|e| e.to_string())? {
            let mut map = HashMap::new();
            for (hash, name, role) in self.state.live_tokens().map_err(|e| e.to_string())? {
                if let Ok(role) = role.parse::<Role>() {
                    map.insert(hash, Caller { name, role });
                }
            }
            Some(map)
        } else {
            None
        };
        *cache = Some((Instant::now(), known.clone()));
        Ok(known)
    }
}

fn needed(method: &Method, path: &str) -> Option<Role> {
    // Pushes and ticket-system reports carry their own signatures or tokens.
    if matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path == PUSH_PATH
        || path.starts_with("/api/v1/desk/handoff/")
    {
        return None;
    }
    if path == "/api/v1/reload" || path == "/api/v1/index/rebuild" && method == Method::POST {
        return Some(Role::Admin);
    }
    Some(if method == Method::GET || method == Method::HEAD {
        Role::Viewer
    } else {
        Role::Agent
    })
}

/// The middleware: passes everyone while no token exists, else checks the bearer token
/// against the role the route needs and hands the [`Caller`] on.
pub async fn check(State(tokens): State<Option<Tokens>>, mut req: Request, next: Next) -> Response {
    let Some(tokens) = tokens else {
        return next.run(req).await;
    };
    let Some(role) = needed(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let t = tokens.clone();
    let known = match tokio::task::spawn_blocking(move || t.current()).await {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let Some(known) = known else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(token_hash);
    let caller = given.and_then(|h| known.get(&h).cloned());
    match caller {
        None => error(
            StatusCode::UNAUTHORIZED,
            "a token is needed: Authorization: Bearer <token> (lauscher token create NAME --role agent)",
        ),
        Some(c) if c.role < role => error(
            StatusCode::FORBIDDEN,
            format!("token {:?} is a {}; this needs {role}", c.name, c.role),
        ),
        Some(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
    }
}
