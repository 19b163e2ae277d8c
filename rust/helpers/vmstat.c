// SPDX-License-Identifier: GPL-2.0

#include <linux/vmstat.h>

void rust_helper_count_vm_event(enum vm_event_item item)
{
	count_vm_event(item);
}
