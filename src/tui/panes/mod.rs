//! The panes: one module each, owning its state, its key handling and its drawing behind
//! [`Component`]. The pane list below makes the `Pane` enum (tab order), each pane's tab title
//! and keymap context, and [`Panes`], the state of all of them.
//!
//! Adding a pane: a module here with a `Default` state type implementing [`Component`], one
//! line in `panes!` below, and in `keymap.rs` a `Context`, a `go_…` action (its short label is
//! the tab title) and the pane's default keys.

pub mod automl;
pub mod charts;
pub mod data;
pub mod detect;
pub mod experiments;

use ratatui::layout::Rect;
use ratatui::Frame;

use super::app::Effect;
use super::keymap::{Action, Context};
use super::shared::Shared;

/// A pane: its own state, plus what it shares with the others through [`Shared`].
pub trait Component {
    /// An action for this pane (from its keymap context, then the global one, or from the
    /// palette); the global actions (quit, panes, themes, overlays, cancel) never come here.
    fn on_action(&mut self, action: Action, cx: &mut Shared) -> Vec<Effect>;

    /// Draws the pane into `area`: reads the state, changes nothing.
    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Shared);

    /// The actions the hints line offers in this pane, in order (keys from the keymap, labels
    /// from the action table).
    fn hints(&self) -> &'static [Action];

    /// The pane comes forward (also when it already was).
    fn on_enter(&mut self, _cx: &mut Shared) -> Vec<Effect> {
        Vec::new()
    }
}

macro_rules! panes {
    ($( $variant:ident $field:ident: $ty:ty, $go:ident, $context:ident; )*) => {
        /// The panes, in tab order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Pane { $( $variant, )* }

        const PANE_COUNT: usize = <[&str]>::len(&[ $( stringify!($variant), )* ]);

        impl Pane {
            pub const ALL: [Pane; PANE_COUNT] = [ $( Pane::$variant, )* ];

            /// The action that brings the pane forward.
            pub fn go_action(self) -> Action {
                match self { $( Pane::$variant => Action::$go, )* }
            }

            /// Where the pane's key bindings are looked up first.
            pub fn context(self) -> Context {
                match self { $( Pane::$variant => Context::$context, )* }
            }
        }

        /// The state of every pane.
        #[derive(Debug, Clone, Default)]
        pub struct Panes { $( pub $field: $ty, )* }

        impl Panes {
            pub fn get(&self, pane: Pane) -> &dyn Component {
                match pane { $( Pane::$variant => &self.$field as &dyn Component, )* }
            }

            pub fn get_mut(&mut self, pane: Pane) -> &mut dyn Component {
                match pane { $( Pane::$variant => &mut self.$field as &mut dyn Component, )* }
            }
        }
    };
}

// One line per pane, in tab order: variant, field in `Panes`: state type, the action that brings
// it forward (its short label is the tab title), keymap context.
panes! {
    Data        data:        data::DataPane,               GoData,        Data;
    Detect      detect:      detect::DetectPane,           GoDetect,      Detect;
    Charts      charts:      charts::ChartsPane,           GoCharts,      Charts;
    Experiments experiments: experiments::ExperimentsPane, GoExperiments, Experiments;
    Automl      automl:      automl::AutomlPane,           GoAutoml,      Automl;
}

impl Pane {
    /// The tab title: the short label of the pane's `go_…` action.
    pub fn title(self) -> &'static str {
        self.go_action().short()
    }

    /// The pane a `go_…` action brings forward.
    pub fn for_action(action: Action) -> Option<Pane> {
        Pane::ALL.into_iter().find(|p| p.go_action() == action)
    }
}
