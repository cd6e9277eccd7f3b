//! How a room is named on screen: `#general`, `🔒 team` for a private room (its title, not
//! the random part of its name), `@bob` for a direct conversation (the other user).

use protocol::{AccountKey, RoomKind, RoomName};

/// The label of `room` for the user `me`.
pub fn room_label(room: &str, me: &str) -> String {
    let Ok(name) = RoomName::parse(room) else { return format!("#{room}") };
    match name.kind() {
        RoomKind::Public => format!("#{room}"),
        RoomKind::Private { title } => format!("🔒 {title}"),
        RoomKind::Direct { .. } => match name.partner(&AccountKey::of(me)) {
            Some(partner) => format!("@{partner}"),
            None => room.to_owned(),
        },
    }
}

/// The direct conversation of `me` with `other` (a user name), if `other` is someone else.
pub fn direct_room(me: &str, other: &str) -> Option<String> {
    let other = protocol::UserName::parse(other).ok()?;
    RoomName::direct(&AccountKey::of(me), &other.key()).map(|room| room.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_labelled_by_kind() {
        assert_eq!(room_label("general", "alice"), "#general");
        assert_eq!(room_label("~team~k3j9x2ab7q", "alice"), "🔒 team");
        assert_eq!(room_label("@alice+bob", "Alice"), "@bob");
        assert_eq!(room_label("@alice+bob", "bob"), "@alice");
        assert_eq!(direct_room("Bob", "alice").as_deref(), Some("@alice+bob"));
        assert_eq!(direct_room("bob", "BOB"), None, "no conversation with oneself");
        assert_eq!(direct_room("bob", "<script>"), None);
    }
}
