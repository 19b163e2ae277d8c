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
source_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true
}
case "$(source_version)" in
"$kver"-*) ;;
*) missing="$missing linux-source-6.12" ;;
esac
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	install=""
	for p in $missing; do
		if [ "$p" = linux-source-6.12 ]; then
			v=$(apt-cache madison linux-source-6.12 |
				awk -v k="$kver" '$3 ~ "^" k "-" { print $3; exit }')
			if [ -z "$v" ]; then
				echo "deps: error: no linux-source-6.12 $kver-* in the apt sources (apt-cache madison linux-source-6.12); change KVER in the Makefile" >&2
				exit 1
			fi
			p=linux-source-6.12=$v
		fi
		install="$install $p"
	done
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --allow-downgrades \
		$install > /dev/null
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
