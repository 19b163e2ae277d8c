// SPDX-License-Identifier: GPL-2.0

//! The system-wide mode: whether fork may share PTE tables, and for whom.
//!
//! Set at boot with `cow_pte=` and at run time with the `vm.cow_pte` sysctl.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::bindings;
use kernel::error::{code::EINVAL, Result};
use kernel::str::CStr;

/// System-wide COW PTE mode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// No process shares PTE tables at fork.
    Disabled,
    /// Processes that enabled it with `PR_SET_COW_PTE` share (the default).
    OptIn,
    /// Every process shares, whatever its prctl setting (whole-system testing).
    Forced,
}

/// The current mode, as its C value (`COW_PTE_MODE_*`).
static MODE: AtomicU32 = AtomicU32::new(bindings::COW_PTE_MODE_OPT_IN);

impl Mode {
    /// Converts a C mode value (`COW_PTE_MODE_*`).
    pub(crate) fn from_raw(raw: u32) -> Result<Mode> {
        match raw {
            bindings::COW_PTE_MODE_DISABLED => Ok(Mode::Disabled),
            bindings::COW_PTE_MODE_OPT_IN => Ok(Mode::OptIn),
            bindings::COW_PTE_MODE_FORCED => Ok(Mode::Forced),
            _ => Err(EINVAL),
        }
    }

    /// The C value of this mode (`COW_PTE_MODE_*`).
    pub(crate) fn to_raw(self) -> u32 {
        match self {
            Mode::Disabled => bindings::COW_PTE_MODE_DISABLED,
            Mode::OptIn => bindings::COW_PTE_MODE_OPT_IN,
            Mode::Forced => bindings::COW_PTE_MODE_FORCED,
        }
    }

    /// Parses a boot parameter value: a mode name or its number.
    ///
    /// Anything else, including an empty value, is rejected with `EINVAL`
    /// rather than clamped to a valid mode.
    pub(crate) fn parse(value: &CStr) -> Result<Mode> {
        match value.as_bytes() {
            b"disabled" | b"0" => Ok(Mode::Disabled),
            b"opt-in" | b"1" => Ok(Mode::OptIn),
            b"forced" | b"2" => Ok(Mode::Forced),
            _ => Err(EINVAL),
        }
    }

    /// The mode now in force.
    pub(crate) fn current() -> Mode {
        // `MODE` only ever holds values stored by `set()`, which are valid.
        Mode::from_raw(MODE.load(Ordering::Relaxed)).unwrap_or(Mode::OptIn)
    }

    /// Makes this the mode in force.
    ///
    /// Forks that already decided keep their decision; tables already
    /// shared stay correct whatever the mode (breaking never depends on it).
    pub(crate) fn set(self) {
        MODE.store(self.to_raw(), Ordering::Relaxed);
    }
}
