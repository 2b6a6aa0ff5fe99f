// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import PcacheFormat
import PcacheLifecycle
import SystemPackage

extension PcacheCtl {
    struct Format: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an empty pcache cache device: both superblock copies and a zeroed metadata area.",
            discussion: """
                DEVICE is a DAX-capable pmem block device of at least 512 MiB, or a regular image file (for \
                tests). The device is refused when it is too small, not DAX-capable, in use (mounted, held by \
                another device, or open exclusively), or when it carries a pcache superblock or another known \
                signature (filesystem, partition table, RAID, LVM, bcache, swap, LUKS, and every other format \
                libblkid probes for, as wipefs does) unless --force is given; when libblkid cannot probe the \
                device, format refuses too (exit 74) unless --force is given. Everything before segment 0 (the \
                64 backing records included) and the last 128 KiB of the device are zeroed, so no stale record or \
                foreign signature survives; the superblock is written last and made durable with fsync.

                Exit status: 0 formatted, 64 usage, 65 the device carries data and --force was not given, \
                69 no such device, not a block device or regular file, too small or not DAX-capable, 74 I/O \
                error (or libblkid could not probe), 75 in use, 77 permission denied.

                EXAMPLES:
                  pcachectl format /dev/pmem0
                  pcachectl format --force --label fast0 /dev/pmem0
                  pcachectl format --json cache.img
                """)

        @OptionGroup var output: OutputOptions

        @Flag(help: "Format even over a pcache superblock or another signature.")
        var force = false

        @Option(help: "A label stored in the superblock (at most 31 bytes of printable text).")
        var label = ""

        @Argument(help: "A pmem block device such as /dev/pmem0, or an image file.")
        var device: String

        func validate() throws {
            guard label.utf8.count <= 31, !label.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw ValidationError("--label must be at most 31 bytes of printable text")
            }
        }

        func run() throws {
            try runVerb("format") {
                try output.render(try DeviceFormat(path: device, force: force, label: label).run())
            }
        }
    }
}

/// What `format` made.
struct FormatReport: Report {
    var device: String
    var uuid: String
    var label: String
    var formatVersion: UInt16
    var deviceSizeBytes: UInt64
    var segments: UInt32
    var segmentSizeBytes: UInt64
    var usableBytes: UInt64
    var formatTime: UInt64
    /// Signatures overwritten because of --force.
    var overwritten: [String]

    var text: String {
        var f = Fields()
        f.add("device", device)
        f.add("uuid", uuid)
        f.add("label", label.isEmpty ? "(none)" : label)
        f.add("format version", formatVersion)
        f.add("device size", "\(deviceSizeBytes) bytes (\(formatBytes(deviceSizeBytes)))")
        f.add("segments", "\(segments) x \(formatBytes(segmentSizeBytes))")
        f.add("usable cache", "\(usableBytes) bytes (\(formatBytes(usableBytes)))")
        if !overwritten.isEmpty { f.add("overwrote", overwritten.joined(separator: "; ")) }
        return "formatted \(device)\n" + f.text
    }
}

/// The checks and the write behind `pcachectl format`.
struct DeviceFormat {
    var path: String
    var force: Bool
    var label: String

    func run() throws -> FormatReport {
        let block: BlockDevice?
        switch try ImageFileKind(path: path) {
        case .blockDevice(let rdev): block = BlockDevice(rdev: rdev)
        case .regularFile: block = nil
        }
        // Size first: it needs no privileges and is the most common mistake.
        let size = try FileImage(path: path).size
        guard size >= Layout.deviceSizeMin else {
            throw CommandFailure(.unavailable, "\(path) is too small: \(size) bytes (\(formatBytes(size))), "
                                 + "a cache device needs at least \(formatBytes(Layout.deviceSizeMin))")
        }
        if let block {
            guard block.isDAX else {
                throw CommandFailure(.unavailable, "\(path) is not DAX-capable (\(block.daxAttribute) is not 1); "
                                     + "use an fsdax pmem namespace")
            }
            let users = block.users
            guard users.isEmpty else {
                throw CommandFailure(.busy, "\(path) is in use: \(users.joined(separator: ", "))")
            }
        }
        let image: FileImage
        do {
            image = try FileImage(path: path, writable: true, exclusive: block != nil)
        } catch let e as ImageIOError where e.errno == EBUSY {
            throw CommandFailure(.busy, "\(path) is in use: it is open exclusively (by a filesystem, a device "
                                 + "mapper target, or a registered pcache cache device)")
        }
        var found: [String] = []
        let existing = try Checker(verifyData: false).inspect(image)
        if let sb = existing.superblock {
            let other = sb.version == Layout.formatVersion ? "" : " of format version \(sb.version), this pcachectl writes \(Layout.formatVersion)"
            found.append("a pcache superblock (uuid \(sb.uuidString)"
                         + (sb.label.isEmpty ? "" : ", label \(sb.label)") + other + ")")
        } else if let version = existing.superblockCopies.lazy.compactMap({ (c: CopyStatus<Superblock>) -> UInt16? in
            if case .damaged(.unsupportedVersion(_, let found, _)) = c { found } else { nil }
        }).first {
            // an intact superblock of another format version is not damage: say what it is
            found.append("a pcache superblock of format version \(version) (this pcachectl writes version "
                         + "\(Layout.formatVersion))")
        } else if existing.superblockCopies.contains(where: { if case .damaged(.badMagic) = $0 { false } else { true } }) {
            found.append("a damaged pcache superblock")
        }
        let own = try ForeignSignature.detect(in: image)
        found += own.map { "a \($0.name) signature (\($0.detail) at byte \($0.offset))" }
        do {
            // libblkid knows far more formats than the list above; report those it adds.
            for s in try BlkidProbe(path: path).signatures()
            where !own.contains(where: { $0.offset == s.offset && Self.sameFormat($0.name, s.type) }) {
                found.append("a \(s.type) signature (\(s.usage)" + (s.offset.map { ", magic at byte \($0)" } ?? "")
                             + ", found by libblkid)")
            }
        } catch let e as Errno {
            guard force else {
                throw CommandFailure(.ioError, "\(path): libblkid could not probe it for other signatures: \(e); "
                                     + "refusing to overwrite what it may carry without --force")
            }
            found.append("signatures libblkid could not probe for (\(e))")
        }
        if !found.isEmpty && !force {
            throw CommandFailure(.dataError, "\(path) carries \(found.joined(separator: " and ")); "
                                 + "refusing to overwrite it without --force")
        }
        let sb = try Formatter(label: label).format(image)
        // Read back what was written, through a fresh descriptor.
        let check = try Checker(verifyData: false).inspect(try FileImage(path: path))
        guard check.superblock == sb, check.isClean else {
            throw CommandFailure(.ioError, "\(path): the superblock read back does not match what was written")
        }
        return FormatReport(device: path, uuid: sb.uuidString, label: sb.label, formatVersion: sb.version,
                            deviceSizeBytes: size, segments: sb.segmentCount, segmentSizeBytes: UInt64(sb.segmentSize),
                            usableBytes: sb.usableBytes, formatTime: sb.formatTime, overwritten: force ? found : [])
    }

    /// Whether our name for a format and libblkid's TYPE/PTTYPE are the same format ("ext2/3/4" and "ext4").
    static func sameFormat(_ ours: String, _ blkid: String) -> Bool {
        ours == blkid || (ours == "ext2/3/4" && ["ext2", "ext3", "ext4", "jbd"].contains(blkid))
    }
}

/// A block device seen through /sys/dev/block/MAJ:MIN (works for partitions too).
struct BlockDevice {
    var major: UInt64
    var minor: UInt64

    init(rdev: UInt64) {
        major = ((rdev >> 8) & 0xFFF) | ((rdev >> 32) & ~0xFFF)
        minor = (rdev & 0xFF) | ((rdev >> 12) & ~0xFF)
    }

    var sysfs: String { "/sys/dev/block/\(major):\(minor)" }

    /// queue/dax of the disk (a partition's is in its parent directory).
    var daxAttribute: String {
        FileManager.default.fileExists(atPath: sysfs + "/partition") ? sysfs + "/../queue/dax" : sysfs + "/queue/dax"
    }

    var isDAX: Bool {
        (try? String(contentsOfFile: daxAttribute, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    /// "held by dm-0", "mounted on /mnt": what keeps the device busy.
    var users: [String] {
        var out: [String] = []
        let holders = (try? FileManager.default.contentsOfDirectory(atPath: sysfs + "/holders")) ?? []
        out += holders.sorted().map { "held by \($0)" }
        if let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) {
            for line in mounts.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count > 4, f[2] == "\(major):\(minor)" { out.append("mounted on \(f[4])") }
            }
        }
        return out
    }
}
