// SPDX-License-Identifier: Apache-2.0
import Foundation
import PcacheFormat
import PcacheLifecycle
import SystemPackage
import Testing

/// `pcachectl format`, `check` and `dump` on image files in a temporary directory.
@Suite("format, check and dump verbs") struct FormatVerbTests {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("pcache-fmt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    /// A sparse image file of `mib` MiB.
    func image(_ name: String, mib: UInt64 = 600) throws -> String {
        let url = dir.appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let h = try FileHandle(forWritingTo: url)
        try h.truncate(atOffset: mib << 20)
        try h.close()
        return url.path
    }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try Tool.run(args, root: nil)
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func poke(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try h.seek(toOffset: offset)
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    @Test("format writes a superblock and prints what it made, as text and JSON")
    func format() throws {
        let path = try image("a.img")
        let r = try run(["format", "--label", "fast0", path])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("segments:") && r.out.contains("37 x 16 MiB") && r.out.contains("fast0"))
        let sb = try Superblock(decoding: try FileImage(path: path).read(at: 4096, count: 128))
        #expect(r.out.contains(sb.uuidString))
        let j = try run(["format", "--force", "--json", path])
        #expect(j.status == 0, "\(j.err)")
        let doc = try json(j.out)
        #expect(doc["schema_version"] as? Int == 1)
        #expect(doc["segments"] as? Int == 37)
        #expect(doc["usable_bytes"] as? Int == 37 * Int(Layout.segmentDataSize))
        #expect((doc["uuid"] as? String)?.count == 36)
        #expect((doc["overwritten"] as? [String])?.first?.contains("pcache superblock") == true)
    }

    @Test("format refuses a pcache device without --force (65), with a message naming it")
    func refusesPcache() throws {
        let path = try image("b.img")
        #expect(try run(["format", path]).status == 0)
        let r = try run(["format", path])
        #expect(r.status == 65)
        #expect(r.err.hasPrefix("pcachectl: format: ") && r.err.contains("carries a pcache superblock") && r.err.contains("--force"))
    }

    @Test("format refuses foreign signatures without --force (65)",
          arguments: [("xfs", UInt64(0), Array("XFSB".utf8)), ("ext2/3/4", 1080, [0x53, 0xEF]),
                      ("gpt", 512, Array("EFI PART".utf8)), ("bcache", 4120, [0xC6, 0x85, 0x73, 0xF6, 0x4E, 0x1A, 0x45, 0xCA,
                                                                               0x82, 0x65, 0xF5, 0x7F, 0x48, 0xBA, 0x6D, 0x81])])
    func refusesForeign(name: String, offset: UInt64, magic: [UInt8]) throws {
        let path = try image("c.img")
        try poke(path, at: offset, magic)
        let r = try run(["format", path])
        #expect(r.status == 65, "\(r.err)")
        #expect(r.err.contains(name), "\(r.err)")
        #expect(try run(["format", "--force", path]).status == 0)
        #expect(try run(["check", path]).status == 0, "a forced format leaves a clean device")
    }

    /// squashfs 4: magic "hsqs" at byte 0 and s_major 4 at byte 28. Not in pcachectl's own list
    /// (ForeignSignature), so only the libblkid probe can refuse it.
    func squashfs(_ name: String) throws -> String {
        let path = try image(name)
        try poke(path, at: 0, Array("hsqs".utf8))
        try poke(path, at: 28, [4, 0])
        return path
    }

    @Test("libblkid finds a squashfs signature that pcachectl's own list does not know")
    func blkidProbe() throws {
        let path = try squashfs("sq0.img")
        #expect(try ForeignSignature.detect(in: try FileImage(path: path)).isEmpty)
        let found = try BlkidProbe(path: path).signatures()
        #expect(found == [BlkidSignature(type: "squashfs", usage: "filesystem", offset: 0)], "\(found)")
        #expect(try BlkidProbe(path: try image("empty.img")).signatures().isEmpty)
        #expect(throws: Errno.noSuchFileOrDirectory) { try BlkidProbe(path: dir.appendingPathComponent("nope").path) }
    }

    @Test("format refuses a signature only libblkid knows (65), and overwrites it with --force")
    func refusesBlkidOnly() throws {
        let path = try squashfs("sq1.img")
        let r = try run(["format", path])
        #expect(r.status == 65, "\(r.err)")
        #expect(r.err.contains("squashfs signature (filesystem, magic at byte 0, found by libblkid)"), "\(r.err)")
        let forced = try run(["format", "--force", "--json", path])
        #expect(forced.status == 0, "\(forced.err)")
        #expect(forced.out.contains("squashfs"), "\(forced.out)")
        #expect(try BlkidProbe(path: path).signatures().isEmpty, "the forced format leaves no squashfs magic")
    }

    @Test("check, dump and format refuse a FIFO promptly (69), naming it, instead of blocking in open",
          arguments: ["check", "dump", "format"])
    func refusesFIFO(verb: String) throws {
        let fifo = dir.appendingPathComponent("fifo-\(verb)").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let r = try Tool.run([verb, fifo], root: nil, timeout: 10)
        #expect(r.status == 69, "\(r.err)")
        #expect(r.err == "pcachectl: \(verb): \(fifo) is a FIFO (named pipe), neither a block device nor a regular image file\n",
                "\(r.err)")
    }

    @Test("format refuses a real ext4 filesystem made by mkfs.ext4")
    func refusesExt4() throws {
        let mkfs = try #require(["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                "mkfs.ext4 is not installed")
        let path = try image("fs.img")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mkfs)
        p.arguments = ["-q", "-F", path]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        let r = try run(["format", path])
        #expect(r.status == 65 && r.err.contains("ext"), "\(r.err)")
    }

    @Test("format refuses images under 512 MiB (69) and missing paths (69), bad labels are usage errors (64)")
    func refusals() throws {
        let small = try image("small.img", mib: 511)
        let r = try run(["format", small])
        #expect(r.status == 69 && r.err.contains("too small"), "\(r.err)")
        let missing = try run(["format", dir.appendingPathComponent("nope").path])
        #expect(missing.status == 69 && missing.err.contains("No such file"))
        #expect(try run(["format", "--label", String(repeating: "x", count: 32), try image("l.img")]).status == 64)
        #expect(try run(["format"]).status == 64)
    }

    @Test("check exits 0 when clean, 2 for repairable and 65 for fatal damage, one problem per line")
    func checkStatuses() throws {
        let path = try image("d.img")
        #expect(try run(["format", path]).status == 0)
        let clean = try run(["check", path])
        #expect(clean.status == 0 && clean.out.contains("clean"))
        try poke(path, at: 4096 + 40, [0xFF])
        let rep = try run(["check", path])
        #expect(rep.status == 2, "\(rep.out)")
        let lines = rep.out.split(separator: "\n")
        #expect(lines.first?.hasPrefix("repairable: superblock copy 0 at offset 4096: crc mismatch") == true, "\(rep.out)")
        try poke(path, at: 8192 + 40, [0xFF])
        let fatal = try run(["check", "--json", path])
        #expect(fatal.status == 65)
        let doc = try json(fatal.out)
        #expect(doc["schema_version"] as? Int == 1)
        #expect((doc["summary"] as? [String: Any])?["status"] as? String == "fatal")
        let problems = try #require(doc["problems"] as? [[String: Any]])
        #expect(problems.contains { $0["code"] as? String == "no_valid_copy" && $0["severity"] as? String == "fatal" })
        #expect(problems.contains { $0["code"] as? String == "crc_mismatch" && $0["offset"] as? Int == 8192 })
        #expect(problems.allSatisfy { $0["stored"] == nil && $0["message"] is String && $0["region"] is String })
    }

    @Test("check of superblocks overwritten with random bytes reports damage, never an unformatted device (65)")
    func randomSuperblocks() throws {
        let path = try image("rnd.img")
        #expect(try run(["format", path]).status == 0)
        var rng = SystemRandomNumberGenerator()
        try poke(path, at: 4096, (0..<8192).map { _ in UInt8.random(in: 1...255, using: &rng) })
        let c = try run(["check", path])
        #expect(c.status == 65, "\(c.out)")
        #expect(c.out.contains("superblock at offset 4096: no valid copy"), "\(c.out)")
        #expect(c.out.contains("superblock copy 0 at offset 4104: bad magic") && c.out.contains("copy 1 at offset 8200: bad magic"),
                "\(c.out)")
        #expect(!c.out.contains("no pcache superblock") && !c.out.contains("format"), "\(c.out)")
    }

    @Test("check and dump of a zeroed file report no superblock (65)")
    func zeroed() throws {
        let path = try image("z.img")
        let c = try run(["check", path])
        #expect(c.status == 65 && c.out.contains("no pcache superblock"), "\(c.out)")
        #expect(try run(["dump", path]).status == 65)
    }

    @Test("dump shows the superblock copies, the backing record and its log; JSON keeps numbers as numbers")
    func dump() throws {
        let path = try image("e.img")
        #expect(try run(["format", "--label", "dumpme", path]).status == 0)
        let file = try FileImage(path: path, writable: true)
        var writer = try CacheWriter(image: file)
        var log = try writer.startCache(id: 2, path: "/dev/vdb", deviceSectors: 1 << 21, cacheSegments: 3)
        for i in 0..<10 {
            let data = [UInt8](repeating: UInt8(i), count: 4096)
            _ = try data.withUnsafeBytes { try log.cache($0, at: UInt64(i) << 12) }
        }
        try log.flush()
        try file.sync()
        let t = try run(["dump", path])
        #expect(t.status == 0, "\(t.err)")
        for needle in ["copy 0 @4096: valid", "copy 1 @8192: valid", "label:", "dumpme", "backing 2: running /dev/vdb",
                       "chain (3 segments): 0-2", "log: 1 kset(s), 10 key(s) (10 dirty", "key_tail: 0:0", "problems: clean"] {
            #expect(t.out.contains(needle), "dump lacks \"\(needle)\":\n\(t.out)")
        }
        let j = try run(["dump", "--json", path])
        let doc = try json(j.out)
        #expect(doc["schema_version"] as? Int == 1)
        let sb = try #require(doc["superblock"] as? [String: Any])
        #expect(sb["seg_num"] as? Int == 37 && sb["label"] as? String == "dumpme")
        let backing = try #require((doc["backings"] as? [[String: Any]])?.first)
        #expect(backing["id"] as? Int == 2 && backing["state"] as? String == "running" && backing["cache_segs"] as? Int == 3)
        #expect(((backing["log"] as? [String: Any])?["keys"]) as? Int == 10)
        #expect((backing["chain"] as? [[String: Any]])?.map { $0["segment"] as? Int } == [0, 1, 2])
        #expect(((backing["copies"] as? [[String: Any]])?.first?["seq"]) as? Int == 1)
        let c = try run(["check", "--json", path])
        #expect(c.status == 0)
        #expect(try json(c.out)["keys"] as? Int == 10)
    }

    @Test("check and dump walk a cached record (stopped, cache kept) like a running one and say it is cached")
    func cached() throws {
        let path = try image("k.img")
        #expect(try run(["format", path]).status == 0)
        let file = try FileImage(path: path, writable: true)
        var writer = try CacheWriter(image: file)
        var log = try writer.startCache(id: 2, path: "/dev/vdb", deviceSectors: 1 << 21, cacheSegments: 3,
                                        flags: BackingRecord.dataCRCFlag)
        for i in 0..<10 {
            let data = [UInt8](repeating: UInt8(i), count: 4096)
            _ = try data.withUnsafeBytes { try log.cache($0, at: UInt64(i) << 12) }
        }
        try log.flush()
        let recordAt = Layout.backingRecordOffset(id: 2, copy: 0)
        var record = try BackingRecord(decoding: try file.read(at: recordAt, count: BackingRecord.size), region: Region(.device))
        record.stateValue = BackingRecord.State.cached.rawValue
        try writer.write(record, slot0: recordAt, stride: Layout.slotSize)
        try file.sync()
        let t = try run(["check", path])
        #expect(t.status == 0, "\(t.out)")
        #expect(t.out.contains(": clean; 1 backing record(s), 0 running, 1 cached, 1 kset(s), 10 key(s)"), "\(t.out)")
        let c = try json(try run(["check", "--json", path]).out)
        #expect(c["cached_caches"] as? Int == 1 && c["running_caches"] as? Int == 0)
        #expect(c["keys"] as? Int == 10 && c["data_bytes_verified"] as? Int == 10 * 4096)
        let d = try run(["dump", path])
        #expect(d.status == 0, "\(d.err)")
        for needle in ["backing 2: cached (stopped, cache kept) /dev/vdb", "cache kept at the stop: the next start replays it",
                       "chain (3 segments): 0-2", "log: 1 kset(s), 10 key(s) (10 dirty", "problems: clean"] {
            #expect(d.out.contains(needle), "dump lacks \"\(needle)\":\n\(d.out)")
        }
        let backing = try #require((try json(try run(["dump", "--json", path]).out)["backings"] as? [[String: Any]])?.first)
        #expect(backing["state"] as? String == "cached" && backing["state_value"] as? Int == 3)
        #expect(backing["holds_cache"] as? Bool == true && backing["chain_not_initialised"] == nil)
        #expect(((backing["log"] as? [String: Any])?["keys"]) as? Int == 10)
    }
}
