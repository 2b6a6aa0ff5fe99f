# SPDX-License-Identifier: Apache-2.0
#
# 024-records: backing records and the disks they belong to (issue 15,
# items 1, 3 and 4).
#   - force=1 with a different disk behind a record's path discards the old
#     cache: nothing of it is replayed or written back onto the new disk;
#   - a disk started under another name (/dev/dm-N vs /dev/mapper/NAME)
#     finds its own record and replays it, instead of getting a second,
#     empty cache; a disk related to two records is refused;
#   - a RUNNING record whose chain the engine never initialised (a crash
#     right after a passthrough start) starts as a new cache, replaying
#     nothing of the segments' earlier owner;
#   - backing-forget (kernel op and `pcachectl backing forget`) drops a
#     record that cannot start, and refuses a started one;
#   - cache_devN/backing_records lists the records.
# A RUNNING record with dirty data is made without a power cut: the disk is
# a device-mapper target switched to "error" before a stop, so the stop
# cannot write back and keeps the data in pmem (about 30 s per stop).

TIMEOUT=560

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0
ADM=$CD0/adm
PARAMS=/sys/module/pcache/parameters
DMA=pcache-r022a
LINK=/dev/pcache-r022-disk
SECTORS_A=204800

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" && -b "$BACKING2" ]] || { echo "pmem or backing disks missing"; return 1; }
	command -v dmsetup >/dev/null || { echo "dmsetup missing"; return 1; }
}

setup() {
	modprobe dm_mod || fail "no device mapper"
	load_module
	dd if=/dev/urandom of=/tmp/r022.new bs=1M count=4 status=none
	dd if=/dev/urandom of=/tmp/r022.old bs=1M count=4 status=none
}

teardown() {
	stop_all
	rm -f $LINK
	dmsetup remove --noudevsync $DMA 2>/dev/null
	unload_module
}

stop_all() {
	local b
	for b in $CD0/backing_dev*; do
		[[ -d $b ]] && pcache-rawwrite $ADM "op=backing-stop,backing_id=${b##*backing_dev}" >/dev/null
	done
	pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/dev/null
	echo 0 >$PARAMS/passthrough
	echo 1000 >$PARAMS/writeback_idle_ms
}

# fresh_cache: nothing registered, $PMEM formatted anew and registered.
fresh_cache() {
	stop_all
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
}

# dm_a linear|error: (re)load disk A, a dm target on the first 100 MiB of $BACKING.
dm_a() {
	local t="0 $SECTORS_A linear $BACKING 0"
	[[ $1 == error ]] && t="0 $SECTORS_A error"
	if dmsetup info $DMA >/dev/null 2>&1; then
		dmsetup reload --noudevsync $DMA --table "$t" || fail "dmsetup reload $1"
		timeout 60 dmsetup resume --noudevsync $DMA || fail "dmsetup resume $1"
	else
		dmsetup create --noudevsync $DMA --table "$t" || fail "dmsetup create"
		dmsetup mknodes $DMA
	fi
	[[ -b /dev/mapper/$DMA ]] || fail "/dev/mapper/$DMA missing"
}

dm_node() { echo /dev/dm-$(dmsetup info -c --noheadings -o minor $DMA | tr -d ' '); }

wait_disk() {
	for _ in $(seq 50); do [[ -b /dev/pcache$1 ]] && return 0; sleep 0.1; done
	fail "/dev/pcache$1 did not appear"
}

# same FILE DEV [SKIP_MB]: DEV at SKIP_MB (default 0) holds FILE's bytes (O_DIRECT).
same() {
	cmp <(dd if="$2" bs=1M skip="${3:-0}" count=$(($(stat -c %s "$1") >> 20)) iflag=direct status=none) "$1" >/dev/null
}

sum_of() { dd if="$1" bs=1M count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1; }

# make_unclean START_OPTIONS: start disk A with START_OPTIONS (path= and
# more), write /tmp/r022.new at 0 (disk A holds /tmp/r022.old there), make
# writeback impossible and stop (force=1, which since format 3 is what a
# plain stop does): backing_dev0 is CACHED with 4 MiB dirty.
make_unclean() {
	local got
	dm_a linear
	dd if=/tmp/r022.old of=/dev/mapper/$DMA bs=1M oflag=direct status=none || fail "seeding disk A"
	echo 600000 >$PARAMS/writeback_idle_ms
	expect_write_ok $ADM "op=backing-start,$1"
	wait_disk 0
	dd if=/tmp/r022.new of=/dev/pcache0 bs=1M oflag=direct conv=fsync status=none || fail "write to /dev/pcache0"
	dm_a error
	kmsg_mark
	# no writeback: the record is CACHED with its dirty data
	got=$(pcache-rawwrite $ADM "op=backing-stop,backing_id=0,force=1")
	[[ $got == OK ]] || fail "backing-stop force=1 failed: $got"
	expect_kmsg "cache kept for the next start"
	grep -q "^backing_id=0 state=cached init_done=1 " $CD0/backing_records ||
		fail "record not cached after the stop: $(cat $CD0/backing_records)"
	[[ -d $CD0/backing_dev0 ]] && fail "backing_dev0 still there after the stop"
	dm_a linear
	echo 1000 >$PARAMS/writeback_idle_ms
	same /tmp/r022.old /dev/mapper/$DMA || fail "disk A changed although writeback failed"
}

test_takeover_discards_old_cache() {
	fresh_cache
	ln -sf /dev/mapper/$DMA $LINK
	make_unclean "path=$LINK,cache_size=128,ident=disk-a"
	# the name now leads to another disk
	ln -sf $BACKING2 $LINK
	local before after
	before=$(sum_of $BACKING2)
	kmsg_mark
	expect_write_errno EINVAL $ADM "op=backing-start,path=$LINK,ident=disk-b"
	expect_kmsg "different disk at $LINK"
	expect_write_ok $ADM "op=backing-start,path=$LINK,ident=disk-b,force=1"
	wait_disk 0
	local dirty
	dirty=$(awk '$1 == "dirty_bytes" { print $2 }' $CD0/backing_dev0/stats)
	same /tmp/r022.new /dev/pcache0 && fail "/dev/pcache0 serves disk A's dirty data on the new disk (dirty_bytes $dirty)"
	cmp <(dd if=/dev/pcache0 bs=1M count=16 iflag=direct status=none) \
		<(dd if=$BACKING2 bs=1M count=16 iflag=direct status=none) >/dev/null ||
		fail "/dev/pcache0 does not read the new disk's data (dirty_bytes $dirty)"
	[[ $dirty == 0 ]] || fail "taken-over cache is not empty: dirty_bytes $dirty"
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	after=$(sum_of $BACKING2)
	[[ $before == "$after" ]] || fail "the new disk changed under a forced takeover (sha256 of 16 MiB $before -> $after)"
	expect_kmsg "force=1: $LINK is not the disk of this record .*its cache is discarded"
	[[ "$(cat $CD0/backing_records)" == *"ident=disk-b path=$LINK"* ]] ||
		fail "record not rewritten for the new disk: $(cat $CD0/backing_records)"
	rm -f $LINK
}

test_renamed_disk_finds_its_record() {
	fresh_cache
	local node
	node=$(dm_node)
	make_unclean "path=$node,cache_size=128"
	# across an unregister the device number is forgotten: only the name helps
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	kmsg_mark
	expect_write_ok $ADM "op=backing-start,path=/dev/mapper/$DMA,cache_size=128"
	[[ -d $CD0/backing_dev1 ]] && fail "the disk got a second record (backing_dev1) under its other name"
	[[ -d $CD0/backing_dev0 ]] || fail "backing_dev0 missing"
	wait_disk 0
	expect_kmsg "backing_dev0: renamed from $node to /dev/mapper/$DMA"
	expect_kmsg "cache kept at the last stop replayed"
	same /tmp/r022.new /dev/pcache0 || fail "/dev/pcache0 does not return the data written before the stop"
	[[ "$(cat $CD0/backing_dev0/path)" == /dev/mapper/$DMA ]] || fail "record path not updated: $(cat $CD0/backing_dev0/path)"
	local recs
	recs=$(cat $CD0/backing_records)
	local dev
	dev=$(printf '%d:%d' 0x$(stat -Lc %t /dev/mapper/$DMA) 0x$(stat -Lc %T /dev/mapper/$DMA))
	[[ $recs == "backing_id=0 state=running init_done=1 started=1 dev=$dev dev_sectors=$SECTORS_A ident= path=/dev/mapper/$DMA" ]] ||
		fail "backing_records reads '$recs'"
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	same /tmp/r022.new /dev/mapper/$DMA || fail "the replayed data did not reach disk A"
}

test_two_records_refused() {
	fresh_cache
	dm_a linear
	local node
	node=$(dm_node)
	expect_write_ok $ADM "op=backing-start,path=$node,cache_size=64"
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	expect_write_ok $ADM "op=backing-start,path=$BACKING2,cache_size=64,ident=disk-x"
	expect_write_ok $ADM "op=backing-stop,backing_id=1"
	# disk A by another name, claiming disk-x's ident: two records are its own
	kmsg_mark
	expect_write_errno EEXIST $ADM "op=backing-start,path=/dev/mapper/$DMA,cache_size=64,ident=disk-x"
	expect_kmsg "matches two backing records: backing_dev0 \(path $node .*backing_dev1 \(path $BACKING2"
	[[ -d $CD0/backing_dev2 ]] && fail "a third record was made"
	[[ $(grep -c backing_id= $CD0/backing_records) == 2 ]] || fail "backing_records: $(cat $CD0/backing_records)"
}

test_uninitialised_running_record_starts_new() {
	fresh_cache
	dm_a linear
	# a first owner of the segments leaves ksets behind
	expect_write_ok $ADM "op=backing-start,path=/dev/mapper/$DMA,cache_size=128"
	wait_disk 0
	dd if=/tmp/r022.old of=/dev/pcache0 bs=1M oflag=direct conv=fsync status=none || fail "write 1"
	# flush=1: the record is STOPPED, the chain released with the ksets left in it
	expect_write_ok $ADM "op=backing-stop,backing_id=0,flush=1"
	# passthrough start: RUNNING, engine never initialised the chain
	echo 1 >$PARAMS/passthrough
	expect_write_ok $ADM "op=backing-start,path=/dev/mapper/$DMA"
	wait_disk 0
	dd if=/tmp/r022.new of=/dev/pcache0 bs=1M oflag=direct conv=fsync status=none || fail "write 2"
	# the metadata as a crash at this point leaves it
	dd if=$PMEM of=/tmp/r022.meta bs=1M count=1 iflag=direct status=none || fail "save metadata"
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	echo 0 >$PARAMS/passthrough
	dd if=/tmp/r022.meta of=$PMEM bs=1M count=1 oflag=direct conv=fsync status=none || fail "restore metadata"
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	kmsg_mark
	expect_write_ok $ADM "op=backing-start,path=/dev/mapper/$DMA"
	wait_disk 0
	same /tmp/r022.new /dev/pcache0 || fail "/dev/pcache0 does not read the disk's current data (an earlier owner's cache was replayed?)"
	expect_kmsg "never initialised: nothing to replay, starting a new cache"
	expect_kmsg "new cache"
	grep -q "init_done=1" $CD0/backing_records || fail "INIT_DONE not set after the start: $(cat $CD0/backing_records)"
	expect_write_ok $ADM "op=backing-stop,backing_id=0"
}

test_forget_record() {
	fresh_cache
	make_unclean "path=/dev/mapper/$DMA,cache_size=128,ident=disk-gone"
	# a second, started record: forget refuses it
	expect_write_ok $ADM "op=backing-start,path=$BACKING2,cache_size=64"
	expect_write_errno EBUSY $ADM "op=backing-forget,backing_id=1"
	expect_write_errno ENOENT $ADM "op=backing-forget,backing_id=5"
	expect_write_errno EINVAL $ADM "op=backing-forget,backing_id=64"
	expect_write_errno EINVAL $ADM "op=backing-forget"
	expect_write_errno EINVAL $ADM "op=backing-forget,backing_id=0,path=/dev/vda"
	as_unprivileged pcache-rawwrite $ADM "op=backing-forget,backing_id=0" | grep -qx EPERM ||
		fail "unprivileged forget not refused with EPERM"
	# the disk is gone for good: its record can never start
	dmsetup remove --noudevsync $DMA || fail "dmsetup remove"
	local used
	used=$(sed -n 's/^seg_used: //p' $CD0/info)
	[[ $used == $((8 + 4)) ]] || fail "seg_used $used, want 12 (the unclean chain and the started one)"
	[[ -x $PCACHECTL ]] || fail "pcachectl not built: $PCACHECTL"
	"$PCACHECTL" backing forget cache_dev0/backing_dev0 >/tmp/r022.out 2>&1 &&
		fail "pcachectl backing forget without --discard-dirty-data succeeded"
	grep -q -- "--discard-dirty-data" /tmp/r022.out || fail "refusal does not name the flag: $(cat /tmp/r022.out)"
	grep -q "backing_id=0" $CD0/backing_records || fail "refused forget removed the record"
	"$PCACHECTL" backing forget cache_dev0/backing_dev1 --discard-dirty-data >/tmp/r022.out 2>&1 &&
		fail "pcachectl forgot a started record"
	grep -q "is started" /tmp/r022.out || fail "refusal of a started record: $(cat /tmp/r022.out)"
	# pcachectl devices names the record whose disk is gone, and that it may hold dirty data
	"$PCACHECTL" devices >/tmp/r022.dev 2>&1 || fail "pcachectl devices failed: $(cat /tmp/r022.dev)"
	grep -A1 "records whose disk is not present" /tmp/r022.dev | grep -q "cache_dev0/backing_dev0 (stopped, cache kept (may hold dirty data)" ||
		fail "pcachectl devices does not show the orphaned record: $(cat /tmp/r022.dev)"
	grep -A1 "^  $BACKING2 " /tmp/r022.dev | grep -q "record cache_dev0/backing_dev1 (started as /dev/pcache[0-9]*, 0 B dirty)" ||
		fail "pcachectl devices does not show $BACKING2's record: $(cat /tmp/r022.dev)"
	kmsg_mark
	"$PCACHECTL" backing forget /dev/mapper/$DMA --discard-dirty-data >/tmp/r022.out 2>&1 ||
		fail "pcachectl backing forget failed: $(cat /tmp/r022.out)"
	grep -qi "warning: .*dirty data" /tmp/r022.out || fail "no warning about dirty data: $(cat /tmp/r022.out)"
	expect_kmsg "backing_dev0: record of /dev/mapper/$DMA \(ident 'disk-gone'\) forgotten: its cache of 8 segments was discarded, any dirty data it held \(not written back\) is lost"
	used=$(sed -n 's/^seg_used: //p' $CD0/info)
	[[ $used == 4 ]] || fail "seg_used $used after forget, want 4"
	grep -q "backing_id=0" $CD0/backing_records && fail "forgotten record still listed: $(cat $CD0/backing_records)"
	expect_write_ok $ADM "op=backing-stop,backing_id=1,flush=1"
	# the forgotten record stays free across a register (and the flushed one holds nothing)
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	[[ $(sed -n 's/^seg_used: //p' $CD0/info) == 0 ]] || fail "segments claimed after re-register: $(cat $CD0/backing_records)"
}
