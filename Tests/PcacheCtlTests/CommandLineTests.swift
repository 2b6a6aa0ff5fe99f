// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// Runs the built pcachectl against a fake sysfs tree ($PCACHE_SYSFS_ROOT) and checks output and exit status.
struct Tool {
    static var binary: URL {
        // The test bundle sits next to the products in the build directory.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("pcachectl")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "pcachectl")
    }

    /// Runs pcachectl; a run that outlives `timeout` seconds is killed and reported with status -1, so that a
    /// hang shows up as a failure instead of stopping the suite.
    static func run(_ arguments: [String], root: URL?, config: URL? = nil,
                    timeout: Double? = nil) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PCACHE_SYSFS_ROOT"] = root?.path ?? "/nonexistent-root"
        env["PCACHE_CONFIG"] = config?.path ?? "/nonexistent/pcache.conf"
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let timeout {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return (-1, "", "timed out after \(timeout) s")
            }
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A fake /sys/bus/pcache with one cache and one backing device.
final class FakeSystem {
    let root: URL
    init(module: Bool = true) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pcachectl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("dev"), withIntermediateDirectories: true)
        guard module else { return }
        let cache = "sys/bus/pcache/devices/cache_dev0"
        try put("sys/bus/pcache/cache_dev_register", "")
        try put("sys/bus/pcache/cache_dev_unregister", "")
        try put("\(cache)/path", "/dev/pmem0\n")
        try put("\(cache)/adm", "")
        try put("\(cache)/info", "uuid: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\nlabel: fast\nversion: 1\nseg_num: 63\nseg_used: 8\nseg_size: 16777216\ndev_size: 1073741824\nbacking_devs: 1\n")
        let b = "\(cache)/backing_dev0"
        for (name, value) in [("path", "/dev/vda"), ("mapped_id", "0"), ("cache_segs", "8"), ("cache_used_segs", "2"),
                              ("cache_gc_percent", "70"), ("ident", "serial-A"), ("data_crc", "0")] {
            try put("\(b)/\(name)", value + "\n")
        }
        try put("\(b)/stats", "hits 30\nmisses 10\ndirty_bytes 0\nwriteback_seg 1\nwriteback_off 4096\ngc_runs 2\n")
        try put("sys/block/pcache0/dev", "252:0\n")
    }
    deinit { try? FileManager.default.removeItem(at: root) }

    func put(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
    func get(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: root.appendingPathComponent(path)), as: UTF8.self)
    }
}

@Suite("pcachectl against a fake tree", .serialized) struct CommandLineTests {
    @Test("list --json has schema_version and numbers as numbers")
    func listJSON() throws {
        let fake = try FakeSystem()
        let r = try Tool.run(["list", "--json"], root: fake.root)
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(object["schema_version"] as? Int == 1)
        let caches = try #require(object["caches"] as? [[String: Any]])
        #expect(caches.first?["seg_num"] as? Int == 63)
        #expect(caches.first?["uuid"] as? String == "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
        let backing = try #require((caches.first?["backing"] as? [[String: Any]])?.first)
        #expect(backing["device"] as? String == "/dev/pcache0")
        #expect(backing["gc_percent"] as? Int == 70)
        #expect(backing["data_crc"] as? Bool == false)
    }

    @Test("status --json reports hit ratio, dirty bytes and writeback position")
    func statusJSON() throws {
        let fake = try FakeSystem()
        let r = try Tool.run(["status", "--json", "/dev/pcache0"], root: fake.root)
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let b = try #require(((object["caches"] as? [[String: Any]])?.first?["backing"] as? [[String: Any]])?.first)
        #expect(b["hit_ratio"] as? Double == 0.75)
        #expect(b["dirty_bytes"] as? Int == 0)
        #expect(b["writeback_seg"] as? Int == 1)
        #expect(b["writeback_off"] as? Int == 4096)
        #expect((b["counters"] as? [String: Any])?["gc_runs"] as? Int == 2)
    }

    @Test("text status names usage, dirty data and hit ratio")
    func statusText() throws {
        let fake = try FakeSystem()
        let r = try Tool.run(["status"], root: fake.root)
        #expect(r.status == 0)
        #expect(r.out.contains("2/8 segments (25%)"))
        #expect(r.out.contains("hit ratio  75.0%"))
        #expect(r.out.contains("writeback  segment 1 offset 4096"))
    }

    @Test("set writes the validated value to cache_gc_percent")
    func set() throws {
        let fake = try FakeSystem()
        let r = try Tool.run(["set", "/dev/pcache0", "gc-percent", "55"], root: fake.root)
        #expect(r.status == 0, "\(r.err)")
        #expect(try fake.get("sys/bus/pcache/devices/cache_dev0/backing_dev0/cache_gc_percent") == "55")
        let bad = try Tool.run(["set", "/dev/pcache0", "gc-percent", "99"], root: fake.root)
        #expect(bad.status == 64)
        #expect(bad.err.contains("out of range 0...90"))
        #expect(try fake.get("sys/bus/pcache/devices/cache_dev0/backing_dev0/cache_gc_percent") == "55")
    }

    @Test("get prints one attribute or all")
    func get() throws {
        let fake = try FakeSystem()
        let one = try Tool.run(["get", "pcache0", "gc-percent"], root: fake.root)
        #expect(one.status == 0)
        #expect(one.out == "70\n")
        let all = try Tool.run(["get", "--json", "cache_dev0/backing_dev0"], root: fake.root)
        #expect(all.status == 0)
        #expect(all.out.contains(#""cache_gc_percent": 70"#))
        #expect(all.out.contains(#""ident": "serial-A""#))
    }

    @Test("flush on a clean device returns at once")
    func flushClean() throws {
        let fake = try FakeSystem()
        let r = try Tool.run(["flush", "/dev/pcache0", "--wait", "--json"], root: fake.root)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains(#""clean": true"#))
    }

    @Test("flush --wait with a timeout gives up with status 75 while dirty")
    func flushTimeout() throws {
        let fake = try FakeSystem()
        try fake.put("sys/bus/pcache/devices/cache_dev0/backing_dev0/stats", "dirty_bytes 1048576\n")
        let r = try Tool.run(["flush", "/dev/pcache0", "--wait", "--timeout", "0.3", "--interval", "0.1"], root: fake.root)
        #expect(r.status == 75)
        #expect(r.err.contains("still dirty"))
    }

    @Test("unregister refuses while backing devices are attached, naming them, and writes nothing")
    func unregisterBusy() throws {
        let fake = try FakeSystem()
        let r = try Tool.run(["cache", "unregister", "cache_dev0"], root: fake.root)
        #expect(r.status == 75)
        #expect(r.err.contains("backing_dev0 (/dev/vda as /dev/pcache0)"))
        #expect(try fake.get("sys/bus/pcache/cache_dev_unregister") == "")
    }

    @Test("unknown objects are status 69 with their name")
    func unknown() throws {
        let fake = try FakeSystem()
        let r = try Tool.run(["get", "/dev/pcache7"], root: fake.root)
        #expect(r.status == 69)
        #expect(r.err.hasPrefix("pcachectl: get: no backing device '/dev/pcache7'"))
        let c = try Tool.run(["cache", "unregister", "cache_dev4"], root: fake.root)
        #expect(c.status == 69)
    }

    @Test("without the module every kernel verb says so with status 69", arguments: [
        ["list"], ["status"], ["get", "pcache0"], ["set", "pcache0", "gc-percent", "10"], ["flush", "pcache0"],
        ["backing", "stop", "pcache0"], ["cache", "unregister", "cache_dev0"], ["module", "status"],
    ])
    func noModule(_ arguments: [String]) throws {
        let fake = try FakeSystem(module: false)
        let r = try Tool.run(arguments, root: fake.root)
        #expect(r.status == 69, "\(arguments): \(r.err)")
    }

    @Test("apply with a broken configuration is a usage error naming the line")
    func applyBadConfig() throws {
        let fake = try FakeSystem()
        let conf = fake.root.appendingPathComponent("pcache.conf")
        try Data("[cache x]\nuuid = nope\n".utf8).write(to: conf)
        let r = try Tool.run(["apply", "--config", conf.path], root: fake.root)
        #expect(r.status == 64)
        #expect(r.err.contains("pcache.conf:2:"))
    }

    @Test("apply leaves a running entry alone and reports it")
    func applyUnchanged() throws {
        let fake = try FakeSystem()
        let conf = fake.root.appendingPathComponent("pcache.conf")
        try Data("[cache fast]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing data]\ncache = fast\ndevice = /dev/vda\n".utf8)
            .write(to: conf)
        let r = try Tool.run(["apply", "--config", conf.path, "--json"], root: fake.root)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains(#""outcome": "unchanged""#))
        #expect(r.out.contains("running as /dev/pcache0"))
    }
}
