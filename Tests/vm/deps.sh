#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make deps`: installs what building and testing pcache needs on Debian 12,
# as root. Idempotent and fast when everything is there: dpkg is asked first,
# apt-get runs only when something is missing.
#
# The kernel is Debian's newest 6.12 point release at install time
# (linux-image-6.12.<N>+deb12-amd64-unsigned plus the matching headers); point
# releases come and go from the archive, so none is hard-coded. Once one is
# installed it is kept; DEPS_NEWEST_KERNEL=1 looks for a newer one.
set -euo pipefail

PKGS=(
	qemu-system-x86 busybox-static kmod cpio xz-utils gzip fio e2fsprogs xfsprogs dmsetup
	udev libkmod-dev libudev-dev libblkid-dev ndctl sparse bcache-tools gnuplot-nox gcc make
	util-linux coreutils python3
)
KERNEL_RE='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$'
here=$(cd "$(dirname "$0")" && pwd)

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
need_kernel=0
if ! "$here/kver.sh" >/dev/null 2>&1 || [[ "${DEPS_NEWEST_KERNEL:-0}" == 1 ]]; then
	need_kernel=1
fi

if ((${#missing[@]} == 0 && need_kernel == 0)); then
	echo "deps: all installed (kernel $("$here/kver.sh"))"
else
	if ((EUID != 0)); then
		echo "deps: missing ${missing[*]:-}$( ((need_kernel)) && echo " and a 6.12 kernel"); run 'make deps' as root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	if ((need_kernel)); then
		img=$(apt-cache search --names-only '^linux-image-6\.12\.' | awk '{ print $1 }' |
			grep -E "$KERNEL_RE" | sort -V | tail -n 1)
		if [[ -z "$img" ]]; then
			echo "deps: no linux-image-6.12.*+deb12-amd64-unsigned in the apt sources" >&2
			exit 1
		fi
		ver=${img#linux-image-}
		ver=${ver%-unsigned}
		echo "deps: kernel $ver"
		missing+=("$img" "linux-headers-$ver")
	fi
	echo "deps: installing ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

kver=$("$here/kver.sh")
[[ -r "/boot/vmlinuz-$kver" ]] || { echo "deps: /boot/vmlinuz-$kver unreadable" >&2; exit 1; }
if ! command -v swift >/dev/null; then
	echo "deps: the Swift 6 toolchain is not installed (not packaged for Debian 12);" \
		"install it from swift.org and put it on PATH" >&2
	exit 1
fi
