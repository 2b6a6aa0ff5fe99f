# SPDX-License-Identifier: Apache-2.0
#
# 050-pcachectl: every control verb of pcachectl against the real module: module load/status,
# cache register/unregister, backing start/stop, get/set, list, status (--watch), flush --wait,
# apply, probe --udev, autostart. Bad input to every verb must give a clear message, the
# documented exit status (64 usage, 65 bad data, 69 unavailable, 75 busy, 77 permission) and
# leave the kernel's state unchanged. Without root every verb that touches the kernel gives 77
# (the attributes are 0400/0200).

# About 80 pcachectl runs; each costs seconds under TCG on a loaded host.
TIMEOUT=1500

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0
CONF=/run/pcache-test.conf

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -x "$PCACHECTL" ]] || { echo "pcachectl not built: $PCACHECTL"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" && -b "$BACKING2" ]] || { echo "pmem or backing disks missing"; return 1; }
	"$PCACHECTL" --help 2>&1 | grep -q ' apply ' || { echo "pcachectl has no control verbs"; return 1; }
}

teardown() {
	local b
	umount /mnt/t050 2>/dev/null
	for b in $BUS/devices/cache_dev*/backing_dev*; do
		[[ -d $b ]] && "$PCACHECTL" backing stop "${b#$BUS/devices/}" >/dev/null 2>&1
	done
	for b in $BUS/devices/cache_dev*; do
		[[ -d $b ]] && "$PCACHECTL" cache unregister "${b##*/}" >/dev/null 2>&1
	done
	unload_module
}

# ctl STATUS REGEX ARGS...: run pcachectl ARGS, expect exit STATUS and REGEX in stdout+stderr.
# Leaves the output in $OUT.
ctl() {
	local want=$1 re=$2 got
	shift 2
	OUT=$("$PCACHECTL" "$@" 2>&1)
	got=$?
	((got == want)) || fail "pcachectl $*: exit $got, want $want; output: $(head -c 400 <<<"$OUT" | tr '\n' '|')"
	[[ -z "$re" ]] || grep -Eq -- "$re" <<<"$OUT" || fail "pcachectl $*: output lacks /$re/: $(head -c 400 <<<"$OUT" | tr '\n' '|')"
	return 0
}

# The kernel's view of every pcache object, to prove a refused command changed nothing.
state() {
	local f
	for f in $BUS/devices/cache_dev*/{path,info} $BUS/devices/cache_dev*/backing_dev*/{path,mapped_id,cache_segs,cache_gc_percent,ident,data_crc}; do
		[[ -r $f ]] && printf '%s: %s\n' "${f#$BUS/}" "$(tr '\n' ' ' <"$f")"
	done
	ls /dev/pcache[0-9]* 2>/dev/null
}

# bad STATUS REGEX ARGS...: like ctl, and the kernel's state must be the same afterwards.
bad() {
	local before after
	before=$(state)
	ctl "$@"
	after=$(state)
	[[ "$before" == "$after" ]] || fail "pcachectl ${*:3} changed the state: $(diff <(echo "$before") <(echo "$after") | tr '\n' '|')"
	grep -q '^pcachectl: ' <<<"$OUT" || grep -q '^Error: ' <<<"$OUT" || fail "pcachectl ${*:3}: no 'pcachectl: VERB:' or 'Error:' line: $OUT"
}

# json_get EXPR: evaluate a Python expression on the JSON in $OUT (bound to d).
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <<<"$OUT"; }

nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"; }

test_module_verbs() {
	module_loaded && unload_module
	ctl 69 'not loaded' module status
	ctl 69 'not loaded' list
	bad 69 'cannot open module file /nonexistent/pcache.ko' module load --module-path /nonexistent/pcache.ko
	module_loaded && fail "a failed module load left pcache loaded"
	for m in $PCACHE_DEPS; do modprobe "$m"; done
	ctl 0 'loaded pcache' module load --module-path "$PCACHE_KO"
	module_loaded || fail "module load did not load pcache"
	ctl 0 'already loaded' module load --module-path "$PCACHE_KO"
	ctl 0 '' module status --json
	[[ "$(json_get 'd["loaded"], d["schema_version"]')" == "True 1" ]] || fail "module status --json: $OUT"
}

# pcachectl probes signatures with libblkid, not by running blkid: with the program hidden, a
# signature only libblkid knows (squashfs; not in pcachectl's own list) still stops format.
test_format_refuses_blkid_only_signature() {
	local b real hidden=()
	dd if=/dev/zero of="$PMEM" bs=1M count=2 oflag=direct status=none || fail "wipe $PMEM"
	python3 - "$PMEM" <<'PY' || fail "write a squashfs magic to $PMEM"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"hsqs", 0)
os.pwrite(fd, b"\x04\x00", 28)
os.fsync(fd)
os.close(fd)
PY
	blockdev --flushbufs "$PMEM"
	for b in /usr/sbin/blkid /sbin/blkid /usr/bin/blkid /bin/blkid; do
		real=$(readlink -f "$b") || continue
		[[ -f $real && " ${hidden[*]} " != *" $real "* ]] || continue
		mount --bind /dev/null "$real" || fail "hide $real"
		hidden+=("$real")
	done
	bad 65 "$PMEM carries a squashfs signature \(filesystem, magic at byte 0, found by libblkid\); refusing" format "$PMEM"
	for b in "${hidden[@]}"; do umount "$b"; done
}

# Both superblock copies overwritten with random bytes: register is refused as damage with a
# pointer to check, never with advice to format (which would destroy the dirty data).
test_register_damaged_superblocks() {
	fresh_format >/dev/null
	python3 - "$PMEM" <<'PY' || fail "overwrite the superblocks of $PMEM"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
data = bytearray(os.urandom(8192))
for off in (8, 4096 + 8):
    data[off] |= 1
os.pwrite(fd, bytes(data), 4096)
os.fsync(fd)
os.close(fd)
PY
	blockdev --flushbufs "$PMEM"
	bad 65 "both superblock copies damaged \(copy 0: bad magic 0x[0-9a-f]+; copy 1: bad magic 0x[0-9a-f]+\); run 'pcachectl check $PMEM'" cache register "$PMEM"
	! grep -q 'not formatted\|pcachectl format' <<<"$OUT" || fail "damage called unformatted: $OUT"
	ctl 65 'superblock at offset 4096: no valid copy' check "$PMEM"
}

test_cache_register() {
	fresh_format --label t050 >/dev/null
	kmsg_mark
	ctl 0 'registered /dev/pmem0 as cache_dev0' cache register "$PMEM"
	[[ -d $CD0 ]] || fail "$CD0 missing after register"
	bad 75 'already registered as cache_dev0' cache register "$PMEM"
}

test_cache_register_bad_input() {
	bad 64 "must start with /dev/" cache register pmem0
	bad 64 "must start with /dev/" cache register /tmp/x
	bad 69 "does not exist" cache register /dev/nonexistent
	bad 64 "not a block device" cache register /dev/null
	# The kernel's own reason, read from the kernel log, ends up in the message.
	bad 69 "vdb.*DAX|DAX.*vdb" cache register "$BACKING2"
	bad 64 "Missing expected argument" cache register
}

test_list() {
	ctl 0 'cache_dev0 /dev/pmem0 uuid [0-9a-f-]{36} label t050' list
	ctl 0 '' list --json
	[[ "$(json_get 'd["schema_version"], d["caches"][0]["id"], type(d["caches"][0]["seg_num"]).__name__, d["caches"][0]["label"]')" == "1 cache_dev0 int t050" ]] ||
		fail "list --json: $OUT"
}

test_backing_start() {
	ctl 0 '^/dev/pcache0$' backing start --cache cache_dev0 "$BACKING" --cache-size 128M
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 missing after backing start printed it"
	[[ "$(cat $CD0/backing_dev0/cache_segs)" == 8 ]] || fail "cache_segs $(cat $CD0/backing_dev0/cache_segs), want 8 for 128M"
	ctl 0 '└─ backing_dev0 /dev/vda -> /dev/pcache0' list
}

test_backing_start_bad_input() {
	bad 64 'queues 0 is out of range 1...128' backing start --cache cache_dev0 "$BACKING2" --cache-size 128M --queues 0
	bad 64 'queues 129' backing start --cache cache_dev0 "$BACKING2" --cache-size 128M --queues 129
	bad 64 "cache size '1.5G'" backing start --cache cache_dev0 "$BACKING2" --cache-size 1.5G
	bad 64 'at least 49 MiB' backing start --cache cache_dev0 "$BACKING2" --cache-size 16M
	bad 64 'must start with /dev/' backing start --cache cache_dev0 vdb --cache-size 128M
	bad 64 "ident 'a,b'" backing start --cache cache_dev0 "$BACKING2" --cache-size 128M --ident a,b
	bad 69 "no cache device 'cache_dev7'|no cache device cache_dev7" backing start --cache cache_dev7 "$BACKING2" --cache-size 128M
	bad 69 'does not exist' backing start --cache cache_dev0 /dev/nonexistent --cache-size 128M
	bad 75 'already started as /dev/pcache0' backing start --cache cache_dev0 "$BACKING" --cache-size 128M
	bad 64 'pmem or pcache device' backing start --cache cache_dev0 "$PMEM" --cache-size 128M
	# More than the free segments: the kernel refuses with ENOSPC and says why.
	bad 69 'cannot start /dev/vdb on cache_dev0.*No space left' backing start --cache cache_dev0 "$BACKING2" --cache-size 100G
	bad 64 'Missing expected argument' backing start "$BACKING2"
}

test_get_set() {
	ctl 0 '^70$' get /dev/pcache0 gc-percent
	ctl 0 'gc-percent 70 -> 40' set /dev/pcache0 gc-percent 40
	[[ "$(cat $CD0/backing_dev0/cache_gc_percent)" == 40 ]] || fail "cache_gc_percent not 40 after set"
	ctl 0 '^40$' get pcache0 gc-percent
	ctl 0 '^/dev/vda$' get cache_dev0/backing_dev0 path
	ctl 0 '' get --json /dev/vda
	[[ "$(json_get 'd["attributes"]["cache_gc_percent"], d["attributes"]["data_crc"], type(d["attributes"]["stats"]).__name__')" == "40 False dict" ]] ||
		fail "get --json: $OUT"
	bad 64 'gc percent 91 is out of range 0...90' set /dev/pcache0 gc-percent 91
	bad 64 "not a whole number" set /dev/pcache0 gc-percent abc
	bad 64 "read-only" set /dev/pcache0 cache-segs 4
	bad 64 "unknown attribute 'colour'" set /dev/pcache0 colour 4
	bad 64 "unknown attribute 'colour'" get /dev/pcache0 colour
	bad 69 "no backing device '/dev/pcache9'" set /dev/pcache9 gc-percent 10
	bad 69 "no backing device '/dev/pcache9'" get /dev/pcache9
}

test_status() {
	dd if=/dev/pcache0 of=/dev/null bs=4k count=16 iflag=direct status=none
	dd if=/dev/pcache0 of=/dev/null bs=4k count=16 iflag=direct status=none
	ctl 0 'hit ratio' status
	ctl 0 '/dev/pcache0 \(/dev/vda\)' status /dev/pcache0
	ctl 0 '' status --json
	[[ "$(json_get 'type(d["caches"][0]["backing"][0]["hit_ratio"]).__name__, type(d["caches"][0]["backing"][0]["dirty_bytes"]).__name__')" == "float int" ]] ||
		fail "status --json: hit_ratio/dirty_bytes not numbers: $OUT"
	[[ "$(json_get 'd["caches"][0]["backing"][0]["hits"] > 0')" == True ]] || fail "no hits after reading twice: $OUT"
	ctl 0 '' status --watch --json --count 3 --interval 0.2
	(($(grep -c '"schema_version"' <<<"$OUT") == 3)) || fail "status --watch --count 3 printed $(grep -c schema_version <<<"$OUT") documents"
	bad 69 "no backing device 'nope'" status nope
	bad 64 'interval' status --watch --interval 0
}

test_flush() {
	dd if=/dev/urandom of=/dev/pcache0 bs=64k count=32 oflag=direct status=none || fail "write to /dev/pcache0 failed"
	ctl 0 'dirty|clean' flush /dev/pcache0
	ctl 0 '/dev/pcache0: clean' flush /dev/pcache0 --wait --timeout 300
	[[ "$(sed -n 's/^dirty_bytes //p' $CD0/backing_dev0/stats)" == 0 ]] || fail "dirty_bytes not 0 after flush --wait"
	ctl 0 '"clean": true' flush /dev/pcache0 --wait --json
	bad 69 "no backing device" flush /dev/pcache9 --wait
	bad 64 'timeout' flush /dev/pcache0 --wait --timeout -1
}

test_stop_refuses_while_in_use() {
	mkfs.ext4 -q -F /dev/pcache0 || fail "mkfs on /dev/pcache0 failed"
	mkdir -p /mnt/t050
	mount /dev/pcache0 /mnt/t050 || fail "mount failed"
	bad 75 'in use: mounted on /mnt/t050' backing stop /dev/pcache0
	umount /mnt/t050
	sleep 60 </dev/pcache0 &
	local pid=$!
	sleep 0.3
	bad 75 "in use: opened by pid $pid \\(sleep\\)" backing stop /dev/pcache0
	kill $pid
	wait $pid 2>/dev/null
	bad 69 "no backing device '/dev/pcache5'" backing stop /dev/pcache5
}

test_unregister_refuses_with_backing() {
	bad 75 'cache_dev0 still has backing devices: backing_dev0 \(/dev/vda as /dev/pcache0\)' cache unregister cache_dev0
	bad 69 "no cache device cache_dev3" cache unregister cache_dev3
	bad 69 "no cache device '/dev/pmem9'" cache unregister /dev/pmem9
}

test_non_root() {
	# The attributes are 0400: without root even reading is refused, with a clear message.
	local before verb
	before=$(state)
	for verb in list status "get /dev/pcache0 gc-percent"; do
		OUT=$(nobody "$PCACHECTL" $verb 2>&1)
		(($? == 77)) || fail "$verb as nobody: want exit 77: $OUT"
		grep -q 'readable by root only' <<<"$OUT" || fail "$verb as nobody: no explanation: $OUT"
	done
	# Usage errors are found before any privilege matters.
	OUT=$(nobody "$PCACHECTL" set /dev/pcache0 gc-percent 95 2>&1)
	(($? == 64)) || fail "bad set as nobody: want exit 64: $OUT"
	OUT=$(nobody "$PCACHECTL" set /dev/pcache0 gc-percent 10 2>&1)
	(($? == 77)) || fail "set as nobody: want exit 77: $OUT"
	grep -q 'Permission denied' <<<"$OUT" || fail "set as nobody: no 'Permission denied': $OUT"
	OUT=$(nobody "$PCACHECTL" backing stop /dev/pcache0 2>&1)
	(($? == 77)) || fail "backing stop as nobody: want exit 77: $OUT"
	# root without CAP_SYS_ADMIN reaches the kernel's store, which refuses with EPERM.
	OUT=$(as_unprivileged "$PCACHECTL" set /dev/pcache0 gc-percent 10 2>&1)
	(($? == 77)) || fail "set without CAP_SYS_ADMIN: want exit 77: $OUT"
	grep -q 'Operation not permitted' <<<"$OUT" || fail "set without CAP_SYS_ADMIN: no EPERM: $OUT"
	[[ "$before" == "$(state)" ]] || fail "unprivileged commands changed the state"
}

test_backing_stop() {
	bad 64 'contradict' backing stop --flush --force /dev/pcache0
	bad 64 'name a backing device, or --all' backing stop
	bad 64 'takes no device' backing stop --all /dev/pcache0
	ctl 0 'stopped /dev/pcache0 \(/dev/vda on cache_dev0/backing_dev0\): cache kept for the next start; the disk alone is not current' backing stop /dev/pcache0
	[[ -e /dev/pcache0 ]] && fail "/dev/pcache0 still exists after stop"
	ctl 0 'cache_dev0/backing_dev0 \(stopped, cache kept' devices
	ctl 0 'backing_dev0 /dev/vda \(stopped, cache kept: replayed at its next start; the disk alone is not current\)' list
	ctl 0 '"disk_current": false' list --json
	# the bare disk of a kept cache is marked for udev (SYSTEMD_READY=0 in the rule)
	ctl 0 '^PCACHE_MEMBER=cache_dev0/backing_dev0$' probe --udev "$BACKING"
	grep -qx 'PCACHE_MEMBER_STATE=cached' <<<"$OUT" || fail "probe: no PCACHE_MEMBER_STATE=cached: $OUT"
	grep -qx 'PCACHE_ROLE=backing_dev' <<<"$OUT" || fail "probe: no PCACHE_ROLE=backing_dev: $OUT"
	# The record keeps size and gc_percent: a restart needs no --cache-size.
	ctl 0 '^/dev/pcache0$' backing start --cache cache_dev0 "$BACKING"
	ctl 0 '^40$' get /dev/pcache0 gc-percent
	OUT=$("$PCACHECTL" probe --udev "$BACKING")
	grep -q PCACHE_MEMBER <<<"$OUT" && fail "probe marks a started disk as a member with a kept cache: $OUT"
	ctl 0 'stopped /dev/pcache0 .*: everything written back, cache released; the disk alone is current' backing stop --flush /dev/pcache0
	ctl 0 'cache_dev0/backing_dev0 \(stopped with flush: no cached data, the disk is current' devices
	ctl 0 '^/dev/pcache0$' backing start --cache cache_dev0 "$BACKING"
	ctl 0 'stopped /dev/pcache0 .*cache kept' backing stop --all
	ctl 0 '' backing stop --all
	ctl 0 '^/dev/pcache0$' backing start --cache cache_dev0 "$BACKING"
	ctl 0 'stopped' backing stop /dev/vda
}

test_identity_recorded_and_enforced() {
	# The harness's virtio disks have no serial, so give the identity explicitly.
	ctl 0 '"ident": "serial-t050-a"' backing start --json --cache cache_dev0 "$BACKING2" --cache-size 64M --ident serial-t050-a
	ctl 0 '^serial-t050-a$' get "$BACKING2" ident
	ctl 0 'stopped' backing stop "$BACKING2"
	bad 65 'different disk' backing start --cache cache_dev0 "$BACKING2" --ident serial-t050-b
	ctl 0 '^/dev/pcache' backing start --cache cache_dev0 "$BACKING2" --ident serial-t050-b --force
	ctl 0 '^serial-t050-b$' get "$BACKING2" ident
	# handed back: its disk is current, no member of a kept cache (test_probe)
	ctl 0 'stopped' backing stop --flush "$BACKING2"
}

test_apply() {
	local uuid
	uuid=$(sed -n 's/^uuid: //p' $CD0/info)
	cat >$CONF <<-CONF
		[cache fast]
		uuid = $uuid

		[backing data]
		cache = fast
		device = $BACKING
		gc_percent = 30
	CONF
	ctl 0 'unregistered cache_dev0' cache unregister cache_dev0
	ctl 0 'would register /dev/pmem0' apply --config $CONF --dry-run
	[[ -d $CD0 ]] && fail "apply --dry-run registered the cache"
	ctl 0 'cache fast: changed: registered /dev/pmem0 as cache_dev0' apply --config $CONF --module-path "$PCACHE_KO"
	grep -q 'backing data: changed: started /dev/vda as /dev/pcache0' <<<"$OUT" || fail "apply did not start data: $OUT"
	[[ "$(cat $CD0/backing_dev0/cache_gc_percent)" == 30 ]] || fail "apply did not set gc_percent 30"
	[[ "$(readlink /dev/pcache/by-name/data)" == ../../pcache0 ]] || fail "/dev/pcache/by-name/data -> $(readlink /dev/pcache/by-name/data)"
	ctl 0 '' apply --config $CONF --json
	[[ "$(json_get '" ".join(s["outcome"] for s in d["steps"])')" == "unchanged unchanged" ]] || fail "second apply changed something: $OUT"
	# A second entry whose ident differs from the one recorded for that disk (serial-t050-b, by
	# test_identity_recorded_and_enforced): the kernel refuses, apply reports it with status 65,
	# and the first entry stays as it is.
	cp $CONF $CONF.good
	printf '\n[backing other]\ncache = fast\ndevice = %s\nident = serial-t050-wrong\n' "$BACKING2" >>$CONF
	bad 65 'backing other: failed: .*different disk' apply --config $CONF
	grep -q 'backing data: unchanged' <<<"$OUT" || fail "apply with one bad entry touched the good one: $OUT"
	mv $CONF.good $CONF
	printf '[cache x]\nuuid = nope\n' >$CONF.bad
	bad 64 "$CONF.bad:2: uuid 'nope'" apply --config $CONF.bad
	bad 69 'cannot read configuration' apply --config /nonexistent.conf
	bad 64 '--only zzz: no such section' apply --config $CONF --only zzz
}

test_probe() {
	local uuid
	uuid=$(sed -n 's/^uuid: //p' $CD0/info)
	ctl 0 'stopped' backing stop /dev/pcache0
	ctl 0 "^PCACHE_ROLE=cache_dev$" probe --udev "$PMEM" --config $CONF
	grep -qx "PCACHE_CACHE_UUID=$uuid" <<<"$OUT" || fail "probe: no PCACHE_CACHE_UUID=$uuid: $OUT"
	grep -qx "PCACHE_NAME=fast" <<<"$OUT" || fail "probe: no PCACHE_NAME=fast: $OUT"
	ctl 0 "^PCACHE_ROLE=backing_dev$" probe --udev "$BACKING" --config $CONF
	grep -qx "PCACHE_NAME=data" <<<"$OUT" || fail "probe $BACKING: no PCACHE_NAME=data: $OUT"
	OUT=$("$PCACHECTL" probe --udev "$BACKING2" --config $CONF)
	[[ -z "$OUT" ]] || fail "probe of an unrelated disk printed: $OUT"
	ctl 0 '^/dev/pcache0$' backing start --cache cache_dev0 "$BACKING"
	ctl 0 "^PCACHE_ROLE=cached_dev$" probe --udev /dev/pcache0 --config $CONF
	grep -qx "PCACHE_BACKING=$BACKING" <<<"$OUT" || fail "probe /dev/pcache0: no PCACHE_BACKING: $OUT"
	grep -qx "PCACHE_NAME=data" <<<"$OUT" || fail "probe /dev/pcache0: no PCACHE_NAME: $OUT"
	bad 69 'cannot open /dev/nonexistent' probe --udev /dev/nonexistent
}

test_autostart() {
	ctl 0 'stopped' backing stop /dev/pcache0
	ctl 0 'unregistered' cache unregister cache_dev0
	# --udev names what to start for IMPORT{program} (udev hands it to systemd) and starts nothing.
	ctl 0 '^PCACHE_AUTOSTART=data$' autostart --udev "$BACKING" --config $CONF
	grep -qx 'PCACHE_AUTOSTART_UNITS=pcache-apply@data.service' <<<"$OUT" || fail "autostart --udev: $OUT"
	sleep 1
	[[ ! -e /dev/pcache0 && ! -d $CD0 ]] || fail "autostart --udev started something"
	# Without --udev it applies in this process (the rule's RUN when systemd is not running).
	ctl 0 'backing data: changed: started /dev/vda as /dev/pcache0' autostart "$PMEM" --config $CONF
	ctl 0 'stopped' backing stop /dev/pcache0
	ctl 0 'unregistered' cache unregister cache_dev0
	ctl 0 'backing data: changed: started /dev/vda as /dev/pcache0' autostart --foreground "$BACKING" --config $CONF
	ctl 0 'not part of' autostart "$BACKING2" --config $CONF
	OUT=$("$PCACHECTL" autostart --udev "$BACKING2" --config $CONF)
	[[ -z "$OUT" ]] || fail "autostart --udev of an unrelated disk printed: $OUT"
}
