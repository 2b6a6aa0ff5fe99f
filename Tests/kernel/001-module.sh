# SPDX-License-Identifier: Apache-2.0
#
# 001-module: pcache.ko loads, registers the pcache bus and its root device,
# unloads cleanly and can be loaded again. The runner fails any of these if
# the kernel log shows a BUG, Oops or WARNING while it runs.

TIMEOUT=300

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO (run 'make module')"; return 1; }
}

test_module_loads() {
	kmsg_mark
	load_module
	module_loaded || fail "pcache not in /proc/modules after insmod"
	# The only expected complaint: an out-of-tree module taints the kernel.
	local errs
	errs=$(kmsg_since_mark | grep -i pcache | grep -Eiv 'taints kernel|loading out-of-tree|module verification failed' | grep -Ei 'error|fail|invalid')
	[[ -z "$errs" ]] || fail "module logged errors while loading: $errs"
}

test_bus_registered() {
	[[ -d /sys/bus/pcache ]] || fail "/sys/bus/pcache missing"
	[[ -d /sys/bus/pcache/devices ]] || fail "/sys/bus/pcache/devices missing"
	[[ -d /sys/devices/pcache ]] || fail "root device /sys/devices/pcache missing"
}

test_bus_control_files() {
	local f mode
	for f in cache_dev_register cache_dev_unregister; do
		[[ -e /sys/bus/pcache/$f ]] || fail "/sys/bus/pcache/$f missing"
		mode=$(stat -c %a "/sys/bus/pcache/$f")
		[[ "$mode" == 200 ]] || fail "/sys/bus/pcache/$f has mode $mode, the ABI says 0200"
	done
}

test_unloads_cleanly() {
	unload_module
	module_loaded && fail "pcache still in /proc/modules after rmmod"
	[[ -e /sys/bus/pcache ]] && fail "/sys/bus/pcache still present after rmmod"
	[[ -e /sys/devices/pcache ]] && fail "/sys/devices/pcache still present after rmmod"
	return 0
}

test_load_unload_repeatedly() {
	local i
	for i in 1 2 3; do
		load_module
		[[ -d /sys/bus/pcache ]] || fail "round $i: /sys/bus/pcache missing after load"
		unload_module
		[[ -e /sys/bus/pcache ]] && fail "round $i: /sys/bus/pcache left behind after unload"
	done
	return 0
}
