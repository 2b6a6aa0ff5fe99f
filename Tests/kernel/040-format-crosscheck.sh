# SPDX-License-Identifier: Apache-2.0
#
# 040-format-crosscheck: the Swift tool and the kernel module read and write
# the same on-media format (Sources/CPcacheFormat/include/pcache_format.h).
#  - an image formatted by `pcachectl format` is accepted by the module, and
#    the module reports the uuid/label/seg_num that the tool wrote;
#  - `pcachectl format` refuses the registered (busy) device, even --force;
#  - after real I/O through /dev/pcache0 (data_crc on), metadata the module
#    wrote passes `pcachectl check` (data crcs included) while the cache runs,
#    and `dump` shows the running backing record, its chain and its log;
#  - after a clean backing stop, check still passes and dump shows the
#    stopped record (path, cache_segs) that the module wrote;
#  - a byte the tool damages in one copy of the backing record is reported
#    as repairable (exit 2) and the module still starts the cache from the
#    other copy.

TIMEOUT=600

. "$TESTS_DIR/cache_common.bash"

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" ]] || { echo "no pmem device $PMEM"; return 1; }
	[[ -x "$PCACHECTL" ]] || { echo "pcachectl not built: $PCACHECTL"; return 1; }
	"$PCACHECTL" --help 2>&1 | grep -q ' format' || { echo "pcachectl has no format verb"; return 1; }
}

setup() {
	load_module
}

teardown() {
	cache_teardown
}

PC=/dev/pcache0
OUT=/tmp/040.out

# json_get KEYPATH: a value from the JSON document in $OUT (python3 is in the guest).
json_get() {
	python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$OUT" "$1"
}

test_format_is_accepted_by_the_module() {
	"$PCACHECTL" format --force --label xcheck --json "$PMEM" >$OUT || fail "pcachectl format failed ($?)"
	local uuid segs
	uuid=$(json_get uuid) segs=$(json_get segments)
	"$PCACHECTL" check "$PMEM" || fail "check of a fresh format failed ($?)"
	kmsg_mark
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	[[ -d $CD0 ]] || fail "no cache_dev0 after register"
	grep -qx "uuid: $uuid" $CD0/info || fail "module uuid differs: $(tr '\n' ' ' <$CD0/info), tool wrote $uuid"
	grep -qx "label: xcheck" $CD0/info || fail "module label differs: $(tr '\n' ' ' <$CD0/info)"
	grep -qx "seg_num: $segs" $CD0/info || fail "module seg_num differs: $(tr '\n' ' ' <$CD0/info), tool wrote $segs"
	# The version both sides compile from the one layout header.
	local ver
	ver=$(sed -n 's/^#define PCACHE_FORMAT_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$REPO/Sources/CPcacheFormat/include/pcache_format.h")
	[[ -n "$ver" ]] || fail "no PCACHE_FORMAT_VERSION in pcache_format.h"
	grep -qx "version: $ver" $CD0/info || fail "module version: $(tr '\n' ' ' <$CD0/info), header says $ver"
}

test_format_refuses_the_registered_device() {
	local rc=0
	"$PCACHECTL" format "$PMEM" 2>$OUT.err || rc=$?
	((rc == 65 || rc == 75)) || fail "format of a registered device without --force: exit $rc, expected 65 or 75: $(cat $OUT.err)"
	rc=0
	"$PCACHECTL" format --force "$PMEM" 2>$OUT.err || rc=$?
	((rc == 75)) || fail "format --force of a registered device: exit $rc, expected 75 (busy): $(cat $OUT.err)"
	grep -q "in use" $OUT.err || fail "busy refusal does not say 'in use': $(cat $OUT.err)"
	grep -qx "label: xcheck" $CD0/info || fail "the registered device changed"
}

test_check_passes_after_io_while_running() {
	backing_start "$BACKING" "cache_size=64,queues=2,data_crc=1" >/dev/null
	head -c 8M /dev/urandom >/tmp/040.data
	dd if=/tmp/040.data of=$PC bs=64k oflag=direct status=none || fail "write to $PC failed"
	dd if=/tmp/040.data of=$PC bs=4k seek=4096 count=300 oflag=direct,dsync status=none || fail "write 2 failed"
	dd if=$PC of=/dev/null bs=1M skip=64 count=4 iflag=direct status=none || fail "read (fills) failed"
	sync
	blockdev --flushbufs $PC 2>/dev/null || true
	sleep 3    # ksets close within 1 s
	local rc=0
	"$PCACHECTL" check "$PMEM" >$OUT || rc=$?
	((rc == 0)) || fail "check while running: exit $rc: $(head -n 5 $OUT | tr '\n' '|')"
	"$PCACHECTL" check --json "$PMEM" >$OUT || fail "check --json failed"
	local keys verified
	keys=$(json_get keys) verified=$(json_get data_bytes_verified)
	((keys > 0)) || fail "check found no keys after 9 MiB of writes"
	((verified > 0)) || fail "check verified no data crc (data_crc=1)"
	"$PCACHECTL" dump "$PMEM" >$OUT || fail "dump failed"
	grep -q "backing 0: running $BACKING" $OUT || fail "dump lacks the running record: $(grep backing $OUT | head -3 | tr '\n' '|')"
	grep -q "chain (4 segments)" $OUT || fail "dump lacks the 4-segment chain: $(grep chain $OUT)"
	grep -q "data_crc" $OUT || fail "dump does not show data_crc"
	grep -Eq "log: [0-9]+ kset\(s\), [1-9][0-9]* key\(s\)" $OUT || fail "dump shows no keys: $(grep 'log:' $OUT)"
	echo "check while running: $keys keys, $verified bytes of data crc verified" >&2
}

test_check_passes_after_clean_stop() {
	kmsg_mark
	backing_stop 0
	expect_kmsg "stopped .*cache kept"
	local rc=0
	"$PCACHECTL" check "$PMEM" >$OUT || rc=$?
	((rc == 0)) || fail "check after stop: exit $rc: $(head -n 5 $OUT | tr '\n' '|')"
	"$PCACHECTL" dump "$PMEM" >$OUT || fail "dump failed"
	grep -q "backing 0: cached (stopped, cache kept) $BACKING" $OUT || fail "dump lacks the cached record: $(grep 'backing 0' $OUT)"
	grep -q "cache_segs: *4 " $OUT || fail "dump lacks cache_segs 4: $(grep cache_segs $OUT)"
	"$PCACHECTL" dump --json "$PMEM" >$OUT || fail "dump --json failed"
	[[ "$(json_get backings.0.state)" == cached ]] || fail "JSON state $(json_get backings.0.state)"
	[[ "$(json_get backings.0.path)" == "$BACKING" ]] || fail "JSON path $(json_get backings.0.path)"
	[[ "$(json_get schema_version)" == 1 ]] || fail "no schema_version"
}

test_one_damaged_copy_is_repairable_and_the_module_uses_the_other() {
	# The record of backing 0 has been written more than once: damage the copy
	# the tool says is in use, expect exit 2, and a restart from the other copy.
	local slot off rc=0
	"$PCACHECTL" dump --json "$PMEM" >$OUT || fail "dump --json failed"
	slot=$(python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))["backings"][0]["copies"]
print([x["copy"] for x in c if x["in_use"]][0] if sum(x["status"] == "valid" for x in c) == 2 else -1)' $OUT)
	((slot >= 0)) || fail "backing record 0 does not have two valid copies"
	off=$((16384 + slot * 4096 + 300))
	cache_teardown    # unregister so the write below is not racing the module
	printf '\xff' | dd of="$PMEM" bs=1 seek=$off conv=notrunc status=none || fail "cannot damage $PMEM"
	sync
	"$PCACHECTL" check "$PMEM" >$OUT || rc=$?
	((rc == 2)) || fail "check of one damaged copy: exit $rc, expected 2: $(head -n 3 $OUT | tr '\n' '|')"
	grep -q "^repairable: backing record 0 copy $slot at offset $((16384 + slot * 4096)): crc mismatch" $OUT ||
		fail "no repairable crc line: $(head -n 3 $OUT | tr '\n' '|')"
	load_module
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	backing_start "$BACKING" "cache_size=64,queues=2,data_crc=1" >/dev/null
	cmp <(dd if=$PC bs=64k count=128 iflag=direct status=none) /tmp/040.data ||
		fail "data differs after restarting from the other copy"
}
