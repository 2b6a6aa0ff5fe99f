// SPDX-License-Identifier: Apache-2.0
import SystemPackage

/// A failure outside sysfs: loading the module, finding or identifying a device, waiting for a node,
/// reading the configuration, or a device that is in use.
public struct LifecycleError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// The module file cannot be found (not installed, no --module-path).
        case moduleMissing = "module_missing"
        /// A device or object named does not exist.
        case notFound = "not_found"
        /// Something holds the device (mount, holder, open file); retry after releasing it.
        case busy
        /// Not root / no CAP_SYS_ADMIN.
        case permissionDenied = "permission_denied"
        /// The configuration or an argument is wrong.
        case invalidInput = "invalid_input"
        /// The device carries something other than what was expected (no or a damaged superblock).
        case badData = "bad_data"
        /// /dev/pcacheN did not appear in time.
        case timeout
        /// Anything else, with errno.
        case io
    }
    public var code: Code
    public var message: String
    public var errno: Errno?

    public init(_ code: Code, _ message: String, errno: Errno? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String { errno.map { "\(message): \($0)" } ?? message }
}
