//! Widgets shared by the screens and dialogs: the table of the tabs, the status bars, the one-line input.

pub mod input;
pub mod status_bar;
pub mod table;
