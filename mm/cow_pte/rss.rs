// SPDX-License-Identifier: GPL-2.0

//! The RSS counters a PTE table contributes to the mms that map it.
//!
//! While a table is shared its entries do not change (see `share.rs`), so
//! the counts are taken once, when the table first becomes shared, and kept
//! packed in one word of its `ptdesc`: fork adds them to the child, and an
//! mm that lets go of the table subtracts them, without walking entries.

use kernel::bindings;
use kernel::error::{code::EINVAL, Result};

/// Number of RSS counters (`MM_FILEPAGES`, `MM_ANONPAGES`, ...).
pub(crate) const COUNTERS: usize = bindings::NR_MM_COUNTERS as usize;

/// Bits per packed counter: a table has at most 512 entries.
const BITS: u32 = 16;
const MASK: u64 = (1 << BITS) - 1;

// Every counter must fit in its lane, and all lanes in one word.
const _: () = assert!(bindings::PTRS_PER_PTE < (1 << BITS));
const _: () = assert!(COUNTERS as u32 * BITS <= u64::BITS);

/// The RSS counters of one PTE table, as `mm_struct` counts them.
///
/// # Invariants
///
/// Every counter is in `0..=PTRS_PER_PTE`, and so is their sum: each entry
/// of a table counts in at most one counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rss([i32; COUNTERS]);

impl Rss {
    /// Checks and wraps counters, in `MM_*` order.
    pub(crate) fn new(counts: [i32; COUNTERS]) -> Result<Rss> {
        let max = i32::try_from(bindings::PTRS_PER_PTE).map_err(|_| EINVAL)?;
        let mut sum: i32 = 0;
        for &count in &counts {
            if !(0..=max).contains(&count) {
                return Err(EINVAL);
            }
            sum = sum.checked_add(count).ok_or(EINVAL)?;
        }
        if sum > max {
            return Err(EINVAL);
        }
        // INVARIANT: Every counter and their sum were checked just above.
        Ok(Rss(counts))
    }

    /// The counters, in `MM_*` order.
    pub(crate) fn counts(&self) -> &[i32; COUNTERS] {
        &self.0
    }

    /// Whether the table holds swap entries (swapoff must find its mms).
    pub(crate) fn has_swap(&self) -> bool {
        self.0[bindings::MM_SWAPENTS as usize] > 0
    }

    /// Packs the counters into one word, 16 bits each.
    pub(crate) fn pack(&self) -> u64 {
        let mut packed = 0;
        for (lane, &count) in self.0.iter().enumerate() {
            // CAST: By the type invariant `count` is in `0..=512`.
            packed |= (count as u64 & MASK) << (lane as u32 * BITS);
        }
        packed
    }

    /// Unpacks a word made by [`Rss::pack`]; `EINVAL` for anything else.
    pub(crate) fn unpack(packed: u64) -> Result<Rss> {
        let mut counts = [0; COUNTERS];
        for (lane, count) in counts.iter_mut().enumerate() {
            // CAST: The lane is masked to 16 bits.
            *count = ((packed >> (lane as u32 * BITS)) & MASK) as i32;
        }
        if packed.checked_shr(COUNTERS as u32 * BITS).unwrap_or(0) != 0 {
            return Err(EINVAL);
        }
        Rss::new(counts)
    }
}
