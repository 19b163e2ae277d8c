// SPDX-License-Identifier: GPL-2.0
/*
 * The COW PTE user API: prctl(PR_SET_COW_PTE / PR_GET_COW_PTE), its
 * inheritance over fork and execve, its errors, the system-wide modes of
 * the vm.cow_pte sysctl and the "CowPte:" line of /proc/<pid>/status.
 *
 * On a kernel without CONFIG_COW_PTE every call must fail with EINVAL.
 * Needs root for the sysctl tests; restores the mode it found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/prctl.h>

#include "../kselftest.h"

#define ENABLE		PR_COW_PTE_ENABLE
#define EXEC		PR_COW_PTE_INHERIT_EXEC
#define SYSCTL		"/proc/sys/vm/cow_pte"

static long set_flags(unsigned long f, unsigned long a3, unsigned long a4,
		      unsigned long a5)
{
	return prctl(PR_SET_COW_PTE, f, a3, a4, a5) ? -errno : 0;
}

static long get_flags(unsigned long a2, unsigned long a3, unsigned long a4,
		      unsigned long a5)
{
	long ret = prctl(PR_GET_COW_PTE, a2, a3, a4, a5);

	return ret < 0 ? -errno : ret;
}

/* The value of the "CowPte:" line of /proc/self/status, or "" if none. */
static const char *status_line(void)
{
	static char value[128];
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	value[0] = '\0';
	if (!f)
		return value;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "CowPte:", 7))
			continue;
		snprintf(value, sizeof(value), "%s", line + 7 + strspn(line + 7, " \t"));
		value[strcspn(value, "\n")] = '\0';
	}
	fclose(f);
	return value;
}

/* Run fn in a child; its return value is the child's exit status. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int child_get(void *unused)
{
	return get_flags(0, 0, 0, 0) & 0xff;
}

/* Re-exec this program to report PR_GET_COW_PTE of the new image. */
static int child_exec(void *unused)
{
	execl("/proc/self/exe", "cow_pte_api", "--report", NULL);
	return 255;
}

static int write_sysctl(const char *value)
{
	int fd = open(SYSCTL, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int read_sysctl(void)
{
	char buf[16] = "";
	int fd = open(SYSCTL, O_RDONLY);

	if (fd < 0)
		return -errno;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return buf[0] ? atoi(buf) : -1;
}

static int child_unprivileged_set(void *unused)
{
	if (setgid(65534) || setuid(65534))
		return 2;
	return set_flags(ENABLE, 0, 0, 0) ? 1 : 0;
}

static void test_unsupported(void)
{
	ksft_set_plan(3);
	ksft_test_result(set_flags(ENABLE, 0, 0, 0) == -EINVAL,
			 "no CONFIG_COW_PTE: PR_SET_COW_PTE fails with EINVAL\n");
	ksft_test_result(get_flags(0, 0, 0, 0) == -EINVAL,
			 "no CONFIG_COW_PTE: PR_GET_COW_PTE fails with EINVAL\n");
	ksft_test_result(access(SYSCTL, F_OK) && !*status_line(),
			 "no CONFIG_COW_PTE: no vm.cow_pte sysctl, no CowPte status line\n");
	ksft_finished();
}

static void test_set_get(void)
{
	ksft_test_result(get_flags(0, 0, 0, 0) == 0, "off by default\n");
	ksft_test_result(!strcmp(status_line(), "off"), "status says off\n");
	ksft_test_result(set_flags(ENABLE, 0, 0, 0) == 0 &&
			 get_flags(0, 0, 0, 0) == ENABLE, "enable\n");
	ksft_test_result(!strcmp(status_line(), "on"), "status says on\n");
	ksft_test_result(set_flags(ENABLE | EXEC, 0, 0, 0) == 0 &&
			 get_flags(0, 0, 0, 0) == (ENABLE | EXEC),
			 "enable, kept across exec\n");
	ksft_test_result(!strcmp(status_line(), "on, kept across exec"),
			 "status says on, kept across exec\n");
	ksft_test_result(set_flags(ENABLE, 0, 0, 0) == 0 &&
			 get_flags(0, 0, 0, 0) == ENABLE,
			 "enable again drops exec inheritance\n");
	ksft_test_result(set_flags(0, 0, 0, 0) == 0 &&
			 get_flags(0, 0, 0, 0) == 0, "disable\n");
	ksft_test_result(in_child(child_unprivileged_set, NULL) == 0,
			 "no privilege needed\n");
}

static void test_einval(void)
{
	static const struct {
		unsigned long a2, a3, a4, a5;
		const char *what;
	} bad_set[] = {
		{ EXEC, 0, 0, 0, "exec inheritance without enable" },
		{ 4, 0, 0, 0, "unknown flag 4" },
		{ ENABLE | (1UL << 63), 0, 0, 0, "unknown flag 1<<63" },
		{ ENABLE, 1, 0, 0, "arg3 != 0" },
		{ ENABLE, 0, 1, 0, "arg4 != 0" },
		{ ENABLE, 0, 0, 1, "arg5 != 0" },
		{ 0, 1, 0, 0, "disable with arg3 != 0" },
	}, bad_get[] = {
		{ 1, 0, 0, 0, "arg2 != 0" },
		{ 0, 1, 0, 0, "arg3 != 0" },
		{ 0, 0, 1, 0, "arg4 != 0" },
		{ 0, 0, 0, 1, "arg5 != 0" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad_set); i++)
		ksft_test_result(set_flags(bad_set[i].a2, bad_set[i].a3,
					   bad_set[i].a4, bad_set[i].a5) == -EINVAL &&
				 get_flags(0, 0, 0, 0) == 0,
				 "PR_SET_COW_PTE %s: EINVAL, nothing changed\n",
				 bad_set[i].what);
	for (i = 0; i < ARRAY_SIZE(bad_get); i++)
		ksft_test_result(get_flags(bad_get[i].a2, bad_get[i].a3,
					   bad_get[i].a4, bad_get[i].a5) == -EINVAL,
				 "PR_GET_COW_PTE %s: EINVAL\n", bad_get[i].what);
}

static void test_inheritance(void)
{
	set_flags(ENABLE, 0, 0, 0);
	ksft_test_result(in_child(child_get, NULL) == ENABLE,
			 "fork: child inherits enable\n");
	ksft_test_result(in_child(child_exec, NULL) == 0,
			 "exec: enable alone is dropped\n");
	set_flags(ENABLE | EXEC, 0, 0, 0);
	ksft_test_result(in_child(child_get, NULL) == (ENABLE | EXEC),
			 "fork: child inherits enable + exec\n");
	ksft_test_result(in_child(child_exec, NULL) == (ENABLE | EXEC),
			 "exec: kept with PR_COW_PTE_INHERIT_EXEC\n");
	set_flags(0, 0, 0, 0);
	ksft_test_result(in_child(child_get, NULL) == 0,
			 "fork: child inherits disable\n");
}

static void test_modes(void)
{
	int saved = read_sysctl();

	int i;

	if (saved < 0 || geteuid() != 0) {
		for (i = 0; i < 9; i++)
			ksft_test_result_skip("sysctl modes: need root and %s\n", SYSCTL);
		return;
	}
	ksft_test_result(saved == 1, "default mode is opt-in (1)\n");

	ksft_test_result(write_sysctl("0") == 0 && read_sysctl() == 0 &&
			 !strcmp(status_line(), "disabled"),
			 "mode disabled: status says disabled\n");
	ksft_test_result(set_flags(ENABLE, 0, 0, 0) == -EPERM,
			 "mode disabled: enable fails with EPERM\n");
	ksft_test_result(set_flags(0, 0, 0, 0) == 0,
			 "mode disabled: disable still works\n");

	ksft_test_result(write_sysctl("2") == 0 && read_sysctl() == 2 &&
			 !strcmp(status_line(), "forced") &&
			 get_flags(0, 0, 0, 0) == 0,
			 "mode forced: status says forced, own flags unchanged\n");

	ksft_test_result(write_sysctl("1") == 0 && read_sysctl() == 1 &&
			 !strcmp(status_line(), "off"),
			 "mode opt-in: status follows the process again\n");

	ksft_test_result(write_sysctl("3") == -EINVAL && read_sysctl() == 1,
			 "sysctl rejects 3\n");
	ksft_test_result(write_sysctl("-1") == -EINVAL && read_sysctl() == 1,
			 "sysctl rejects -1\n");
	ksft_test_result(write_sysctl("forced") == -EINVAL && read_sysctl() == 1,
			 "sysctl rejects a non-number\n");

	if (write_sysctl(saved == 0 ? "0" : saved == 2 ? "2" : "1"))
		ksft_print_msg("could not restore mode %d\n", saved);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--report"))
		return get_flags(0, 0, 0, 0) & 0xff;

	ksft_print_header();
	if (get_flags(0, 0, 0, 0) == -EINVAL && !*status_line()) {
		test_unsupported();
		return 0;
	}
	/* This test defines the starting state itself. */
	if (set_flags(0, 0, 0, 0))
		ksft_exit_fail_msg("cannot reset COW PTE: %s\n", strerror(errno));

	ksft_set_plan(9 + 11 + 5 + 9);
	test_set_get();
	test_einval();
	test_inheritance();
	test_modes();
	ksft_finished();
}
