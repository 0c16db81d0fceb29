//! Job `ListDir`: a directory listing for the write dialog's file picker.

use super::{guarded, Emit};
use crate::tui::msg::JobResult;

/// Lists `dir`; reports [`JobResult::DirListed`].
pub(super) fn list(dir: std::path::PathBuf, emit: &mut Emit<'_>) {
    let result = guarded(|| crate::tui::dialogs::list_dir(&dir));
    emit(JobResult::DirListed { dir, result });
}
