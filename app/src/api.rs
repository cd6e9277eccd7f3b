//! Server functions: register, log in, log out, who am I.
//!
//! Each one is a thin call into [`ssr::AuthBackend`] (provided by the server in
//! context) plus the session bookkeeping: the session id is rotated at login
//! (no session fixation) and the session is deleted from the store at logout.
//! Failures are an [`ApiError`] with a matching HTTP status (401 when there is
//! no user, 409 for a taken name, 400 for bad input, 503 when the store is down).

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The logged-in user, as the page needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The user name (the account).
    pub user: String,
    /// The display name (what others see; changed by a rename).
    pub name: String,
    /// The instance that served the page.
    pub instance: String,
    /// How many times this session has loaded the page (across instances and restarts).
    pub loads: u64,
}

/// What went wrong in a server function; the message is written for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// The input was refused (bad user name, weak password...).
    #[error("{0}")]
    Invalid(String),
    /// Registration with a name that exists.
    #[error("that user name is taken")]
    NameTaken,
    /// Wrong password or unknown user: deliberately the same answer.
    #[error("wrong user name or password")]
    BadCredentials,
    /// The request needs a logged-in user.
    #[error("you are not logged in")]
    NotLoggedIn,
    /// Too many attempts; the number is the seconds to wait.
    #[error("too many attempts; please wait {0} seconds and try again")]
    RateLimited(u64),
    /// A backend (Redis) is unreachable; nothing was changed.
    #[error("the service is unavailable right now; please try again in a moment")]
    Unavailable,
    /// Too many password checks are running on this server; nothing was changed.
    #[error("the server is busy; please try again in a moment")]
    Busy,
    /// The server could not read the request (a missing field, a body that is not a form...):
    /// the caller's mistake, answered 400.
    #[error("the request could not be read: {0}")]
    Malformed(String),
    /// The request did not reach the server function or its answer could not be read.
    #[error("request failed: {0}")]
    Transport(String),
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Errors of the server-function machinery. On the server, arguments that cannot be read
    /// are the client's fault ([`ApiError::Malformed`], 400); everything else is a failure of the
    /// call itself ([`ApiError::Transport`]: 500 on the server, a network error in the browser).
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::Deserialization(detail) => ssr::malformed(&detail),
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::MissingArg(name) => ssr::malformed(&format!("missing field `{name}`")),
            other => Self::Transport(other.to_string()),
        }
    }
}

/// Creates an account and logs it in.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(
    /// The user name to register.
    name: String,
    /// The password (checked against the password rules, stored as an argon2id hash).
    password: String,
) -> Result<(), ApiError> {
    let device = ssr::device_cookie();
    let login = ssr::auth()?.register(&name, &password, &ssr::client(), device.as_deref()).await.map_err(ssr::fail)?;
    ssr::start_session(login).await
}

/// Logs in with a user name and password.
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(
    /// The user name (any case).
    name: String,
    /// The password.
    password: String,
) -> Result<(), ApiError> {
    let device = ssr::device_cookie();
    let login =
        ssr::auth()?.authenticate(&name, &password, &ssr::client(), device.as_deref()).await.map_err(ssr::fail)?;
    ssr::start_session(login).await
}

/// Logs out: deletes the session from the store, clears the cookie and closes the
/// session's websockets on every instance.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    let session = ssr::session().await?;
    let login = session.get::<String>(ssr::LOGIN_KEY).await.ok().flatten();
    session.flush().await.map_err(ssr::session_failed)?;
    if let Some(login) = login {
        ssr::auth()?.end_session(&login).await.map_err(ssr::fail)?;
    }
    leptos_axum::redirect("/login?notice=You%20are%20logged%20out.");
    Ok(())
}

/// Logs out every session of the user, on every device and instance.
#[server(prefix = "/api", endpoint = "logout_all")]
pub async fn logout_all() -> Result<(), ApiError> {
    let user = ssr::current_user().await?.ok_or_else(|| ssr::fail(ApiError::NotLoggedIn))?;
    ssr::auth()?.end_all_sessions(&user).await.map_err(ssr::fail)?;
    let session = ssr::session().await?;
    session.flush().await.map_err(ssr::session_failed)?;
    leptos_axum::redirect("/login?notice=All%20your%20sessions%20are%20logged%20out.");
    Ok(())
}

/// The logged-in user; 401 without one. Counts a page load of this session.
#[server(prefix = "/api", endpoint = "whoami")]
pub async fn whoami() -> Result<Me, ApiError> {
    let session = ssr::session().await?;
    // Only a session Redis knows with a user in it counts loads: a made-up cookie never
    // creates a counter.
    let signed_in = session.get::<String>(ssr::USER_KEY).await.map_err(ssr::session_failed)?.is_some();
    let id = session.id().filter(|_| signed_in).ok_or_else(|| ssr::fail(ApiError::NotLoggedIn))?.to_string();
    // The account check and the count are independent: one round trip's wait for both.
    let auth = ssr::auth()?;
    let (account, loads) = futures::join!(ssr::current_account(), auth.count_load(&id));
    let (user, name) = account?.ok_or_else(|| ssr::fail(ApiError::NotLoggedIn))?;
    let loads = loads.map_err(ssr::fail)?;
    Ok(Me { user, name, instance: ssr::instance(), loads })
}

/// Server-side plumbing of the server functions.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::sync::Arc;

    use async_trait::async_trait;
    use http::StatusCode;
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;
    use tower_sessions::Session;

    use super::ApiError;

    /// The session key holding the logged-in user's name (shared with the websocket gateway).
    pub const USER_KEY: &str = "user";
    /// The session key holding this login's id (its websockets are closed by it at logout).
    pub const LOGIN_KEY: &str = "login";
    /// The session key holding the user's session generation at login ("log out everywhere" bumps it).
    pub const GEN_KEY: &str = "gen";

    /// The cookie holding this browser's device token (see [`Login::device`]).
    pub const DEVICE_COOKIE: &str = "sbdevice";
    /// How long the device cookie lasts (renewed at every login).
    const DEVICE_COOKIE_MAX_AGE_SECS: u64 = 180 * 24 * 3600;

    /// A successful login, as the server hands it to the session.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Login {
        /// The user name as registered (never the display name): the session's identity.
        pub user: String,
        /// A fresh random id for this login.
        pub login: String,
        /// The user's session generation now.
        pub generation: u64,
        /// This browser's device token, trusted for this user from now on: its later login
        /// attempts are counted apart from strangers' (set as an HttpOnly cookie).
        pub device: String,
    }

    /// The client's address as the server determined it (the peer, or the load balancer's
    /// `X-Forwarded-For` when the server trusts it); put in the request extensions by the server.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ClientAddr(pub String);

    /// Account operations the server implements (argon2id, storage, rate limits).
    #[async_trait]
    pub trait AuthBackend: Send + Sync + 'static {
        /// Creates an account for a request from `client` (holding device token `device`, if
        /// any) and logs it in.
        async fn register(
            &self,
            name: &str,
            password: &str,
            client: &str,
            device: Option<&str>,
        ) -> Result<Login, ApiError>;
        /// Checks a password for a request from `client` (holding device token `device`, if
        /// any) and logs in.
        async fn authenticate(
            &self,
            name: &str,
            password: &str,
            client: &str,
            device: Option<&str>,
        ) -> Result<Login, ApiError>;
        /// The display name of `user` if a session made at `generation` is still valid for
        /// them (one account read answers both).
        async fn session_display(&self, user: &str, generation: u64) -> Result<Option<String>, ApiError>;
        /// Counts one page load of session `id`; returns the count so far.
        async fn count_load(&self, id: &str) -> Result<u64, ApiError>;
        /// Ends one login: its websockets close on every instance.
        async fn end_session(&self, login: &str) -> Result<(), ApiError>;
        /// Ends every session of `user`: old cookies stop working, every websocket closes.
        async fn end_all_sessions(&self, user: &str) -> Result<(), ApiError>;
    }

    /// What the server puts in the Leptos context for every request.
    #[derive(Clone)]
    pub struct Services {
        /// Account operations.
        pub auth: Arc<dyn AuthBackend>,
        /// This instance's id.
        pub instance: String,
        /// Whether cookies set here are marked `Secure` (the site is served over TLS).
        pub secure_cookies: bool,
    }

    fn services() -> Result<Services, ApiError> {
        use_context::<Services>().ok_or_else(|| ApiError::Transport("server context missing".into()))
    }

    /// The account operations.
    pub fn auth() -> Result<Arc<dyn AuthBackend>, ApiError> {
        Ok(services()?.auth)
    }

    /// This instance's id (empty if the context is missing).
    pub fn instance() -> String {
        services().map(|s| s.instance).unwrap_or_default()
    }

    /// A session-store failure as the 503 it becomes, logged with its cause (the answer
    /// itself only says "try again").
    pub fn session_failed(err: tower_sessions::session::Error) -> ApiError {
        tracing::warn!(%err, "session store failed");
        fail(ApiError::Unavailable)
    }

    /// Sets the HTTP status matching `error` and returns it.
    pub fn fail(error: ApiError) -> ApiError {
        let status = match &error {
            ApiError::Invalid(_) | ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::NameTaken => StatusCode::CONFLICT,
            ApiError::BadCredentials | ApiError::NotLoggedIn => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let Some(response) = use_context::<ResponseOptions>() {
            response.set_status(status);
            if matches!(error, ApiError::Busy | ApiError::Unavailable) {
                response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("2"));
            }
        }
        error
    }

    /// This browser's device token, from its cookie (unchecked: the server validates it).
    pub fn device_cookie() -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
        parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == DEVICE_COOKIE)
            .map(|(_, value)| value.to_owned())
    }

    /// Sets (or renews) the device cookie: HttpOnly, SameSite=Strict, sent only to `/api/`.
    fn set_device_cookie(token: &str) {
        let secure = services().is_ok_and(|s| s.secure_cookies);
        let cookie = format!(
            "{DEVICE_COOKIE}={token}; Path=/api/; Max-Age={DEVICE_COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Strict{}",
            if secure { "; Secure" } else { "" }
        );
        if let (Some(response), Ok(value)) = (use_context::<ResponseOptions>(), http::HeaderValue::from_str(&cookie)) {
            response.append_header(http::header::SET_COOKIE, value);
        }
    }

    /// A request the server function could not read: 400, saying what was expected when the
    /// body is not a form (every server function here takes a form).
    pub fn malformed(detail: &str) -> ApiError {
        let content_type = use_context::<http::request::Parts>()
            .and_then(|parts| Some(parts.headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?.to_ascii_lowercase()));
        let message = match content_type {
            Some(form) if form.starts_with("application/x-www-form-urlencoded") => detail.to_owned(),
            Some(other) => format!("expected a form (application/x-www-form-urlencoded), not {other}: {detail}"),
            None => format!("expected a form (application/x-www-form-urlencoded): {detail}"),
        };
        fail(ApiError::Malformed(message))
    }

    /// The client address of this request (`unknown` if the server did not say).
    pub fn client() -> String {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<ClientAddr>().map(|c| c.0.clone()))
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// The request's session.
    pub async fn session() -> Result<Session, ApiError> {
        leptos_axum::extract::<Session>().await.map_err(|err| fail(ApiError::Transport(err.to_string())))
    }

    /// The logged-in user, if any (a session ended by "log out everywhere" is none, and is cleared).
    pub async fn current_user() -> Result<Option<String>, ApiError> {
        Ok(current_account().await?.map(|(user, _)| user))
    }

    /// The logged-in user and their display name, if any, from one account read.
    pub async fn current_account() -> Result<Option<(String, String)>, ApiError> {
        let session = session().await?;
        let Some(user) = session.get::<String>(USER_KEY).await.map_err(session_failed)? else {
            return Ok(None);
        };
        let generation = session.get::<u64>(GEN_KEY).await.map_err(session_failed)?.unwrap_or(0);
        if let Some(display) = auth()?.session_display(&user, generation).await.map_err(fail)? {
            return Ok(Some((user, display)));
        }
        session.flush().await.map_err(session_failed)?;
        Ok(None)
    }

    /// Logs the user in on this request's session under a fresh session id.
    pub async fn start_session(login: Login) -> Result<(), ApiError> {
        let session = session().await?;
        session.cycle_id().await.map_err(session_failed)?;
        session.insert(USER_KEY, &login.user).await.map_err(session_failed)?;
        session.insert(LOGIN_KEY, &login.login).await.map_err(session_failed)?;
        session.insert(GEN_KEY, login.generation).await.map_err(session_failed)?;
        set_device_cookie(&login.device);
        leptos_axum::redirect("/");
        Ok(())
    }
}
