// SPDX-License-Identifier: Apache-2.0

/// Signatures of other on-disk formats that `pcachectl format` refuses to overwrite without `--force`.
/// These are the other formats' magics, not part of the pcache layout; the list covers what is likely to
/// sit on a pmem namespace or a disk mistaken for one. `pcachectl format` also asks `blkid -p`.
public struct ForeignSignature: Hashable, Sendable, CustomStringConvertible {
    /// Short name of the format, as blkid would call it where it has one ("ext4", "xfs", "gpt").
    public var name: String
    /// Byte offset of the magic on the device.
    public var offset: UInt64
    /// What matched, for people.
    public var detail: String

    public var description: String { "\(name) (\(detail) at byte \(offset))" }

    struct Probe: Sendable {
        var name: String
        var offset: @Sendable (UInt64) -> UInt64?   // device size -> magic offset
        var magic: [UInt8]
        var detail: String
    }

    private static func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

    private static let probes: [Probe] = {
        var p: [Probe] = [
            Probe(name: "ext2/3/4", offset: { _ in 1080 }, magic: [0x53, 0xEF], detail: "magic 0xEF53"),
            Probe(name: "xfs", offset: { _ in 0 }, magic: ascii("XFSB"), detail: "magic \"XFSB\""),
            Probe(name: "btrfs", offset: { _ in 65600 }, magic: ascii("_BHRfS_M"), detail: "magic \"_BHRfS_M\""),
            Probe(name: "swap", offset: { _ in 4086 }, magic: ascii("SWAPSPACE2"), detail: "magic \"SWAPSPACE2\""),
            Probe(name: "swap", offset: { _ in 4086 }, magic: ascii("SWAP-SPACE"), detail: "magic \"SWAP-SPACE\""),
            Probe(name: "gpt", offset: { _ in 512 }, magic: ascii("EFI PART"), detail: "magic \"EFI PART\""),
            Probe(name: "dos", offset: { _ in 510 }, magic: [0x55, 0xAA], detail: "MBR/boot sector signature 0x55AA"),
            Probe(name: "crypto_LUKS", offset: { _ in 0 }, magic: [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE], detail: "magic \"LUKS\\xba\\xbe\""),
            Probe(name: "bcache", offset: { _ in 4096 + 24 },
                  magic: [0xC6, 0x85, 0x73, 0xF6, 0x4E, 0x1A, 0x45, 0xCA, 0x82, 0x65, 0xF5, 0x7F, 0x48, 0xBA, 0x6D, 0x81],
                  detail: "bcache superblock magic"),
            Probe(name: "iso9660", offset: { _ in 32769 }, magic: ascii("CD001"), detail: "magic \"CD001\""),
        ]
        for sector in 0..<4 {
            p.append(Probe(name: "LVM2_member", offset: { _ in UInt64(sector) * 512 }, magic: ascii("LABELONE"),
                           detail: "LVM label \"LABELONE\" in sector \(sector)"))
        }
        let md: [UInt8] = [0xFC, 0x4E, 0x2B, 0xA9]   // 0xa92b4efc little-endian
        p.append(Probe(name: "linux_raid_member", offset: { _ in 4096 }, magic: md, detail: "md v1.2 superblock magic 0xa92b4efc"))
        p.append(Probe(name: "linux_raid_member", offset: { _ in 0 }, magic: md, detail: "md v1.1 superblock magic 0xa92b4efc"))
        p.append(Probe(name: "linux_raid_member", offset: { size in size >= 8192 ? ((size / 512 - 16) & ~7) * 512 : nil },
                       magic: md, detail: "md v1.0 superblock magic 0xa92b4efc"))
        p.append(Probe(name: "linux_raid_member", offset: { size in size >= 131072 ? (size & ~65535) - 65536 : nil },
                       magic: md, detail: "md v0.90 superblock magic 0xa92b4efc"))
        return p
    }()

    /// Every known foreign signature on `image`.
    /// - Throws: `ImageIOError` when reading fails.
    public static func detect(in image: some ImageSource) throws -> [ForeignSignature] {
        var found: [ForeignSignature] = []
        for probe in probes {
            guard let at = probe.offset(image.size), at + UInt64(probe.magic.count) <= image.size else { continue }
            let bytes = try image.read(at: at, count: probe.magic.count)
            if bytes == probe.magic { found.append(ForeignSignature(name: probe.name, offset: at, detail: probe.detail)) }
        }
        return found
    }
}
