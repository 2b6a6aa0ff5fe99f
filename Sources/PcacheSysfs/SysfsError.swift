// SPDX-License-Identifier: Apache-2.0
import SystemPackage

/// What the kernel said and where: a code for programs, a sentence for people, errno and path for
/// debugging, and the kernel's own reason when the write left one in the kernel log.
public struct SysfsError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The class of failure; `pcachectl` turns it into an exit code.
    public enum Code: String, Sendable, CaseIterable {
        /// /sys/bus/pcache does not exist.
        case moduleNotLoaded = "module_not_loaded"
        /// ENOENT, ENODEV, ENOTBLK, ENXIO: the object or device named does not exist.
        case notFound = "not_found"
        /// EPERM, EACCES: writes need CAP_SYS_ADMIN.
        case permissionDenied = "permission_denied"
        /// EBUSY: in use, or dirty data forbids it; a retry may work.
        case busy
        /// EEXIST: already registered or already started.
        case exists
        /// EINVAL from the kernel, or a value we refused before writing; EBADMSG and EUCLEAN when the
        /// kernel refused damaged on-media data.
        case invalidValue = "invalid_value"
        /// ENOSPC: not enough free segments on the cache device.
        case noSpace = "no_space"
        /// EOPNOTSUPP: the device cannot be used (no DAX with struct pages).
        case unsupported
        /// Anything else: EIO and friends, short reads, unparsable kernel output.
        case io
    }

    public var code: Code
    /// The attribute read or written.
    public var path: FilePath
    /// nil when we failed, not the kernel (for example a value out of range).
    public var errno: Errno?
    /// Names the object: "cache_dev0 still has backing devices".
    public var message: String
    /// The `pcache:` kernel log lines the write caused, oldest first (prefix stripped).
    public var kernelLog: [String]

    public init(code: Code, path: FilePath, errno: Errno? = nil, message: String,
                kernelLog: [String] = []) {
        self.code = code
        self.path = path
        self.errno = errno
        self.message = message
        self.kernelLog = kernelLog
    }

    /// Classifies an errno returned by a sysfs read or write.
    public static func code(for errno: Errno) -> Code {
        switch errno {
        case .noSuchFileOrDirectory, .operationNotSupportedByDevice, .notBlockDevice, .noSuchAddressOrDevice:
            return .notFound
        case .notPermitted, .permissionDenied, .readOnlyFileSystem: return .permissionDenied
        case .resourceBusy, .resourceTemporarilyUnavailable: return .busy
        case .fileExists: return .exists
        case .invalidArgument, .badAddress, .outOfRange, .fileTooLarge, .noData, .badMessage:
            return .invalidValue
        case Errno(rawValue: 117):
            // EUCLEAN: the kernel found the on-media data damaged (replay refused the start).
            return .invalidValue
        case .noSpace: return .noSpace
        case .notSupported, .notSupportedOnSocket: return .unsupported
        default: return .io
        }
    }

    /// A refusal of a value before it reached the kernel.
    public static func invalid(_ message: String, path: FilePath) -> SysfsError {
        SysfsError(code: .invalidValue, path: path, message: message)
    }

    public var description: String {
        var text = errno.map { "\(message): \(path): \($0)" } ?? "\(message): \(path)"
        if !kernelLog.isEmpty, !message.contains(kernelLog[kernelLog.count - 1]) {
            text += " (kernel: \(kernelLog.joined(separator: "; ")))"
        }
        return text
    }
}
