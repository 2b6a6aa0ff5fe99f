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

    @Test("a record belongs to the disk its path names although another device was last started on it")
    func membershipByPath() throws {
        // As the kernel relates them (backing_record_relation): the disk came back as 8:32, the record
        // remembers 8:16 and names /dev/sdc. It must not be listed as a record without a disk, which
        // invites `backing forget --discard-dirty-data`.
        let fake = try FakeSystem()
        try fake.put("sys/block/sdc/dev", "8:32\n")
        try fake.put("sys/bus/pcache/devices/cache_dev0/backing_records",
                     "backing_id=1 state=running init_done=1 started=0 dev=8:16 dev_sectors=2048 ident= path=/dev/sdc\n")
        let tree = SysfsTree(root: FilePath(fake.root.path))
        let (records, problems) = RecordMembership.allRecords(tree: tree)
        #expect(problems.isEmpty)
        let disk = DiskIdentity(node: "/dev/sdc", name: "sdc", sizeBytes: 1 << 20)
        #expect(RecordMembership.of(disk, records: records, tree: tree).map(\.record.name) == ["cache_dev0/backing_dev1"])
        // a record with another ident still counts when its path names the disk (the kernel's weak claim)
        let other = DiskIdentity(node: "/dev/sdc", name: "sdc", sizeBytes: 1 << 20, serial: "B")
        try fake.put("sys/bus/pcache/devices/cache_dev0/backing_records",
                     "backing_id=2 state=running init_done=1 started=0 dev=0:0 dev_sectors=2048 ident=serial-A path=/dev/sdc\n")
        #expect(RecordMembership.of(other, records: RecordMembership.allRecords(tree: tree).records, tree: tree).count == 1)
    }

    @Test("records the kernel listed only in part, or not at all, are reported instead of missing silently")
    func recordProblems() throws {
        let fake = try FakeSystem()
        try fake.put("sys/bus/pcache/devices/cache_dev0/backing_records",
                     "backing_id=1 state=running init_done=1 started=0 dev=0:0 dev_sectors=2048 ident= path=/dev/sdc\ntruncated\n")
        let tree = SysfsTree(root: FilePath(fake.root.path))
        let (records, problems) = RecordMembership.allRecords(tree: tree)
        #expect(records.count == 1)
        #expect(problems.count == 1 && problems[0].contains("truncated"))
        try fake.put("sys/bus/pcache/devices/cache_dev0/backing_records", "garbage\n")
        let (none, unreadable) = RecordMembership.allRecords(tree: tree)
        #expect(none.isEmpty && unreadable.count == 1 && unreadable[0].contains("unreadable"))
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
