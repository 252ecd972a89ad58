//! Rust spellings of schema names: CamelCase types, snake_case fields and handler methods.

use proc_macro2::{Ident, Span};

/// `C_Move` -> `CMove`, `player` -> `Player`: underscores dropped, each part capitalised.
pub(crate) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// `playerId` -> `player_id`, `S_BroadcastEnterGame` -> `s_broadcast_enter_game`,
/// `HTTPPort` -> `http_port`.
pub(crate) fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Rust keywords a field may not use as a plain identifier; they become `r#type` etc.
/// (`self`, `super` and `crate` cannot be raw and are refused by validation.)
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// The type identifier for a packet or struct.
pub(crate) fn type_ident(name: &str) -> Ident {
    Ident::new(&camel(name), Span::call_site())
}

/// The field identifier, raw when it is a keyword.
pub(crate) fn field_ident(name: &str) -> Ident {
    let snake = snake(name);
    if KEYWORDS.contains(&snake.as_str()) {
        Ident::new_raw(&snake, Span::call_site())
    } else {
        Ident::new(&snake, Span::call_site())
    }
}

/// `on_c_move` for `C_Move`.
pub(crate) fn handler_ident(packet: &str) -> Ident {
    Ident::new(&format!("on_{}", snake(packet)), Span::call_site())
}

/// `decode_c_move` for `C_Move`: the private decoder function in the dispatch table.
pub(crate) fn decoder_ident(packet: &str) -> Ident {
    Ident::new(&format!("decode_{}", snake(packet)), Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_names_map_to_the_agreed_rust_names() {
        assert_eq!(camel("C_Move"), "CMove");
        assert_eq!(camel("S_BroadcastMove"), "SBroadcastMove");
        assert_eq!(camel("S_PlayerList"), "SPlayerList");
        assert_eq!(camel("player"), "Player");
        assert_eq!(snake("playerId"), "player_id");
        assert_eq!(snake("posX"), "pos_x");
        assert_eq!(snake("isSelf"), "is_self");
        assert_eq!(snake("C_LeaveGame"), "c_leave_game");
        assert_eq!(snake("S_BroadcastEnterGame"), "s_broadcast_enter_game");
        assert_eq!(snake("HTTPPort"), "http_port");
        assert_eq!(snake("hp2Max"), "hp2_max");
    }
}
