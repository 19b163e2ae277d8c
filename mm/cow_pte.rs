// SPDX-License-Identifier: GPL-2.0

//! COW PTE: copy-on-write sharing of PTE tables at fork.
//!
//! This crate is the policy core of COW PTE.  The C side (hooks in mm/,
//! kernel/sys.c and fs/, and `mm/cow_pte_glue.c`) calls the `extern "C"`
//! functions below, declared in `include/linux/cow_pte.h`; they decide
//! whether a process shares its PTE tables at fork and keep the state of
//! the system-wide mode and of each process.
//!
//! See `Documentation/mm/cow_pte.rst` for the design.

#[path = "cow_pte/mm.rs"]
mod mm;
#[path = "cow_pte/mode.rs"]
mod mode;
#[path = "cow_pte/prctl.rs"]
mod prctl;

use crate::mm::Mm;
use crate::mode::Mode;
use kernel::error::{code::EINVAL, from_result};
use kernel::ffi::{c_char, c_int, c_ulong};
use kernel::str::CStr;

/// `prctl(PR_SET_COW_PTE, flags, arg3, arg4, arg5)` for `mm`.
///
/// # Safety
///
/// `mm` must be NULL or point to a valid `mm_struct` (the caller's own).
#[no_mangle]
pub unsafe extern "C" fn cow_pte_prctl_set(
    mm: *mut kernel::bindings::mm_struct,
    flags: c_ulong,
    arg3: c_ulong,
    arg4: c_ulong,
    arg5: c_ulong,
) -> c_int {
    from_result(|| {
        if mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `mm` is not NULL, so by the contract of this function it
        // is the caller's valid mm for the duration of the call.
        let mm = unsafe { Mm::from_raw(mm) };
        prctl::set(mm, flags, arg3, arg4, arg5)?;
        Ok(0)
    })
}

/// `prctl(PR_GET_COW_PTE, arg2, arg3, arg4, arg5)` for `mm`.
///
/// # Safety
///
/// `mm` must be NULL or point to a valid `mm_struct` (the caller's own).
#[no_mangle]
pub unsafe extern "C" fn cow_pte_prctl_get(
    mm: *mut kernel::bindings::mm_struct,
    arg2: c_ulong,
    arg3: c_ulong,
    arg4: c_ulong,
    arg5: c_ulong,
) -> c_int {
    from_result(|| {
        if mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `mm` is not NULL, so by the contract of this function it
        // is the caller's valid mm for the duration of the call.
        let mm = unsafe { Mm::from_raw(mm) };
        let flags = prctl::get(mm, arg2, arg3, arg4, arg5)?;
        // The flags are the two low bits: the conversion cannot fail.
        c_int::try_from(flags).map_err(|_| EINVAL)
    })
}

/// Applies execve's rule to the new `mm`: COW PTE survives only if asked.
///
/// # Safety
///
/// `mm` must point to a valid `mm_struct` not yet visible to other tasks.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_exec_mm(mm: *mut kernel::bindings::mm_struct) {
    // SAFETY: By the contract of this function `mm` is valid.
    prctl::exec_mm(unsafe { Mm::from_raw(mm) });
}

/// The value of the "CowPte:" line of `/proc/<pid>/status`.
///
/// # Safety
///
/// `mm` must point to a valid `mm_struct` (the caller holds a reference).
#[no_mangle]
pub unsafe extern "C" fn cow_pte_mm_status(mm: *mut kernel::bindings::mm_struct) -> *const c_char {
    // SAFETY: By the contract of this function `mm` is valid.
    prctl::status(unsafe { Mm::from_raw(mm) }).as_char_ptr()
}

/// Parses a `cow_pte=` boot parameter value: the mode, or `-EINVAL`.
///
/// # Safety
///
/// `value` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_mode_parse(value: *const c_char) -> c_int {
    from_result(|| {
        if value.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: By the contract of this function `value` is a valid
        // NUL-terminated string that outlives this call.
        let value = unsafe { CStr::from_char_ptr(value) };
        let mode = Mode::parse(value)?;
        c_int::try_from(mode.to_raw()).map_err(|_| EINVAL)
    })
}

/// The system-wide mode now in force (`COW_PTE_MODE_*`).
#[no_mangle]
pub extern "C" fn cow_pte_mode_get() -> c_int {
    // The modes are small constants: the conversion cannot fail.
    c_int::try_from(Mode::current().to_raw()).unwrap_or(0)
}

/// Sets the system-wide mode; `-EINVAL` for a value that is not a mode.
#[no_mangle]
pub extern "C" fn cow_pte_mode_set(mode: c_int) -> c_int {
    from_result(|| {
        let raw = u32::try_from(mode).map_err(|_| EINVAL)?;
        Mode::from_raw(raw)?.set();
        Ok(0)
    })
}

/// Checks `PR_SET_COW_PTE` arguments without applying them (for KUnit).
#[no_mangle]
pub extern "C" fn cow_pte_prctl_check(
    flags: c_ulong,
    arg3: c_ulong,
    arg4: c_ulong,
    arg5: c_ulong,
) -> c_int {
    from_result(|| {
        prctl::check_set(flags, arg3, arg4, arg5)?;
        Ok(0)
    })
}
