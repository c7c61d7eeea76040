//! Every user intent is an [`Action`]; the keymap binds keys to actions per context. The help
//! overlay and the command palette are generated from this map, so they cannot drift from the
//! real bindings. Users override bindings in `keymap.toml` in the config directory.

use std::collections::BTreeMap;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies; pane contexts are consulted before `Global`. Each pane names its
/// context in the pane list (`tui::panes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Context {
    Global,
    Data,
    Detect,
    Charts,
    Experiments,
    Automl,
}

impl Context {
    pub const ALL: [Context; 6] = [
        Context::Global,
        Context::Data,
        Context::Detect,
        Context::Charts,
        Context::Experiments,
        Context::Automl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Data => "data",
            Context::Detect => "detect",
            Context::Charts => "charts",
            Context::Experiments => "experiments",
            Context::Automl => "automl",
        }
    }
}

macro_rules! actions {
    ($( $variant:ident => $name:literal, $short:literal, $help:literal; )*) => {
        /// Everything a user can ask for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Action { $( $variant, )* }

        impl Action {
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )* ];
            /// The name used in keymap.toml and the command palette.
            pub fn name(self) -> &'static str {
                match self { $( Action::$variant => $name, )* }
            }
            /// The label next to its key in the hints line; a pane's `go_…` action's label is
            /// the pane's title in the tab bar.
            pub fn short(self) -> &'static str {
                match self { $( Action::$variant => $short, )* }
            }
            pub fn help(self) -> &'static str {
                match self { $( Action::$variant => $help, )* }
            }
            pub fn from_name(name: &str) -> Option<Action> {
                match name { $( $name => Some(Action::$variant), )* _ => None }
            }
        }
    };
}

// One row per action: the keymap.toml / palette name, the short label (hints line, tab
// titles), and the help text (help overlay, palette).
actions! {
    Quit => "quit", "quit", "Quit Pynomaly";
    Help => "help", "help", "Show this help";
    Palette => "palette", "palette", "Command palette: run any action by name";
    CycleTheme => "cycle_theme", "theme", "Switch to the next theme";
    PickTheme => "pick_theme", "pick theme", "Choose a theme from a list";
    Back => "back", "back", "Close the overlay, or cancel the running job";
    NextPane => "next_pane", "next pane", "Next pane";
    PrevPane => "prev_pane", "previous pane", "Previous pane";
    GoData => "go_data", "Data", "Data pane";
    GoDetect => "go_detect", "Detect", "Detect pane";
    GoCharts => "go_charts", "Charts", "Charts pane";
    GoExperiments => "go_experiments", "Experiments", "Experiments pane";
    GoAutoml => "go_automl", "AutoML", "AutoML pane";
    Up => "up", "up", "Move up";
    Down => "down", "down", "Move down";
    Left => "left", "left", "Move left / previous";
    Right => "right", "right", "Move right / next";
    PageUp => "page_up", "page up", "Page up";
    PageDown => "page_down", "page down", "Page down";
    Top => "top", "top", "Go to the first item";
    Bottom => "bottom", "bottom", "Go to the last item";
    Select => "select", "edit/open", "Open / edit / confirm the selected item";
    SwitchFocus => "switch_focus", "focus", "Move focus between the lists of a pane";
    OpenFile => "open_file", "open", "Open a data file (type a path; Tab completes)";
    SetLabel => "set_label", "label", "Use the selected column as the label (again: no label)";
    ToggleFeature => "toggle_feature", "feature on/off", "Include or exclude the selected column as a feature";
    CycleScaling => "cycle_scaling", "scaling", "Change the feature scaling";
    CycleMissing => "cycle_missing", "missing", "Change how missing values are handled";
    CycleEncoding => "cycle_encoding", "encoding", "Change how text columns are encoded";
    Run => "run", "run", "Run the selected detector, re-run the selected experiment, or start an AutoML search";
    Enqueue => "enqueue", "queue", "Add the selected detector to the run queue";
    CancelJob => "cancel_job", "cancel", "Cancel the running job and clear the queue";
    ResetParams => "reset_params", "reset", "Reset the detector's parameters to their defaults";
    EditSeed => "edit_seed", "seed", "Set the seed of randomised detectors";
    ThresholdUp => "threshold_up", "threshold up", "Raise the threshold (flag fewer rows)";
    ThresholdDown => "threshold_down", "down", "Lower the threshold (flag more rows)";
    NextResult => "next_result", "next result", "Show the next result";
    PrevResult => "prev_result", "previous result", "Show the previous result";
    NextChart => "next_chart", "chart", "Cycle the lower chart (ROC, precision-recall, projection, time)";
    Refresh => "refresh", "refresh", "Reload the experiments from the store";
    Filter => "filter", "filter", "Filter the experiments by text";
    Sort => "sort", "sort", "Change the sort order";
    Delete => "delete", "delete", "Delete the selected experiment (asks first)";
    Mark => "mark", "mark", "Mark the experiment for comparison";
    OpenBest => "open_best", "best in charts", "Show the best AutoML run in the charts pane";
    ExpandColumn => "expand_column", "widen", "Draw the selected column wide (again: back to its fitted width)";
    SortRows => "sort_rows", "sort", "Sort the rows by the selected column (ascending, descending, file order)";
    SortByScore => "sort_by_score", "sort by score", "Sort the rows by the newest run's score (highest first, lowest first, file order)";
    SearchRows => "search_rows", "search", "Search the rows for a text (again: the next match)";
    GoToRow => "go_to_row", "go to row", "Go to a row by its number";
    FrequencyTable => "frequency", "frequency", "Frequency table of the selected column: each value, its rows, and the share of flagged rows";
    ThresholdMethod => "threshold_method", "method", "Choose the threshold method: contamination (typed), iqr, mad, zscore, otsu, knee or gap";
    ExportFlagged => "export_flagged", "export", "Export the flagged rows (original columns, score, flag) to CSV, Parquet or JSON";
    ExportAll => "export_all", "export all", "Export every row (original columns, score, flag) to CSV, Parquet or JSON";
    ExportReport => "export_report", "report", "Write a Markdown report explaining the top 10 rows";
    NextAnomaly => "next_anomaly", "next row", "Row detail: the next row by score";
    PrevAnomaly => "prev_anomaly", "previous row", "Row detail: the previous row by score";
}

/// A key with modifiers, parsed from and printed as `ctrl-c`, `shift-tab`, `enter`, `q`, `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// `KeyCode` subset we bind, ordered so that keymaps print stably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
}

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            _ => return None,
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    pub fn parse(text: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = text;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCodeOrd::Enter,
            "esc" => KeyCodeOrd::Esc,
            "tab" => KeyCodeOrd::Tab,
            "shift-tab" | "backtab" => KeyCodeOrd::BackTab,
            "backspace" => KeyCodeOrd::Backspace,
            "delete" | "del" => KeyCodeOrd::Delete,
            "up" => KeyCodeOrd::Up,
            "down" => KeyCodeOrd::Down,
            "left" => KeyCodeOrd::Left,
            "right" => KeyCodeOrd::Right,
            "pageup" => KeyCodeOrd::PageUp,
            "pagedown" => KeyCodeOrd::PageDown,
            "home" => KeyCodeOrd::Home,
            "end" => KeyCodeOrd::End,
            "space" => KeyCodeOrd::Char(' '),
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCodeOrd::F(f[1..].parse().expect("checked"))
            }
            c if c.chars().count() == 1 => KeyCodeOrd::Char(c.chars().next().expect("one char")),
            _ => {
                return Err(format!(
                    "{text:?} is not a key (examples: q, ctrl-c, enter, f1, space)"
                ))
            }
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            KeyCodeOrd::Enter => f.write_str("enter"),
            KeyCodeOrd::Esc => f.write_str("esc"),
            KeyCodeOrd::Tab => f.write_str("tab"),
            KeyCodeOrd::BackTab => f.write_str("shift-tab"),
            KeyCodeOrd::Backspace => f.write_str("backspace"),
            KeyCodeOrd::Delete => f.write_str("delete"),
            KeyCodeOrd::Up => f.write_str("↑"),
            KeyCodeOrd::Down => f.write_str("↓"),
            KeyCodeOrd::Left => f.write_str("←"),
            KeyCodeOrd::Right => f.write_str("→"),
            KeyCodeOrd::PageUp => f.write_str("pageup"),
            KeyCodeOrd::PageDown => f.write_str("pagedown"),
            KeyCodeOrd::Home => f.write_str("home"),
            KeyCodeOrd::End => f.write_str("end"),
        }
    }
}

/// Bindings per context: action → keys.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: BTreeMap<Context, BTreeMap<Action, Vec<Key>>>,
}

const DEFAULTS: &[(Context, Action, &[&str])] = &[
    (Context::Global, Action::Quit, &["q", "ctrl-c"]),
    (Context::Global, Action::Help, &["?", "f1"]),
    (Context::Global, Action::Palette, &[":", "ctrl-p"]),
    (Context::Global, Action::CycleTheme, &["t"]),
    (Context::Global, Action::PickTheme, &["T"]),
    (Context::Global, Action::Back, &["esc"]),
    (Context::Global, Action::NextPane, &["tab"]),
    (Context::Global, Action::PrevPane, &["shift-tab"]),
    (Context::Global, Action::GoData, &["1"]),
    (Context::Global, Action::GoDetect, &["2"]),
    (Context::Global, Action::GoCharts, &["3"]),
    (Context::Global, Action::GoExperiments, &["4"]),
    (Context::Global, Action::GoAutoml, &["5"]),
    (Context::Global, Action::Up, &["k", "up"]),
    (Context::Global, Action::Down, &["j", "down"]),
    (Context::Global, Action::Left, &["h", "left"]),
    (Context::Global, Action::Right, &["l", "right"]),
    (Context::Global, Action::PageUp, &["pageup", "ctrl-u"]),
    (Context::Global, Action::PageDown, &["pagedown", "ctrl-d"]),
    (Context::Global, Action::Top, &["g", "home"]),
    (Context::Global, Action::Bottom, &["G", "end"]),
    (Context::Global, Action::Select, &["enter"]),
    (Context::Global, Action::CancelJob, &["x"]),
    (Context::Global, Action::NextAnomaly, &["n"]),
    (Context::Global, Action::PrevAnomaly, &["p"]),
    (Context::Data, Action::OpenFile, &["o"]),
    (Context::Data, Action::SetLabel, &["L"]),
    (Context::Data, Action::ToggleFeature, &["space"]),
    (Context::Data, Action::CycleScaling, &["s"]),
    (Context::Data, Action::CycleMissing, &["m"]),
    (Context::Data, Action::CycleEncoding, &["e"]),
    (Context::Data, Action::SwitchFocus, &["f"]),
    (Context::Data, Action::FrequencyTable, &["F"]),
    (Context::Data, Action::SortRows, &["S"]),
    (Context::Data, Action::SortByScore, &["O"]),
    (Context::Data, Action::ExpandColumn, &["w"]),
    (Context::Data, Action::GoToRow, &["#"]),
    (Context::Data, Action::SearchRows, &["/"]),
    (Context::Detect, Action::Run, &["r"]),
    (Context::Detect, Action::Enqueue, &["a"]),
    (Context::Detect, Action::ResetParams, &["backspace"]),
    (Context::Detect, Action::SwitchFocus, &["f"]),
    (Context::Detect, Action::EditSeed, &["S"]),
    (Context::Charts, Action::ThresholdUp, &["+", "=", "K"]),
    (Context::Charts, Action::ThresholdDown, &["-", "J"]),
    (Context::Charts, Action::NextResult, &["]"]),
    (Context::Charts, Action::PrevResult, &["["]),
    (Context::Charts, Action::NextChart, &["c"]),
    (Context::Charts, Action::ThresholdMethod, &["M"]),
    (Context::Charts, Action::ExportFlagged, &["e"]),
    (Context::Charts, Action::ExportAll, &["E"]),
    (Context::Charts, Action::ExportReport, &["m"]),
    (Context::Experiments, Action::Refresh, &["R"]),
    (Context::Experiments, Action::Filter, &["/"]),
    (Context::Experiments, Action::Sort, &["s"]),
    (Context::Experiments, Action::Delete, &["d"]),
    (Context::Experiments, Action::Run, &["r"]),
    (Context::Experiments, Action::Mark, &["space"]),
    (Context::Automl, Action::Run, &["r"]),
    (Context::Automl, Action::OpenBest, &["o"]),
];

impl Default for Keymap {
    fn default() -> Self {
        let mut bindings: BTreeMap<Context, BTreeMap<Action, Vec<Key>>> = BTreeMap::new();
        for (ctx, action, keys) in DEFAULTS {
            bindings.entry(*ctx).or_default().insert(
                *action,
                keys.iter()
                    .map(|k| Key::parse(k).expect("default keys parse"))
                    .collect(),
            );
        }
        Keymap { bindings }
    }
}

impl Keymap {
    /// The action for a key in `context`, falling back to the global bindings.
    pub fn action(&self, context: Context, key: Key) -> Option<Action> {
        let find = |ctx: Context| {
            self.bindings.get(&ctx).and_then(|m| {
                m.iter()
                    .find(|(_, keys)| keys.contains(&key))
                    .map(|(a, _)| *a)
            })
        };
        find(context).or_else(|| find(Context::Global))
    }

    /// Bindings of one context, for help and palette.
    pub fn bindings(&self, context: Context) -> Vec<(Action, &[Key])> {
        self.bindings
            .get(&context)
            .map(|m| m.iter().map(|(a, k)| (*a, k.as_slice())).collect())
            .unwrap_or_default()
    }

    /// The first key of an action, for hints ("o open").
    /// Whether `action` has a key in `context` itself (not through the global bindings).
    pub fn bound_in(&self, context: Context, action: Action) -> bool {
        self.bindings
            .get(&context)
            .is_some_and(|m| m.get(&action).is_some_and(|keys| !keys.is_empty()))
    }

    pub fn key_for(&self, context: Context, action: Action) -> Option<Key> {
        [context, Context::Global].iter().find_map(|c| {
            self.bindings
                .get(c)
                .and_then(|m| m.get(&action))
                .and_then(|k| k.first().copied())
        })
    }

    /// Defaults overridden by a TOML file: `[context] action = ["key", …]`. Problems become
    /// warnings (file, context, action or key named) and the default binding stays.
    pub fn with_overrides(text: &str, origin: &str) -> (Keymap, Vec<String>) {
        let mut map = Keymap::default();
        let mut warnings = Vec::new();
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!(
                    "{origin}: not valid TOML ({}); using the default keys",
                    e.message()
                ));
                return (map, warnings);
            }
        };
        for (ctx_name, section) in &table {
            let Some(ctx) = Context::ALL.iter().find(|c| c.name() == ctx_name) else {
                let names: Vec<&str> = Context::ALL.iter().map(|c| c.name()).collect();
                warnings.push(format!(
                    "{origin}: unknown section [{ctx_name}]; expected one of {}",
                    names.join(", ")
                ));
                continue;
            };
            let Some(section) = section.as_table() else {
                warnings.push(format!("{origin}: [{ctx_name}] must be a table"));
                continue;
            };
            for (action_name, keys) in section {
                let Some(action) = Action::from_name(action_name) else {
                    warnings.push(format!(
                        "{origin}: [{ctx_name}] unknown action {action_name:?}"
                    ));
                    continue;
                };
                let list: Vec<&str> = match keys {
                    toml::Value::String(s) => vec![s.as_str()],
                    toml::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                    _ => Vec::new(),
                };
                let parsed: Result<Vec<Key>, String> = list.iter().map(|k| Key::parse(k)).collect();
                match parsed {
                    Ok(keys) if !keys.is_empty() => {
                        map.bindings.entry(*ctx).or_default().insert(action, keys);
                    }
                    Ok(_) => warnings.push(format!(
                        "{origin}: [{ctx_name}] {action_name}: expected a key or a list of keys"
                    )),
                    Err(e) => warnings.push(format!("{origin}: [{ctx_name}] {action_name}: {e}")),
                }
            }
        }
        (map, warnings)
    }

    /// Loads `keymap.toml` from the config directory when it exists.
    pub fn load(config_dir: Option<&Path>) -> (Keymap, Vec<String>) {
        let Some(path) = config_dir.map(|d| d.join("keymap.toml")) else {
            return (Keymap::default(), Vec::new());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Keymap::with_overrides(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Keymap::default(), Vec::new()),
            Err(e) => (
                Keymap::default(),
                vec![format!(
                    "{}: cannot read ({e}); using the default keys",
                    path.display()
                )],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::parse(s).unwrap()
    }

    #[test]
    fn defaults_resolve_pane_first_then_global() {
        let map = Keymap::default();
        assert_eq!(map.action(Context::Data, key("q")), Some(Action::Quit));
        assert_eq!(
            map.action(Context::Data, key("s")),
            Some(Action::CycleScaling)
        );
        assert_eq!(
            map.action(Context::Experiments, key("s")),
            Some(Action::Sort)
        );
        assert_eq!(map.action(Context::Charts, key("s")), None);
        assert_eq!(map.action(Context::Global, key("esc")), Some(Action::Back));
    }

    #[test]
    fn keys_parse_and_print() {
        for text in [
            "q",
            "ctrl-c",
            "shift-tab",
            "enter",
            "f1",
            "space",
            "?",
            "G",
            "alt-x",
        ] {
            let k = key(text);
            assert_eq!(Key::parse(&k.to_string()).unwrap(), k, "{text}");
        }
        assert_eq!(Key::parse("ctrl--").unwrap().code, KeyCodeOrd::Char('-'));
        assert!(Key::parse("nonsense").is_err());
    }

    #[test]
    fn every_action_has_a_default_key_except_pane_specific_duplicates() {
        let map = Keymap::default();
        for action in Action::ALL {
            let bound = Context::ALL
                .iter()
                .any(|c| map.key_for(*c, *action).is_some());
            assert!(bound, "{} has no key", action.name());
        }
    }

    #[test]
    fn every_action_has_a_short_label_and_pane_titles_differ() {
        for action in Action::ALL {
            assert!(!action.short().is_empty(), "{}", action.name());
        }
        let titles = [
            Action::GoData,
            Action::GoDetect,
            Action::GoCharts,
            Action::GoExperiments,
            Action::GoAutoml,
        ]
        .map(Action::short);
        let distinct: std::collections::BTreeSet<&str> = titles.iter().copied().collect();
        assert_eq!(distinct.len(), titles.len(), "{titles:?}");
    }

    #[test]
    fn overrides_replace_bindings_and_report_problems() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keymaps/valid.toml"
        ))
        .unwrap();
        let (map, warnings) = Keymap::with_overrides(&text, "valid.toml");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            map.action(Context::Global, key("ctrl-q")),
            Some(Action::Quit)
        );
        assert_eq!(map.action(Context::Global, key("q")), None);
        assert_eq!(
            map.action(Context::Charts, key("u")),
            Some(Action::ThresholdUp)
        );

        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keymaps/invalid.toml"
        ))
        .unwrap();
        let (map, warnings) = Keymap::with_overrides(&text, "invalid.toml");
        let all = warnings.join("\n");
        assert!(all.contains("unknown section [nowhere]"), "{all}");
        assert!(all.contains("unknown action \"fly\""), "{all}");
        assert!(all.contains("\"hyper-x\" is not a key"), "{all}");
        // The broken binding keeps its default.
        assert_eq!(map.action(Context::Global, key("q")), Some(Action::Quit));

        let (map, warnings) = Keymap::with_overrides("[global\nquit = ", "broken.toml");
        assert!(warnings[0].contains("not valid TOML"), "{warnings:?}");
        assert_eq!(map.action(Context::Global, key("q")), Some(Action::Quit));
    }
}
