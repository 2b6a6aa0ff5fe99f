// SPDX-License-Identifier: Apache-2.0
import Foundation
import PcacheLifecycle
import PcacheSysfs
import SystemPackage
import Testing

@Suite("Device users and probe", .serialized) struct LifecycleTests {
    @Test("holders and mounts are named, with mountinfo escapes undone")
    func users() throws {
        let fake = try FakeSystem()
        try fake.put("sys/block/pcache0/holders/dm-3", "")
        try fake.put("proc/self/mountinfo",
                     "36 25 252:0 / /mnt/my\\040data rw,relatime shared:1 - ext4 /dev/pcache0 rw\n"
                        + "37 25 8:1 / /boot rw - ext4 /dev/sda1 rw\n")
        let users = DeviceUsers.of(blockName: "pcache0", tree: SysfsTree(root: FilePath(fake.root.path)))
        #expect(users.contains("held by dm-3"))
        #expect(users.contains("mounted on /mnt/my data"))
        #expect(users.count == 2)
    }

    @Test("an unused device has no users")
    func noUsers() throws {
        let fake = try FakeSystem()
        try fake.put("proc/self/mountinfo", "37 25 8:1 / /boot rw - ext4 /dev/sda1 rw\n")
        #expect(DeviceUsers.of(blockName: "pcache0", tree: SysfsTree(root: FilePath(fake.root.path))).isEmpty)
    }

    @Test("probe tells a formatted image, a damaged one and a blank one apart")
    func probe() throws {
        let fake = try FakeSystem(module: false)
        let image = fake.root.appendingPathComponent("pmem.img")
        _ = FileManager.default.createFile(atPath: image.path, contents: nil)
        let handle = try FileHandle(forWritingTo: image)
        try handle.truncate(atOffset: 512 << 20)
        try handle.close()

        let blank = try Tool.run(["probe", "--udev", image.path], root: fake.root)
        #expect(blank.status == 0)
        #expect(blank.out.isEmpty)

        let format = try Tool.run(["format", "--label", "probe", image.path], root: fake.root)
        try #require(format.status == 0, "\(format.err)")
        let good = try Tool.run(["probe", "--udev", image.path], root: fake.root)
        #expect(good.status == 0)
        #expect(good.out.hasPrefix("PCACHE_ROLE=cache_dev\nPCACHE_CACHE_UUID="))
        #expect(good.out.contains("PCACHE_CACHE_LABEL=probe\n"))
        #expect(good.out.contains("ID_FS_TYPE=pcache\n"))

        // Damage one byte after the magic in both copies: the magic stays, no copy validates.
        let h = try FileHandle(forUpdating: image)
        for offset in [UInt64(4096 + 28), UInt64(8192 + 28)] {
            try h.seek(toOffset: offset)
            let byte = try h.read(upToCount: 1) ?? Data([0])
            try h.seek(toOffset: offset)
            try h.write(contentsOf: Data([byte[0] ^ 0xFF]))
        }
        try h.close()
        let damaged = try Tool.run(["probe", "--udev", image.path], root: fake.root)
        #expect(damaged.status == 0)
        #expect(damaged.out.hasPrefix("PCACHE_ROLE=damaged_cache_dev\nPCACHE_REASON=both superblock copies damaged (copy 0: "),
                "\(damaged.out)")
        #expect(damaged.out.contains("; run 'pcachectl check \(image.path)'"), "\(damaged.out)")
        #expect(!damaged.out.contains("format"), "damage is never called unformatted: \(damaged.out)")
        #expect(!damaged.out.contains("ID_FS_TYPE"))
    }

    @Test("probe of a missing device is status 69")
    func probeMissing() throws {
        let r = try Tool.run(["probe", "--udev", "/dev/nonexistent-pcache-test"], root: nil)
        #expect(r.status == 69)
    }
}
