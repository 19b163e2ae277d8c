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

    /// The VMA of this mm that contains `addr`, if any.
    ///
    /// # Safety
    ///
    /// The caller must hold the mmap lock of this mm, which keeps the VMA
    /// valid and its range fixed for `'a`.
    pub(crate) unsafe fn vma_at<'a>(&'a self, addr: usize) -> Option<&'a Vma> {
        // SAFETY: The mm is valid and the caller holds its mmap lock.
        let vma = unsafe { bindings::find_vma(self.as_raw(), addr) };
        if vma.is_null() {
            return None;
        }
        // SAFETY: `find_vma()` returned a VMA of this mm; the mmap lock
        // keeps it valid and its range fixed for `'a`.
        let vma = unsafe { Vma::from_raw(vma) };
        (vma.start() <= addr).then_some(vma)
    }

    /// Adds (`sign` 1) or removes (`sign` -1) a table's RSS counters, in
    /// `MM_*` order, to the mm's.
    pub(crate) fn add_rss(&self, rss: &[i32], sign: i32) {
        if rss.len() != crate::counts::RSS_COUNTERS {
            return;
        }
        // SAFETY: The mm is valid and `rss` has `NR_MM_COUNTERS` entries.
        unsafe { bindings::cow_pte_add_rss(self.as_raw(), rss.as_ptr(), sign) };
    }

    /// Uncounts `nr` zero pages KSM mapped, as zapping them would.
    pub(crate) fn unmap_ksm_zero_pages(&self, nr: i32) {
        if nr != 0 {
            // CAST: A table holds at most 512 entries; `long` is wider.
            let nr = nr as kernel::ffi::c_long;
            // SAFETY: The mm is valid.
            unsafe { bindings::cow_pte_unmap_ksm_zero_pages(self.as_raw(), nr) };
        }
    }

    /// Counts one more PTE table in the mm's page-table bytes.
    pub(crate) fn inc_nr_ptes(&self) {
        // SAFETY: The mm is valid.
        unsafe { bindings::mm_inc_nr_ptes(self.as_raw()) };
    }

    /// Counts one PTE table less in the mm's page-table bytes.
    pub(crate) fn dec_nr_ptes(&self) {
        // SAFETY: The mm is valid.
        unsafe { bindings::mm_dec_nr_ptes(self.as_raw()) };
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

/// A virtual memory area (`struct vm_area_struct`).
///
/// # Invariants
///
/// The wrapped VMA is valid, and its range and mm stay the same, for as
/// long as a reference to `Vma` exists: the caller of [`Vma::from_raw`]
/// holds the mmap lock, the VMA lock, or the rmap lock of a folio mapped
/// in it.
#[repr(transparent)]
pub(crate) struct Vma(Opaque<bindings::vm_area_struct>);

impl Vma {
    /// Wraps a C `vm_area_struct`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid VMA whose range and mm do not change
    /// for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::vm_area_struct) -> &'a Vma {
        // CAST: `Vma` is a transparent wrapper of `vm_area_struct`.
        // SAFETY: The caller guarantees that `ptr` is valid for `'a`.
        unsafe { &*ptr.cast::<Vma>() }
    }

    /// The C `vm_area_struct`.
    pub(crate) fn as_raw(&self) -> *mut bindings::vm_area_struct {
        self.0.get()
    }

    /// The address space this VMA belongs to.
    pub(crate) fn mm(&self) -> &Mm {
        // SAFETY: By the type invariant the VMA is valid and `vm_mm` does
        // not change; an mm outlives its VMAs.
        unsafe { Mm::from_raw((*self.as_raw()).vm_mm) }
    }

    /// First address of the VMA.
    pub(crate) fn start(&self) -> usize {
        // SAFETY: By the type invariant the VMA is valid and its range
        // does not change.
        unsafe { (*self.as_raw()).__bindgen_anon_1.__bindgen_anon_1.vm_start }
    }

    /// First address after the VMA.
    pub(crate) fn end(&self) -> usize {
        // SAFETY: As for `start()`.
        unsafe { (*self.as_raw()).__bindgen_anon_1.__bindgen_anon_1.vm_end }
    }

    /// The VMA flags (`VM_*`).
    pub(crate) fn flags(&self) -> bindings::vm_flags_t {
        // SAFETY: By the type invariant the VMA is valid; `vm_flags` is a
        // word, read once.
        unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!(
                (*self.as_raw()).__bindgen_anon_2.vm_flags
            ))
        }
    }

    /// Whether fork gives the child a copy-on-write view of this VMA.
    pub(crate) fn is_cow_mapping(&self) -> bool {
        // SAFETY: `is_cow_mapping()` only looks at the flags.
        unsafe { bindings::is_cow_mapping(self.flags()) }
    }

    /// Whether userfaultfd write-protection is registered on this VMA.
    pub(crate) fn uffd_wp(&self) -> bool {
        // SAFETY: By the type invariant the VMA is valid.
        unsafe { bindings::userfaultfd_wp(self.as_raw()) }
    }

    /// Whether `[start, end)` lies entirely inside this VMA.
    pub(crate) fn covers(&self, start: usize, end: usize) -> bool {
        self.start() <= start && end <= self.end()
    }
}
