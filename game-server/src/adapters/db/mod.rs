//! The database (issue 24, first piece): `store.rs`'s [`Store`], accounts and characters in
//! SQLite or PostgreSQL. Nothing in the server calls it yet: logins and the save task come
//! next (see the notes).

mod store;

pub use store::{AccountRow, Backend, Store, StoreError};
