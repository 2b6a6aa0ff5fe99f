# SPDX-License-Identifier: Apache-2.0
#
# 025-passthrough: /dev/pcacheN without the cache engine (module parameter
# passthrough=1): fio verify at every request size, data landing on the
# backing device unchanged, flushes reaching it, and backing-stop refused
# with EBUSY while /dev/pcacheN is open.

TIMEOUT=900

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0
ADM=$CD0/adm
BD0=$CD0/backing_dev0
DISK=/dev/pcache0

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	command -v fio >/dev/null || { echo "fio missing"; return 1; }
}

setup() {
	load_module passthrough=1
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	expect_write_ok $ADM "op=backing-start,path=$BACKING,cache_size=128,queues=2"
}

teardown() {
	exec 3<&- 2>/dev/null
	[[ -d $BD0 ]] && pcache-rawwrite $ADM "op=backing-stop,backing_id=0" >/dev/null
	pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/dev/null
	unload_module
}

# run_fio NAME ARGS...: fio on $DISK with direct I/O and crc32c verify.
run_fio() {
	local name=$1
	shift
	fio --name="$name" --filename=$DISK --direct=1 --ioengine=libaio --verify=crc32c \
		--verify_fatal=1 --output="$RESULTS/fio-$name.txt" "$@" ||
		fail "fio $name failed: $(grep -Ei 'err|verify' "$RESULTS/fio-$name.txt" | head -n 3 | tr '\n' '|')"
	grep -q 'err= 0' "$RESULTS/fio-$name.txt" || fail "fio $name reported errors"
}

# flushes completed by a disk (field 16 of /sys/block/X/stat)
flushes() { awk '{ print $16 }' /sys/block/$1/stat; }

test_runs_as_passthrough() {
	[[ "$(cat /sys/module/pcache/parameters/passthrough)" == Y ]] || fail "passthrough parameter not set"
	dmesg | grep -q "backing_dev0: started $BACKING as $DISK: 8 segments, 2 queues, data_crc 0, passthrough" ||
		fail "start did not log passthrough mode: $(dmesg | grep backing_dev0 | tail -n 1)"
	[[ "$(cat $BD0/cache_used_segs)" == 0 ]] || fail "cache_used_segs $(cat $BD0/cache_used_segs) without an engine"
	[[ -z "$(cat $BD0/stats)" ]] || fail "stats not empty without an engine"
}

test_fio_randwrite_4k_verify() {
	run_fio randwrite4k --rw=randwrite --bs=4k --size=64M --iodepth=16
}

test_fio_sequential_sizes_verify() {
	local bs off=0
	for bs in 512 4k 64k 1m; do
		run_fio "seq-$bs" --rw=write --bs=$bs --size=8M --offset=${off}M --iodepth=8
		off=$((off + 8))
	done
}

test_fio_random_mixed_sizes_verify() {
	run_fio mixed --rw=randwrite --bsrange=512-1m --size=48M --offset=128M --iodepth=16 --numjobs=2 \
		--offset_increment=48M
}

test_fio_read_after_write_verify() {
	# writes, then a separate verify pass that only reads
	run_fio rw-write --rw=write --bs=128k --size=32M --offset=256M --do_verify=0 \
		--verify_state_save=0
	run_fio rw-read --rw=read --bs=128k --size=32M --offset=256M --verify_only \
		--verify_state_load=0
}

test_split_sub_ranges_verify() {
	# every request goes out as up to 8 backing_dev_rq_io() calls over random
	# sub-ranges: the mapping the cache engine relies on for misses and hits
	echo 8 >/sys/module/pcache/parameters/passthrough_split || fail "cannot set passthrough_split"
	run_fio split-write --rw=randwrite --bsrange=512-1m --size=32M --offset=320M --iodepth=16
	run_fio split-read --rw=randread --bsrange=512-1m --size=32M --offset=320M --iodepth=16 \
		--verify_only
	# buffered I/O: multi-page requests built from the page cache
	head -c $((3 << 20)) /dev/urandom >/tmp/t025.split
	dd if=/tmp/t025.split of=$DISK bs=64k seek=6000 conv=fsync status=none || fail "buffered write"
	echo 1 >/proc/sys/vm/drop_caches
	cmp <(dd if=$DISK bs=64k skip=6000 count=48 status=none) /tmp/t025.split ||
		fail "buffered read back differs"
	cmp <(dd if="$BACKING" bs=64k skip=6000 count=48 iflag=direct status=none) /tmp/t025.split ||
		fail "$BACKING differs after split writes"
	echo 0 >/sys/module/pcache/parameters/passthrough_split
}

test_split_toggled_under_io() {
	# passthrough_split changes between 0, 1 and 16 while requests are in
	# flight: each request must act on one value (read twice, a change to 0
	# in between let the split run past its 16 pieces on the stack)
	local p=/sys/module/pcache/parameters/passthrough_split n=0
	rm -f /tmp/t025.toggle.stop
	(
		while [[ ! -e /tmp/t025.toggle.stop ]]; do
			echo 16 >$p; echo 0 >$p; echo 16 >$p; echo 1 >$p
		done
	) &
	run_fio toggle-write --rw=randwrite --bsrange=64k-1m --size=48M --offset=384M --iodepth=16 \
		--numjobs=2 --offset_increment=48M
	run_fio toggle-read --rw=randwrite --bsrange=64k-1m --size=48M --offset=384M --iodepth=16 \
		--numjobs=2 --offset_increment=48M --verify_only
	touch /tmp/t025.toggle.stop
	wait
	# any value is safe: out-of-range ones act as 16
	for n in 4294967295 17 1000; do
		echo $n >$p || fail "cannot set passthrough_split=$n"
		run_fio split-$n --rw=randwrite --bsrange=512-1m --size=8M --offset=600M --iodepth=8
	done
	echo 0 >$p
}

test_data_reaches_backing() {
	local src=/tmp/t025.src
	head -c $((8 << 20)) /dev/urandom >$src
	dd if=$src of=$DISK bs=1M seek=512 oflag=direct status=none || fail "write to $DISK"
	cmp <(dd if="$BACKING" bs=1M skip=512 count=8 iflag=direct status=none) $src ||
		fail "$BACKING does not hold what was written through $DISK"
	# and the other way: what the backing holds is what the disk reads
	head -c $((4 << 20)) /dev/urandom >$src
	dd if=$src of="$BACKING" bs=1M seek=600 oflag=direct status=none || fail "write to $BACKING"
	cmp <(dd if=$DISK bs=1M skip=600 count=4 iflag=direct status=none) $src ||
		fail "$DISK does not read what $BACKING holds"
	# unaligned buffered I/O through the page cache, then fsync
	head -c 1234567 /dev/urandom >$src
	# (700416000 = 171000 * 4096: the direct read back starts aligned)
	dd if=$src of=$DISK bs=1000 seek=700416 conv=fsync status=none || fail "buffered write"
	cmp <(dd if="$BACKING" bs=4096 skip=171000 count=302 iflag=direct status=none | head -c 1234567) $src ||
		fail "buffered write did not reach $BACKING"
}

test_flush_reaches_backing() {
	local vd=${BACKING##*/} before after pbefore pafter
	[[ "$(cat /sys/block/$vd/queue/write_cache)" == "write back" ]] || skip "$BACKING has no volatile cache"
	before=$(flushes $vd)
	pbefore=$(flushes pcache0)
	fio --name=fsync --filename=$DISK --rw=write --bs=4k --size=256k --direct=1 --fsync=1 \
		--output="$RESULTS/fio-fsync.txt" || fail "fio fsync"
	after=$(flushes $vd)
	pafter=$(flushes pcache0)
	# the block layer may merge a flush or two; each one must reach the backing
	((pafter - pbefore >= 48)) || fail "$DISK completed $((pafter - pbefore)) flushes for 64 fsyncs"
	((after - before >= pafter - pbefore)) ||
		fail "$BACKING saw $((after - before)) flushes, $DISK completed $((pafter - pbefore))"
}

test_stop_refused_while_open() {
	exec 3<$DISK || fail "cannot open $DISK"
	kmsg_mark
	expect_write_errno EBUSY $ADM "op=backing-stop,backing_id=0"
	expect_kmsg "pcache: cache_dev0: backing_dev0: cannot stop: $DISK is open"
	[[ -d $BD0 && -b $DISK ]] || fail "refused stop removed the device"
	dd if=$DISK of=/dev/null bs=4k count=16 iflag=direct status=none || fail "$DISK unusable after refused stop"
	exec 3<&-
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	[[ -e $DISK ]] && fail "$DISK still present after stop"
	return 0
}

test_restart_reads_same_data() {
	local src=/tmp/t025.src2
	head -c $((2 << 20)) /dev/urandom >$src
	dd if=$src of="$BACKING" bs=1M seek=800 oflag=direct status=none || fail "write to $BACKING"
	expect_write_ok $ADM "op=backing-start,path=$BACKING"
	cmp <(dd if=$DISK bs=1M skip=800 count=2 iflag=direct status=none) $src ||
		fail "restarted $DISK does not read the backing's data"
}
