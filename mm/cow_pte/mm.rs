// SPDX-License-Identifier: GPL-2.0

//! Thin wrappers over the C address space types the policy works on.

use kernel::bindings;
use kernel::types::Opaque;

/// An address space (`struct mm_struct`).
///
/// # Invariants
///
/// The wrapped `mm_struct` is valid for as long as a reference to `Mm`
/// exists: the caller of [`Mm::from_raw`] holds a reference on it (it is
/// the caller's own mm, or one being created or forked).
#[repr(transparent)]
pub(crate) struct Mm(Opaque<bindings::mm_struct>);

impl Mm {
    /// Wraps a C `mm_struct`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `mm_struct` that stays valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::mm_struct) -> &'a Mm {
        // CAST: `Mm` is a transparent wrapper of `mm_struct`.
        // SAFETY: The caller guarantees that `ptr` is valid for `'a`.
        unsafe { &*ptr.cast::<Mm>() }
    }

    /// The C `mm_struct`.
    pub(crate) fn as_raw(&self) -> *mut bindings::mm_struct {
        self.0.get()
    }

    fn flags(&self) -> *mut kernel::ffi::c_ulong {
        // SAFETY: By the type invariant the `mm_struct` is valid; this only
        // computes the address of a field.
        unsafe { core::ptr::addr_of_mut!((*self.as_raw()).__bindgen_anon_1.flags) }
    }

    fn bit(bit: u32) -> kernel::ffi::c_long {
        // CAST: `MMF_*` numbers are smaller than `BITS_PER_LONG`.
        bit as kernel::ffi::c_long
    }

    /// Tests bit `bit` of `mm->flags` (an `MMF_*` number).
    pub(crate) fn test_flag(&self, bit: u32) -> bool {
        // SAFETY: `flags()` points to the live `mm->flags` word.
        unsafe { bindings::test_bit(Self::bit(bit), self.flags()) }
    }

    /// Atomically sets bit `bit` of `mm->flags`.
    pub(crate) fn set_flag(&self, bit: u32) {
        // SAFETY: `flags()` points to the live `mm->flags` word.
        unsafe { bindings::set_bit(Self::bit(bit), self.flags()) }
    }

    /// Atomically clears bit `bit` of `mm->flags`.
    pub(crate) fn clear_flag(&self, bit: u32) {
        // SAFETY: `flags()` points to the live `mm->flags` word.
        unsafe { bindings::clear_bit(Self::bit(bit), self.flags()) }
    }

    /// Sets or clears bit `bit` of `mm->flags`.
    pub(crate) fn assign_flag(&self, bit: u32, value: bool) {
        if value {
            self.set_flag(bit);
        } else {
            self.clear_flag(bit);
        }
    }
}
