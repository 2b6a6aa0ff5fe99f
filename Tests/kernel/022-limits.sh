# SPDX-License-Identifier: Apache-2.0
#
# 022-limits: /dev/pcacheN inherits the queue limits of its backing disk.
# On $BACKING (512-byte sectors) the limits follow the disk's, with the
# engine's floors and its 1 MiB ceiling. On the 4Kn disk $BACKING_4K
# (4096-byte logical blocks, 8 KiB minimum and 256 KiB optimal I/O):
# /dev/pcacheN has 4096-byte logical blocks, a 512-byte O_DIRECT write is
# refused, fio verify with 4 KiB..1 MiB requests passes through the cache,
# and after a clean stop the disk itself holds the data, with no writeback
# error; restarted, the cache reads it back through misses and fills.

TIMEOUT=420

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0
ADM=$CD0/adm
BD0=$CD0/backing_dev0
DISK=/dev/pcache0

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	[[ -n "${BACKING_4K:-}" ]] || { echo "BACKING_4K unset: the VM has no 4Kn disk"; return 1; }
	local i
	for i in $(seq 50); do [[ -b $BACKING_4K ]] && break; sleep 0.1; done
	[[ -b $BACKING_4K ]] || { echo "$BACKING_4K did not appear"; return 1; }
	[[ "$(cat /sys/block/${BACKING_4K##*/}/queue/logical_block_size)" == 4096 ]] ||
		{ echo "$BACKING_4K does not have 4096-byte logical blocks"; return 1; }
	command -v fio >/dev/null || { echo "fio missing"; return 1; }
}

setup() {
	load_module
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
}

teardown() {
	[[ -d $BD0 ]] && pcache-rawwrite $ADM "op=backing-stop,backing_id=0" >/dev/null
	[[ -d $CD0/backing_dev1 ]] && pcache-rawwrite $ADM "op=backing-stop,backing_id=1" >/dev/null
	pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/dev/null
	unload_module
}

qattr() { cat "/sys/block/$1/queue/$2"; }

# expect_limit DISK ATTR WANT
expect_limit() {
	local got
	got=$(qattr "$1" "$2") || fail "cannot read $1/queue/$2"
	[[ "$got" == "$3" ]] || fail "$1/queue/$2 is $got, want $3 (backing: $(qattr "${BACKING_UNDER##*/}" "$2"))"
}

max() { echo $(($1 > $2 ? $1 : $2)); }
min() { echo $(($1 < $2 ? $1 : $2)); }

# The limits /dev/pcacheN must show on top of disk $1 (see logic_dev.c).
check_inherited() {
	local b=${1##*/} p=$2 lbs pbs iomin ioopt maxkb dma
	BACKING_UNDER=$1
	lbs=$(max 512 "$(qattr $b logical_block_size)")
	pbs=$(max 4096 "$(max "$lbs" "$(qattr $b physical_block_size)")")
	iomin=$(max "$pbs" "$(qattr $b minimum_io_size)")
	ioopt=$(max "$iomin" "$(qattr $b optimal_io_size)")
	# 1 MiB; 255 pages with larger blocks (a request fits one backing bio)
	maxkb=$(min "$( ((lbs > 512)) && echo 1020 || echo 1024)" "$(qattr $b max_hw_sectors_kb)")
	dma=$(max 511 "$(qattr $b dma_alignment)")
	expect_limit $p logical_block_size "$lbs"
	expect_limit $p physical_block_size "$pbs"
	expect_limit $p minimum_io_size "$iomin"
	expect_limit $p optimal_io_size "$ioopt"
	expect_limit $p max_hw_sectors_kb "$maxkb"
	expect_limit $p dma_alignment "$dma"
	expect_limit $p write_cache "write back"
	expect_limit $p fua 1
}

run_fio() {
	local name=$1
	shift
	fio --name="$name" --direct=1 --ioengine=libaio --verify=crc32c --verify_fatal=1 \
		--output="$RESULTS/fio-$name.txt" "$@" ||
		fail "fio $name failed: $(grep -Ei 'err|verify' "$RESULTS/fio-$name.txt" | head -n 3 | tr '\n' '|')"
	grep -q 'err= 0' "$RESULTS/fio-$name.txt" || fail "fio $name reported errors"
}


test_limits_of_512_disk() {
	expect_write_ok $ADM "op=backing-start,path=$BACKING,cache_size=64"
	check_inherited "$BACKING" pcache0
	# the values this disk gives (the floors and the ceiling of the engine)
	expect_limit pcache0 logical_block_size 512
	expect_limit pcache0 physical_block_size 4096
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
}

test_limits_of_4kn_disk() {
	expect_write_ok $ADM "op=backing-start,path=$BACKING_4K,cache_size=64"
	[[ "$(cat $CD0/backing_dev1/path)" == "$BACKING_4K" ]] || fail "backing_dev1 is not $BACKING_4K"
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 missing"
	check_inherited "$BACKING_4K" pcache0
	expect_limit pcache0 logical_block_size 4096
	expect_limit pcache0 minimum_io_size 8192
	expect_limit pcache0 optimal_io_size 262144
	[[ "$(blockdev --getss /dev/pcache0)" == 4096 ]] || fail "blockdev --getss says $(blockdev --getss /dev/pcache0)"
	(($(blockdev --getsize64 /dev/pcache0) == $(blockdev --getsize64 "$BACKING_4K"))) ||
		fail "/dev/pcache0 has $(blockdev --getsize64 /dev/pcache0) bytes, $BACKING_4K $(blockdev --getsize64 "$BACKING_4K")"
	expect_write_ok $ADM "op=backing-stop,backing_id=1"
}

test_4kn_fio_verify_stop_and_disk_holds_data() {
	local bd=$CD0/backing_dev1 errs
	expect_write_ok $ADM "op=backing-start,path=$BACKING_4K"
	run_fio mixed --filename=$DISK --rw=randwrite --bsrange=4k-1m --size=64M --iodepth=16
	# the same requests again, read only: hits
	run_fio mixed-read --filename=$DISK --rw=randwrite --bsrange=4k-1m --size=64M --iodepth=16 \
		--verify_only
	errs=$(sed -n 's/^writeback_errors //p' $bd/stats)
	[[ "$errs" == 0 ]] || fail "writeback_errors $errs before stop"
	kmsg_mark
	expect_write_ok $ADM "op=backing-stop,backing_id=1"
	expect_kmsg "backing_dev1: stopped $BACKING_4K"
	kmsg_since_mark | grep -Ei 'writeback|I/O error' && fail "writeback errors in the kernel log"
	# the disk itself holds what fio wrote
	run_fio disk-after-stop --filename=$BACKING_4K --rw=randwrite --bsrange=4k-1m --size=64M \
		--iodepth=16 --verify_only
	# restarted: an empty cache reads it back through misses and fills, then hits
	expect_write_ok $ADM "op=backing-start,path=$BACKING_4K"
	run_fio misses --filename=$DISK --rw=randwrite --bsrange=4k-1m --size=64M --iodepth=16 \
		--verify_only
	run_fio hits --filename=$DISK --rw=randwrite --bsrange=4k-1m --size=64M --iodepth=16 \
		--verify_only
	errs=$(sed -n 's/^writeback_errors //p' $bd/stats)
	[[ "$errs" == 0 ]] || fail "writeback_errors $errs after the reads"
}

test_4kn_512_byte_direct_write_refused() {
	local bd=$CD0/backing_dev1 i errs
	[[ -d $bd ]] || expect_write_ok $ADM "op=backing-start,path=$BACKING_4K"
	if dd if=/dev/urandom of=$DISK bs=512 count=1 seek=9 oflag=direct conv=notrunc status=none 2>$RESULTS/dd512.err; then
		# what became of it: the cache took a key the disk cannot store
		for i in $(seq 30); do
			errs=$(sed -n 's/^writeback_errors //p' $bd/stats)
			((errs > 0)) && break
			sleep 1
		done
		fail "a 512-byte O_DIRECT write to $DISK (4096-byte logical blocks) was accepted; writeback_errors $errs after ${i}s"
	fi
	grep -q 'Invalid argument' $RESULTS/dd512.err || fail "512-byte write failed, but not with EINVAL: $(cat $RESULTS/dd512.err)"
	# 4 KiB is fine, and a 512-byte buffered write is a read-modify-write of 4 KiB
	dd if=/dev/urandom of=$DISK bs=4096 count=1 seek=9 oflag=direct conv=notrunc status=none ||
		fail "4 KiB O_DIRECT write refused"
	head -c 512 /dev/urandom >/tmp/t022.512
	dd if=/tmp/t022.512 of=$DISK bs=512 count=1 seek=100 conv=notrunc,fsync status=none ||
		fail "512-byte buffered write failed"
	echo 1 >/proc/sys/vm/drop_caches
	cmp <(dd if=$DISK bs=4096 skip=12 count=1 iflag=direct status=none | tail -c +$((100 * 512 - 12 * 4096 + 1)) | head -c 512) /tmp/t022.512 ||
		fail "512-byte buffered write does not read back"
	errs=$(sed -n 's/^writeback_errors //p' $bd/stats)
	[[ "$errs" == 0 ]] || fail "writeback_errors $errs"
}
