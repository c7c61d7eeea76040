//! The overlays: dialogs that take the keyboard until they close. One module each, owning its
//! state, its key handling and its drawing behind [`Dialog`]; the list below makes the
//! [`Overlay`] enum. Esc always closes an overlay and ctrl-c always quits (`App` sees ctrl-c
//! first), whatever the keymap says.
//!
//! Adding an overlay: a module here with a type implementing [`Dialog`], one line in
//! `overlays!` below, and a pane (or `App`) that opens it with `Shared::open`.

pub mod compare;
pub mod confirm_delete;
pub mod edit_value;
pub mod frequency;
pub mod help;
pub mod open_file;
pub mod palette;
pub mod row_detail;
pub mod run_detail;
pub mod theme_picker;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::app::Effect;
use super::keymap::Action;
use super::panes::Panes;
use super::shared::Shared;

/// What happens after a key in an overlay.
#[derive(Debug)]
pub enum Step {
    /// The overlay stays open.
    Stay,
    /// The overlay closes; this work starts.
    Close(Vec<Effect>),
    /// The overlay closes and this action runs as if its key had been pressed in the pane.
    Run(Action),
    /// The overlay stays open and this work starts (the row detail walking to another row).
    Work(Vec<Effect>),
}

impl Step {
    /// Closes with nothing to start.
    pub fn close() -> Step {
        Step::Close(Vec::new())
    }

    /// A read-only view (run detail, compare): Esc, Enter or quit close it, other keys do
    /// nothing.
    pub fn read_only(key: KeyEvent, action: Option<Action>) -> Step {
        use crossterm::event::KeyCode;
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter) || action == Some(Action::Quit) {
            Step::close()
        } else {
            Step::Stay
        }
    }
}

/// An overlay: its own state, the shared state, and the panes it may act on (a parameter of
/// the Detect pane, the Experiments pane's filter and marks).
pub trait Dialog {
    /// A key while the overlay is open; `action` is the key's global action, if any.
    fn on_key(
        &mut self,
        key: KeyEvent,
        action: Option<Action>,
        cx: &mut Shared,
        panes: &mut Panes,
    ) -> Step;

    /// Where the overlay is drawn on a screen of `screen`.
    fn area(&self, screen: Rect) -> Rect;

    /// Draws the overlay into `area` (already cleared): reads the state, changes nothing.
    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared);
}

macro_rules! overlays {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty), )*) => {
        /// The open overlay; it takes the keyboard until it closes.
        #[derive(Debug, Clone)]
        pub enum Overlay { $( $(#[$doc])* $variant($ty), )* }

        impl Overlay {
            pub fn dialog(&self) -> &dyn Dialog {
                match self { $( Overlay::$variant(o) => o as &dyn Dialog, )* }
            }

            pub fn dialog_mut(&mut self) -> &mut dyn Dialog {
                match self { $( Overlay::$variant(o) => o as &mut dyn Dialog, )* }
            }
        }
    };
}

overlays! {
    /// The keys in force, per context.
    Help(help::Help),
    /// Every action by name.
    Palette(palette::Palette),
    ThemePicker(theme_picker::ThemePicker),
    /// Type a path, or browse the folder typed so far.
    OpenFile(open_file::OpenFile),
    /// A value typed in: a detector parameter, the seed, or the experiments filter.
    EditValue(edit_value::EditValue),
    ConfirmDelete(confirm_delete::ConfirmDelete),
    /// A stored run's details.
    RunDetail(run_detail::RunDetailView),
    /// Stored runs side by side.
    Compare(compare::Compare),
    /// One row explained (Enter on a top anomaly).
    RowDetail(row_detail::RowDetail),
    /// A column's values counted (F in the Data pane).
    Frequency(frequency::Frequency),
}
