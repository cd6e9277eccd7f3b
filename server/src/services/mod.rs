//! The application layer: the use cases of Switchboard, built once per instance
//! and held in [`AppState`](crate::state::AppState).
//!
//! Transports stay thin: the websocket gateway decodes a frame, calls one of
//! these services and encodes the answer; the Leptos server functions call the
//! accounts service ([`AuthService`]) through the app's `AuthBackend` trait.
//! Only the services talk to the storage seams (accounts, broker, presence,
//! limiter, sessions), so a rule — the room cap, who may rename to what, when
//! a session counts as alive — lives in one place whichever transport asks.

pub mod access;
pub mod blocks;
pub mod history;
pub mod private_rooms;
pub mod profile;
pub mod read_state;
pub mod rooms;
pub mod sessions;

use std::sync::Arc;

use crate::auth::AuthService;
use crate::chat::ChatService;

pub use access::{AccessError, Asker, Membership, RoomAccess};
pub use history::{History, HistoryError};
pub use profile::{Profile, RenameError};
pub use read_state::ReadState;
pub use rooms::{Admission, RoomLists};
pub use sessions::{SocketLogin, SocketSessions};

/// Every service of an instance; cheap to share behind an `Arc`.
pub struct Services {
    /// Rooms, history, sends, typing, presence announcements.
    pub chat: ChatService,
    /// Who may be in which room, each user's list of rooms (capped), private rooms, blocks.
    pub access: RoomAccess,
    /// Scrollback, search and search results in context (the message store).
    pub history: History,
    /// How far each user has read each room.
    pub read: ReadState,
    /// Display names and renames.
    pub profile: Profile,
    /// The sessions behind websockets: who a socket belongs to, renewal.
    pub sessions: SocketSessions,
    /// Registration, login, logout (the server functions' backend).
    pub auth: Arc<AuthService>,
}
