//! Holder of the end-to-end tests in the root `tests/` folder; it has no code of its own.
