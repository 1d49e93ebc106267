//! How setup talks to a person: a progress bar on a terminal, plain lines otherwise.

use super::plan::{Action, Plan, Step};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub(super) struct Reporter {
    bar: Option<ProgressBar>,
}

impl Reporter {
    /// A progress bar for `total` creations when stdout is a terminal.
    pub(super) fn new(total: usize) -> Self {
        let bar = (std::io::stdout().is_terminal() && total > 0).then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Self { bar }
    }

    pub(super) fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }

    pub(super) fn created(&self, step: &Step) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{} {}", step.kind, step.name));
                bar.inc(1);
            }
            None => println!("created {} {} ({})", step.kind, step.name, step.settings),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The plan as lines: one per object, what would happen to it.
pub(super) fn plan_lines(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| match &s.action {
            Action::Keep => format!("unchanged     {} {}", s.kind, s.name),
            Action::Create => format!("would create  {} {} ({})", s.kind, s.name, s.settings),
            Action::Conflict(why) => format!("CONFLICT      {} {}: {why}", s.kind, s.name),
        })
        .collect()
}
