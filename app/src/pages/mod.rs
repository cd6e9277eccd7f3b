//! One module per route, and the chat page's side panel.

pub mod chat;
pub mod login;
pub mod sidebar;
