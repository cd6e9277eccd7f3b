//! One module per route, and the chat page's side panel.

pub mod chat;
pub mod conversations;
pub mod field_form;
pub mod login;
pub mod people;
mod search;
pub mod sidebar;
mod transcript_line;
