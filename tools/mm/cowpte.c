// SPDX-License-Identifier: GPL-2.0
/*
 * cowpte: run a program with COW PTE on, or show the COW PTE state.
 *
 *   cowpte run [--] CMD [ARG...]   enable COW PTE, kept across exec, and
 *                                  exec CMD; the exit status is CMD's
 *   cowpte status [PID...]         the system-wide mode and the state of
 *                                  each PID (default: the calling process)
 *
 * See Documentation/mm/cow_pte.rst.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_COW_PTE
#define PR_SET_COW_PTE			74
#define PR_GET_COW_PTE			75
#define PR_COW_PTE_ENABLE		1
#define PR_COW_PTE_INHERIT_EXEC		2
#endif

static const char *const mode_names[] = { "disabled", "opt-in", "forced" };

static int print_usage(void)
{
	fprintf(stderr,
		"usage: cowpte run [--] CMD [ARG...]\n"
		"       cowpte status [PID...]\n");
	return 2;
}

static int run(int argc, char **argv)
{
	if (argc > 0 && !strcmp(argv[0], "--")) {
		argc--;
		argv++;
	}
	if (argc == 0)
		return print_usage();
	if (prctl(PR_SET_COW_PTE, PR_COW_PTE_ENABLE | PR_COW_PTE_INHERIT_EXEC,
		  0, 0, 0)) {
		if (errno == EPERM)
			fprintf(stderr, "cowpte: %s\n",
				"COW PTE is disabled system-wide (vm.cow_pte = 0)");
		else if (errno == EINVAL)
			fprintf(stderr, "cowpte: %s\n",
				"this kernel does not support COW PTE (CONFIG_COW_PTE)");
		else
			fprintf(stderr, "cowpte: prctl(PR_SET_COW_PTE): %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[0], argv);
	fprintf(stderr, "cowpte: %s: %s\n", argv[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

/* Print the "CowPte:" line of /proc/PID/status; 0 on success. */
static int show_pid(const char *pid)
{
	char path[64], line[256];
	int found = 0;
	FILE *f;

	if (strspn(pid, "0123456789") != strlen(pid) || !*pid ||
	    strlen(pid) > 20) {
		fprintf(stderr, "cowpte: not a process ID: '%s'\n", pid);
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cowpte: no process %s\n", pid);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "CowPte:", 7)) {
			printf("pid %s: %s", pid, line + 7 + strspn(line + 7, " \t"));
			found = 1;
		}
	}
	fclose(f);
	if (!found) {
		fprintf(stderr, "cowpte: pid %s: %s\n", pid,
			"no COW PTE state (no CONFIG_COW_PTE, or a kernel thread)");
		return 1;
	}
	return 0;
}

static int status(int argc, char **argv)
{
	char self[24];
	int mode = -1, ret = 0, i;
	FILE *f;

	f = fopen("/proc/sys/vm/cow_pte", "r");
	if (f) {
		if (fscanf(f, "%d", &mode) != 1)
			mode = -1;
		fclose(f);
	}
	if (mode >= 0 && mode <= 2)
		printf("mode: %s\n", mode_names[mode]);
	else
		printf("mode: unavailable (kernel without CONFIG_COW_PTE?)\n");

	if (argc == 0) {
		snprintf(self, sizeof(self), "%d", (int)getppid());
		return show_pid(self);
	}
	for (i = 0; i < argc; i++)
		ret |= show_pid(argv[i]);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return print_usage();
	if (!strcmp(argv[1], "run"))
		return run(argc - 2, argv + 2);
	if (!strcmp(argv[1], "status"))
		return status(argc - 2, argv + 2);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_usage();
		return 0;
	}
	fprintf(stderr, "cowpte: unknown command '%s'\n", argv[1]);
	return print_usage();
}
