# SPDX-License-Identifier: Apache-2.0
#
# 031-cache-fs: filesystems on /dev/pcacheN. ext4 on /dev/vda and xfs on
# /dev/vdb, each behind its own 64 MiB cache (two backing devices on one
# cache device); trees of files (~50 MiB each; ext4 gets a second one after
# the restart, together more than its cache) are checked by sha256 after
# umount/mount, after a clean backing stop/start, and after a module reload
# (unregister, rmmod, insmod, register without formatting, start).

TIMEOUT=900

. "$TESTS_DIR/cache_common.bash"

MNT=/tmp/mnt

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" ]] || { echo "no pmem device $PMEM"; return 1; }
	command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing"; return 1; }
	command -v mkfs.xfs >/dev/null || { echo "mkfs.xfs missing"; return 1; }
}

setup() {
	mkdir -p $MNT/ext4 $MNT/xfs
	load_module
	cache_register
}

teardown() {
	umount $MNT/ext4 $MNT/xfs 2>/dev/null
	cache_teardown
}

# make_tree DIR SEED: ~50 MiB in 100 files of 1 KiB .. 1 MiB in nested dirs
make_tree() {
	local dir=$1 i sz
	RANDOM=$2
	for i in $(seq 100); do
		mkdir -p "$dir/d$((i % 7))/e$((i % 3))"
		sz=$(( (RANDOM % 1024 + 1) * 1024 ))
		head -c $sz /dev/urandom >"$dir/d$((i % 7))/e$((i % 3))/f$i" || return 1
	done
	# a few overwrites in place and appends
	for i in $(seq 1 10 100); do
		dd if=/dev/urandom of="$dir/d$((i % 7))/e$((i % 3))/f$i" bs=512 count=3 seek=1 conv=notrunc status=none
		head -c 5000 /dev/urandom >>"$dir/d$((i % 7))/e$((i % 3))/f$i"
	done
}

sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

check_tree() { # DIR SUMFILE WHAT
	local got
	got=$(sums "$1") || fail "$3: cannot read the tree"
	[[ "$got" == "$(cat "$2")" ]] || {
		diff <(echo "$got") "$2" | head -n 5
		fail "$3: files differ"
	}
}

test_start_both() {
	backing_start "$BACKING" "cache_size=64,queues=2" >/dev/null
	backing_start "$BACKING2" "cache_size=64" >/dev/null
	[[ -b /dev/pcache0 && -b /dev/pcache1 ]] || fail "pcache0/pcache1 missing"
}

test_ext4_tree() {
	mkfs.ext4 -q -F /dev/pcache0 >/dev/null || fail "mkfs.ext4"
	mount /dev/pcache0 $MNT/ext4 || fail "mount ext4"
	make_tree $MNT/ext4 101 || fail "writing the tree"
	sums $MNT/ext4 >/tmp/ext4.sums
	umount $MNT/ext4 || fail "umount ext4"
	mount /dev/pcache0 $MNT/ext4 || fail "remount ext4"
	check_tree $MNT/ext4 /tmp/ext4.sums "ext4 after remount"
	umount $MNT/ext4
	fsck.ext4 -n -f /dev/pcache0 >/tmp/fsck.out 2>&1 || { tail -n 5 /tmp/fsck.out; fail "fsck.ext4 found errors"; }
}

test_xfs_tree() {
	mkfs.xfs -q -f /dev/pcache1 >/dev/null || fail "mkfs.xfs"
	mount /dev/pcache1 $MNT/xfs || fail "mount xfs"
	make_tree $MNT/xfs 202 || fail "writing the tree"
	sync
	sums $MNT/xfs >/tmp/xfs.sums
	umount $MNT/xfs || fail "umount xfs"
	mount /dev/pcache1 $MNT/xfs || fail "remount xfs"
	check_tree $MNT/xfs /tmp/xfs.sums "xfs after remount"
	umount $MNT/xfs
}

test_stop_start() {
	kmsg_mark
	backing_flush_stop 0
	backing_flush_stop 1
	expect_kmsg "backing_dev0: cache clean"
	expect_kmsg "backing_dev1: cache clean"
	# the backing disks alone hold the filesystems now
	fsck.ext4 -n -f "$BACKING" >/tmp/fsck.out 2>&1 || { tail -n 5 /tmp/fsck.out; fail "fsck.ext4 on $BACKING after stop"; }
	backing_start "$BACKING" "" >/dev/null
	backing_start "$BACKING2" "" >/dev/null
	mount /dev/pcache0 $MNT/ext4 || fail "mount ext4 after restart"
	mount /dev/pcache1 $MNT/xfs || fail "mount xfs after restart"
	check_tree $MNT/ext4 /tmp/ext4.sums "ext4 after backing stop/start"
	check_tree $MNT/xfs /tmp/xfs.sums "xfs after backing stop/start"
	# more changes through the restarted caches
	rm -rf $MNT/ext4/d3 $MNT/xfs/d4
	make_tree $MNT/ext4/new 303 || fail "second tree on ext4"
	sums $MNT/ext4 >/tmp/ext4.sums
	sums $MNT/xfs >/tmp/xfs.sums
	umount $MNT/ext4 $MNT/xfs || fail "umount"
}

test_module_reload() {
	backing_stop 0
	backing_stop 1
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	unload_module
	load_module
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	backing_start "$BACKING" "" >/dev/null
	backing_start "$BACKING2" "" >/dev/null
	mount /dev/pcache0 $MNT/ext4 || fail "mount ext4 after reload"
	mount /dev/pcache1 $MNT/xfs || fail "mount xfs after reload"
	check_tree $MNT/ext4 /tmp/ext4.sums "ext4 after module reload"
	check_tree $MNT/xfs /tmp/xfs.sums "xfs after module reload"
	umount $MNT/ext4 $MNT/xfs
}
