// SPDX-License-Identifier: GPL-2.0

//! The COW PTE counters of `/proc/vmstat`.

use kernel::bindings;

/// Something COW PTE did with a PTE table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A fork shared a table with the child.
    Share,
    /// A fork copied a table it could not share.
    Fallback(Fallback),
    /// A break gave an mm its own copy of a shared table.
    BreakCopy,
    /// A break found the last sharer, which keeps the table.
    BreakReuse,
    /// A break could not allocate its copy.
    BreakFail,
    /// An mm let go of a whole shared table without per-page work.
    Drop,
}

/// Why a fork copied a table instead of sharing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// The table is not covered by one VMA.
    Partial,
    /// The VMA kind: PFNMAP, MIXEDMAP, or not a private mapping.
    Vma,
    /// The VMA is mlocked: its pages must be munlocked page by page.
    Mlock,
    /// Userfaultfd write-protection state.
    UffdWp,
    /// A maybe-pinned anonymous page (the child must get a copy of it).
    Pinned,
    /// A migration, device, hwpoison or marker entry.
    Entry,
    /// The table has as many sharers as it can count.
    Limit,
}

impl Fallback {
    /// Converts a `cow_pte_scan_table()` result: `None` means shareable.
    pub(crate) fn from_scan(raw: i32) -> Option<Fallback> {
        // CAST: `enum cow_pte_scan` values are small and non-negative.
        match raw as u32 {
            bindings::cow_pte_scan_COW_PTE_SCAN_OK => None,
            bindings::cow_pte_scan_COW_PTE_SCAN_UFFD_WP => Some(Fallback::UffdWp),
            bindings::cow_pte_scan_COW_PTE_SCAN_PINNED => Some(Fallback::Pinned),
            // Anything else the scan reports is an entry it cannot share.
            _ => Some(Fallback::Entry),
        }
    }
}

/// Counts `event` in `/proc/vmstat`.
pub(crate) fn count(event: Event) {
    let item = match event {
        Event::Share => bindings::vm_event_item_COW_PTE_SHARE,
        Event::Fallback(Fallback::Partial) => bindings::vm_event_item_COW_PTE_FALLBACK_PARTIAL,
        Event::Fallback(Fallback::Vma) => bindings::vm_event_item_COW_PTE_FALLBACK_VMA,
        Event::Fallback(Fallback::Mlock) => bindings::vm_event_item_COW_PTE_FALLBACK_MLOCK,
        Event::Fallback(Fallback::UffdWp) => bindings::vm_event_item_COW_PTE_FALLBACK_UFFD_WP,
        Event::Fallback(Fallback::Pinned) => bindings::vm_event_item_COW_PTE_FALLBACK_PINNED,
        Event::Fallback(Fallback::Entry) => bindings::vm_event_item_COW_PTE_FALLBACK_ENTRY,
        Event::Fallback(Fallback::Limit) => bindings::vm_event_item_COW_PTE_FALLBACK_LIMIT,
        Event::BreakCopy => bindings::vm_event_item_COW_PTE_BREAK_COPY,
        Event::BreakReuse => bindings::vm_event_item_COW_PTE_BREAK_REUSE,
        Event::BreakFail => bindings::vm_event_item_COW_PTE_BREAK_FAIL,
        Event::Drop => bindings::vm_event_item_COW_PTE_DROP,
    };
    // SAFETY: `count_vm_event()` only increments a per-CPU counter.
    unsafe { bindings::count_vm_event(item) };
}
