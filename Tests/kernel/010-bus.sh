# SPDX-License-Identifier: Apache-2.0
#
# 010-bus: the pcache bus. cache_dev_register / cache_dev_unregister, the
# cache_devN attributes (path, info, adm), module unload refused while a
# cache_dev exists, privileged writes only, and nothing left behind.

TIMEOUT=400

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" ]] || { echo "no pmem device $PMEM"; return 1; }
}

setup() {
	load_module
}

teardown() {
	[[ -e $CD0 ]] && pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/dev/null
	unload_module
}

test_register() {
	fresh_format
	kmsg_mark
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	[[ -d $CD0 ]] || fail "$CD0 missing after register"
	[[ -d /sys/devices/pcache/cache_dev0 ]] || fail "cache_dev0 is not under the root device"
	expect_kmsg "pcache: cache_dev0: registered $PMEM"
}

test_attribute_modes() {
	local f want mode
	for f in path:400 info:400 adm:200; do
		want=${f#*:}
		mode=$(stat -c %a "$CD0/${f%%:*}") || fail "$CD0/${f%%:*} missing"
		[[ "$mode" == "$want" ]] || fail "${f%%:*} has mode $mode, the ABI says 0$want"
	done
}

test_path() {
	[[ "$(cat $CD0/path)" == "$PMEM" ]] || fail "path reads '$(cat $CD0/path)', want '$PMEM'"
}

test_info() {
	local info keys size seg_num
	info=$(cat $CD0/info) || fail "cannot read info"
	keys=$(cut -d: -f1 <<<"$info" | tr '\n' ' ')
	[[ "$keys" == "uuid label version seg_num seg_used seg_size dev_size backing_devs " ]] ||
		fail "info keys are '$keys'"
	size=$(blockdev --getsize64 "$PMEM")
	seg_num=$(((size / 4096 * 4096 - 1048576) / 16777216))
	grep -Eqx 'uuid: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' <<<"$info" ||
		fail "bad uuid line: $(grep uuid <<<"$info")"
	local ver
	ver=$(sed -n 's/^#define PCACHE_FORMAT_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$REPO/Sources/CPcacheFormat/include/pcache_format.h")
	grep -qx "version: $ver" <<<"$info" || fail "version: $(grep version <<<"$info"), pcache_format.h says ${ver:-nothing}"
	grep -qx "seg_num: $seg_num" <<<"$info" || fail "want seg_num $seg_num: $(grep seg_num <<<"$info")"
	grep -qx "seg_used: 0" <<<"$info" || fail "$(grep seg_used <<<"$info")"
	grep -qx "seg_size: 16777216" <<<"$info" || fail "$(grep seg_size <<<"$info")"
	grep -qx "dev_size: $((size / 4096 * 4096))" <<<"$info" || fail "want dev_size $size: $(grep dev_size <<<"$info")"
	grep -qx "backing_devs: 0" <<<"$info" || fail "$(grep backing_devs <<<"$info")"
}

test_register_twice_is_eexist() {
	kmsg_mark
	expect_write_errno EEXIST $BUS/cache_dev_register "path=$PMEM"
	expect_kmsg "pcache: cache_dev_register: $PMEM is already registered as cache_dev0"
	[[ -e $BUS/devices/cache_dev1 ]] && fail "a second cache_dev appeared"
	return 0
}

test_unload_refused_while_registered() {
	rmmod pcache 2>/dev/null && fail "rmmod succeeded with cache_dev0 registered"
	module_loaded || fail "module gone"
	[[ -d $CD0 ]] || fail "cache_dev0 gone after refused rmmod"
}

test_unprivileged_writes_refused() {
	local out
	# root without CAP_SYS_ADMIN reaches the store: EPERM
	for f in "$BUS/cache_dev_register:path=$PMEM" "$BUS/cache_dev_unregister:cache_dev_id=0" \
		"$CD0/adm:op=backing-start,path=$BACKING,cache_size=64"; do
		out=$(as_unprivileged pcache-rawwrite "${f%%:*}" "${f#*:}")
		[[ "$out" == EPERM ]] || fail "write to ${f%%:*} without CAP_SYS_ADMIN: got $out, want EPERM"
	done
	# another uid cannot even open the 0200 files: EACCES from the VFS
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0)
	[[ "$out" == EACCES ]] || fail "write as uid 65534: got $out, want EACCES"
	[[ -d $CD0 ]] || fail "cache_dev0 gone after refused writes"
	[[ -z $(ls -d $CD0/backing_dev* 2>/dev/null) ]] || fail "a backing device was started"
}

test_unregister() {
	kmsg_mark
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	[[ -e $CD0 ]] && fail "cache_dev0 still present after unregister"
	expect_kmsg "pcache: cache_dev0: unregistered $PMEM"
	expect_write_errno ENOENT $BUS/cache_dev_unregister cache_dev_id=0
	expect_kmsg "pcache: cache_dev_unregister: cache_dev0 is not registered"
}

test_register_unregister_cycles() {
	local i
	for i in 1 2 3; do
		expect_write_ok $BUS/cache_dev_register "path=$PMEM"
		[[ -d $CD0 ]] || fail "round $i: cache_dev0 missing (ids must be reused)"
		expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
		[[ -e $CD0 ]] && fail "round $i: cache_dev0 left behind"
	done
	return 0
}

test_unload_after_unregister() {
	unload_module
	module_loaded && fail "module still loaded"
	grep -qw pcache /proc/devices && fail "block major 'pcache' still registered"
	[[ -e $BUS ]] && fail "$BUS left behind"
	return 0
}

test_load_register_unload_cycles() {
	local i
	for i in 1 2 3; do
		load_module
		expect_write_ok $BUS/cache_dev_register "path=$PMEM"
		expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
		unload_module
		[[ -e $BUS || -e /sys/devices/pcache ]] && fail "round $i: sysfs entries left behind"
	done
	# the pmem device is free again: an exclusive open succeeds
	python3 -c "import os; os.close(os.open('$PMEM', os.O_RDWR | os.O_EXCL))" ||
		fail "$PMEM still held after unload"
	load_module
}
