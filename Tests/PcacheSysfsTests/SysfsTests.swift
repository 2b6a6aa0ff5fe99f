// SPDX-License-Identifier: Apache-2.0
import Foundation
import PcacheSysfs
import SystemPackage
import Testing

@Suite("Option strings") struct OptionTests {
    @Test("register and unregister build the exact tokens")
    func registerTokens() throws {
        #expect(RegisterRequest(path: try DevicePath("/dev/pmem0")).optionString == "path=/dev/pmem0")
        #expect(RegisterRequest(path: try DevicePath("/dev/pmem0"), force: true).optionString == "path=/dev/pmem0,force=1")
        #expect(UnregisterRequest(cache: CacheID(3)).optionString == "cache_dev_id=3")
        #expect(BackingStopRequest(backing: BackingID(2)).optionString == "op=backing-stop,backing_id=2")
        #expect(BackingStopRequest(backing: BackingID(2), force: true).optionString == "op=backing-stop,backing_id=2,force=1")
        #expect(BackingStopRequest(backing: BackingID(2), flush: true).optionString == "op=backing-stop,backing_id=2,flush=1")
    }

    @Test("backing start includes only the options given, in ABI order")
    func backingStartTokens() throws {
        let minimal = try BackingStartRequest(path: try DevicePath("/dev/vda"))
        #expect(minimal.optionString == "op=backing-start,path=/dev/vda")
        let full = try BackingStartRequest(path: try DevicePath("/dev/vda"), queues: 4,
                                           cacheSize: try CacheSize(parsing: "1G"), dataCRC: true,
                                           ident: try DiskIdent("wwn-0x5000c500a1b2c3d4"), force: true)
        #expect(full.optionString
                == "op=backing-start,path=/dev/vda,queues=4,cache_size=1024,data_crc=1,ident=wwn-0x5000c500a1b2c3d4,force=1")
    }

    @Test("device paths outside /dev or with separators are refused",
          arguments: ["vda", "/tmp/x", "/dev/", "/dev/a,b", "/dev/a b", "/dev/a\n", "", "/dev/" + String(repeating: "x", count: 260)])
    func badPaths(_ path: String) {
        #expect(throws: SysfsError.self) { try DevicePath(path) }
    }

    @Test("queues outside 1...128 are refused", arguments: [UInt32(0), 129, 1000])
    func badQueues(_ q: UInt32) throws {
        let error = #expect(throws: SysfsError.self) {
            try BackingStartRequest(path: try DevicePath("/dev/vda"), queues: q)
        }
        #expect(error?.code == .invalidValue)
        #expect(error?.errno == nil)
        #expect(error?.message.contains("queues") == true)
    }

    @Test("queues 1 and 128 are accepted", arguments: [UInt32(1), 128])
    func goodQueues(_ q: UInt32) throws {
        _ = try BackingStartRequest(path: try DevicePath("/dev/vda"), queues: q)
    }

    @Test("cache sizes parse with binary suffixes, bare numbers are MiB",
          arguments: [("1G", UInt64(1024)), ("512M", 512), ("512MiB", 512), ("64", 64), ("2g", 2048), ("1T", 1 << 20),
                      ("49", 49), ("65536K", 64), (" 256M ", 256)])
    func sizes(_ text: String, _ mib: UInt64) throws {
        #expect(try CacheSize(parsing: text).mebibytes == mib)
    }

    @Test("bad cache sizes are refused",
          arguments: ["0", "48", "-1G", "1.5G", "G", "", "abc", "1000K", "99999999999999999999", "1P", "17000000T"])
    func badSizes(_ text: String) {
        #expect(throws: SysfsError.self) { try CacheSize(parsing: text) }
    }

    @Test("cache size rounds up to whole segments")
    func segments() throws {
        #expect(try CacheSize(mebibytes: 49).segments == 4)
        #expect(try CacheSize(mebibytes: 64).segments == 4)
        #expect(try CacheSize(mebibytes: 65).segments == 5)
    }

    @Test("gc percent accepts 0...90 only")
    func gcPercent() throws {
        #expect(try GCPercent(parsing: "0").value == 0)
        #expect(try GCPercent(parsing: "90").value == 90)
        #expect(try GCPercent(parsing: "50%").value == 50)
        for bad in ["91", "-1", "", "x", "1e2", "0x10", "100"] {
            #expect(throws: SysfsError.self) { try GCPercent(parsing: bad) }
        }
    }

    @Test("idents refuse separators and overlong values; sanitizing makes them acceptable")
    func idents() throws {
        #expect(throws: SysfsError.self) { try DiskIdent("a,b") }
        #expect(throws: SysfsError.self) { try DiskIdent("a=b") }
        #expect(throws: SysfsError.self) { try DiskIdent("a b") }
        #expect(throws: SysfsError.self) { try DiskIdent(String(repeating: "x", count: 64)) }
        _ = try DiskIdent(String(repeating: "x", count: 63))
        let s = try #require(DiskIdent(sanitizing: "QEMU HARDDISK,1=2"))
        #expect(s.string == "QEMU_HARDDISK_1_2")
        let long = try #require(DiskIdent(sanitizing: String(repeating: "a", count: 70) + "END"))
        #expect(long.string.count == 63)
        #expect(long.string.hasSuffix("END"))
        #expect(DiskIdent(sanitizing: "\u{1}") == nil)
    }

    @Test("ids parse from names and numbers")
    func ids() {
        #expect(CacheID(parsing: "cache_dev12") == CacheID(12))
        #expect(CacheID(parsing: "7") == CacheID(7))
        #expect(CacheID(parsing: "cache_dev") == nil)
        #expect(CacheID(parsing: "cache_dev-1") == nil)
        #expect(BackingID(parsing: "backing_dev63") == BackingID(63))
        #expect(BackingID(parsing: "backing_dev64") == nil)
    }
}

@Suite("Attribute values") struct ValueTests {
    @Test("info parses every documented key")
    func info() throws {
        let info = try CacheInfo(parsing: FakeTree.info)
        #expect(info.uuid == "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
        #expect(info.label == "fast")
        #expect(info.version == 1)
        #expect(info.segNum == 63)
        #expect(info.segUsed == 8)
        #expect(info.segFree == 55)
        #expect(info.segSize == 16_777_216)
        #expect(info.devSize == 1_073_741_824)
        #expect(info.backingDevs == 1)
    }

    @Test("an empty label is allowed")
    func emptyLabel() throws {
        let text = FakeTree.info.replacingOccurrences(of: "label: fast", with: "label: ")
        #expect(try CacheInfo(parsing: text).label == "")
    }

    @Test("info missing a key or with a bad number names the key",
          arguments: ["seg_num", "uuid", "backing_devs", "dev_size"])
    func infoMissing(_ key: String) throws {
        let without = FakeTree.info.split(separator: "\n").filter { !$0.hasPrefix(key + ":") }.joined(separator: "\n")
        let error = #expect(throws: SysfsError.self) { try CacheInfo(parsing: without) }
        #expect(error?.message.contains(key) == true)
        let garbled = FakeTree.info.replacingOccurrences(of: "\(key): ", with: "\(key): x")
        #expect(throws: SysfsError.self) { try CacheInfo(parsing: garbled) }
    }

    @Test("stats keep kernel order and unknown counters")
    func stats() throws {
        let stats = try BackingStats(parsing: "hits 30\nmisses 10\ndirty_bytes 4096\nwriteback_seg 2\nwriteback_off 8192\nnew_counter 5\n")
        #expect(stats.hits == 30)
        #expect(stats.misses == 10)
        #expect(stats.hitRatio == 0.75)
        #expect(stats.dirtyBytes == 4096)
        #expect(stats.writebackSegment == 2)
        #expect(stats.writebackOffset == 8192)
        #expect(stats["new_counter"] == 5)
        #expect(stats.counters.map(\.name).last == "new_counter")
    }

    @Test("the writeback failure state is read from numeric stats")
    func writebackFailureStats() throws {
        let failing = try BackingStats(parsing: "writeback_errors 7\nwriteback_failing 1\nwriteback_last_error 5\nwriteback_failing_s 42\nwrite_errors 3\n")
        #expect(failing.writebackFailing == true)
        #expect(failing.writebackLastError == 5)
        #expect(failing.writebackFailingSeconds == 42)
        #expect(failing.writeErrors == 3)
        let ok = try BackingStats(parsing: "writeback_failing 0\nwriteback_last_error 0\n")
        #expect(ok.writebackFailing == false)
        #expect(try BackingStats(parsing: "hits 1\n").writebackFailing == nil)
    }

    @Test("empty stats are valid and have no hit ratio")
    func emptyStats() throws {
        let stats = try BackingStats(parsing: "")
        #expect(stats.isEmpty)
        #expect(stats.hitRatio == nil)
        #expect(stats.dirtyBytes == nil)
    }

    @Test("malformed stats lines are refused", arguments: ["hits", "hits x", "hits 1 2", "hits -1"])
    func badStats(_ text: String) {
        #expect(throws: SysfsError.self) { try BackingStats(parsing: text) }
    }

    @Test("kmsg records are stripped to the pcache message")
    func kmsgRecords() {
        #expect(KernelLogWatch.pcacheMessage(in: "3,1234,5678,-;pcache: cache_dev0: busy") == "cache_dev0: busy")
        #expect(KernelLogWatch.pcacheMessage(in: "pcache: plain") == "plain")
        #expect(KernelLogWatch.pcacheMessage(in: "6,1,2,-;nd_pmem: hello") == nil)
        #expect(KernelLogWatch.pcacheMessage(in: "6,1,2,c;pcache: a; b") == "a; b")
    }

    @Test("every backing attribute has a unit, an access and a kebab name that finds it again")
    func attributes() {
        for attribute in BackingAttribute.allCases {
            #expect(BackingAttribute(optionName: attribute.optionName) == attribute)
            #expect(BackingAttribute(optionName: attribute.rawValue) == attribute)
            #expect(!attribute.summary.isEmpty)
        }
        #expect(BackingAttribute(optionName: "gc-percent") == .cacheGCPercent)
        #expect(BackingAttribute.allCases.filter(\.access.isWritable) == [.cacheGCPercent])
        #expect(BackingAttribute.cacheGCPercent.range == 0...90)
        #expect(BackingAttribute(optionName: "nope") == nil)
    }
}

@Suite("Fake sysfs tree") struct TreeTests {
    @Test("a missing bus reports the module as not loaded")
    func noModule() throws {
        let fake = try FakeTree(bus: false)
        let error = #expect(throws: SysfsError.self) { try fake.tree.cacheIDs() }
        #expect(error?.code == .moduleNotLoaded)
        let error2 = #expect(throws: SysfsError.self) {
            try fake.tree.register(RegisterRequest(path: try DevicePath("/dev/pmem0")))
        }
        #expect(error2?.code == .moduleNotLoaded)
    }

    @Test("a snapshot reads caches, backing devices and stats")
    func snapshot() throws {
        let fake = try FakeTree()
        try fake.addCache(0)
        try fake.addBacking(0, cache: 0, stats: "hits 3\nmisses 1\ndirty_bytes 512\n")
        try fake.addBacking(1, cache: 0, path: "/dev/vdb", mapped: 1, gc: 50, ident: "", crc: 1)
        try fake.addCache(2, path: "/dev/pmem1")
        let caches = try fake.tree.snapshot()
        #expect(caches.map(\.id) == [CacheID(0), CacheID(2)])
        let b = try #require(caches.first?.backing)
        #expect(b.count == 2)
        #expect(b[0].path == "/dev/vda")
        #expect(b[0].stats.hitRatio == 0.75)
        #expect(b[0].stats.dirtyBytes == 512)
        #expect(b[1].mappedID == 1)
        #expect(b[1].gcPercent == 50)
        #expect(b[1].ident == "")
        #expect(b[1].dataCRC)
        #expect(b[1].deviceName == "/dev/pcache1")
        #expect(caches[1].backing.isEmpty)
    }

    @Test("lookups accept /dev/pcacheN, pcacheN, cache_devN/backing_devM and the disk path")
    func lookups() throws {
        let fake = try FakeTree()
        try fake.addCache(0)
        try fake.addBacking(0, cache: 0, mapped: 4)
        for name in ["/dev/pcache4", "pcache4", "cache_dev0/backing_dev0", "/dev/vda"] {
            #expect(try fake.tree.findBacking(name).mappedID == 4)
        }
        let error = #expect(throws: SysfsError.self) { try fake.tree.findBacking("/dev/pcache9") }
        #expect(error?.code == .notFound)
        #expect(try fake.tree.findCache("cache_dev0") == CacheID(0))
        #expect(try fake.tree.findCache("/dev/pmem0") == CacheID(0))
        #expect(try fake.tree.findCache("0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0") == CacheID(0))
        #expect(throws: SysfsError.self) { try fake.tree.findCache("cache_dev5") }
    }

    @Test("an out-of-range attribute value is reported, not trusted")
    func outOfRange() throws {
        let fake = try FakeTree()
        try fake.addCache(0)
        try fake.addBacking(0, cache: 0, gc: 95)
        let error = #expect(throws: SysfsError.self) { try fake.tree.snapshot() }
        #expect(error?.message.contains("cache_gc_percent") == true)
    }

    @Test("writes land in the attribute exactly as built")
    func writes() throws {
        let fake = try FakeTree()
        try fake.addCache(0)
        try fake.addBacking(0, cache: 0)
        try fake.tree.unregister(UnregisterRequest(cache: CacheID(0)))
        #expect(try fake.get("sys/bus/pcache/cache_dev_unregister") == "cache_dev_id=0")
        try fake.tree.setGCPercent(try GCPercent(40), of: BackingID(0), in: CacheID(0))
        #expect(try fake.get("sys/bus/pcache/devices/cache_dev0/backing_dev0/cache_gc_percent") == "40")
        try fake.tree.stopBacking(BackingStopRequest(backing: BackingID(0)), on: CacheID(0))
        #expect(try fake.get("sys/bus/pcache/devices/cache_dev0/adm") == "op=backing-stop,backing_id=0")
    }

    @Test("the log watch sees only lines logged after it started")
    func logWatch() throws {
        let fake = try FakeTree()
        try fake.log("6,10,100,-;pcache: cache_dev9: old news")
        let watch = KernelLogWatch(path: FilePath(fake.kmsg.path))
        #expect(watch.isAvailable)
        try fake.log("3,11,200,-;pcache: cache_dev0: still has backing devices")
        try fake.log("6,12,201,-;virtio_blk: unrelated")
        #expect(watch.collect() == ["cache_dev0: still has backing devices"])
        #expect(watch.collect().isEmpty)
    }

    @Test("a refused write carries errno and path")
    func refusal() throws {
        let fake = try FakeTree()
        try fake.addCache(0)
        // A directory in place of the attribute makes open(O_WRONLY) fail with EISDIR.
        try fake.mkdir("sys/bus/pcache/devices/cache_dev0/adm.d")
        let error = #expect(throws: SysfsError.self) {
            try fake.tree.write("x", to: fake.tree.cacheDirectory(CacheID(0)).appending("adm.d"), action: "poke")
        }
        #expect(error?.errno == .isDirectory)
        #expect(error?.code == .io)
        #expect(error?.kernelLog.isEmpty == true)
        #expect(error?.description.contains("adm.d") == true)
        #expect(error?.message == "cannot poke")
    }

    @Test("the kernel's reason is part of the description")
    func kernelReason() throws {
        let e = SysfsError(code: .busy, path: "/sys/bus/pcache/cache_dev_unregister", errno: .resourceBusy,
                           message: "cannot unregister cache_dev0: cache_dev0: still has backing devices",
                           kernelLog: ["cache_dev0: still has backing devices"])
        #expect(e.description == "cannot unregister cache_dev0: cache_dev0: still has backing devices: /sys/bus/pcache/cache_dev_unregister: Device or resource busy")
    }

    @Test("errno classes", arguments: [
        (Errno.resourceBusy, SysfsError.Code.busy), (.fileExists, .exists), (.invalidArgument, .invalidValue),
        (.noSuchFileOrDirectory, .notFound), (.notBlockDevice, .notFound), (.notPermitted, .permissionDenied),
        (.permissionDenied, .permissionDenied), (.noSpace, .noSpace), (.notSupported, .unsupported), (.ioError, .io),
        (Errno(rawValue: 117), .invalidValue), (.badMessage, .invalidValue),
    ])
    func errnoClasses(_ errno: Errno, _ code: SysfsError.Code) {
        #expect(SysfsError.code(for: errno) == code)
    }

    @Test("unreadable kernel log degrades to no lines")
    func noKmsg() {
        let watch = KernelLogWatch(path: "/nonexistent/kmsg")
        #expect(!watch.isAvailable)
        #expect(watch.unavailableReason != nil)
        #expect(watch.collect().isEmpty)
    }

    @Test("module version prefers version over srcversion")
    func version() throws {
        let fake = try FakeTree()
        #expect(fake.tree.moduleVersion() == nil)
        try fake.put("sys/module/pcache/srcversion", "ABC123\n")
        #expect(fake.tree.moduleVersion() == "ABC123")
        try fake.put("sys/module/pcache/version", "0.1\n")
        #expect(fake.tree.moduleVersion() == "0.1")
    }
}
