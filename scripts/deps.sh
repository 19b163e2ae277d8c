#!/bin/bash
# Install what the build, the VM and the tests need, saying what it installs.
# Debian packages by name (apt-get) and bindgen-cli from crates.io.  The
# real programs the tests and benchmarks run in the VM (redis-server, afl++,
# python3, and perf for make profile) are the host's own, reached over 9p
# (vm/host-run).
#
#   scripts/deps.sh KVER
#
# linux-source-6.12 is installed at the pinned upstream version KVER (the
# Makefile's), not the newest: Debian's security archive moves the package
# on (6.12.117 to 6.12.118 on 2026-12-02) and patches/ is made for one base.
set -euo pipefail
set -f # $missing holds the pattern KVER-*, split but never globbed

kver=${1:?usage: scripts/deps.sh KVER}
packages="rustc-web rust-web-src libclang-14-dev
	qemu-system-x86 busybox-static liburing-dev flex bison bc libelf-dev
	libssl-dev cpio ccache python3 python3-matplotlib xz-utils gcc make git
	libnuma-dev libcap-dev
	cargo-web rustfmt-web
	redis-server afl++ lld-14 linux-perf"
bindgen_version=0.69.5

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# apt resolves the version pattern KVER-* itself (and says when the apt
# sources do not carry it); --allow-downgrades replaces a newer one.
case "$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)" in
"$kver"-*) ;;
*) missing="$missing linux-source-6.12=$kver-*" ;;
esac
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --allow-downgrades \
		$missing > /dev/null
fi

bindgen=$(command -v bindgen || echo "$HOME/.cargo/bin/bindgen")
if ! "$bindgen" --version 2>/dev/null | grep -q "$bindgen_version"; then
	command -v cargo > /dev/null || {
		echo "deps: error: cargo is needed to install bindgen-cli $bindgen_version" >&2
		exit 1
	}
	echo "deps: installing bindgen-cli $bindgen_version (cargo install, a few minutes)"
	cargo install --quiet --locked bindgen-cli --version "$bindgen_version"
fi
