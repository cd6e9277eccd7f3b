//! Property tests of everything that decodes or validates input from the network:
//! whatever bytes arrive, decoding answers `Ok` or `Err` and never panics; what is
//! accepted obeys the rules; what is encoded decodes to itself. Case counts are
//! bounded (PROPTEST_CASES raises them for a longer run).

use proptest::prelude::*;
use switchboard_protocol::{ClientFrame, MessageId, RoomName, ServerFrame, UserName};

fn json_like() -> impl Strategy<Value = String> {
    // Fragments of real frames mixed with noise, so the decoder sees near-misses too.
    let fragment = prop_oneof![
        Just(r#"{"type":"send","room":"#.to_owned()),
        Just(r#"{"type":"join","room":"general","since":"#.to_owned()),
        Just(r#""client_id":"#.to_owned()),
        Just(r#""text":"#.to_owned()),
        Just("\"\\u0000\"".to_owned()),
        Just("null".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ];
    proptest::collection::vec(fragment, 0..8).prop_map(|parts| parts.concat())
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        ("\\PC{0,50}", proptest::option::of((any::<u64>(), any::<u64>()))).prop_map(|(room, since)| {
            ClientFrame::Join { room, since: since.map(|(ms, seq)| MessageId::new(ms, seq)) }
        }),
        "\\PC{0,50}".prop_map(|room| ClientFrame::Leave { room }),
        "\\PC{0,50}".prop_map(|room| ClientFrame::Typing { room }),
        "\\PC{0,40}".prop_map(|name| ClientFrame::Rename { name }),
        ("\\PC{0,50}", "\\PC{0,70}", "\\PC{0,300}")
            .prop_map(|(room, client_id, text)| { ClientFrame::Send { room, client_id, text } }),
        Just(ClientFrame::Ping),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = ClientFrame::decode(&text);
        let _ = ServerFrame::decode(&text);
    }

    #[test]
    fn decoding_near_miss_json_never_panics(text in json_like()) {
        let _ = ClientFrame::decode(&text);
    }

    #[test]
    fn client_frames_round_trip(frame in client_frame()) {
        prop_assert_eq!(ClientFrame::decode(&frame.encode()).ok(), Some(frame));
    }

    #[test]
    fn message_ids_read_back_what_they_print_and_order_as_pairs(a in any::<(u64, u64)>(), b in any::<(u64, u64)>()) {
        let (x, y) = (MessageId::new(a.0, a.1), MessageId::new(b.0, b.1));
        prop_assert_eq!(MessageId::parse(&x.to_string()), Ok(x));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
    }

    #[test]
    fn accepted_user_names_obey_the_rules(raw in "\\PC{0,40}") {
        if let Ok(name) = UserName::parse(&raw) {
            let s = name.as_str();
            prop_assert!(!s.is_empty() && s.len() <= UserName::MAX);
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)));
            prop_assert_eq!(name.key().to_string(), s.to_ascii_lowercase());
        }
    }

    #[test]
    fn accepted_room_names_obey_the_rules(raw in "\\PC{0,50}") {
        if let Ok(room) = RoomName::parse(&raw) {
            let s = room.as_str();
            prop_assert!(!s.is_empty() && s.len() <= RoomName::MAX);
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)));
            prop_assert_eq!(s, raw.as_str(), "room names are taken verbatim or refused");
        }
    }
}
