// SPDX-License-Identifier: GPL-2.0

//! `prctl(PR_SET_COW_PTE)` and `prctl(PR_GET_COW_PTE)`.
//!
//! The setting is per address space (all threads of a process share it) and
//! lives in two bits of `mm->flags`: `MMF_COW_PTE` (share at fork) and
//! `MMF_COW_PTE_EXEC` (keep `MMF_COW_PTE` across execve).  Both are in
//! `MMF_INIT_MASK`, so children inherit them; execve clears them unless
//! `MMF_COW_PTE_EXEC` is set, see [`exec_mm`].

use crate::mm::Mm;
use crate::mode::Mode;
use kernel::bindings;
use kernel::error::{code::EINVAL, code::EPERM, Result};
use kernel::str::CStr;

// CAST: The `PR_COW_PTE_*` flags are small constants.
/// Flags of `PR_SET_COW_PTE`, as `PR_GET_COW_PTE` returns them.
const ENABLE: usize = bindings::PR_COW_PTE_ENABLE as usize;
const INHERIT_EXEC: usize = bindings::PR_COW_PTE_INHERIT_EXEC as usize;

/// Checks the arguments of `PR_SET_COW_PTE`.
///
/// `flags` is `0` (off), `PR_COW_PTE_ENABLE`, or `PR_COW_PTE_ENABLE |
/// PR_COW_PTE_INHERIT_EXEC`; unknown flags, `INHERIT_EXEC` alone and
/// non-zero unused arguments are `EINVAL`.
pub(crate) fn check_set(flags: usize, arg3: usize, arg4: usize, arg5: usize) -> Result {
    if arg3 != 0 || arg4 != 0 || arg5 != 0 {
        return Err(EINVAL);
    }
    if flags & !(ENABLE | INHERIT_EXEC) != 0 {
        return Err(EINVAL);
    }
    if flags & INHERIT_EXEC != 0 && flags & ENABLE == 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// `PR_SET_COW_PTE`: changes how `mm` will be forked from now on.
///
/// Enabling is refused with `EPERM` while the system-wide mode is
/// `disabled`; disabling is always allowed.  Disabling only stops new
/// sharing: tables already shared stay shared until they are broken.
pub(crate) fn set(mm: &Mm, flags: usize, arg3: usize, arg4: usize, arg5: usize) -> Result {
    check_set(flags, arg3, arg4, arg5)?;
    if flags & ENABLE != 0 && Mode::current() == Mode::Disabled {
        return Err(EPERM);
    }
    // Order the two bits so that `MMF_COW_PTE_EXEC` is never seen without
    // `MMF_COW_PTE` by a concurrent execve in another thread.
    if flags & ENABLE != 0 {
        mm.set_flag(bindings::MMF_COW_PTE);
        mm.assign_flag(bindings::MMF_COW_PTE_EXEC, flags & INHERIT_EXEC != 0);
    } else {
        mm.clear_flag(bindings::MMF_COW_PTE_EXEC);
        mm.clear_flag(bindings::MMF_COW_PTE);
    }
    Ok(())
}

/// `PR_GET_COW_PTE`: the flags `mm` was last set with.
pub(crate) fn get(mm: &Mm, arg2: usize, arg3: usize, arg4: usize, arg5: usize) -> Result<usize> {
    if arg2 != 0 || arg3 != 0 || arg4 != 0 || arg5 != 0 {
        return Err(EINVAL);
    }
    let mut flags = 0;
    if mm.test_flag(bindings::MMF_COW_PTE) {
        flags |= ENABLE;
        if mm.test_flag(bindings::MMF_COW_PTE_EXEC) {
            flags |= INHERIT_EXEC;
        }
    }
    Ok(flags)
}

/// Applies execve's rule to the new `mm`, whose flags came from the old one.
pub(crate) fn exec_mm(mm: &Mm) {
    if !mm.test_flag(bindings::MMF_COW_PTE_EXEC) {
        mm.clear_flag(bindings::MMF_COW_PTE);
    }
}

/// Whether fork of `mm` shares PTE tables, under the current mode.
pub(crate) fn wants_sharing(mm: &Mm) -> bool {
    match Mode::current() {
        Mode::Disabled => false,
        Mode::OptIn => mm.test_flag(bindings::MMF_COW_PTE),
        Mode::Forced => true,
    }
}

/// The "CowPte:" line of `/proc/<pid>/status`.
pub(crate) fn status(mm: &Mm) -> &'static CStr {
    match Mode::current() {
        Mode::Disabled => kernel::c_str!("disabled"),
        Mode::Forced => kernel::c_str!("forced"),
        Mode::OptIn if !mm.test_flag(bindings::MMF_COW_PTE) => kernel::c_str!("off"),
        Mode::OptIn if mm.test_flag(bindings::MMF_COW_PTE_EXEC) => {
            kernel::c_str!("on, kept across exec")
        }
        Mode::OptIn => kernel::c_str!("on"),
    }
}
