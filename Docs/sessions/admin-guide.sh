#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Replays the workflow of Docs/admin-guide.md in the test VM and prints every command with its
# real output, so the guide's sessions can be refreshed:
#   RESULTS_ROOT=/tmp/r Tests/vm/vm.sh shell "bash $PWD/Docs/sessions/admin-guide.sh"
# Runs as root in the guest; uses $PMEM, $BACKING, $PCACHE_KO and $PCACHECTL from the harness.

mkdir -p /run/guide-bin
ln -sf "$PCACHECTL" /run/guide-bin/pcachectl
export PATH=/run/guide-bin:$PATH
cd /root 2>/dev/null || cd /

run() {
	echo "# \$ $*"
	"$@" 2>&1 | sed 's/^/# /'
	local rc=${PIPESTATUS[0]}
	((rc == 0)) || echo "# (exit status $rc)"
}

echo "=== SESSION module"
for m in ${PCACHE_DEPS:-libcrc32c}; do modprobe "$m"; done
export PCACHE_MODULE=$PCACHE_KO
run pcachectl module status
run pcachectl module load
run pcachectl module status

echo "=== SESSION devices"
run pcachectl devices

echo "=== SESSION register-unformatted"
dd if=/dev/zero of="$PMEM" bs=1M count=2 status=none
run pcachectl cache register "$PMEM"

echo "=== SESSION format-register"
run pcachectl format --label fast "$PMEM"
run pcachectl cache register "$PMEM"

echo "=== SESSION start"
run pcachectl backing start --cache cache_dev0 "$BACKING" --cache-size 512M
run pcachectl list

echo "=== SESSION use"
run mkfs.ext4 -q -L data /dev/pcache0
mkdir -p /mnt/data
run mount /dev/pcache0 /mnt/data
run dd if=/dev/urandom of=/mnt/data/file bs=1M count=32 conv=fsync status=none
run pcachectl status

echo "=== SESSION status-json"
run pcachectl status --json /dev/pcache0

echo "=== SESSION tune"
run pcachectl get /dev/pcache0 gc-percent
run pcachectl set /dev/pcache0 gc-percent 50
run pcachectl set /dev/pcache0 gc-percent 95

echo "=== SESSION stop-busy"
run pcachectl backing stop /dev/pcache0
run pcachectl cache unregister cache_dev0

echo "=== SESSION warm-stop"
run umount /mnt/data
run pcachectl backing stop /dev/pcache0
run pcachectl devices
run pcachectl backing start --cache cache_dev0 "$BACKING"
run mount /dev/pcache0 /mnt/data
echo 3 >/proc/sys/vm/drop_caches
run dd if=/mnt/data/file of=/dev/null bs=1M status=none
run grep -E '^(hits|misses|dirty_bytes) ' /sys/bus/pcache/devices/cache_dev0/backing_dev0/stats
run umount /mnt/data

echo "=== SESSION flush-stop"
run mount /dev/pcache0 /mnt/data
run dd if=/dev/urandom of=/mnt/data/file2 bs=1M count=64 conv=fsync status=none
run umount /mnt/data
run pcachectl backing stop --flush /dev/pcache0
run pcachectl devices
run pcachectl backing start --cache cache_dev0 "$BACKING"
run pcachectl get /dev/pcache0 gc-percent
run pcachectl backing stop /dev/pcache0

echo "=== SESSION nonroot"
run setpriv --reuid 65534 --regid 65534 --clear-groups pcachectl list
run setpriv --reuid 65534 --regid 65534 --clear-groups pcachectl cache unregister cache_dev0

echo "=== SESSION config"
uuid=$(pcachectl list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["caches"][0]["uuid"])')
mkdir -p /etc/pcache
cat >/etc/pcache/pcache.conf <<CONF
[cache fast]
uuid = $uuid

[backing data]
cache = fast
device = $BACKING
cache_size = 512M
gc_percent = 50
CONF
run cat /etc/pcache/pcache.conf
run pcachectl cache unregister cache_dev0
run pcachectl apply --dry-run
run pcachectl apply
run pcachectl apply
run ls -l /dev/pcache/by-name/
run mount /dev/pcache/by-name/data /mnt/data
run ls -l /mnt/data
run umount /mnt/data

echo "=== SESSION probe"
run pcachectl probe --udev "$PMEM"
run pcachectl probe --udev "$BACKING"
run pcachectl probe --udev /dev/pcache0

echo "=== SESSION autostart"
run pcachectl backing stop /dev/pcache0
run pcachectl cache unregister cache_dev0
run pcachectl autostart --foreground "$PMEM"
run pcachectl list
echo "=== SESSION end"
