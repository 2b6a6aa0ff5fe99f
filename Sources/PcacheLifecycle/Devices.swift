// SPDX-License-Identifier: Apache-2.0
import PcacheFormat
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// What identifies a disk across reboots and renames, read through libudev with sysfs fallbacks
/// (udev properties exist only when udevd has processed the device).
public struct DiskIdentity: Sendable, Equatable, Codable {
    /// /dev/NAME.
    public var node: String
    public var name: String
    public var sizeBytes: UInt64
    /// ID_WWN_WITH_EXTENSION / ID_WWN, else /sys/block/NAME/wwid or device/wwid.
    public var wwn: String?
    /// ID_SERIAL, else /sys/block/NAME/serial or device/serial.
    public var serial: String?
    /// ID_FS_UUID of a filesystem on the raw disk, when udev probed one.
    public var fsUUID: String?
    public var fsType: String?
    public var dax: Bool

    /// The string recorded as the backing record's `ident`: "wwn-<wwn>" or "serial-<serial>", nil when the
    /// disk has neither (then only its size guards against a swapped disk).
    public var ident: DiskIdent? {
        if let wwn { return DiskIdent(sanitizing: "wwn-" + wwn) }
        if let serial { return DiskIdent(sanitizing: "serial-" + serial) }
        return nil
    }

    public init(node: String, name: String, sizeBytes: UInt64, wwn: String? = nil, serial: String? = nil,
                fsUUID: String? = nil, fsType: String? = nil, dax: Bool = false) {
        self.node = node
        self.name = name
        self.sizeBytes = sizeBytes
        self.wwn = wwn
        self.serial = serial
        self.fsUUID = fsUUID
        self.fsType = fsType
        self.dax = dax
    }

    public init(device: UdevDevice, sysfsRoot: FilePath = "/") {
        name = device.sysname
        node = device.devnode ?? "/dev/\(device.sysname)"
        sizeBytes = device.sizeBytes
        dax = device.supportsDAX
        let block = sysfsRoot.appending("sys/block").appending(name)
        func sysfs(_ rel: String) -> String? {
            guard let text = try? SysfsTree(root: sysfsRoot).readLine(block.appending(rel)) else { return nil }
            let t = text.trimmingCharacters(in: " \t\n")
            return t.isEmpty ? nil : t
        }
        wwn = device.property("ID_WWN_WITH_EXTENSION") ?? device.property("ID_WWN") ?? sysfs("wwid") ?? sysfs("device/wwid")
        serial = device.property("ID_SERIAL") ?? sysfs("serial") ?? sysfs("device/serial")
        fsUUID = device.property("ID_FS_UUID")
        fsType = device.property("ID_FS_TYPE")
    }
}

/// Pmem devices and candidate backing disks on this machine.
public struct DeviceInventory {
    public var pmem: [DiskIdentity]
    public var disks: [DiskIdentity]

    /// Enumerates block disks through libudev: pmem/DAX devices on one side, other non-empty disks that
    /// are not pcache devices on the other.
    public static func scan() throws -> DeviceInventory {
        let udev = try UdevContext()
        var pmem: [DiskIdentity] = []
        var disks: [DiskIdentity] = []
        for device in try udev.blockDisks() {
            let identity = DiskIdentity(device: device)
            if identity.dax || identity.name.hasPrefix("pmem") {
                pmem.append(identity)
            } else if identity.sizeBytes > 0, !identity.name.hasPrefix("pcache"), !identity.name.hasPrefix("ram"),
                      !identity.name.hasPrefix("zram") {
                disks.append(identity)
            }
        }
        return DeviceInventory(pmem: pmem, disks: disks)
    }

    /// Identity of the disk behind a path (follows symlinks).
    public static func identity(of node: String) throws -> DiskIdentity {
        DiskIdentity(device: try UdevContext().device(node: node))
    }
}

/// The identity part of a pcache superblock, for probe, apply and list.
public struct SuperblockSummary: Sendable, Equatable, Codable {
    public var uuid: String
    public var label: String
    public var version: UInt16
    public var segNum: UInt32
    /// Which copy was valid (0 or 1).
    public var copy: Int
}

/// Reads the superblock of a device or image, trying both copies.
public enum SuperblockReader {
    public enum Outcome: Sendable, Equatable {
        /// A valid copy was found.
        case pcache(SuperblockSummary)
        /// Neither copy has the pcache magic (never formatted, or something else).
        case foreign
        /// The magic is there but no copy passes its checks: a damaged pcache device.
        case damaged(String)
    }

    /// - Throws: `LifecycleError` when the device cannot be opened or read.
    public static func read(_ path: String) throws -> Outcome {
        // Only a block device or an image file is opened, and never blocking: udev runs this at boot, and
        // open(2) of a FIFO would wait for a writer.
        do {
            _ = try ImageFileKind(path: path)
        } catch let e as ImageIOError where e.errno == ENODEV {
            throw LifecycleError(.invalidInput, e.description)    // a FIFO, a directory, ...
        } catch {
            // stat failed (no such file, no permission): the open below reports it
        }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.nonBlocking, .closeOnExec])
        } catch let errno as Errno {
            let code: LifecycleError.Code = switch errno {
            case .noSuchFileOrDirectory: .notFound
            case .permissionDenied, .notPermitted: .permissionDenied
            default: .io
            }
            throw LifecycleError(code, "cannot open \(path)", errno: errno)
        }
        defer { try? fd.close() }
        var reasons: [String] = []
        var sawMagic = false
        for copy in 0..<Layout.metaCopies {
            let offset = copy == 0 ? Layout.superblockOffset : Layout.superblock1Offset
            var bytes = [UInt8](repeating: 0, count: Int(Layout.superblockSlotSize))
            let n: Int
            do {
                n = try bytes.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: Int64(offset), into: $0) }
            } catch let errno as Errno {
                throw LifecycleError(.io, "cannot read \(path) at \(offset)", errno: errno)
            }
            guard n == bytes.count else { reasons.append("copy \(copy): short read"); continue }
            do {
                let sb = try Superblock(decoding: bytes, copy: copy)
                return .pcache(SuperblockSummary(uuid: sb.uuidString, label: sb.label, version: sb.version,
                                                 segNum: sb.segmentCount, copy: copy))
            } catch let error as FormatError {
                if case .badMagic = error {} else { sawMagic = true }
                reasons.append("copy \(copy): \(error)")
            } catch {
                reasons.append("copy \(copy): \(error)")
            }
        }
        // The same words as the kernel's refusal: damage is never "not formatted" (format would destroy
        // whatever dirty data is still behind the superblock).
        return sawMagic ? .damaged("both superblock copies damaged (\(reasons.joined(separator: "; "))); "
                                   + "run 'pcachectl check \(path)'") : .foreign
    }
}

/// Who keeps a block device busy: holders in sysfs, mounts, and processes with it open.
public enum DeviceUsers {
    /// One line per user, such as "mounted on /mnt/data", "held by dm-0", "opened by pid 42 (fio)".
    /// Empty when nothing uses it (as far as this process can see).
    public static func of(blockName name: String, tree: SysfsTree = .system) -> [String] {
        var users: [String] = []
        for holder in directoryEntries(tree.blockDirectory(name: name).appending("holders")) {
            users.append("held by \(holder)")
        }
        guard let devText = try? tree.readLine(tree.blockDirectory(name: name).appending("dev")) else { return users }
        let majmin = devText.trimmingCharacters(in: " \n")
        if let mountinfo = try? tree.read(tree.proc.appending("self/mountinfo")) {
            for line in mountinfo.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count > 4, fields[2] == majmin {
                    users.append("mounted on \(unescapeMountPath(String(fields[4])))")
                }
            }
        }
        let parts = majmin.split(separator: ":").compactMap { UInt32($0) }
        guard parts.count == 2 else { return users }
        let rdev = deviceNumber(major: parts[0], minor: parts[1])
        let me = getpid()
        for pidName in directoryEntries(tree.proc) {
            guard let pid = Int32(pidName), pid != me else { continue }
            let fdDir = tree.proc.appending(pidName).appending("fd")
            for fdName in directoryEntries(fdDir) {
                var st = stat()
                let ok = fdDir.appending(fdName).withPlatformString { stat($0, &st) } == 0
                if ok, (st.st_mode & S_IFMT) == S_IFBLK, st.st_rdev == rdev {
                    let comm = (try? tree.readLine(tree.proc.appending(pidName).appending("comm"))) ?? "?"
                    users.append("opened by pid \(pid) (\(comm))")
                    break
                }
            }
        }
        return users
    }

    static func unescapeMountPath(_ text: String) -> String {
        // mountinfo escapes space, tab, newline and backslash as \ooo (three octal digits).
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
               let code = UInt8(String(decoding: bytes[(i + 1)..<min(i + 4, bytes.count)], as: UTF8.self), radix: 8) {
                out.append(code)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// glibc's makedev(): the dev_t for major:minor (a macro Swift cannot import).
func deviceNumber(major: UInt32, minor: UInt32) -> dev_t {
    let ma = UInt64(major), mi = UInt64(minor)
    return dev_t((mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xff) << 12) | ((ma & ~0xfff) << 32))
}
