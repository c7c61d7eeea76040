//! The workbench's small persistent settings (`config.toml` in the platform config directory):
//! today only the chosen theme. Unreadable or broken settings fall back to defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub theme: Option<String>,
}

pub fn config_dir() -> Option<PathBuf> {
    // PYNOMALY_CONFIG_DIR lets tests (and users with several setups) keep settings apart.
    if let Some(dir) = std::env::var_os("PYNOMALY_CONFIG_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "pynomaly").map(|d| d.config_dir().to_path_buf())
}

/// The settings, and a warning when the file exists but cannot be used.
pub fn load() -> (Settings, Option<String>) {
    let Some(path) = config_dir().map(|d| d.join("config.toml")) else {
        return (Settings::default(), None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => match toml::from_str(&text) {
            Ok(s) => (s, None),
            Err(e) => (
                Settings::default(),
                Some(format!(
                    "{}: {}; using defaults",
                    path.display(),
                    e.message()
                )),
            ),
        },
        Err(_) => (Settings::default(), None),
    }
}

pub fn remember_theme(name: &str) -> std::io::Result<()> {
    let dir = config_dir().ok_or_else(|| std::io::Error::other("no config directory"))?;
    std::fs::create_dir_all(&dir)?;
    let (mut settings, _) = load();
    settings.theme = Some(name.to_string());
    let text = toml::to_string(&settings).map_err(std::io::Error::other)?;
    // Written whole, then renamed: a crash never leaves half a settings file.
    let tmp = dir.join("config.toml.partial");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, dir.join("config.toml"))
}
