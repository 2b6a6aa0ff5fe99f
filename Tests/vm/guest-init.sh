#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Second stage of the test guest, PID 1 inside the overlay root.
# Prepares the usual mounts, loads the drivers every job needs (virtio disks,
# the NVDIMM stack) and runs /results/job.sh written by the host (vm.sh).
# Never returns: PID 1 exiting would panic the kernel.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8

mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm 2>/dev/null
mount -t tmpfs tmpfs /run 2>/dev/null
# A fresh /tmp, unless the repository itself lives there (a clone in /tmp):
# the overlay root is writable anyway.
case $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) in
/tmp/*) ;;
*) mount -t tmpfs tmpfs /tmp 2>/dev/null ;;
esac
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config 2>/dev/null
hostname pcache-vm 2>/dev/null
# A starved vCPU is not a hung task: report only after 300 s (the suite
# timeout catches real hangs anyway and names the test).
echo 300 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
# Loopback up: some runtimes (Foundation's CFSocket) want it even offline.
ip link set lo up 2>/dev/null

# Drivers every job needs: virtio disks and the NVDIMM stack (nfit finds the
# emulated NVDIMM, nd_pmem turns its namespace into /dev/pmem0; libnvdimm
# comes along as a dependency). In-tree modules only: modprobe works from the
# host's /lib/modules/<ver> without running depmod in the guest.
modprobe -q virtio_blk
modprobe -q nfit
modprobe -q nd_pmem

echo "=== PCACHE-VM STAGE2 $(uname -r) (guest uptime $(cut -d" " -f1 /proc/uptime)s)"
if [ -r /results/job.sh ]; then
	bash /results/job.sh
	echo "=== PCACHE-VM JOB EXIT $?"
else
	echo "=== PCACHE-VM INIT FAILED: /results/job.sh missing"
fi
sync
echo "=== PCACHE-VM POWEROFF"
poweroff -f
sleep 3600
