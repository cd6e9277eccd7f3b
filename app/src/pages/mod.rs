//! One module per route.

pub mod chat;
pub mod login;
