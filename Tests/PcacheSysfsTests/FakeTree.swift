// SPDX-License-Identifier: Apache-2.0
import Foundation
import PcacheSysfs
import SystemPackage

/// A pcache sysfs tree in a temporary directory, shaped like the kernel's, for tests.
final class FakeTree {
    let root: URL
    var tree: SysfsTree { SysfsTree(root: FilePath(root.path)) }
    var kmsg: URL { root.appendingPathComponent("dev/kmsg") }

    init(bus: Bool = true) throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("pcache-fake-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("dev"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: kmsg.path, contents: Data())
        if bus {
            try mkdir("sys/bus/pcache/devices")
            try put("sys/bus/pcache/cache_dev_register", "")
            try put("sys/bus/pcache/cache_dev_unregister", "")
        }
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func mkdir(_ path: String) throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent(path), withIntermediateDirectories: true)
    }

    func put(_ path: String, _ text: String, mode: Int? = nil) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        if let mode { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path) }
    }

    func get(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: root.appendingPathComponent(path)), as: UTF8.self)
    }

    func log(_ line: String) throws {
        let handle = try FileHandle(forWritingTo: kmsg)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line + "\n").utf8))
        try handle.close()
    }

    static let info = """
        uuid: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0
        label: fast
        version: 1
        seg_num: 63
        seg_used: 8
        seg_size: 16777216
        dev_size: 1073741824
        backing_devs: 1

        """

    /// cache_devN as the kernel would show it.
    func addCache(_ n: Int, path: String = "/dev/pmem0", info: String = FakeTree.info) throws {
        let dir = "sys/bus/pcache/devices/cache_dev\(n)"
        try put("\(dir)/path", path + "\n")
        try put("\(dir)/info", info)
        try put("\(dir)/adm", "")
    }

    /// cache_devN/backing_devM as the kernel would show it.
    func addBacking(_ m: Int, cache n: Int, path: String = "/dev/vda", mapped: Int = 0, segs: Int = 8, used: Int = 2,
                    gc: Int = 70, ident: String = "serial-A", crc: Int = 0, stats: String = "") throws {
        let dir = "sys/bus/pcache/devices/cache_dev\(n)/backing_dev\(m)"
        try put("\(dir)/path", path + "\n")
        try put("\(dir)/mapped_id", "\(mapped)\n")
        try put("\(dir)/cache_segs", "\(segs)\n")
        try put("\(dir)/cache_used_segs", "\(used)\n")
        try put("\(dir)/cache_gc_percent", "\(gc)\n")
        try put("\(dir)/ident", ident + "\n")
        try put("\(dir)/data_crc", "\(crc)\n")
        try put("\(dir)/stats", stats)
    }
}
