//! The export dialog (`e`): a file path; the rows are written in the background.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Keys of the export dialog: type the path, Enter exports.
pub fn on_key(path: &mut TextArea<'static>, key: KeyEvent) -> DialogAction {
    match key.code {
        KeyCode::Esc => DialogAction::Close,
        KeyCode::Enter => {
            let p = input_text(path).trim().to_string();
            if p.is_empty() {
                DialogAction::None
            } else {
                DialogAction::Export(std::path::PathBuf::from(p))
            }
        }
        _ => {
            edit_line(path, key);
            DialogAction::None
        }
    }
}
/// Paints the export dialog.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    feature: &FeatureKey,
    path: &TextArea<'static>,
) {
    let inner = popup(frame, area, 90, 7, format!("Export {feature}"), accent());
    let [l, i, n, h] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new("File (.parquet, .csv or .ndjson; relative to the working directory):")
            .fg(muted()),
        l,
    );
    let [p, f] = Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(i);
    frame.render_widget(Paragraph::new("> ").fg(accent()), p);
    frame.render_widget(path, f);
    let what =
        app.details.view.describe().unwrap_or_else(|| {
            "the default read (current version, latest per sample, live)".into()
        });
    frame.render_widget(
        Paragraph::new(format!(
            "Writes every row of {what}, not only the loaded ones."
        ))
        .fg(muted())
        .wrap(Wrap { trim: false }),
        n,
    );
    frame.render_widget(
        Paragraph::new(key_hint(&[("Enter", "export"), ("Esc", "cancel")])),
        h,
    );
}
