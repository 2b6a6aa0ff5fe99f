// SPDX-License-Identifier: Apache-2.0
import CBlkid
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A signature libblkid found: a filesystem, RAID or LVM member, swap, crypto header or partition table.
public struct BlkidSignature: Hashable, Sendable, CustomStringConvertible {
    /// blkid's TYPE (superblocks) or PTTYPE (partition tables): "ext4", "squashfs", "gpt".
    public var type: String
    /// blkid's USAGE ("filesystem", "raid", "crypto", "other"); "partition table" for a PTTYPE.
    public var usage: String
    /// Byte offset of the magic (SBMAGIC_OFFSET or PTMAGIC_OFFSET), when libblkid reports it.
    public var offset: UInt64?

    public init(type: String, usage: String, offset: UInt64?) {
        self.type = type
        self.usage = usage
        self.offset = offset
    }

    public var description: String {
        "\(type) (\(usage)" + (offset.map { ", magic at byte \($0)" } ?? "") + ")"
    }
}

/// A low-level libblkid probe of one device or image (the probe `wipefs` and `blkid -p` use: no cache, no
/// udev database, every superblock and partition-table prober, signatures with bad checksums included).
/// Owns its `blkid_probe` and frees it on deinit; failures become `Errno`.
public final class BlkidProbe {
    private let pointer: OpaquePointer
    /// The path probed.
    public let path: String

    /// Opens `path` read-only for probing.
    /// - Throws: `Errno` when libblkid cannot open it or set the probe up.
    public init(path: String) throws {
        errno = 0
        guard let probe = blkid_new_probe_from_filename(path) else {
            throw Errno(rawValue: errno != 0 ? errno : EIO)
        }
        pointer = probe
        self.path = path
        let superblockFlags = BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM
        for rc in [blkid_probe_enable_superblocks(probe, 1), blkid_probe_set_superblocks_flags(probe, superblockFlags),
                   blkid_probe_enable_partitions(probe, 1), blkid_probe_set_partitions_flags(probe, BLKID_PARTS_MAGIC)]
        where rc < 0 {
            // every stored property is set: throwing now runs deinit, which frees the probe
            throw Errno(rawValue: errno != 0 ? errno : EINVAL)
        }
    }

    deinit { blkid_free_probe(pointer) }

    /// Every signature on the device, in the order libblkid finds them.
    /// - Throws: `Errno` when a read or a prober fails (the result would be incomplete).
    public func signatures() throws -> [BlkidSignature] {
        var found: [BlkidSignature] = []
        while true {
            errno = 0
            let rc = blkid_do_probe(pointer)
            if rc == 1 { return found }
            guard rc == 0 else { throw Errno(rawValue: errno != 0 ? errno : EIO) }
            if let type = value("TYPE") {
                found.append(BlkidSignature(type: type, usage: value("USAGE") ?? "unknown",
                                            offset: value("SBMAGIC_OFFSET").flatMap { UInt64($0) }))
            } else if let type = value("PTTYPE") {
                found.append(BlkidSignature(type: type, usage: "partition table",
                                            offset: value("PTMAGIC_OFFSET").flatMap { UInt64($0) }))
            }
        }
    }

    private func value(_ name: String) -> String? {
        var data: UnsafePointer<CChar>? = nil
        var length = 0
        guard blkid_probe_lookup_value(pointer, name, &data, &length) == 0, let data else { return nil }
        return String(cString: data)
    }
}
