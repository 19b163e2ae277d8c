// SPDX-License-Identifier: GPL-2.0

#include <linux/bitops.h>

bool rust_helper_test_bit(long nr, const unsigned long *addr)
{
	return test_bit(nr, addr);
}

void rust_helper_set_bit(long nr, unsigned long *addr)
{
	set_bit(nr, addr);
}

void rust_helper_clear_bit(long nr, unsigned long *addr)
{
	clear_bit(nr, addr);
}
