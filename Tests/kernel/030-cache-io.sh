# SPDX-License-Identifier: Apache-2.0
#
# 030-cache-io: data integrity through the cache engine on a raw /dev/pcacheN.
# Cache of 64 MiB (4 segments) in front of /dev/vda; working sets of 256 MiB
# and more (>= 4x the cache) so that writeback and GC run and writers wait
# for space. Read misses, read hits (after fills) and partial hits are checked
# against data written directly to the backing disk before the start; fio
# verifies (crc32c) random and sequential writes from 512 B to 1 MiB, mixed
# read/write; a clean stop leaves the backing disk holding the same data.

TIMEOUT=900

. "$TESTS_DIR/cache_common.bash"

REF=/tmp/ref.img
REF_MB=48

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" ]] || { echo "no pmem device $PMEM"; return 1; }
	command -v fio >/dev/null || { echo "fio missing"; return 1; }
}

setup() {
	load_module
	cache_register
}

teardown() {
	cache_teardown
}

PC=/dev/pcache0

test_start() {
	# reference data written to the backing disk before the cache exists
	head -c ${REF_MB}M /dev/urandom >$REF
	dd if=$REF of="$BACKING" bs=1M oflag=direct status=none || fail "cannot write $BACKING"
	kmsg_mark
	PC=$(backing_start "$BACKING" "cache_size=64,queues=2") || exit 1
	[[ "$PC" == /dev/pcache0 ]] || fail "started as $PC"
	expect_kmsg "backing_dev0"
	[[ "$(cat $CD0/backing_dev0/cache_segs)" == 4 ]] || fail "cache_segs $(cat $CD0/backing_dev0/cache_segs)"
}

test_read_miss_then_hit() {
	local m0 h0
	m0=$(backing_stat 0 misses)
	cmp <(dd if=$PC bs=1M count=$REF_MB iflag=direct status=none) $REF ||
		fail "first read (misses) differs from the data on the backing disk"
	(($(backing_stat 0 misses) > m0)) || fail "no misses counted"
	(($(backing_stat 0 fills) > 0)) || fail "no read fills: $(tr '\n' ' ' <$CD0/backing_dev0/stats)"
	h0=$(backing_stat 0 hits)
	cmp <(dd if=$PC bs=64k count=$((REF_MB * 16)) iflag=direct status=none) $REF ||
		fail "second read (hits) differs"
	(($(backing_stat 0 hits) > h0)) || fail "no hits counted on the second read"
}

test_partial_hits() {
	local bs
	# 200 scattered writes of 512 B .. 8 KiB at every 512 B alignment into
	# the reference range, mirrored into the reference file
	python3 - $PC $REF $REF_MB <<-'EOPY' || fail "scattered writes failed"
		import mmap, os, random, sys
		dev, ref, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
		fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
		rf = os.open(ref, os.O_RDWR)
		buf = mmap.mmap(-1, 8192)
		for _ in range(200):
		    n = random.randint(1, 16) * 512
		    off = random.randrange(0, mb * 2048 - 16) * 512
		    data = os.urandom(n)
		    buf[:n] = data
		    os.pwritev(fd, [memoryview(buf)[:n]], off)
		    os.pwrite(rf, data, off)
	EOPY
	for bs in 4096 131072 1048576 3145728; do
		cmp <(dd if=$PC bs=$bs iflag=direct status=none count=$((REF_MB * 1048576 / bs))) $REF ||
			fail "read with bs=$bs after partial overwrites differs"
	done
	# and through the page cache (buffered, mixed sizes)
	cmp <(head -c ${REF_MB}M $PC) $REF || fail "buffered read differs"
}

fio_run() {
	local out
	out=$(fio --name=pc --filename=$PC --direct=1 --ioengine=libaio --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --group_reporting "$@" 2>&1) || {
		echo "$out" | tail -n 30
		fail "fio $* failed"
	}
	grep -qi "verify.*bad\|crc32c.*mismatch" <<<"$out" && { echo "$out" | tail -n 30; fail "fio reported bad data"; }
	grep -E "^ *(READ|WRITE):" <<<"$out"
	tr '\n' ' ' <$CD0/backing_dev0/stats
	echo
	return 0
}

test_fio_randwrite_mixed_sizes() {
	fio_run --rw=randwrite --bsrange=512-1m --size=256m --iodepth=8 --randrepeat=0
	(($(backing_stat 0 segs_freed) > 0)) || fail "256 MiB through a 64 MiB cache freed no segment"
	(($(backing_stat 0 gc_runs) > 0)) || fail "no GC run"
	(($(backing_stat 0 space_waits) > 0)) || fail "no writer ever waited for space with a working set of 4x the cache"
}

test_fio_seqwrite_1m() {
	fio_run --rw=write --bs=1m --size=320m --offset=64m --iodepth=4
}

test_fio_seqwrite_512() {
	fio_run --rw=write --bs=512 --size=6m --offset=1000m --iodepth=16
}

test_fio_randrw_mixed() {
	# small key segments (testing knob): the key log crosses LAST ksets and
	# GC reclaims key segments while the data is overwritten
	echo 16384 >/sys/module/pcache/parameters/key_seg_limit || fail "no key_seg_limit parameter"
	fio_run --rw=randrw --rwmixread=40 --bsrange=4k-256k --size=256m --offset=512m --iodepth=8 --randrepeat=0
	echo 0 >/sys/module/pcache/parameters/key_seg_limit
	(($(backing_stat 0 key_segs_chained) > 2)) ||
		fail "the key log did not move through key segments: $(backing_stat 0 key_segs_chained)"
}

test_fio_read_verify_after_restart() {
	# stop (the cache is kept), start again: all data must come back
	# through the replayed cache
	backing_stop 0
	[[ "$(backing_start "$BACKING" "")" == $PC ]] || fail "restarted under another name"
	fio_run --rw=write --bs=1m --size=320m --offset=64m --iodepth=4 --verify_only=1
}

test_stop_leaves_backing_clean() {
	local pre
	pre=$(dd if=$PC bs=1M count=$REF_MB iflag=direct status=none | sha256sum)
	kmsg_mark
	backing_flush_stop 0
	expect_kmsg "backing_dev0: cache clean"
	[[ "$(dd if="$BACKING" bs=1M count=$REF_MB iflag=direct status=none | sha256sum)" == "$pre" ]] ||
		fail "the backing disk does not hold what /dev/pcache0 returned before the stop"
}
