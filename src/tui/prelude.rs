//! The imports shared by the TUI's screens, dialogs, widgets and draw code (`use crate::tui::prelude::*`): the
//! state types of [`crate::tui::app`], messages and commands, ratatui / crossterm basics and the engine types the
//! screens show.

#![allow(unused_imports)]

pub(crate) use std::cell::Cell as StdCell;
pub(crate) use std::collections::{BTreeMap, BTreeSet, HashMap};
pub(crate) use std::sync::Arc;

pub(crate) use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
pub(crate) use fuzzy_matcher::skim::SkimMatcherV2;
pub(crate) use fuzzy_matcher::FuzzyMatcher;
pub(crate) use ratatui::layout::{Alignment, Constraint, Layout, Rect};
pub(crate) use ratatui::style::{Color, Modifier, Style, Stylize};
pub(crate) use ratatui::text::{Line, Span};
pub(crate) use ratatui::widgets::{
    Block, BorderType, Borders, Clear, List, ListItem, ListState, Paragraph, Tabs, Wrap,
};
pub(crate) use ratatui::Frame;
pub(crate) use tui_textarea::TextArea;

pub(crate) use crate::engine::graph::PushedFeature;
pub(crate) use crate::engine::keys::FeatureKey;
pub(crate) use crate::engine::ops::mutate::{DeletePlan, DeleteRequest, RebasePlan, WritePlan};
pub(crate) use crate::engine::versioning::status::StatusCategory;
pub(crate) use crate::engine::workspace::Workspace;
pub(crate) use crate::tui::app::*;
pub(crate) use crate::tui::dialogs::draw_dialog;
pub(crate) use crate::tui::dialogs::help::{bound_keys, draw_help, help_lines, HELP};
pub(crate) use crate::tui::dialogs::palette::draw_palette;
pub(crate) use crate::tui::dialogs::{
    delete_preview_lines, edit_line, input_text, key_hint, line_input, list_dir, palette_matches,
    popup, preview_rows, rebase_preview_lines, version_choices, writable_file, write_preview_lines,
    DeleteDialog, DeleteStage, Dialog, DialogAction, Palette, PickerEntry, PreviewLine,
    RebaseDialog, RebaseStage, VersionChoice, WriteDialog, WriteStage, PALETTE, PREVIEW_ROWS,
    WRITE_EXTENSIONS,
};
pub(crate) use crate::tui::draw::{accent, centered, muted, status_color, status_text};
pub(crate) use crate::tui::msg::{Command, JobResult, Msg};
pub(crate) use crate::tui::screens::details::draw::{
    detail_lines, draw_details, error_lines, info_line, spinner_line, tab_title,
};
pub(crate) use crate::tui::screens::details::paging::n_last;
pub(crate) use crate::tui::screens::features::draw::{
    draw_list, draw_main, entry_status, highlighted, list_width, pane_block, SINGLE_PANE_WIDTH,
};
pub(crate) use crate::tui::screens::features::LIST_PAGE;
pub(crate) use crate::tui::screens::graph::draw::draw_graph_screen;
pub(crate) use crate::tui::screens::graph::layout as graph_view;
pub(crate) use crate::tui::screens::history::draw::draw_history_screen;
pub(crate) use crate::tui::screens::history::keys::root_rebase_message;
pub(crate) use crate::tui::screens::lookup::draw::draw_lookup_screen;
pub(crate) use crate::tui::screens::stores::draw::draw_stores_screen;
pub(crate) use crate::tui::tasks::Job;
pub(crate) use crate::tui::view::{text_width, CellKind, StatusReport, TableData};
pub(crate) use crate::tui::widgets::status_bar::{pretty_path, status_bar_lines, store_bar_lines};
pub(crate) use crate::tui::widgets::table::{
    cell_style, draw_table, fit, max_scroll, shown_columns, visible_columns, ShownColumns,
};
