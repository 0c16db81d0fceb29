//! TUI settings: the key map and the theme, from a TOML file whose documented defaults are
//! `assets/tui-config.toml` (embedded: the one source of the defaults).
//!
//! Lookup: `--tui-config PATH`, else `$METAXY_TUI_CONFIG`, else `$XDG_CONFIG_HOME/metaxy-tui/config.toml` (or
//! `~/.config/metaxy-tui/config.toml`) when it exists. A broken file is an error shown before the TUI starts,
//! never a silent fallback.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

/// The documented defaults.
pub const DEFAULTS: &str = include_str!("../../assets/tui-config.toml");

/// A settings file problem (unknown action, unparsable key or colour, two actions on one key, bad TOML).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SettingsError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Colours of the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Titles, focus, keys.
    pub accent: Color,
    /// Secondary text.
    pub muted: Color,
    /// Root features.
    pub root: Color,
    /// Up-to-date features.
    pub up_to_date: Color,
    /// Features that need an update.
    pub needs_update: Color,
    /// Missing metadata and errors.
    pub error: Color,
}

/// Remappable single-key actions: the key that triggers each, and the built-in key the state machine handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    /// action -> bound key.
    pub bound: Vec<(String, KeyCode)>,
    /// action -> built-in key.
    defaults: Vec<(String, KeyCode)>,
}

/// The settings in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Key bindings.
    pub keys: KeyMap,
    /// Colours.
    pub theme: Theme,
}

fn parse_color(s: &str) -> Option<Color> {
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() == 6 {
            let v = u32::from_str_radix(hex, 16).ok()?;
            return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return None;
    }
    s.parse::<Color>().ok()
}

fn parse_key(s: &str) -> Option<KeyCode> {
    let mut chars = s.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(KeyCode::Char(c));
    }
    match s {
        "Enter" => Some(KeyCode::Enter),
        "Tab" => Some(KeyCode::Tab),
        "Space" => Some(KeyCode::Char(' ')),
        _ => s
            .strip_prefix('F')
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (1..=12).contains(n))
            .map(KeyCode::F),
    }
}

/// How a key is written in help texts.
pub fn key_name(k: KeyCode) -> String {
    match k {
        KeyCode::Char(' ') => "Space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    }
}

fn table<'a>(
    doc: &'a toml::Table,
    name: &str,
    path: &str,
) -> Result<Option<&'a toml::Table>, SettingsError> {
    match doc.get(name) {
        None => Ok(None),
        Some(toml::Value::Table(t)) => Ok(Some(t)),
        Some(_) => Err(SettingsError {
            path: path.into(),
            message: format!("[{name}] must be a table"),
        }),
    }
}

impl Settings {
    /// The built-in defaults (`assets/tui-config.toml`).
    pub fn defaults() -> Self {
        Self::from_toml(DEFAULTS, "<defaults>").expect("the embedded defaults parse")
    }

    /// Settings from TOML text: the defaults with the file's values on top.
    ///
    /// Errors: unknown sections, actions or theme entries, unparsable keys or colours, one key bound to two
    /// actions, invalid TOML.
    pub fn from_toml(text: &str, path: &str) -> Result<Self, SettingsError> {
        let err = |m: String| SettingsError {
            path: path.into(),
            message: m,
        };
        let base: toml::Table = DEFAULTS
            .parse()
            .map_err(|e| err(format!("defaults: {e}")))?;
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(e.to_string()))?;
        if let Some(k) = doc.keys().find(|k| *k != "keys" && *k != "theme") {
            return Err(err(format!(
                "unknown section [{k}] (known: [keys], [theme])"
            )));
        }
        let base_keys = table(&base, "keys", path)?.cloned().unwrap_or_default();
        let mut defaults = vec![];
        for (action, v) in &base_keys {
            let k = v
                .as_str()
                .and_then(parse_key)
                .ok_or_else(|| err(format!("default key of {action}")))?;
            defaults.push((action.clone(), k));
        }
        let mut bound = defaults.clone();
        if let Some(user) = table(&doc, "keys", path)? {
            for (action, v) in user {
                let Some(slot) = bound.iter_mut().find(|(a, _)| a == action) else {
                    let known: Vec<&str> = defaults.iter().map(|(a, _)| a.as_str()).collect();
                    return Err(err(format!(
                        "unknown action {action:?} in [keys] (known: {})",
                        known.join(", ")
                    )));
                };
                let text = v
                    .as_str()
                    .ok_or_else(|| err(format!("keys.{action} must be a string")))?;
                slot.1 = parse_key(text).ok_or_else(|| {
                    err(format!(
                        "keys.{action} = {text:?} is not a key (one character, \"F1\"..\"F12\", \"Enter\", \"Tab\", \"Space\")"
                    ))
                })?;
            }
        }
        let mut seen: HashMap<KeyCode, &str> = HashMap::new();
        for (a, k) in &bound {
            if let Some(other) = seen.insert(*k, a) {
                return Err(err(format!(
                    "key {:?} is bound to both {other} and {a}",
                    key_name(*k)
                )));
            }
        }
        let base_theme = table(&base, "theme", path)?.cloned().unwrap_or_default();
        let user_theme = table(&doc, "theme", path)?.cloned().unwrap_or_default();
        if let Some(k) = user_theme.keys().find(|k| !base_theme.contains_key(*k)) {
            return Err(err(format!("unknown theme entry {k:?}")));
        }
        let color = |name: &str| -> Result<Color, SettingsError> {
            let v = user_theme
                .get(name)
                .or_else(|| base_theme.get(name))
                .and_then(|v| v.as_str())
                .ok_or_else(|| err(format!("theme.{name} must be a string")))?;
            parse_color(v).ok_or_else(|| err(format!("theme.{name} = {v:?} is not a colour")))
        };
        Ok(Settings {
            keys: KeyMap { bound, defaults },
            theme: Theme {
                accent: color("accent")?,
                muted: color("muted")?,
                root: color("root")?,
                up_to_date: color("up_to_date")?,
                needs_update: color("needs_update")?,
                error: color("error")?,
            },
        })
    }

    /// The settings file to read: `explicit`, else `$METAXY_TUI_CONFIG`, else the user config file when present.
    pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(p) = explicit {
            return Some(p.to_path_buf());
        }
        if let Some(p) = std::env::var_os("METAXY_TUI_CONFIG") {
            return Some(PathBuf::from(p));
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        let p = base.join("metaxy-tui").join("config.toml");
        p.is_file().then_some(p)
    }

    /// Loads [`Settings::locate`]'s file, or the defaults when there is none.
    pub fn load(explicit: Option<&Path>) -> Result<Self, SettingsError> {
        match Self::locate(explicit) {
            None => Ok(Self::defaults()),
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| SettingsError {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?;
                Self::from_toml(&text, &p.display().to_string())
            }
        }
    }
}

impl KeyMap {
    /// The built-in key a pressed key stands for: a remapped action's built-in key, `None` for a built-in key
    /// whose action was moved elsewhere (it is free now), or the key itself.
    pub fn translate(&self, key: KeyEvent) -> Option<KeyEvent> {
        if key.modifiers.contains(KeyModifiers::CONTROL)
            || key.modifiers.contains(KeyModifiers::ALT)
        {
            return Some(key);
        }
        if let Some((action, _)) = self.bound.iter().find(|(_, k)| *k == key.code) {
            let default = self
                .defaults
                .iter()
                .find(|(a, _)| a == action)
                .map(|(_, k)| *k)?;
            return Some(KeyEvent::new(default, KeyModifiers::NONE));
        }
        if self.defaults.iter().any(|(_, k)| *k == key.code) {
            return None;
        }
        Some(key)
    }

    /// The key bound to the action whose built-in key is `default` (for help texts).
    pub fn shown(&self, default: KeyCode) -> Option<KeyCode> {
        let action = self
            .defaults
            .iter()
            .find(|(_, k)| *k == default)
            .map(|(a, _)| a)?;
        self.bound
            .iter()
            .find(|(a, _)| a == action)
            .map(|(_, k)| *k)
    }

    /// Whether any binding differs from the built-in ones.
    pub fn customised(&self) -> bool {
        self.bound != self.defaults
    }
}

static ACTIVE: OnceLock<Settings> = OnceLock::new();

/// The settings in effect (the defaults until [`install`] ran).
pub fn active() -> &'static Settings {
    ACTIVE.get_or_init(Settings::defaults)
}

/// Makes `s` the settings in effect for this process (first call wins; the TUI calls it once at start).
pub fn install(s: Settings) {
    let _ = ACTIVE.set(s);
}

/// The active theme.
pub fn theme() -> &'static Theme {
    &active().theme
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_every_action_has_a_distinct_key() {
        let s = Settings::defaults();
        assert!(s.keys.bound.len() >= 15);
        assert!(!s.keys.customised());
        assert_eq!(s.theme.accent, Color::Cyan);
    }

    #[test]
    fn remapping_moves_an_action_and_frees_its_old_key() {
        let s = Settings::from_toml("[keys]\ngraph = \"F2\"\n[theme]\naccent = \"#ff8800\"", "t")
            .unwrap();
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(
            s.keys.translate(k(KeyCode::F(2))),
            Some(k(KeyCode::Char('v')))
        );
        assert_eq!(
            s.keys.translate(k(KeyCode::Char('v'))),
            None,
            "v is free now"
        );
        assert_eq!(
            s.keys.translate(k(KeyCode::Char('j'))),
            Some(k(KeyCode::Char('j')))
        );
        assert_eq!(s.keys.shown(KeyCode::Char('v')), Some(KeyCode::F(2)));
        assert_eq!(s.theme.accent, Color::Rgb(0xff, 0x88, 0x00));
        // movement keys too: `n` moves down, `j` is free
        let s =
            Settings::from_toml("[keys]\ndown = \"n\"\nup = \"e\"\nexport = \"E\"", "t").unwrap();
        assert_eq!(
            s.keys.translate(k(KeyCode::Char('n'))),
            Some(k(KeyCode::Char('j')))
        );
        assert_eq!(
            s.keys.translate(k(KeyCode::Char('e'))),
            Some(k(KeyCode::Char('k')))
        );
        assert_eq!(s.keys.translate(k(KeyCode::Char('j'))), None);
        assert_eq!(
            s.keys.translate(k(KeyCode::Down)),
            Some(k(KeyCode::Down)),
            "arrows stay"
        );
        // swapping two keys works
        let s = Settings::from_toml("[keys]\ndelete = \"R\"\nrebase = \"d\"", "t").unwrap();
        assert_eq!(
            s.keys.translate(k(KeyCode::Char('R'))),
            Some(k(KeyCode::Char('d')))
        );
        assert_eq!(
            s.keys.translate(k(KeyCode::Char('d'))),
            Some(k(KeyCode::Char('R')))
        );
    }

    #[test]
    fn bad_files_are_clear_errors() {
        for (text, needle) in [
            ("[keys]\nnope = \"x\"", "unknown action \"nope\""),
            ("[keys]\ngraph = \"ctrl+g\"", "is not a key"),
            ("[keys]\ngraph = \"d\"", "bound to both"),
            ("[theme]\naccent = \"chartreuse-ish\"", "is not a colour"),
            ("[colors]\na = 1", "unknown section [colors]"),
            ("[keys\n", "keys"),
        ] {
            let e = Settings::from_toml(text, "cfg.toml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("cfg.toml: "), "{e}");
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
