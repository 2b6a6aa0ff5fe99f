# SPDX-License-Identifier: Apache-2.0
#
# 021-badinput: the bad-input table of the sysfs ABI. Every refused write
# must fail with the precise errno, log exactly one kernel line naming the
# cause, and leave everything as it was: sysfs objects, block devices and the
# on-media metadata area. Runs with passthrough=1 so that no engine thread
# logs in the middle of a check.

TIMEOUT=600

BUS=/sys/bus/pcache
REG=$BUS/cache_dev_register
UNREG=$BUS/cache_dev_unregister
CD0=$BUS/devices/cache_dev0
ADM=$CD0/adm
BD0=$CD0/backing_dev0
LONG=$(printf 'x%.0s' {1..300})

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" && -b "$BACKING2" ]] || { echo "pmem or backing disks missing"; return 1; }
}

setup() {
	load_module passthrough=1
}

teardown() {
	local b
	umount /tmp/t021.mnt 2>/dev/null
	for b in $CD0/backing_dev*; do
		[[ -d $b ]] && pcache-rawwrite $ADM "op=backing-stop,backing_id=${b##*backing_dev}" >/dev/null
	done
	pcache-rawwrite $UNREG cache_dev_id=0 >/dev/null
	unload_module
}

# The checker, one python process per table (process start-up is what costs
# under emulation). Each case: one write(2) that must fail with ERRNO, exactly
# one new "pcache: " kernel log line matching REGEX (read from /dev/kmsg after
# seeking to its end), and no change to the state: sysfs objects, block
# devices, and the first MiB of the pmem device (superblocks and backing
# records) read with O_DIRECT.
BAD_PY='
import codecs, errno, hashlib, mmap, os, re, sys
pmem, cd0 = sys.argv[1], "/sys/bus/pcache/devices/cache_dev0"
buf = mmap.mmap(-1, 1 << 20)
def state():
    out = [sorted(os.listdir("/sys/bus/pcache/devices")), sorted(os.listdir("/sys/block"))]
    for f in ("info", "path"):
        try: out.append(open(cd0 + "/" + f).read())
        except OSError: pass
    try: bds = sorted(d for d in os.listdir(cd0) if d.startswith("backing_dev"))
    except OSError: bds = []
    for d in bds:
        for f in ("path", "cache_segs", "cache_gc_percent", "mapped_id", "data_crc", "ident"):
            out.append(open(cd0 + "/" + d + "/" + f).read())
    fd = os.open(pmem, os.O_RDONLY | os.O_DIRECT)
    os.preadv(fd, [buf], 0)
    os.close(fd)
    out.append(hashlib.md5(buf).hexdigest())
    return out
failed = 0
for n, line in enumerate(sys.stdin, 1):
    line = line.rstrip("\n")
    if not line.strip():
        continue
    path, value, want, regex = line.split("\t")
    value = codecs.decode(value, "unicode_escape")
    before = state()
    k = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    os.lseek(k, 0, os.SEEK_END)
    got = "OK"
    try:
        fd = os.open(path, os.O_WRONLY)
        try: os.write(fd, value.encode())
        finally: os.close(fd)
    except OSError as e:
        got = "EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else errno.errorcode.get(e.errno, str(e.errno))
    logs = []
    while True:
        try: rec = os.read(k, 8192).decode(errors="replace")
        except BlockingIOError: break
        msg = rec.split(";", 1)[1].split("\n")[0]
        if "pcache: " in msg: logs.append(msg)
    os.close(k)
    after = state()
    what = "case %d: write %r to %s" % (n, value[:80], path.replace("/sys/bus/pcache/", ""))
    if got != want:
        print("%s: got %s, want %s" % (what, got, want)); failed += 1
    elif len(logs) != 1:
        print("%s: %d pcache log lines, want 1: %s" % (what, len(logs), logs)); failed += 1
    elif not re.search(regex, logs[0]):
        print("%s: log %r does not match %r" % (what, logs[0], regex)); failed += 1
    elif before != after:
        print("%s: state changed" % what); failed += 1
    else:
        print("ok %s: %s, %s" % (what, got, logs[0]))
sys.exit(1 if failed else 0)
'

# bad_table: reads FILE<TAB>VALUE<TAB>ERRNO<TAB>REGEX lines (VALUE may use
# backslash escapes such as \n and \t) and checks every case.
bad_table() {
	local out rc
	out=$(${BAD_PREFIX:-} python3 -c "$BAD_PY" "$PMEM")
	rc=$?
	echo "$out"
	((rc == 0)) || fail "$(grep -v '^ok ' <<<"$out" | head -n 3 | tr '\n' '|')"
}

# patch_sb COPIES FIELD VALUE: set a superblock field (python struct format
# at its offset) in the given copies and recompute their crc.
patch_sb() {
	python3 - "$PMEM" "$@" <<'PY' || fail "patch_sb $*"
import os, struct, sys
dev, copies, field, value = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4], 0)
fields = {"version": (4, "<H"), "feature_incompat": (24, "<I"), "seg_num": (28, "<I"), "crc": (0, "<I")}
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    T.append(c)
def crc32c(data, c=0x3B15A):
    for b in data:
        c = T[(c ^ b) & 0xff] ^ (c >> 8)
    return c
fd = os.open(dev, os.O_RDWR)
for copy in copies.split(","):
    off = 4096 * (1 + int(copy))
    sb = bytearray(os.pread(fd, 128, off))
    o, f = fields[field]
    struct.pack_into(f, sb, o, value)
    if field != "crc":
        struct.pack_into("<I", sb, 0, crc32c(bytes(sb[4:128])))
    os.pwrite(fd, bytes(sb), off)
os.fsync(fd)
os.close(fd)
PY
	blockdev --flushbufs "$PMEM"
}

test_register_unformatted() {
	dd if=/dev/zero of="$PMEM" bs=1M count=2 oflag=direct status=none || fail "wipe $PMEM"
	bad_table <<EOF
$REG	path=$PMEM	EINVAL	$PMEM is not formatted, run 'pcachectl format'
EOF
}

test_register_bad_superblock() {
	local c ver next
	ver=$(sed -n 's/^#define PCACHE_FORMAT_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$REPO/Sources/CPcacheFormat/include/pcache_format.h")
	[[ -n "$ver" ]] || fail "no PCACHE_FORMAT_VERSION in pcache_format.h"
	next=$((ver + 1))
	for c in "version $next|$PMEM has on-media format version $next, this module reads version $ver: load a newer module" \
		"version $((ver - 1))|$PMEM has on-media format version $((ver - 1)), this module reads version $ver: write its caches back under the module that wrote it, then format it" \
		"feature_incompat 0x4|both superblock copies damaged \(copy 0: unknown incompat features 0x4; copy 1: unknown incompat" \
		"seg_num 100000|both superblock copies damaged \(copy 0: seg_num 100000 does not fit the device" \
		"crc 0x12345678|both superblock copies damaged \(copy 0: crc mismatch; copy 1: crc mismatch\); run 'pcachectl check $PMEM'$"; do
		fresh_format >/dev/null
		patch_sb 0,1 ${c%%|*}
		bad_table <<EOF
$REG	path=$PMEM	EINVAL	${c#*|}
EOF
	done
	# one damaged copy: register with the other, and say so
	fresh_format >/dev/null
	patch_sb 0 crc 0x12345678
	kmsg_mark
	expect_write_ok $REG "path=$PMEM"
	expect_kmsg "superblock copy 0 invalid \(crc mismatch\), using copy 1; run 'pcachectl check' to repair"
	expect_write_ok $UNREG cache_dev_id=0
	fresh_format >/dev/null
}

# Both superblock copies overwritten with random bytes: damage, not a device that was never
# formatted. The refusal must point to check and must not advise format, which would destroy the
# dirty data that may still be on the device.
test_register_random_superblocks() {
	fresh_format >/dev/null
	python3 - "$PMEM" <<'PY' || fail "overwrite the superblocks of $PMEM"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
data = bytearray(os.urandom(8192))
for off in (8, 4096 + 8):	# a random magic is never zero, but make sure
    data[off] |= 1
os.pwrite(fd, bytes(data), 4096)
os.fsync(fd)
os.close(fd)
PY
	blockdev --flushbufs "$PMEM"
	kmsg_mark
	bad_table <<EOF
$REG	path=$PMEM	EINVAL	$PMEM: both superblock copies damaged \(copy 0: bad magic 0x[0-9a-f]+; copy 1: bad magic 0x[0-9a-f]+\); run 'pcachectl check $PMEM'$
EOF
	! kmsg_since_mark | grep -q 'not formatted\|pcachectl format' || fail "damage called unformatted: $(kmsg_since_mark | tail -n 1)"
	fresh_format >/dev/null
}

test_register_bad_options() {
	bad_table <<EOF
$REG	path=	EINVAL	cache_dev_register: option 'path' has an empty value
$REG	\n	EINVAL	cache_dev_register: empty input
$REG	path	EINVAL	cache_dev_register: option 'path' has no '=value'
$REG	path=$PMEM,bogus=1	EINVAL	cache_dev_register: unknown option 'bogus'
$REG	path=$PMEM,path=$PMEM	EINVAL	cache_dev_register: option 'path' given twice
$REG	path=$PMEM,	EINVAL	cache_dev_register: empty option
$REG	path=$PMEM,force=2	EINVAL	cache_dev_register: force=2 out of range 0..1
$REG	path=$PMEM,force=-1	EINVAL	cache_dev_register: force='-1' is not a decimal number
$REG	path=$PMEM,force=yes	EINVAL	cache_dev_register: force='yes' is not a decimal number
$REG	force=1	EINVAL	cache_dev_register: path= is required
EOF
	[[ ! -e $CD0 ]] || fail "a cache_dev appeared"
}

test_register_bad_paths() {
	bad_table <<EOF
$REG	path=/tmp/pmem0	EINVAL	cache_dev_register: path '/tmp/pmem0' is not under /dev/
$REG	path=/dev/$LONG	EINVAL	cache_dev_register: path is longer than 255 bytes
$REG	path=/dev/nosuchdev	ENOENT	cache_dev_register: /dev/nosuchdev does not exist
$REG	path=/dev/null	ENOTBLK	cache_dev_register: /dev/null is not a block device
$REG	path=$BACKING2	EOPNOTSUPP	$BACKING2 does not support DAX
EOF
	[[ ! -e $CD0 ]] || fail "a cache_dev appeared"
}

test_register_twice() {
	expect_write_ok $REG "path=$PMEM"
	ln -sf "$PMEM" /dev/pcache-alias-pmem
	bad_table <<EOF
$REG	path=$PMEM	EEXIST	cache_dev_register: $PMEM is already registered as cache_dev0
$REG	path=/dev/pcache-alias-pmem	EEXIST	/dev/pcache-alias-pmem is already registered as cache_dev0
EOF
	rm -f /dev/pcache-alias-pmem
}

test_adm_bad_options() {
	local p="op=backing-start,path=$BACKING"
	bad_table <<EOF
$ADM	path=$BACKING	EINVAL	cache_dev0: op= is required
$ADM	op=backing-frob	EINVAL	cache_dev0: unknown op 'backing-frob'
$ADM	op=	EINVAL	cache_dev0: option 'op' has an empty value
$ADM	$p,cache_size=64,backing_id=0	EINVAL	option 'backing_id' does not apply to backing-start
$ADM	op=backing-stop,backing_id=0,path=$BACKING	EINVAL	option 'path' does not apply to backing-stop
$ADM	op=backing-start,cache_size=64	EINVAL	cache_dev0: backing-start needs path=
$ADM	$p,cache_size=64,queues=0	EINVAL	cache_dev0: queues=0 out of range 1..128
$ADM	$p,cache_size=64,queues=129	EINVAL	cache_dev0: queues=129 out of range 1..128
$ADM	$p,cache_size=64,queues=-1	EINVAL	cache_dev0: queues='-1' is not a decimal number
$ADM	$p,cache_size=64,queues=4294967296	EINVAL	queues='4294967296' is not a decimal number
$ADM	$p,cache_size=64,queues=2x	EINVAL	queues='2x' is not a decimal number
$ADM	$p,cache_size=0	EINVAL	cache_dev0: cache_size=0 out of range
$ADM	$p,cache_size=48	EINVAL	cache_size=48 MiB is 3 segments, at least 4 \(64 MiB\) are needed
$ADM	$p,cache_size=-64	EINVAL	cache_size='-64' is not a decimal number
$ADM	$p,cache_size=64,cache_size=64	EINVAL	option 'cache_size' given twice
$ADM	$p,cache_size=64,data_crc=2	EINVAL	data_crc=2 out of range 0..1
$ADM	$p,cache_size=64,force=on	EINVAL	force='on' is not a decimal number
$ADM	$p,cache_size=64,ident=$LONG	EINVAL	ident must be 1..63 printable characters
$ADM	$p,cache_size=64,ident=a\tb	EINVAL	ident must be 1..63 printable characters
$ADM	$p,cache_size=64,colour=blue	EINVAL	cache_dev0: unknown option 'colour'
$ADM	$p,,cache_size=64	EINVAL	cache_dev0: empty option
$ADM	$p	EINVAL	cache_dev0: cache_size= is required for a new backing device $BACKING
$ADM	op=backing-stop	EINVAL	cache_dev0: backing-stop needs backing_id=
$ADM	op=backing-stop,backing_id=x	EINVAL	backing_id='x' is not a decimal number
EOF
	[[ -z $(ls -d $CD0/backing_dev* 2>/dev/null) ]] || fail "a backing device appeared"
}

test_adm_bad_paths() {
	bad_table <<EOF
$ADM	op=backing-start,path=/tmp/vda,cache_size=64	EINVAL	cache_dev0: path '/tmp/vda' is not under /dev/
$ADM	op=backing-start,path=/dev/$LONG,cache_size=64	EINVAL	cache_dev0: path is longer than 255 bytes
$ADM	op=backing-start,path=/dev/nosuchdisk,cache_size=64	ENOENT	cache_dev0: /dev/nosuchdisk does not exist
$ADM	op=backing-start,path=/dev/null,cache_size=64	ENOTBLK	cache_dev0: /dev/null is not a block device
$ADM	op=backing-start,path=/dev/,cache_size=64	ENOTBLK	cache_dev0: /dev/ is not a block device
$ADM	op=backing-start,path=$PMEM,cache_size=64	EBUSY	cache_dev0: cannot open $PMEM exclusively: in use
$ADM	op=backing-start,path=$BACKING,cache_size=999999	ENOSPC	cache_size=999999 MiB is 62500 segments, the device has
EOF
}

test_adm_in_use() {
	expect_write_ok $ADM "op=backing-start,path=$BACKING,cache_size=64"
	ln -sf "$BACKING" /dev/pcache-alias-disk
	mkfs.ext4 -q -F "$BACKING2" || fail "mkfs.ext4"
	mkdir -p /tmp/t021.mnt
	mount "$BACKING2" /tmp/t021.mnt || fail "mount"
	# a mounted filesystem holds its disk; so does a started backing device
	bad_table <<EOF
$ADM	op=backing-start,path=$BACKING	EBUSY	cache_dev0: $BACKING is already started as backing_dev0
$ADM	op=backing-start,path=$BACKING,cache_size=64	EBUSY	$BACKING is already started as backing_dev0
$ADM	op=backing-start,path=/dev/pcache-alias-disk,cache_size=64	EBUSY	/dev/pcache-alias-disk is already started as backing_dev0
$REG	path=$BACKING	EBUSY	cannot open $BACKING exclusively: in use
$ADM	op=backing-start,path=$BACKING2,cache_size=64	EBUSY	cannot open $BACKING2 exclusively: in use
EOF
	umount /tmp/t021.mnt
	rm -f /dev/pcache-alias-disk
}

test_adm_not_enough_segments() {
	local free
	free=$(( $(sed -n 's/^seg_num: //p' $CD0/info) - $(sed -n 's/^seg_used: //p' $CD0/info) ))
	bad_table <<EOF
$ADM	op=backing-start,path=$BACKING2,cache_size=$(( (free + 1) * 16 ))	ENOSPC	cache_dev0: cache needs $((free + 1)) segments but only $free of
EOF
}

test_stop_and_unregister_bad() {
	bad_table <<EOF
$ADM	op=backing-stop,backing_id=5	ENOENT	cache_dev0: backing_dev5 is not started
$ADM	op=backing-stop,backing_id=64	ENOENT	cache_dev0: backing_dev64 is not started
$ADM	op=backing-stop,backing_id=-1	EINVAL	backing_id='-1' is not a decimal number
$UNREG	cache_dev_id=0	EBUSY	cache_dev0: cannot unregister: 1 backing devices attached
$UNREG	cache_dev_id=7	ENOENT	cache_dev_unregister: cache_dev7 is not registered
$UNREG	cache_dev_id=zero	EINVAL	cache_dev_id='zero' is not a decimal number
$UNREG	cache_dev_id=-1	EINVAL	cache_dev_id='-1' is not a decimal number
$UNREG	id=0	EINVAL	cache_dev_unregister: unknown option 'id'
$UNREG	cache_dev_id=0,cache_dev_id=0	EINVAL	option 'cache_dev_id' given twice
$BD0/cache_gc_percent	91	EINVAL	backing_dev0: cache_gc_percent: 91 out of range 0..90
$BD0/cache_gc_percent	ten	EINVAL	backing_dev0: cache_gc_percent: 'ten' is not a decimal number
EOF
}

test_unprivileged_writes() {
	# root without CAP_SYS_ADMIN: the checker itself runs unprivileged
	BAD_PREFIX=as_unprivileged bad_table <<EOF
$REG	path=$PMEM	EPERM	cache_dev_register: permission denied \(CAP_SYS_ADMIN required\)
$UNREG	cache_dev_id=0	EPERM	cache_dev_unregister: permission denied
$ADM	op=backing-stop,backing_id=0	EPERM	cache_dev0: adm: permission denied
$BD0/cache_gc_percent	10	EPERM	cache_dev0: backing_dev0: cache_gc_percent: permission denied
EOF
}

test_overlong_write() {
	local big
	big="op=backing-start,path=$BACKING2,cache_size=64,ident=$(printf 'y%.0s' {1..5000})"
	# sysfs hands a store at most PAGE_SIZE bytes of one write (the rest would
	# come as a second write), so PAGE_SIZE bytes or more are refused whole
	bad_table <<EOF
$ADM	$big	EINVAL	cache_dev0: input too long \(4096 bytes\)
$ADM	${big:0:4096}	EINVAL	cache_dev0: input too long \(4096 bytes\)
$ADM	${big:0:4095}	EINVAL	cache_dev0: ident must be 1..63 printable characters
$REG	path=$(printf '/%.0s' {1..4200})	EINVAL	cache_dev_register: input too long \(4096 bytes\)
$ADM	op=backing-stop\x00,backing_id=0	EINVAL	cache_dev0: input contains a NUL byte
$UNREG	cache_dev_id=0\x00	EINVAL	cache_dev_unregister: input contains a NUL byte
$BD0/cache_gc_percent	5\x009	EINVAL	cache_gc_percent: '5' is not a decimal number
EOF
}
