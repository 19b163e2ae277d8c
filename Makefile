# COW PTE for Linux 6.12: the one entry point.
#
#   make run              build, boot, fork latency comparison + cow selftest
#   make check            the test suite (two VM boots); ends "N passed, N failed"
#   make check T=NAME     one test (a file in tests/cases/)
#   make bench            benchmarks, COW PTE off vs on; results in bench/results/
#   make soak             make check's tests repeated on a KASAN kernel, stress seeds
#   make profile          perf profile of fork, every table changed since the last fork
#   make vm CMD='...' [EXTRA='file...'] [KERNEL=nocowpte|bench]   run a command in the VM
#   make help             everything else
#
# The kernel is Debian's linux-source-6.12 (pinned below) plus patches/ and
# the overlay files of this repository, built under build/.

KVER      := 6.12.117
REPO      := $(CURDIR)
BUILD     := $(REPO)/build
SRC       := $(BUILD)/linux
KOUT      := $(BUILD)/kernel
KOUT_OFF  := $(BUILD)/kernel-nocowpte
# Benchmark kernels: the same without the debugging options.
KOUT_BENCH     := $(BUILD)/kernel-bench
KOUT_BENCH_OFF := $(BUILD)/kernel-bench-nocowpte
PROGS     := $(BUILD)/progs
JOBS      ?= $(shell nproc)
T         ?=
EXTRA     ?=
# CMD goes to the guest as written: no make expansion of $? or $(...).
override CMD := $(value CMD)
export CMD
# A bound on one boot of the test VM, for a hung kernel: make check's first
# boot took 8 to 12 min on an idle host, 30 min while the host also ran
# stress-ng --cpu 1 and another guest.
VM_TIMEOUT ?= 3600
# The test VMs have two NUMA nodes, for the page migration tests; make run
# and make bench keep the single node their earlier results were taken on.
VM_NUMA ?= 2

STAGE     := $(REPO)/scripts/stage.sh
BINDGEN   := $(shell command -v bindgen 2>/dev/null || echo $(HOME)/.cargo/bin/bindgen)
# Debian's rustc-web (1.96) has the library sources the kernel needs; the
# rustup toolchain first on PATH does not.  Pass the tools explicitly.
KMAKE = $(MAKE) -s -C $(SRC) ARCH=x86_64 -j$(JOBS) \
	RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc BINDGEN=$(BINDGEN) \
	RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library RUSTFMT=/usr/bin/rustfmt
# ccache through its gcc wrapper directory (CC="ccache gcc" would also
# become rustc's -Clinker, which takes one word).
export PATH := /usr/lib/ccache:$(PATH)
export CCACHE_DIR ?= $(BUILD)/ccache
export CCACHE_BASEDIR := $(BUILD)

ALL_TESTS = $(sort $(notdir $(wildcard tests/cases/*)))
TESTS = $(if $(T),$(T),$(ALL_TESTS))

.PHONY: help deps tree config kernel kernel-off kernel-bench kernel-kasan \
	kernel-lockdep progs \
	initramfs run check soak bench profile vm export-patches reset-tree checkpatch rustfmt \
	clean distclean

help:
	@sed -n '2,10p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Other targets: deps tree config kernel kernel-off kernel-bench kernel-kasan"
	@echo "  kernel-lockdep progs initramfs"
	@echo "  export-patches reset-tree checkpatch rustfmt clean distclean"

deps:
	@$(STAGE) "checking dependencies (Debian packages, bindgen-cli)" $(REPO)/scripts/deps.sh $(KVER)

tree: deps
	@$(STAGE) "preparing the kernel tree (Linux $(KVER) + patches/ + overlay)" \
		$(REPO)/scripts/prepare-tree.sh $(SRC) $(KVER)

# Configuration: tinyconfig + vm/kernel.config + the fragments $(2), then
# every option of vm/required.config and of the files $(3) must be in the
# final .config.  Test kernels add vm/debug.config, benchmark kernels not.
# $(4): the kernel make command, $(KMAKE) unless given.
V := $(REPO)/vm
define configure
	@$(STAGE) "configuring $(notdir $(1))" sh -c '\
		mkdir -p $(1) && \
		$(or $(4),$(KMAKE)) O=$(1) tinyconfig >/dev/null && \
		$(SRC)/scripts/kconfig/merge_config.sh -Q -m -O $(1) $(1)/.config \
			$(V)/kernel.config $(2) >/dev/null && \
		$(or $(4),$(KMAKE)) O=$(1) olddefconfig >/dev/null && \
		$(REPO)/scripts/check-config.sh $(1)/.config $(V)/required.config $(3)'
endef

config: tree
	$(call configure,$(KOUT),$(V)/debug.config $(V)/cow_pte_on.config $(V)/cow_pte_kunit.config,\
		$(V)/required-debug.config $(V)/cow_pte_on.config $(V)/cow_pte_kunit.config)

kernel: config
	@$(STAGE) "building the kernel ($(KOUT))" $(KMAKE) O=$(KOUT) bzImage

kernel-off: tree
	$(call configure,$(KOUT_OFF),$(V)/debug.config $(V)/cow_pte_off.config,\
		$(V)/required-debug.config $(V)/cow_pte_off.config)
	@$(STAGE) "building the kernel ($(KOUT_OFF))" $(KMAKE) O=$(KOUT_OFF) bzImage

# The benchmark kernels, with and without CONFIG_COW_PTE.
kernel-bench: tree
	$(call configure,$(KOUT_BENCH),$(V)/cow_pte_on.config,$(V)/cow_pte_on.config)
	@$(STAGE) "building the kernel ($(KOUT_BENCH))" $(KMAKE) O=$(KOUT_BENCH) bzImage
	$(call configure,$(KOUT_BENCH_OFF),$(V)/cow_pte_off.config,$(V)/cow_pte_off.config)
	@$(STAGE) "building the kernel ($(KOUT_BENCH_OFF))" $(KMAKE) O=$(KOUT_BENCH_OFF) bzImage

# The test programs need only the kernel's uapi headers (make headers works
# in an unconfigured build directory), so make soak and make bench do not
# build the test kernel they never boot.
progs: tree
	@$(STAGE) "exporting the uapi headers ($(KOUT)/usr/include)" $(KMAKE) O=$(KOUT) headers
	@$(STAGE) "building the static test programs" \
		$(REPO)/scripts/build-progs.sh $(SRC) $(KOUT) $(PROGS)

initramfs: progs
	@$(STAGE) "building the initramfs" \
		$(REPO)/vm/mkinitramfs.sh $(BUILD)/initramfs.cpio.gz $(PROGS)/bin

# The main job: fork latency comparison and the cow selftest, one boot.
run: initramfs kernel
	@$(REPO)/vm/mkrun.sh $(BUILD)/run-main.cpio tests main
	@$(STAGE) "running the main job in the VM" $(REPO)/vm/run.sh \
		$(KOUT)/arch/x86/boot/bzImage $(BUILD)/initramfs.cpio.gz \
		$(BUILD)/run-main.cpio $(BUILD)/vm-main $(VM_TIMEOUT)
	@$(REPO)/vm/show.sh $(BUILD)/vm-main main
	@$(REPO)/vm/check.py $(BUILD)/vm-main main

check: initramfs kernel kernel-off
	@for t in $(TESTS); do [ -f tests/cases/$$t ] || { \
		echo "check: no test named '$$t' (see tests/cases/)" >&2; exit 1; }; done
	@VM_TIMEOUT=$(VM_TIMEOUT) VM_NUMA=$(VM_NUMA) $(REPO)/scripts/check.sh $(BUILD) $(TESTS)

# Benchmarks, on the benchmark kernels (no debugging options): one boot of
# the COW PTE kernel (off and on: the microbenchmarks, then the real
# programs), one of the kernel without CONFIG_COW_PTE and a second one of
# the COW PTE kernel (cost of the hooks, against the noise between boots);
# table, CSV and plots in bench/results/.  BENCH='bench' runs only the
# microbenchmarks in the first boot, BENCH='bench_programs' only the
# programs (their sizes: see bench/cases/bench_programs).
BENCH ?= bench bench_programs
bench: initramfs kernel-bench
	@$(REPO)/vm/mkrun.sh $(BUILD)/run-bench.cpio tests $(BENCH)
	@VM_MEM=12G $(STAGE) "benchmarks, COW PTE off and on (one boot)" $(REPO)/vm/run.sh \
		$(KOUT_BENCH)/arch/x86/boot/bzImage $(BUILD)/initramfs.cpio.gz \
		$(BUILD)/run-bench.cpio $(BUILD)/vm-bench 21600
	@$(REPO)/vm/mkrun.sh $(BUILD)/run-bench-hooks.cpio tests bench
	@VM_MEM=12G $(STAGE) "benchmarks, kernel without CONFIG_COW_PTE" $(REPO)/vm/run.sh \
		$(KOUT_BENCH_OFF)/arch/x86/boot/bzImage $(BUILD)/initramfs.cpio.gz \
		$(BUILD)/run-bench-hooks.cpio $(BUILD)/vm-bench-nocowpte 7200
	@VM_MEM=12G VM_APPEND=bench.hooks_only $(STAGE) "benchmarks, COW PTE kernel again (noise between boots)" \
		$(REPO)/vm/run.sh $(KOUT_BENCH)/arch/x86/boot/bzImage $(BUILD)/initramfs.cpio.gz \
		$(BUILD)/run-bench-hooks.cpio $(BUILD)/vm-bench-again 7200
	@/usr/bin/python3 $(REPO)/bench/report.py $(REPO)/bench/results \
		$(BUILD)/vm-bench/results.log $(BUILD)/vm-bench-nocowpte/results.log \
		$(BUILD)/vm-bench-again/results.log

# Where a fork's time goes: perf in the guest (the host's linux-perf), COW
# PTE on and off, PROFILE_FORKS forks of fork_latency's writes mode at
# PROFILE_GB, on the benchmark kernel.  The guest's cpu-clock events come
# at about 300 per second, so a fork of 10 ms gets about 3 samples: 100
# forks give a few hundred with COW PTE on.
PROFILE_GB ?= 4
PROFILE_FORKS ?= 100
profile: initramfs kernel-bench
	@$(REPO)/vm/mkrun.sh $(BUILD)/run-profile.cpio cmd \
		'sh /extra/profile-fork.sh $(PROFILE_GB) $(PROFILE_FORKS)' \
		$(REPO)/bench/profile-fork.sh
	@VM_MEM=12G VM_NUMA=1 $(STAGE) "profiling fork in the VM" $(REPO)/vm/run.sh \
		$(KOUT_BENCH)/arch/x86/boot/bzImage $(BUILD)/initramfs.cpio.gz \
		$(BUILD)/run-profile.cpio $(BUILD)/vm-profile 3600
	@$(REPO)/vm/show.sh $(BUILD)/vm-profile cmd

# Soak: make check's tests SOAK_RUNS times on a KASAN kernel (built with
# clang, see vm/kasan.config), cow_pte_stress over SOAK_SEEDS seeds, and
# the tests once more on a lockdep kernel (vm/lockdep.config), judged by its
# kernel log; every failure with what reproduces it.  SOAK_JOBS boots at
# once (default: the host's CPUs).  Not part of make check.
SOAK_RUNS ?= 3
SOAK_SEEDS ?= 100
KOUT_KASAN := $(BUILD)/kernel-kasan
KMAKE_LLVM = $(KMAKE) LLVM=-14
kernel-kasan: tree
	$(call configure,$(KOUT_KASAN),$(V)/debug.config $(V)/kasan.config $(V)/cow_pte_on.config \
		$(V)/cow_pte_kunit.config,$(V)/required-debug.config $(V)/required-kasan.config \
		$(V)/cow_pte_on.config $(V)/cow_pte_kunit.config,$(KMAKE_LLVM))
	@$(STAGE) "building the kernel ($(KOUT_KASAN), clang)" $(KMAKE_LLVM) O=$(KOUT_KASAN) bzImage

KOUT_LOCKDEP := $(BUILD)/kernel-lockdep
kernel-lockdep: tree
	$(call configure,$(KOUT_LOCKDEP),$(V)/debug.config $(V)/lockdep.config $(V)/cow_pte_on.config \
		$(V)/cow_pte_kunit.config,$(V)/required-debug.config $(V)/required-lockdep.config \
		$(V)/cow_pte_on.config $(V)/cow_pte_kunit.config)
	@$(STAGE) "building the kernel ($(KOUT_LOCKDEP))" $(KMAKE) O=$(KOUT_LOCKDEP) bzImage

soak: initramfs kernel-kasan kernel-lockdep
	@for t in $(TESTS); do [ -f tests/cases/$$t ] || { \
		echo "soak: no test named '$$t' (see tests/cases/)" >&2; exit 1; }; done
	@VM_TIMEOUT=$(VM_TIMEOUT) VM_NUMA=$(VM_NUMA) $(REPO)/scripts/soak.sh $(BUILD) \
		$(SOAK_RUNS) $(SOAK_SEEDS) $(TESTS)

# KERNEL=nocowpte: the kernel without CONFIG_COW_PTE (the stock baseline);
# KERNEL=bench: the benchmark kernel (no debugging options).
KERNEL ?= cowpte
VM_KOUT = $(if $(filter nocowpte,$(KERNEL)),$(KOUT_OFF),$(if $(filter bench,$(KERNEL)),$(KOUT_BENCH),$(KOUT)))
vm: initramfs $(if $(filter cowpte,$(KERNEL)),kernel) $(if $(filter nocowpte,$(KERNEL)),kernel-off) $(if $(filter bench,$(KERNEL)),kernel-bench)
	@[ -n "$$CMD" ] || { echo "vm: usage: make vm CMD='command' [EXTRA='file...'] [KERNEL=nocowpte|bench]" >&2; exit 1; }
	@case "$(KERNEL)" in cowpte|nocowpte|bench) ;; *) \
		echo "vm: KERNEL must be cowpte (default), nocowpte or bench, not '$(KERNEL)'" >&2; exit 1;; esac
	@$(REPO)/vm/mkrun.sh $(BUILD)/run-vm.cpio cmd "$$CMD" $(EXTRA)
	@VM_NUMA=$(VM_NUMA) $(REPO)/vm/run.sh $(VM_KOUT)/arch/x86/boot/bzImage $(BUILD)/initramfs.cpio.gz \
		$(BUILD)/run-vm.cpio $(BUILD)/vm-cmd $(VM_TIMEOUT)
	@$(REPO)/vm/show.sh $(BUILD)/vm-cmd cmd

export-patches:
	@rm -f patches/*.patch
	@git -C $(SRC) format-patch -q --no-signature --zero-commit -N upstream..HEAD -o $(REPO)/patches
	@git -C $(SRC) rev-parse HEAD > $(SRC)/.git/cowpte-head
	@{ cat patches/*.patch 2>/dev/null || true; } | sha1sum | cut -d' ' -f1 > $(SRC)/.git/cowpte-series
	@echo "exported $$(ls patches/*.patch 2>/dev/null | wc -l) patches to patches/"

reset-tree:
	@rm -rf $(SRC)
	@$(MAKE) -s tree

checkpatch: tree
	@$(REPO)/scripts/checkpatch.sh $(SRC)

rustfmt: tree
	@$(KMAKE) rustfmtcheck

clean:
	rm -rf $(KOUT) $(KOUT_OFF) $(KOUT_BENCH) $(KOUT_BENCH_OFF) $(KOUT_KASAN) \
		$(KOUT_LOCKDEP) $(PROGS) $(BUILD)/vm-* $(BUILD)/*.cpio*

distclean:
	rm -rf $(BUILD)
