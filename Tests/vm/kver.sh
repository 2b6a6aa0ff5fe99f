#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Prints the kernel version every build and VM target uses: the newest
# installed Debian 6.12 kernel (6.12.<N>+deb12-amd64) that has both its image
# in /boot and its headers in /usr/src. Never the running kernel (`uname -r`):
# the host runs a different kernel without headers.
# KVER in the environment overrides the choice.
set -euo pipefail

if [[ -n "${KVER:-}" ]]; then
	echo "$KVER"
	exit 0
fi
best=
for img in /boot/vmlinuz-6.12.*+deb12-amd64; do
	[[ -e "$img" ]] || continue
	v=${img#/boot/vmlinuz-}
	[[ "$v" =~ ^6\.12\.[0-9]+\+deb12-amd64$ ]] || continue
	[[ -d "/usr/src/linux-headers-$v" ]] || continue
	best+="$v"$'\n'
done
if [[ -z "$best" ]]; then
	echo "kver.sh: no 6.12.*+deb12-amd64 kernel with headers installed; run 'make deps'" >&2
	exit 1
fi
printf '%s' "$best" | sort -V | tail -n 1
