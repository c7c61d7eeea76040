//! Colour themes for the terminal UI.
//!
//! A theme maps semantic roles (body text, anomalies, chart series, …) to ratatui styles. Themes
//! are TOML files (format in `themes/README.md`): six are embedded in the binary and more can be
//! dropped into a user directory. A theme names a `parent` and overrides it role by role;
//! `terminal` is the root of every chain. Colours are written at full fidelity and downgraded
//! once, at load time, to what the terminal can show ([`ColorDepth`]).
//!
//! Loading never fails: every problem in a user file becomes a one-line warning and the affected
//! part falls back to something sensible, so a typo in a theme cannot keep the UI from starting.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};

use crate::text::sanitize;

/// What a piece of the UI *means*; themes decide how each meaning looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Base,
    Muted,
    Title,
    Focus,
    Selection,
    Anomaly,
    Normal,
    Threshold,
    Chart1,
    Chart2,
    Chart3,
    Chart4,
    Chart5,
    Chart6,
    Ok,
    Warn,
    Error,
}

/// Number of roles; the length of every per-role array.
const ROLE_COUNT: usize = Role::ALL.len();

/// One resolved style per role, indexed by [`Role::index`].
type RoleStyles = [Style; ROLE_COUNT];

/// The roles a single theme file sets (`None` = inherited from the parent).
type RoleOverrides = [Option<Style>; ROLE_COUNT];

impl Role {
    /// Every role, in declaration order (so `Role::ALL[r as usize] == r`).
    pub const ALL: [Role; 17] = [
        Role::Base,
        Role::Muted,
        Role::Title,
        Role::Focus,
        Role::Selection,
        Role::Anomaly,
        Role::Normal,
        Role::Threshold,
        Role::Chart1,
        Role::Chart2,
        Role::Chart3,
        Role::Chart4,
        Role::Chart5,
        Role::Chart6,
        Role::Ok,
        Role::Warn,
        Role::Error,
    ];

    /// The role's key in theme files: `base`, `chart_1`, …
    pub fn name(self) -> &'static str {
        match self {
            Role::Base => "base",
            Role::Muted => "muted",
            Role::Title => "title",
            Role::Focus => "focus",
            Role::Selection => "selection",
            Role::Anomaly => "anomaly",
            Role::Normal => "normal",
            Role::Threshold => "threshold",
            Role::Chart1 => "chart_1",
            Role::Chart2 => "chart_2",
            Role::Chart3 => "chart_3",
            Role::Chart4 => "chart_4",
            Role::Chart5 => "chart_5",
            Role::Chart6 => "chart_6",
            Role::Ok => "ok",
            Role::Warn => "warn",
            Role::Error => "error",
        }
    }

    /// The style for chart series `i` (0-based); cycles through the six chart roles so any number
    /// of series gets a colour.
    pub fn chart(i: usize) -> Role {
        const CHARTS: [Role; 6] = [
            Role::Chart1,
            Role::Chart2,
            Role::Chart3,
            Role::Chart4,
            Role::Chart5,
            Role::Chart6,
        ];
        CHARTS[i % CHARTS.len()]
    }

    fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Position in [`Role::ALL`] and in the per-role arrays (declaration order, checked by a test).
    fn index(self) -> usize {
        self as usize
    }
}

/// How many colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    TrueColor,
    Ansi256,
    Ansi16,
    NoColor,
}

impl ColorDepth {
    /// NO_COLOR set and non-empty → NoColor; COLORTERM containing "truecolor" or "24bit" →
    /// TrueColor; TERM containing "256color" → Ansi256; else Ansi16.
    ///
    /// Takes the lookup as a function so tests need not touch the process environment.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> ColorDepth {
        // https://no-color.org: any non-empty value disables colour, whatever it says.
        if get("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorDepth::NoColor;
        }
        let colorterm = get("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm.contains("truecolor") || colorterm.contains("24bit") {
            return ColorDepth::TrueColor;
        }
        if get("TERM").is_some_and(|t| t.contains("256color")) {
            return ColorDepth::Ansi256;
        }
        // The 16 ANSI colours are the one thing every colour terminal has.
        ColorDepth::Ansi16
    }

    /// [`ColorDepth::from_env`] on the process environment.
    pub fn detect() -> ColorDepth {
        Self::from_env(|k| std::env::var(k).ok())
    }
}

/// A resolved theme: inheritance applied and colours already fitted to the terminal's depth.
#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    styles: RoleStyles,
}

impl Theme {
    /// The style to draw `role` with.
    pub fn style(&self, role: Role) -> Style {
        self.styles[role.index()]
    }

    /// The embedded `terminal` theme at the given depth (never fails: it is tested).
    pub fn terminal(depth: ColorDepth) -> Theme {
        // The embedded file is checked by the tests; should it ever break anyway, plain default
        // styles still give a usable (if colourless) UI rather than a panic.
        let mut ignored = Vec::new();
        let roles = parse_theme(
            TERMINAL_TOML,
            &builtin_origin("terminal"),
            "terminal",
            &mut ignored,
        )
        .map(|spec| spec.roles)
        .unwrap_or_default();
        Theme::build(
            "terminal".to_owned(),
            overlay(RoleStyles::default(), &roles),
            depth,
        )
    }

    fn build(name: String, styles: RoleStyles, depth: ColorDepth) -> Theme {
        Theme {
            name,
            styles: styles.map(|s| adapt_style(s, depth)),
        }
    }
}

const TERMINAL_TOML: &str = include_str!("../../themes/terminal.toml");

/// The embedded themes, in catalog order. `terminal` must stay first: it is the root.
const BUILTINS: [(&str, &str); 6] = [
    ("terminal", TERMINAL_TOML),
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    (
        "solarized-dark",
        include_str!("../../themes/solarized-dark.toml"),
    ),
    (
        "colorblind-safe",
        include_str!("../../themes/colorblind-safe.toml"),
    ),
];

/// Index of the root theme (`terminal`) in the catalog.
const ROOT: usize = 0;

/// All themes available to the UI, resolved at one colour depth.
pub struct ThemeCatalog {
    /// Built-ins first (in [`BUILTINS`] order), then user themes sorted by name. Never empty:
    /// slot [`ROOT`] always holds a `terminal` theme.
    themes: Vec<Theme>,
}

impl ThemeCatalog {
    /// Built-ins are embedded with include_str!("../../themes/NAME.toml"). User themes: every
    /// *.toml in `user_dir` (if given and it exists); a user theme with a built-in's name replaces
    /// it. Returns warnings (one line each, naming the file and the problem) for: unreadable
    /// files, TOML syntax errors (file skipped), unknown role names (ignored), invalid colours or
    /// modifiers (that role falls back to the parent's style), unknown parent (falls back to
    /// terminal), parent cycles (broken at the cycle, falls back to terminal).
    pub fn load(user_dir: Option<&Path>, depth: ColorDepth) -> (ThemeCatalog, Vec<String>) {
        let mut warnings = Vec::new();
        let mut specs: Vec<ThemeSpec> = BUILTINS
            .iter()
            .map(|&(name, text)| {
                let origin = builtin_origin(name);
                let mut spec = parse_theme(text, &origin, name, &mut warnings)
                    .unwrap_or_else(|| ThemeSpec::empty(name, origin));
                // The catalog key of a built-in is fixed, whatever its file says.
                spec.name = name.to_owned();
                spec
            })
            .collect();

        let mut user_specs: Vec<ThemeSpec> = Vec::new();
        // Names already claimed by a user file, with that file: the first file (by path) wins.
        let mut claimed: HashMap<String, String> = HashMap::new();
        for spec in user_dir
            .map(|dir| read_user_dir(dir, &mut warnings))
            .unwrap_or_default()
        {
            if let Some(first) = claimed.get(&spec.name) {
                let problem = format!(
                    "theme `{}` is already defined by {first}; this file is skipped",
                    spec.name
                );
                warn(&mut warnings, &spec.origin, problem);
                continue;
            }
            claimed.insert(spec.name.clone(), spec.origin.clone());
            match specs.iter_mut().find(|b| b.name == spec.name) {
                // Keep the built-in's place in the list so cycling order stays familiar.
                Some(builtin) => *builtin = spec,
                None => user_specs.push(spec),
            }
        }
        user_specs.sort_by(|a, b| a.name.cmp(&b.name));
        specs.extend(user_specs);

        let resolved = resolve_all(&specs, &mut warnings);
        let themes = specs
            .into_iter()
            .zip(resolved)
            .map(|(spec, styles)| Theme::build(spec.name, styles, depth))
            .collect();
        (ThemeCatalog { themes }, warnings)
    }

    /// Theme names in catalog order.
    pub fn names(&self) -> Vec<&str> {
        self.themes.iter().map(|t| t.name.as_str()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.iter().find(|t| t.name == name)
    }

    /// Name of the theme after `name` in the list, wrapping around (for the "cycle theme" key).
    /// Unknown name → the first.
    pub fn next_after(&self, name: &str) -> &str {
        let next = match self.themes.iter().position(|t| t.name == name) {
            Some(i) => (i + 1) % self.themes.len(),
            None => 0,
        };
        self.themes
            .get(next)
            .map_or("terminal", |t| t.name.as_str())
    }
}

/// A theme file after parsing, before inheritance and depth are applied.
struct ThemeSpec {
    name: String,
    parent: Option<String>,
    roles: RoleOverrides,
    /// Where the theme came from, for warnings: a file path or "built-in theme `x`".
    origin: String,
}

impl ThemeSpec {
    fn empty(name: &str, origin: String) -> ThemeSpec {
        ThemeSpec {
            name: name.to_owned(),
            parent: None,
            roles: RoleOverrides::default(),
            origin,
        }
    }
}

fn builtin_origin(name: &str) -> String {
    format!("built-in theme `{name}`")
}

/// Records a one-line warning. Sanitised because names and values come from user files and the
/// warnings end up on the terminal.
fn warn(warnings: &mut Vec<String>, origin: &str, problem: impl AsRef<str>) {
    let line = format!("{origin}: {}", problem.as_ref());
    warnings.push(sanitize(&line).into_owned());
}

/// Reads every `*.toml` in `dir`, in path order so that results and warnings are reproducible.
fn read_user_dir(dir: &Path, warnings: &mut Vec<String>) -> Vec<ThemeSpec> {
    let origin = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // No user directory is the normal case, not a problem worth a warning.
        Err(e) if e.kind() == ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            warn(
                warnings,
                &origin,
                format!("cannot read theme directory: {e}"),
            );
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => paths.push(entry.path()),
            Err(e) => warn(warnings, &origin, format!("cannot list an entry: {e}")),
        }
    }
    // Directories are skipped silently; anything else named *.toml (even a dangling symlink) is
    // meant as a theme, so failing to read it deserves a warning.
    paths.retain(|p| p.extension().is_some_and(|ext| ext == "toml") && !p.is_dir());
    paths.sort();

    let mut specs = Vec::new();
    for path in paths {
        let origin = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                warn(warnings, &origin, format!("cannot read: {e}; file skipped"));
                continue;
            }
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        specs.extend(parse_theme(&text, &origin, &stem, warnings));
    }
    specs
}

/// Parses one theme file. `None` only for a TOML syntax error; every other problem is warned
/// about and worked around so that the rest of the file still counts.
fn parse_theme(
    text: &str,
    origin: &str,
    default_name: &str,
    warnings: &mut Vec<String>,
) -> Option<ThemeSpec> {
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => {
            let at = e
                .span()
                .and_then(|span| line_column(text, span.start))
                .map_or_else(String::new, |(line, column)| {
                    format!(" at line {line}, column {column}")
                });
            let problem = format!("TOML syntax error{at}: {}; file skipped", e.message());
            warn(warnings, origin, problem);
            return None;
        }
    };

    let name = match table.get("name") {
        Some(toml::Value::String(name)) if !name.trim().is_empty() => {
            sanitize(name.trim()).into_owned()
        }
        Some(_) => {
            let problem = format!("`name` must be a non-empty string; using `{default_name}`");
            warn(warnings, origin, problem);
            default_name.to_owned()
        }
        None => {
            warn(
                warnings,
                origin,
                format!("no `name`; using `{default_name}`"),
            );
            default_name.to_owned()
        }
    };
    let parent = match table.get("parent") {
        Some(toml::Value::String(parent)) => Some(parent.trim().to_owned()),
        Some(_) => {
            warn(
                warnings,
                origin,
                "`parent` must be a string; using `terminal`",
            );
            None
        }
        None => None,
    };
    let mut roles = RoleOverrides::default();
    match table.get("roles") {
        Some(toml::Value::Table(entries)) => {
            for (key, value) in entries {
                let Some(role) = Role::from_name(key) else {
                    warn(warnings, origin, format!("unknown role `{key}` (ignored)"));
                    continue;
                };
                match parse_style(value) {
                    Ok(style) => roles[role.index()] = Some(style),
                    Err(problem) => {
                        let problem = format!("role `{key}`: {problem}; using the parent's style");
                        warn(warnings, origin, problem);
                    }
                }
            }
        }
        Some(_) => warn(warnings, origin, "`roles` must be a table; no roles set"),
        None => {}
    }
    for key in table.keys() {
        if !matches!(key.as_str(), "name" | "parent" | "roles") {
            warn(warnings, origin, format!("unknown key `{key}` (ignored)"));
        }
    }
    Some(ThemeSpec {
        name,
        parent,
        roles,
        origin: origin.to_owned(),
    })
}

/// 1-based line and column (in characters) of byte offset `at`, for syntax-error messages.
fn line_column(text: &str, at: usize) -> Option<(usize, usize)> {
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    ))
}

/// `{ fg, bg, modifiers }` → a style. All-or-nothing: a half-applied role would mix the theme's
/// intent with defaults, so any bad field rejects the whole role (it then inherits).
fn parse_style(value: &toml::Value) -> Result<Style, String> {
    let Some(fields) = value.as_table() else {
        return Err(format!(
            "expected a table like {{ fg = \"red\" }}, found {} `{value}`",
            value.type_str()
        ));
    };
    let mut style = Style::default();
    for (key, field) in fields {
        match key.as_str() {
            "fg" => style = style.fg(parse_color(field).map_err(|e| format!("fg: {e}"))?),
            "bg" => style = style.bg(parse_color(field).map_err(|e| format!("bg: {e}"))?),
            "modifiers" => style = style.add_modifier(parse_modifiers(field)?),
            other => {
                return Err(format!(
                    "unknown field `{other}` (expected fg, bg, modifiers)"
                ))
            }
        }
    }
    Ok(style)
}

fn parse_color(value: &toml::Value) -> Result<Color, String> {
    match value {
        toml::Value::String(s) => color_from_str(s).ok_or_else(|| {
            format!(
                "invalid colour `{s}` (expected a name like `red`, an index 0-255 or `#rrggbb`)"
            )
        }),
        // Not in the documented format, but `fg = 33` is an obvious enough way to say "33".
        toml::Value::Integer(i) => u8::try_from(*i)
            .map(Color::Indexed)
            .map_err(|_| format!("invalid colour index `{i}` (expected 0-255)")),
        other => Err(format!("invalid colour `{other}` (expected a string)")),
    }
}

/// ANSI names (ratatui's naming: `gray` is ANSI 7, `white` is bright white), `"0"`–`"255"`, or
/// `#rrggbb`. Case and `-`/`_` are not significant.
fn color_from_str(text: &str) -> Option<Color> {
    let s = text.trim().to_ascii_lowercase().replace('_', "-");
    if let Some(hex) = s.strip_prefix('#') {
        // Checked first: from_str_radix alone would also accept a sign.
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        return Some(Color::Rgb(channel(0)?, channel(2)?, channel(4)?));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u8>().ok().map(Color::Indexed);
    }
    Some(match s.as_str() {
        "reset" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "bright-black" | "dark-gray" | "dark-grey" => Color::DarkGray,
        "bright-red" => Color::LightRed,
        "bright-green" => Color::LightGreen,
        "bright-yellow" => Color::LightYellow,
        "bright-blue" => Color::LightBlue,
        "bright-magenta" => Color::LightMagenta,
        "bright-cyan" => Color::LightCyan,
        "white" | "bright-white" => Color::White,
        _ => return None,
    })
}

fn parse_modifiers(value: &toml::Value) -> Result<Modifier, String> {
    let Some(items) = value.as_array() else {
        return Err(format!(
            "`modifiers` must be a list like [\"bold\"], found `{value}`"
        ));
    };
    let mut modifiers = Modifier::empty();
    for item in items {
        // Non-strings fall through to the error, shown in TOML syntax.
        let name = item
            .as_str()
            .map_or_else(|| item.to_string(), str::to_owned);
        modifiers |= match name.trim().to_ascii_lowercase().as_str() {
            "bold" => Modifier::BOLD,
            "dim" => Modifier::DIM,
            "italic" => Modifier::ITALIC,
            "underlined" => Modifier::UNDERLINED,
            "reversed" => Modifier::REVERSED,
            _ => {
                return Err(format!(
                    "invalid modifier `{name}` (expected bold, dim, italic, underlined, reversed)"
                ))
            }
        };
    }
    Ok(modifiers)
}

/// Applies inheritance to every spec (slot [`ROOT`] is `terminal`); one style array per spec.
/// Unknown parents and cycles are warned about and re-pointed at the root first, so that every
/// chain is guaranteed to end.
fn resolve_all(specs: &[ThemeSpec], warnings: &mut Vec<String>) -> Vec<RoleStyles> {
    let n = specs.len();
    let index: HashMap<&str, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();

    let mut parent: Vec<Option<usize>> = Vec::with_capacity(n);
    for (i, spec) in specs.iter().enumerate() {
        let p = if i == ROOT {
            if let Some(p) = &spec.parent {
                let problem = format!("`terminal` is the root theme; parent `{p}` ignored");
                warn(warnings, &spec.origin, problem);
            }
            None
        } else {
            match spec.parent.as_deref() {
                // No parent means "terminal": it is the root of every chain.
                None => Some(ROOT),
                Some(p) => match index.get(p) {
                    Some(&j) => Some(j),
                    None => {
                        let problem = format!("unknown parent `{p}`; using `terminal`");
                        warn(warnings, &spec.origin, problem);
                        Some(ROOT)
                    }
                },
            }
        };
        parent.push(p);
    }

    // Break cycles: walk up from each theme in catalog order (so the break point is
    // reproducible); meeting a theme already on the current walk means the last theme's parent
    // link closes a cycle, so that theme inherits from the root instead.
    #[derive(Clone, Copy, PartialEq)]
    enum Walk {
        Unvisited,
        OnPath,
        ReachesRoot,
    }
    let mut state = vec![Walk::Unvisited; n];
    for start in 0..n {
        let mut path: Vec<usize> = Vec::new();
        let mut cur = Some(start);
        while let Some(c) = cur {
            match state[c] {
                Walk::ReachesRoot => break,
                Walk::OnPath => {
                    if let Some(&last) = path.last() {
                        let cycle_start = path.iter().position(|&p| p == c).unwrap_or(0);
                        let cycle: Vec<&str> = path[cycle_start..]
                            .iter()
                            .chain([&c])
                            .map(|&p| specs[p].name.as_str())
                            .collect();
                        let problem = format!(
                            "parent cycle {}; `{}` now inherits from `terminal`",
                            cycle.join(" → "),
                            specs[last].name
                        );
                        warn(warnings, &specs[last].origin, problem);
                        parent[last] = Some(ROOT);
                    }
                    break;
                }
                Walk::Unvisited => {
                    state[c] = Walk::OnPath;
                    path.push(c);
                    cur = parent[c];
                }
            }
        }
        for p in path {
            state[p] = Walk::ReachesRoot;
        }
    }

    // Resolve each theme by climbing to the nearest resolved ancestor (or past the root) and
    // applying the overrides on the way back down; memoised, so each theme is done once.
    let mut resolved: Vec<Option<RoleStyles>> = vec![None; n];
    for i in 0..n {
        let mut chain = Vec::new();
        let mut cur = Some(i);
        // The length bound is belt and braces: the cycles are already gone.
        while let Some(c) = cur {
            if resolved[c].is_some() || chain.len() > n {
                break;
            }
            chain.push(c);
            cur = parent[c];
        }
        let mut styles = cur.and_then(|c| resolved[c]).unwrap_or_default();
        for &c in chain.iter().rev() {
            styles = overlay(styles, &specs[c].roles);
            resolved[c] = Some(styles);
        }
    }
    resolved
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect()
}

/// The parent's styles with the child's roles replacing them wholesale (no field-level merge:
/// a child that sets only `bg` for a role means "no fg, no modifiers" for it).
fn overlay(mut styles: RoleStyles, roles: &RoleOverrides) -> RoleStyles {
    for (style, role) in styles.iter_mut().zip(roles) {
        if let Some(role) = role {
            *style = *role;
        }
    }
    styles
}

fn adapt_style(mut style: Style, depth: ColorDepth) -> Style {
    // Modifiers are always kept: with colour gone they are what still carries the meaning.
    style.fg = style.fg.and_then(|c| adapt_color(c, depth));
    style.bg = style.bg.and_then(|c| adapt_color(c, depth));
    style
}

/// Fits a colour to the terminal's depth; `None` means "leave the colour unset".
fn adapt_color(color: Color, depth: ColorDepth) -> Option<Color> {
    Some(match (depth, color) {
        // Reset asks for the terminal's own default, which every depth can show.
        (_, Color::Reset) => Color::Reset,
        (ColorDepth::NoColor, _) => return None,
        (ColorDepth::TrueColor, c) => c,
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_256([r, g, b])),
        (ColorDepth::Ansi256, c) => c,
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => nearest_16([r, g, b]),
        (ColorDepth::Ansi16, Color::Indexed(i)) if usize::from(i) < ANSI16.len() => {
            ANSI16[usize::from(i)].0
        }
        (ColorDepth::Ansi16, Color::Indexed(i)) => nearest_16(xterm_rgb(i)),
        (ColorDepth::Ansi16, c) => c,
    })
}

/// The 16 ANSI colours in index order, with xterm's default RGB values (what "nearest" is
/// measured against; a user's palette may differ, but some reference is needed).
const ANSI16: [(Color, [u8; 3]); 16] = [
    (Color::Black, [0, 0, 0]),
    (Color::Red, [205, 0, 0]),
    (Color::Green, [0, 205, 0]),
    (Color::Yellow, [205, 205, 0]),
    (Color::Blue, [0, 0, 238]),
    (Color::Magenta, [205, 0, 205]),
    (Color::Cyan, [0, 205, 205]),
    (Color::Gray, [229, 229, 229]),
    (Color::DarkGray, [127, 127, 127]),
    (Color::LightRed, [255, 0, 0]),
    (Color::LightGreen, [0, 255, 0]),
    (Color::LightYellow, [255, 255, 0]),
    (Color::LightBlue, [92, 92, 255]),
    (Color::LightMagenta, [255, 0, 255]),
    (Color::LightCyan, [0, 255, 255]),
    (Color::White, [255, 255, 255]),
];

/// Channel levels of xterm's 6×6×6 colour cube (indices 16..=231).
const CUBE_LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn distance2(a: [u8; 3], b: [u8; 3]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, y)| (i32::from(x) - i32::from(y)).pow(2).unsigned_abs())
        .sum()
}

/// RGB of an xterm-256 index (system colours use the [`ANSI16`] reference values).
fn xterm_rgb(index: u8) -> [u8; 3] {
    let i = usize::from(index);
    match i {
        0..=15 => ANSI16[i].1,
        16..=231 => {
            let n = i - 16;
            [
                CUBE_LEVELS[n / 36],
                CUBE_LEVELS[(n / 6) % 6],
                CUBE_LEVELS[n % 6],
            ]
        }
        _ => [gray_level(i - 232); 3],
    }
}

/// Grey ramp 232..=255: 8, 18, …, 238.
fn gray_level(k: usize) -> u8 {
    // k < 24, so the value is at most 238.
    (8 + 10 * k) as u8
}

/// Nearest xterm-256 index among the cube and the grey ramp. The 16 system colours are left out
/// on purpose: terminals restyle them, so they would not reliably look like the hex asked for.
fn nearest_256(rgb: [u8; 3]) -> u8 {
    // The cube is separable: the nearest point is the nearest level on each channel.
    let level = |c: u8| {
        (0..CUBE_LEVELS.len())
            .min_by_key(|&l| (i32::from(CUBE_LEVELS[l]) - i32::from(c)).abs())
            .unwrap_or(0)
    };
    let (r, g, b) = (level(rgb[0]), level(rgb[1]), level(rgb[2]));
    let cube_index = 16 + 36 * r + 6 * g + b;
    let cube_distance = distance2(rgb, [CUBE_LEVELS[r], CUBE_LEVELS[g], CUBE_LEVELS[b]]);
    let (gray_k, gray_distance) = (0..24)
        .map(|k| (k, distance2(rgb, [gray_level(k); 3])))
        .min_by_key(|&(_, d)| d)
        .unwrap_or((0, u32::MAX));
    // Ties go to the cube: it is the same colour on every xterm-like terminal.
    let index = if gray_distance < cube_distance {
        232 + gray_k
    } else {
        cube_index
    };
    index as u8
}

fn nearest_16(rgb: [u8; 3]) -> Color {
    ANSI16
        .iter()
        .min_by_key(|(_, reference)| distance2(rgb, *reference))
        .map_or(Color::Reset, |&(color, _)| color)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPTHS: [ColorDepth; 4] = [
        ColorDepth::TrueColor,
        ColorDepth::Ansi256,
        ColorDepth::Ansi16,
        ColorDepth::NoColor,
    ];
    const BUILTIN_NAMES: [&str; 6] = [
        "terminal",
        "dark",
        "light",
        "high-contrast",
        "solarized-dark",
        "colorblind-safe",
    ];
    const VALID_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/themes/valid");
    const INVALID_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/themes/invalid");

    fn style(fg: Option<Color>, bg: Option<Color>, modifiers: Modifier) -> Style {
        let mut s = Style::default().add_modifier(modifiers);
        s.fg = fg;
        s.bg = bg;
        s
    }

    fn theme<'a>(catalog: &'a ThemeCatalog, name: &str) -> &'a Theme {
        catalog
            .get(name)
            .unwrap_or_else(|| panic!("theme `{name}` missing: {:?}", catalog.names()))
    }

    fn warnings_mentioning<'a>(warnings: &'a [String], needles: &[&str]) -> Vec<&'a String> {
        warnings
            .iter()
            .filter(|w| needles.iter().all(|n| w.contains(n)))
            .collect()
    }

    #[test]
    fn roles_are_indexed_named_and_cycled() {
        for (i, role) in Role::ALL.into_iter().enumerate() {
            assert_eq!(role.index(), i, "{role:?} out of declaration order");
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::Base.name(), "base");
        assert_eq!(Role::Chart1.name(), "chart_1");
        assert_eq!(Role::Chart6.name(), "chart_6");
        assert_eq!(Role::chart(0), Role::Chart1);
        assert_eq!(Role::chart(5), Role::Chart6);
        assert_eq!(Role::chart(6), Role::Chart1);
        assert_eq!(Role::chart(13), Role::Chart2);
    }

    #[test]
    fn depth_from_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(ColorDepth::from_env(env(&[])), ColorDepth::Ansi16);
        assert_eq!(
            ColorDepth::from_env(env(&[("TERM", "xterm")])),
            ColorDepth::Ansi16
        );
        assert_eq!(
            ColorDepth::from_env(env(&[("TERM", "xterm-256color")])),
            ColorDepth::Ansi256
        );
        assert_eq!(
            ColorDepth::from_env(env(&[
                ("TERM", "xterm-256color"),
                ("COLORTERM", "truecolor")
            ])),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::from_env(env(&[("COLORTERM", "24bit")])),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::from_env(env(&[("COLORTERM", "truecolor"), ("NO_COLOR", "1")])),
            ColorDepth::NoColor
        );
        // An empty NO_COLOR does not count (no-color.org).
        assert_eq!(
            ColorDepth::from_env(env(&[("NO_COLOR", ""), ("TERM", "screen-256color")])),
            ColorDepth::Ansi256
        );
    }

    #[test]
    fn builtins_parse_cleanly_and_declare_their_names() {
        for (name, text) in BUILTINS {
            let mut warnings = Vec::new();
            let spec = parse_theme(text, name, "?", &mut warnings).expect("built-in parses");
            assert_eq!(warnings, Vec::<String>::new(), "{name}");
            assert_eq!(spec.name, name);
        }
        for depth in DEPTHS {
            let (catalog, warnings) = ThemeCatalog::load(None, depth);
            assert_eq!(warnings, Vec::<String>::new(), "{depth:?}");
            assert_eq!(catalog.names(), BUILTIN_NAMES);
        }
    }

    #[test]
    fn builtins_resolve_every_role_at_every_depth() {
        for depth in DEPTHS {
            let (catalog, _) = ThemeCatalog::load(None, depth);
            for name in BUILTIN_NAMES {
                let theme = theme(&catalog, name);
                for role in Role::ALL {
                    let s = theme.style(role);
                    let what = format!("{name}/{}/{depth:?}: {s:?}", role.name());
                    // `terminal` sets every role, so with colour nothing is left at the default.
                    if depth != ColorDepth::NoColor {
                        assert_ne!(s, Style::default(), "{what}");
                    }
                    for c in [s.fg, s.bg].into_iter().flatten() {
                        let fits = match depth {
                            ColorDepth::TrueColor => true,
                            ColorDepth::Ansi256 => !matches!(c, Color::Rgb(..)),
                            ColorDepth::Ansi16 => !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                            ColorDepth::NoColor => c == Color::Reset,
                        };
                        assert!(fits, "{what}");
                    }
                }
                // Meaning never rides on colour alone.
                assert!(
                    theme
                        .style(Role::Anomaly)
                        .add_modifier
                        .contains(Modifier::BOLD),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn terminal_constructor_matches_the_catalog() {
        for depth in DEPTHS {
            let (catalog, _) = ThemeCatalog::load(None, depth);
            let direct = Theme::terminal(depth);
            assert_eq!(direct.name, "terminal");
            assert_eq!(
                direct.styles,
                theme(&catalog, "terminal").styles,
                "{depth:?}"
            );
        }
        let t = Theme::terminal(ColorDepth::Ansi16);
        assert_eq!(
            t.style(Role::Muted),
            style(Some(Color::DarkGray), None, Modifier::empty())
        );
        assert_eq!(
            t.style(Role::Base),
            style(Some(Color::Reset), Some(Color::Reset), Modifier::empty())
        );
    }

    #[test]
    fn child_overrides_parent_role_by_role() {
        let (catalog, _) = ThemeCatalog::load(None, ColorDepth::TrueColor);
        let dark = theme(&catalog, "dark");
        let cb = theme(&catalog, "colorblind-safe");
        // Set in colorblind-safe: its own value.
        let vermillion = Color::Rgb(0xd5, 0x5e, 0x00);
        assert_eq!(
            cb.style(Role::Anomaly),
            style(Some(vermillion), None, Modifier::BOLD)
        );
        // Not set: dark's.
        for role in [Role::Base, Role::Muted, Role::Title, Role::Selection] {
            assert_eq!(cb.style(role), dark.style(role), "{role:?}");
        }
        // And dark's own roles replace terminal's: its title has a colour, terminal's has none.
        let terminal = theme(&catalog, "terminal");
        assert_eq!(
            terminal.style(Role::Title),
            style(None, None, Modifier::BOLD)
        );
        assert_eq!(
            dark.style(Role::Title),
            style(Some(Color::Rgb(255, 255, 255)), None, Modifier::BOLD)
        );
    }

    #[test]
    fn colour_downgrades() {
        let red = Color::Rgb(0xff, 0x00, 0x00);
        assert_eq!(adapt_color(red, ColorDepth::TrueColor), Some(red));
        assert_eq!(
            adapt_color(red, ColorDepth::Ansi256),
            Some(Color::Indexed(196))
        );
        // Bright red (255,0,0) is an exact match in the xterm table; red (205,0,0) is not.
        assert_eq!(adapt_color(red, ColorDepth::Ansi16), Some(Color::LightRed));
        assert_eq!(adapt_color(red, ColorDepth::NoColor), None);
        // dark's anomaly colour.
        assert_eq!(
            adapt_color(Color::Rgb(0xff, 0x5f, 0x5f), ColorDepth::Ansi256),
            Some(Color::Indexed(203))
        );
        assert_eq!(
            adapt_color(Color::Rgb(0xff, 0x5f, 0x5f), ColorDepth::Ansi16),
            Some(Color::LightRed)
        );
        // Greys go to the ramp when it is closer than the cube.
        assert_eq!(nearest_256([0x80, 0x80, 0x80]), 244);
        assert_eq!(nearest_256([0x1c, 0x1c, 0x1c]), 234);
        // Exact cube points map to themselves.
        assert_eq!(nearest_256([0x5f, 0xaf, 0xff]), 75);
        assert_eq!(nearest_256([0, 0, 0]), 16);
        assert_eq!(nearest_256([0xff, 0xff, 0xff]), 231);
        for i in 16..=255u8 {
            assert_eq!(nearest_256(xterm_rgb(i)), i, "index {i} round-trips");
        }
        assert_eq!(
            adapt_color(Color::Rgb(0x1c, 0x1c, 0x1c), ColorDepth::Ansi16),
            Some(Color::Black)
        );
        // Okabe-Ito blue lands on cyan, not blue: xterm's blue (0,0,238) is far darker
        // (distance² 16596 against cyan's 9378).
        assert_eq!(
            adapt_color(Color::Rgb(0, 0x72, 0xb2), ColorDepth::Ansi16),
            Some(Color::Cyan)
        );
        // Indices: kept at 256; low ones become their name at 16, high ones the nearest name.
        assert_eq!(
            adapt_color(Color::Indexed(33), ColorDepth::Ansi256),
            Some(Color::Indexed(33))
        );
        assert_eq!(
            adapt_color(Color::Indexed(3), ColorDepth::Ansi16),
            Some(Color::Yellow)
        );
        assert_eq!(
            adapt_color(Color::Indexed(8), ColorDepth::Ansi16),
            Some(Color::DarkGray)
        );
        assert_eq!(
            adapt_color(Color::Indexed(196), ColorDepth::Ansi16),
            Some(Color::LightRed)
        );
        assert_eq!(
            adapt_color(Color::Indexed(232), ColorDepth::Ansi16),
            Some(Color::Black)
        );
        // Names survive every depth with colour; reset survives every depth.
        assert_eq!(
            adapt_color(Color::Cyan, ColorDepth::Ansi16),
            Some(Color::Cyan)
        );
        for depth in DEPTHS {
            assert_eq!(adapt_color(Color::Reset, depth), Some(Color::Reset));
        }
    }

    #[test]
    fn colour_and_modifier_syntax() {
        assert_eq!(color_from_str("grey"), Some(Color::Gray));
        assert_eq!(color_from_str("Dark-Gray"), Some(Color::DarkGray));
        assert_eq!(color_from_str("bright_black"), Some(Color::DarkGray));
        assert_eq!(color_from_str("bright-white"), Some(Color::White));
        assert_eq!(color_from_str("white"), Some(Color::White));
        assert_eq!(color_from_str("33"), Some(Color::Indexed(33)));
        assert_eq!(
            color_from_str("#268BD2"),
            Some(Color::Rgb(0x26, 0x8b, 0xd2))
        );
        for bad in [
            "256", "-1", "#12345", "#+12345", "#ggg000", "", "purple", "#1234567",
        ] {
            assert_eq!(color_from_str(bad), None, "{bad:?}");
        }
        let value: toml::Value = toml::Value::Array(vec!["bold".into(), "reversed".into()]);
        assert_eq!(
            parse_modifiers(&value),
            Ok(Modifier::BOLD | Modifier::REVERSED)
        );
        assert!(parse_modifiers(&toml::Value::from("bold")).is_err());
        assert!(parse_modifiers(&toml::Value::Array(vec![1.into()])).is_err());
    }

    #[test]
    fn no_color_strips_colours_but_keeps_modifiers() {
        let (catalog, _) = ThemeCatalog::load(None, ColorDepth::NoColor);
        for name in BUILTIN_NAMES {
            let anomaly = theme(&catalog, name).style(Role::Anomaly);
            assert_eq!((anomaly.fg, anomaly.bg), (None, None), "{name}");
            assert!(anomaly.add_modifier.contains(Modifier::BOLD), "{name}");
        }
        let terminal = theme(&catalog, "terminal");
        assert_eq!(
            terminal.style(Role::Base),
            style(Some(Color::Reset), Some(Color::Reset), Modifier::empty())
        );
        assert_eq!(
            terminal.style(Role::Selection),
            style(None, None, Modifier::REVERSED)
        );
    }

    #[test]
    fn user_themes_follow_builtins_and_cycle() {
        let (catalog, warnings) =
            ThemeCatalog::load(Some(Path::new(VALID_DIR)), ColorDepth::TrueColor);
        assert_eq!(warnings, Vec::<String>::new());
        let mut expected = BUILTIN_NAMES.to_vec();
        expected.extend(["ocean", "reef"]);
        assert_eq!(catalog.names(), expected);
        assert_eq!(catalog.next_after("terminal"), "dark");
        assert_eq!(catalog.next_after("colorblind-safe"), "ocean");
        assert_eq!(catalog.next_after("reef"), "terminal");
        assert_eq!(catalog.next_after("no-such-theme"), "terminal");

        let ocean = theme(&catalog, "ocean");
        assert_eq!(
            ocean.style(Role::Anomaly),
            style(
                Some(Color::Indexed(208)),
                None,
                Modifier::BOLD | Modifier::UNDERLINED
            )
        );
        assert_eq!(
            ocean.style(Role::Chart1),
            style(Some(Color::LightCyan), None, Modifier::empty())
        );
        // A role given in the child replaces the parent's wholesale: no fg inherited from dark.
        assert_eq!(
            ocean.style(Role::Selection),
            style(None, Some(Color::Rgb(0, 0x40, 0x80)), Modifier::empty())
        );
        // `reef` has no `parent`: everything it does not set is terminal's.
        let reef = theme(&catalog, "reef");
        let terminal = theme(&catalog, "terminal");
        assert_eq!(
            reef.style(Role::Ok),
            style(Some(Color::Indexed(42)), None, Modifier::empty())
        );
        assert_eq!(reef.style(Role::Anomaly), terminal.style(Role::Anomaly));
    }

    #[test]
    fn user_theme_replaces_a_builtin_in_place() {
        let (catalog, _) = ThemeCatalog::load(Some(Path::new(VALID_DIR)), ColorDepth::TrueColor);
        let (builtins, _) = ThemeCatalog::load(None, ColorDepth::TrueColor);
        assert_eq!(catalog.names()[1], "dark");
        let dark = theme(&catalog, "dark");
        let user_base = style(
            Some(Color::Rgb(0xc0, 0xc0, 0xc0)),
            Some(Color::Rgb(0x10, 0x10, 0x10)),
            Modifier::empty(),
        );
        assert_eq!(dark.style(Role::Base), user_base);
        assert_eq!(
            dark.style(Role::Title),
            style(Some(Color::White), None, Modifier::BOLD | Modifier::ITALIC)
        );
        // The user's `dark` sets no anomaly: it is terminal's, not the built-in dark's.
        assert_eq!(
            dark.style(Role::Anomaly),
            theme(&catalog, "terminal").style(Role::Anomaly)
        );
        assert_ne!(
            dark.style(Role::Anomaly),
            theme(&builtins, "dark").style(Role::Anomaly)
        );
        // Built-ins and user themes that inherit from `dark` now see the user's version.
        assert_eq!(
            theme(&catalog, "colorblind-safe").style(Role::Base),
            user_base
        );
        assert_eq!(
            theme(&catalog, "ocean").style(Role::Title),
            dark.style(Role::Title)
        );
        assert_eq!(
            theme(&catalog, "ocean").style(Role::Muted),
            theme(&catalog, "terminal").style(Role::Muted)
        );
        // Untouched built-ins are unchanged.
        assert_eq!(
            theme(&catalog, "light").styles,
            theme(&builtins, "light").styles
        );
    }

    #[test]
    fn broken_user_themes_warn_and_fall_back() {
        let (catalog, warnings) =
            ThemeCatalog::load(Some(Path::new(INVALID_DIR)), ColorDepth::TrueColor);
        let (builtins, _) = ThemeCatalog::load(None, ColorDepth::TrueColor);
        let terminal = theme(&catalog, "terminal");
        let dark = theme(&catalog, "dark");
        assert_eq!(warnings.len(), 6, "{warnings:#?}");
        assert!(warnings.iter().all(|w| !w.contains('\n')), "{warnings:#?}");

        // Syntax error: one warning naming the file and where, theme absent, the rest loaded.
        let syntax =
            warnings_mentioning(&warnings, &["broken.toml", "TOML syntax error at line 3"]);
        assert_eq!(syntax.len(), 1, "{warnings:#?}");
        assert!(catalog.get("broken").is_none());
        let mut expected = BUILTIN_NAMES.to_vec();
        expected.extend(["bad-colour", "cycle-a", "cycle-b", "orphan"]);
        assert_eq!(catalog.names(), expected);
        for name in BUILTIN_NAMES {
            assert_eq!(
                theme(&catalog, name).styles,
                theme(&builtins, name).styles,
                "{name}"
            );
        }

        // Bad colour / bad modifier: the role keeps the parent's style, good roles still apply.
        let bad = theme(&catalog, "bad-colour");
        assert_eq!(
            warnings_mentioning(&warnings, &["bad-colour.toml", "anomaly", "#ggg000"]).len(),
            1
        );
        assert_eq!(
            warnings_mentioning(&warnings, &["bad-colour.toml", "threshold", "blink"]).len(),
            1
        );
        assert_eq!(
            warnings_mentioning(&warnings, &["bad-colour.toml", "chart_7"]).len(),
            1
        );
        assert_eq!(bad.style(Role::Anomaly), dark.style(Role::Anomaly));
        assert_eq!(bad.style(Role::Threshold), dark.style(Role::Threshold));
        assert_eq!(
            bad.style(Role::Title),
            style(Some(Color::Rgb(0, 0xff, 0)), None, Modifier::empty())
        );

        // Unknown parent: terminal underneath.
        assert_eq!(
            warnings_mentioning(&warnings, &["orphan.toml", "no-such-theme"]).len(),
            1
        );
        let orphan = theme(&catalog, "orphan");
        assert_eq!(
            orphan.style(Role::Chart1),
            style(Some(Color::Green), None, Modifier::empty())
        );
        assert_eq!(orphan.style(Role::Base), terminal.style(Role::Base));

        // Two-file cycle: broken once, at the theme whose link closes it (cycle-a is walked
        // first, so cycle-b's link back to it goes); cycle-a still inherits from cycle-b.
        let cycle =
            warnings_mentioning(&warnings, &["cycle-b.toml", "cycle-a → cycle-b → cycle-a"]);
        assert_eq!(cycle.len(), 1, "{warnings:#?}");
        let (a, b) = (theme(&catalog, "cycle-a"), theme(&catalog, "cycle-b"));
        let yellow = style(Some(Color::Rgb(0xff, 0xff, 0)), None, Modifier::empty());
        let green = style(Some(Color::Rgb(0, 0xff, 0)), None, Modifier::empty());
        assert_eq!(b.style(Role::Warn), yellow);
        assert_eq!(b.style(Role::Ok), terminal.style(Role::Ok));
        assert_eq!(a.style(Role::Warn), yellow);
        assert_eq!(a.style(Role::Ok), green);
        assert_eq!(a.style(Role::Base), terminal.style(Role::Base));
    }

    #[test]
    fn odd_files_and_directories_never_panic() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write =
            |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).expect("write");
        write("latin1.toml", b"name = \"caf\xe9\"\n");
        write("empty.toml", b"");
        write("shapes.toml", b"name = 7\nparent = [\"dark\"]\ncolour = 1\n[roles]\nbase = \"red\"\nok = { fg = 300 }\nwarn = { fg = \"red\", weight = \"heavy\" }\nerror = { modifiers = \"bold\" }\n");
        write("loop.toml", b"name = \"loop\"\nparent = \"loop\"\n");
        write(
            "root.toml",
            b"name = \"terminal\"\nparent = \"dark\"\n[roles]\nok = { fg = \"blue\" }\n",
        );
        write("zz-loop.toml", b"name = \"loop\"\n");
        write("notes.txt", b"not a theme");
        std::fs::create_dir(dir.path().join("folder.toml")).expect("mkdir");

        let (catalog, warnings) = ThemeCatalog::load(Some(dir.path()), ColorDepth::Ansi256);
        let count = |needles: &[&str]| warnings_mentioning(&warnings, needles).len();
        assert_eq!(count(&["latin1.toml", "cannot read"]), 1, "{warnings:#?}");
        assert_eq!(count(&["empty.toml", "no `name`"]), 1, "{warnings:#?}");
        for needle in [
            "`name` must be",
            "`parent` must be",
            "unknown key `colour`",
            "role `base`",
            "role `ok`",
            "weight",
            "role `error`",
        ] {
            assert_eq!(
                count(&["shapes.toml", needle]),
                1,
                "{needle}: {warnings:#?}"
            );
        }
        assert_eq!(
            count(&["loop.toml", "parent cycle loop → loop"]),
            1,
            "{warnings:#?}"
        );
        assert_eq!(count(&["root.toml", "root theme"]), 1, "{warnings:#?}");
        assert_eq!(
            count(&["zz-loop.toml", "already defined by"]),
            1,
            "{warnings:#?}"
        );
        assert_eq!(warnings.len(), 12, "{warnings:#?}");

        let mut expected = BUILTIN_NAMES.to_vec();
        expected.extend(["empty", "loop", "shapes"]);
        assert_eq!(catalog.names(), expected);
        // The user's root replaces the built-in one (and has nothing under it).
        let terminal = theme(&catalog, "terminal");
        assert_eq!(
            terminal.style(Role::Ok),
            style(Some(Color::Blue), None, Modifier::empty())
        );
        assert_eq!(terminal.style(Role::Anomaly), Style::default());
        assert_eq!(theme(&catalog, "empty").styles, terminal.styles);
        assert_eq!(theme(&catalog, "loop").styles, terminal.styles);

        // Missing directory: nothing to say. A file where a directory should be: a warning.
        let missing = dir.path().join("nope");
        let (catalog, warnings) = ThemeCatalog::load(Some(&missing), ColorDepth::Ansi16);
        assert_eq!(
            (catalog.names(), warnings),
            (BUILTIN_NAMES.to_vec(), Vec::new())
        );
        let (_, warnings) =
            ThemeCatalog::load(Some(&dir.path().join("notes.txt")), ColorDepth::Ansi16);
        assert_eq!(
            warnings_mentioning(&warnings, &["notes.txt", "cannot read theme directory"]).len(),
            1
        );
    }
}
