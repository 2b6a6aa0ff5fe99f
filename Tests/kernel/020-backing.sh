# SPDX-License-Identifier: Apache-2.0
#
# 020-backing: backing-start / backing-stop through cache_devN/adm, every
# backing_devM attribute, /dev/pcacheN and its queue limits, gc_percent
# persisted across stop/start and unregister/register, restart finding its
# record, a different disk at the same path refused, and concurrent
# operations with sysfs readers. A stop keeps the cache (its segments stay
# claimed by a "cached" record); a stop with flush=1 releases them.

TIMEOUT=500

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0
ADM=$CD0/adm
BD0=$CD0/backing_dev0

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" && -b "$BACKING2" ]] || { echo "pmem or backing disks missing"; return 1; }
}

setup() {
	load_module
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
}

teardown() {
	local b
	for b in $CD0/backing_dev*; do
		[[ -d $b ]] && pcache-rawwrite $ADM "op=backing-stop,backing_id=${b##*backing_dev}" >/dev/null
	done
	pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/dev/null
	dmsetup remove pcache-t020 2>/dev/null
	unload_module
}

# info_field KEY: the value of "KEY: value" in cache_dev0/info.
info_field() { sed -n "s/^$1: //p" $CD0/info; }

# expect_attr FILE VALUE
expect_attr() {
	local got
	got=$(cat "$1") || fail "cannot read $1"
	[[ "$got" == "$2" ]] || fail "$1 reads '$got', want '$2'"
}

test_start_new_backing() {
	kmsg_mark
	expect_write_ok $ADM "op=backing-start,path=$BACKING,cache_size=128"
	[[ -d $BD0 ]] || fail "$BD0 missing"
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 missing"
	expect_kmsg "pcache: cache_dev0: backing_dev0: started $BACKING as /dev/pcache0: 8 segments"
	[[ "$(info_field seg_used)" == 8 ]] || fail "seg_used $(info_field seg_used), want 8"
	[[ "$(info_field backing_devs)" == 1 ]] || fail "backing_devs $(info_field backing_devs), want 1"
}

test_backing_attributes() {
	local f want mode
	for f in path:400 ident:400 mapped_id:400 cache_segs:400 cache_used_segs:400 \
		cache_gc_percent:600 data_crc:400 stats:400; do
		want=${f#*:}
		mode=$(stat -c %a "$BD0/${f%%:*}") || fail "$BD0/${f%%:*} missing"
		[[ "$mode" == "$want" ]] || fail "${f%%:*} has mode $mode, the ABI says 0$want"
	done
	expect_attr $BD0/path "$BACKING"
	expect_attr $BD0/ident ""
	expect_attr $BD0/mapped_id 0
	expect_attr $BD0/cache_segs 8
	local used
	used=$(cat $BD0/cache_used_segs) || fail "cache_used_segs unreadable"
	[[ "$used" =~ ^[0-9]+$ ]] && ((used <= 8)) || fail "cache_used_segs '$used' is not 0..8"
	expect_attr $BD0/cache_gc_percent 70
	expect_attr $BD0/data_crc 0
	cat $BD0/stats >/dev/null || fail "stats unreadable"
	[[ "$(readlink -f /sys/block/pcache0/pcache)" == "$(readlink -f $BD0)" ]] ||
		fail "/sys/block/pcache0/pcache does not point at backing_dev0"
	# holders/slaves links (what lsblk shows)
	[[ -e /sys/block/${BACKING##*/}/holders/pcache0 ]] || fail "${BACKING##*/}/holders/pcache0 missing"
	[[ -e /sys/block/${PMEM##*/}/holders/pcache0 ]] || fail "${PMEM##*/}/holders/pcache0 missing"
	[[ "$(ls /sys/block/pcache0/slaves | sort | tr '\n' ' ')" == "$(printf '%s\n' ${PMEM##*/} ${BACKING##*/} | sort | tr '\n' ' ')" ]] ||
		fail "pcache0/slaves: $(ls /sys/block/pcache0/slaves)"
}

test_logic_dev_geometry() {
	local q=/sys/block/pcache0/queue
	(($(blockdev --getsize64 /dev/pcache0) == $(blockdev --getsize64 "$BACKING"))) ||
		fail "/dev/pcache0 has $(blockdev --getsize64 /dev/pcache0) bytes, $BACKING has $(blockdev --getsize64 "$BACKING")"
	expect_attr $q/logical_block_size 512
	expect_attr $q/physical_block_size 4096
	expect_attr $q/minimum_io_size 4096
	expect_attr $q/optimal_io_size 4096
	expect_attr $q/max_hw_sectors_kb 1024
	expect_attr $q/write_cache "write back"
	expect_attr $q/fua 1
	expect_attr $q/discard_max_bytes 0
	expect_attr $q/write_zeroes_max_bytes 0
	[[ $(ls /sys/block/pcache0/mq | wc -l) == 1 ]] || fail "want 1 hardware queue: $(ls /sys/block/pcache0/mq)"
}

test_unregister_busy_with_backing() {
	kmsg_mark
	expect_write_errno EBUSY $BUS/cache_dev_unregister cache_dev_id=0
	expect_kmsg "pcache: cache_dev0: cannot unregister: 1 backing devices attached"
	[[ -d $BD0 ]] || fail "backing_dev0 gone"
	rmmod pcache 2>/dev/null && fail "rmmod succeeded with a backing device started"
	return 0
}

test_gc_percent() {
	local v
	for v in 0 90 55; do
		expect_write_ok $BD0/cache_gc_percent "$v"
		expect_attr $BD0/cache_gc_percent "$v"
	done
	kmsg_mark
	# (an empty write never reaches a sysfs store: the VFS returns 0)
	for v in 91 -1 abc 4294967296 "5 5" 0x10 $'\n'; do
		expect_write_errno EINVAL $BD0/cache_gc_percent "$v"
	done
	expect_kmsg "pcache: cache_dev0: backing_dev0: cache_gc_percent: 91 out of range 0..90"
	expect_kmsg "pcache: cache_dev0: backing_dev0: cache_gc_percent: 'abc' is not a decimal number"
	expect_attr $BD0/cache_gc_percent 55
	[[ "$(as_unprivileged pcache-rawwrite $BD0/cache_gc_percent 10)" == EPERM ]] ||
		fail "unprivileged gc_percent write not refused with EPERM"
	expect_attr $BD0/cache_gc_percent 55
}

test_stop() {
	kmsg_mark
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	[[ -e $BD0 ]] && fail "backing_dev0 still present"
	[[ -e /dev/pcache0 || -e /sys/block/pcache0 ]] && fail "/dev/pcache0 still present"
	expect_kmsg "pcache: cache_dev0: backing_dev0: stopped $BACKING in [0-9]+ ms, cache kept for the next start"
	local held
	held=$(ls -A /sys/block/${BACKING##*/}/holders; ls -A /sys/block/${PMEM##*/}/holders)
	[[ -z "$held" ]] || fail "holders left: $held"
	# the cache is kept: its 8 segments stay claimed by the record
	[[ "$(info_field seg_used)" == 8 ]] || fail "seg_used $(info_field seg_used) after stop, want 8"
	grep -q "^backing_id=0 state=cached init_done=1 started=0 " $CD0/backing_records ||
		fail "record not cached after a stop: $(cat $CD0/backing_records)"
	[[ "$(info_field backing_devs)" == 0 ]] || fail "backing_devs $(info_field backing_devs) after stop"
	expect_write_errno ENOENT $ADM "op=backing-stop,backing_id=0"
	expect_kmsg "pcache: cache_dev0: backing_dev0 is not started"
}

test_stop_with_flush_releases_the_cache() {
	expect_write_ok $ADM "op=backing-start,path=$BACKING"
	kmsg_mark
	expect_write_errno EINVAL $ADM "op=backing-stop,backing_id=0,flush=1,force=1"
	expect_kmsg "flush=1 .* and force=1 .* contradict each other"
	expect_write_errno EINVAL $ADM "op=backing-stop,backing_id=0,flush=2"
	expect_write_ok $ADM "op=backing-stop,backing_id=0,flush=1"
	expect_kmsg "pcache: cache_dev0: backing_dev0: stopped $BACKING with flush=1: cache released, the disk is current"
	[[ "$(info_field seg_used)" == 0 ]] || fail "seg_used $(info_field seg_used) after a flush stop, want 0"
	grep -q "^backing_id=0 state=stopped " $CD0/backing_records ||
		fail "record not stopped after a flush stop: $(cat $CD0/backing_records)"
}

test_restart_finds_record() {
	# no cache_size: the STOPPED record of this path is reused
	expect_write_ok $ADM "op=backing-start,path=$BACKING,queues=2"
	[[ -d $BD0 ]] || fail "restart did not come back as backing_dev0"
	expect_attr $BD0/cache_segs 8
	expect_attr $BD0/cache_gc_percent 55
	[[ "$(info_field seg_used)" == 8 ]] || fail "seg_used $(info_field seg_used), want 8"
	[[ $(ls /sys/block/pcache0/mq | wc -l) == 2 ]] || fail "queues=2 not applied: $(ls /sys/block/pcache0/mq)"
	# a matching cache_size is accepted, a different one refused
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	kmsg_mark
	expect_write_errno EINVAL $ADM "op=backing-start,path=$BACKING,cache_size=256"
	expect_kmsg "cache_size gives 16 segments but backing_dev0 of $BACKING has 8"
	[[ -e $BD0 ]] && fail "refused start left backing_dev0 behind"
	expect_write_ok $ADM "op=backing-start,path=$BACKING,cache_size=120"
	expect_attr $BD0/cache_segs 8
}

test_gc_percent_survives_unregister() {
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	# the cached record's chain is claimed again at register
	[[ "$(info_field seg_used)" == 8 ]] || fail "seg_used $(info_field seg_used) after re-register, want 8"
	expect_write_ok $ADM "op=backing-start,path=$BACKING"
	expect_attr $BD0/cache_gc_percent 55
	expect_attr $BD0/cache_segs 8
}

test_second_backing() {
	expect_write_ok $ADM "op=backing-start,path=$BACKING2,cache_size=64,data_crc=1,ident=disk-two"
	local bd1=$CD0/backing_dev1
	[[ -d $bd1 ]] || fail "backing_dev1 missing"
	expect_attr $bd1/mapped_id 1
	expect_attr $bd1/cache_segs 4
	expect_attr $bd1/data_crc 1
	expect_attr $bd1/ident disk-two
	expect_attr $bd1/cache_gc_percent 70
	[[ -b /dev/pcache1 ]] || fail "/dev/pcache1 missing"
	[[ "$(info_field seg_used)" == 12 ]] || fail "seg_used $(info_field seg_used), want 12"
	[[ "$(info_field backing_devs)" == 2 ]] || fail "backing_devs $(info_field backing_devs), want 2"
	expect_write_ok $ADM "op=backing-stop,backing_id=1"
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	[[ "$(info_field seg_used)" == 12 ]] || fail "seg_used $(info_field seg_used) after stops, want 12 (both caches kept)"
	# restart keeps data_crc and ident; a different ident is a different disk
	kmsg_mark
	expect_write_errno EINVAL $ADM "op=backing-start,path=$BACKING2,ident=disk-three"
	expect_kmsg "different disk at $BACKING2"
	expect_write_ok $ADM "op=backing-start,path=$BACKING2,ident=disk-two"
	expect_attr $bd1/data_crc 1
	expect_write_ok $ADM "op=backing-stop,backing_id=1"
}

test_different_disk_refused() {
	modprobe dm_mod || skip "no device mapper"
	local dm
	dmsetup create pcache-t020 --table "0 204800 linear $BACKING2 0" || fail "dmsetup create"
	# no udev in the guest: use the devtmpfs node /dev/dm-N
	dm=/dev/dm-$(dmsetup info -c --noheadings -o minor pcache-t020)
	[[ -b $dm ]] || fail "$dm missing"
	expect_write_ok $ADM "op=backing-start,path=$dm,cache_size=64"
	expect_attr $CD0/backing_dev2/path "$dm"
	expect_write_ok $ADM "op=backing-stop,backing_id=2"
	dmsetup remove pcache-t020 || fail "dmsetup remove"
	# same path, different size: another disk
	dmsetup create pcache-t020 --table "0 409600 linear $BACKING2 0" || fail "dmsetup create 2"
	[[ $dm == /dev/dm-$(dmsetup info -c --noheadings -o minor pcache-t020) ]] || skip "dm minor changed"
	kmsg_mark
	expect_write_errno EINVAL $ADM "op=backing-start,path=$dm"
	expect_kmsg "different disk at $dm: backing_dev2 recorded 204800 sectors ident '', found 409600 sectors"
	[[ -e $CD0/backing_dev2 ]] && fail "refused start left backing_dev2 behind"
	expect_write_ok $ADM "op=backing-start,path=$dm,force=1"
	local disk=/dev/pcache$(cat $CD0/backing_dev2/mapped_id)
	[[ "$(blockdev --getsz $disk)" == 409600 ]] || fail "$disk has $(blockdev --getsz $disk) sectors, want 409600"
	expect_write_ok $ADM "op=backing-stop,backing_id=2"
	# the record now remembers the new size
	expect_write_ok $ADM "op=backing-start,path=$dm"
	# handed back before its disk goes away: no kept cache left behind
	expect_write_ok $ADM "op=backing-stop,backing_id=2,flush=1"
	dmsetup remove pcache-t020
}

test_concurrent_operations() {
	local i reader racers=() out1 out2 f
	# a reader hammers every attribute while devices come and go (until the
	# rounds end: a bare `wait` here would wait for it, rounds one by one)
	rm -f /tmp/t020.stop
	(
		end=$((SECONDS + 60))
		while ((SECONDS < end)); do
			cat $CD0/info $CD0/path $CD0/backing_dev*/* /sys/block/pcache*/size >/dev/null 2>&1
			[[ -e /tmp/t020.stop ]] && break
		done
	) &
	reader=$!
	for i in 1 2 3; do
		# two starts of the same disk race: exactly one wins, the other is EBUSY
		pcache-rawwrite $ADM "op=backing-start,path=$BACKING" >/tmp/t020.a &
		racers=($!)
		pcache-rawwrite $ADM "op=backing-start,path=$BACKING" >/tmp/t020.b &
		racers+=($!)
		wait "${racers[@]}"
		kill -0 "$reader" 2>/dev/null || echo "round $i: the attribute reader had already ended"
		out1=$(cat /tmp/t020.a) out2=$(cat /tmp/t020.b)
		[[ "$out1 $out2" == "OK EBUSY" || "$out1 $out2" == "EBUSY OK" ]] ||
			{ touch /tmp/t020.stop; fail "round $i: concurrent starts gave '$out1' and '$out2'"; }
		pcache-rawwrite $ADM "op=backing-start,path=$BACKING2" >/dev/null &
		racers=($!)
		pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/tmp/t020.u &
		racers+=($!)
		pcache-rawwrite $BUS/cache_dev_register "path=$PMEM" >/tmp/t020.r &
		racers+=($!)
		wait "${racers[@]}"
		[[ "$(cat /tmp/t020.u)" == EBUSY ]] || { touch /tmp/t020.stop; fail "unregister with backings gave $(cat /tmp/t020.u)"; }
		[[ "$(cat /tmp/t020.r)" == EEXIST ]] || { touch /tmp/t020.stop; fail "second register gave $(cat /tmp/t020.r)"; }
		for f in $CD0/backing_dev*; do
			expect_write_ok $ADM "op=backing-stop,backing_id=${f##*backing_dev}"
		done
	done
	touch /tmp/t020.stop
	wait "$reader"
	[[ "$(info_field seg_used)" == 12 ]] || fail "seg_used $(info_field seg_used) after the churn, want 12 (two kept caches)"
	[[ -z $(ls /sys/block | grep pcache) ]] || fail "disks left: $(ls /sys/block | grep pcache)"
}

test_teardown_leaves_nothing() {
	# each cache_dev holds one module reference, nothing else does
	[[ "$(cat /sys/module/pcache/refcnt)" == 1 ]] || fail "module refcnt $(cat /sys/module/pcache/refcnt) with one cache_dev"
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	[[ "$(cat /sys/module/pcache/refcnt)" == 0 ]] || fail "module refcnt $(cat /sys/module/pcache/refcnt) after unregister"
	unload_module
	[[ -e $BUS || -e /sys/devices/pcache ]] && fail "sysfs entries left behind"
	grep -qw pcache /proc/devices && fail "block major still registered"
	python3 -c "import os; os.close(os.open('$BACKING', os.O_RDWR | os.O_EXCL))" ||
		fail "$BACKING still held after unload"
	load_module
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
}
