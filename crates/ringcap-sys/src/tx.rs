//! (to be written: TX ring helpers for the generator)
