// SPDX-License-Identifier: Apache-2.0
import CUdev
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A libudev context. Owns its pointer and unrefs it on deinit.
public final class UdevContext {
    let pointer: OpaquePointer

    public init() throws {
        guard let udev = udev_new() else { throw LifecycleError(.io, "libudev could not create a context") }
        pointer = udev
    }
    deinit { udev_unref(pointer) }

    /// True when systemd-udevd (or eudev) is running: its control socket exists.
    public static var isDaemonRunning: Bool {
        access("/run/udev/control", F_OK) == 0
    }

    /// Every whole block disk (DEVTYPE=disk), sorted by name.
    public func blockDisks() throws -> [UdevDevice] {
        guard let enumerate = udev_enumerate_new(pointer) else {
            throw LifecycleError(.io, "libudev could not enumerate devices")
        }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, "block")
        udev_enumerate_add_match_property(enumerate, "DEVTYPE", "disk")
        let rc = udev_enumerate_scan_devices(enumerate)
        guard rc >= 0 else { throw LifecycleError(.io, "libudev scan failed", errno: Errno(rawValue: -rc)) }
        var devices: [UdevDevice] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let e = entry {
            if let syspath = udev_list_entry_get_name(e),
               let device = udev_device_new_from_syspath(pointer, syspath) {
                devices.append(UdevDevice(owning: device))
            }
            entry = udev_list_entry_get_next(e)
        }
        return devices.sorted { $0.sysname < $1.sysname }
    }

    /// The block device behind a device node (follows symlinks such as /dev/disk/by-id/...).
    public func device(node: String) throws -> UdevDevice {
        var st = stat()
        guard stat(node, &st) == 0 else {
            throw LifecycleError(.notFound, "\(node) does not exist", errno: Errno(rawValue: errno))
        }
        guard (st.st_mode & S_IFMT) == S_IFBLK else {
            throw LifecycleError(.invalidInput, "\(node) is not a block device")
        }
        guard let device = udev_device_new_from_devnum(pointer, CChar(UInt8(ascii: "b")), st.st_rdev) else {
            throw LifecycleError(.notFound, "udev knows no device for \(node)")
        }
        return UdevDevice(owning: device)
    }

    /// The block device /sys/class/block/NAME.
    public func device(sysname: String) -> UdevDevice? {
        udev_device_new_from_subsystem_sysname(pointer, "block", sysname).map { UdevDevice(owning: $0) }
    }
}

/// A udev device. Owns its reference and unrefs it on deinit.
public final class UdevDevice {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }
    deinit { udev_device_unref(pointer) }

    public var sysname: String { udev_device_get_sysname(pointer).map { String(cString: $0) } ?? "" }
    public var syspath: String { udev_device_get_syspath(pointer).map { String(cString: $0) } ?? "" }
    public var devnode: String? { udev_device_get_devnode(pointer).map { String(cString: $0) } }
    public var devtype: String? { udev_device_get_devtype(pointer).map { String(cString: $0) } }
    /// True once udevd has processed the device (always false without udevd).
    public var isInitialized: Bool { udev_device_get_is_initialized(pointer) > 0 }

    public func property(_ key: String) -> String? {
        udev_device_get_property_value(pointer, key).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func sysattr(_ name: String) -> String? {
        udev_device_get_sysattr_value(pointer, name).map { String(cString: $0) }
            .map { $0.trimmingCharacters(in: " \n\t") }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Size in bytes from the "size" attribute (512-byte sectors).
    public var sizeBytes: UInt64 { (sysattr("size").flatMap { UInt64($0) } ?? 0) * 512 }

    /// True when the queue reports DAX (what pcache needs from a cache device).
    public var supportsDAX: Bool { sysattr("queue/dax") == "1" }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

/// Waits for a block device node to appear: through a udev monitor when udevd runs (so links and
/// permissions are in place), else by polling sysfs and /dev (devtmpfs creates the node itself).
public final class DeviceWaiter {
    private let udev: UdevContext?
    private let monitor: OpaquePointer?
    /// "udev monitor" or "polling /dev (no udevd running)": say which, for people and tests.
    public let method: String

    /// Start listening before the action that creates the device, so its event cannot be missed.
    public init() {
        if UdevContext.isDaemonRunning, let udev = try? UdevContext(),
           let monitor = udev_monitor_new_from_netlink(udev.pointer, "udev") {
            udev_monitor_filter_add_match_subsystem_devtype(monitor, "block", "disk")
            if udev_monitor_enable_receiving(monitor) >= 0 {
                self.udev = udev
                self.monitor = monitor
                method = "udev monitor"
                return
            }
            udev_monitor_unref(monitor)
        }
        udev = nil
        monitor = nil
        method = "polling /dev (no udevd running)"
    }

    deinit { if let monitor { udev_monitor_unref(monitor) } }

    /// Waits until /dev/NAME exists (and, with udevd, the device is initialized).
    ///
    /// - Throws: `LifecycleError.timeout` after `timeout` seconds.
    public func wait(forBlock name: String, devRoot: FilePath = "/dev", timeout: Double) throws {
        let node = devRoot.appending(name)
        let deadline = monotonicSeconds() + timeout
        while true {
            if isReady(name: name, node: node) { return }
            let left = deadline - monotonicSeconds()
            if left <= 0 {
                throw LifecycleError(.timeout, "\(node) did not appear within \(timeout) s (\(method))")
            }
            let sliceMs = Int32(min(left, 0.05) * 1000) + 1
            if let monitor {
                var pfd = pollfd(fd: udev_monitor_get_fd(monitor), events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, sliceMs) > 0, let device = udev_monitor_receive_device(monitor) {
                    udev_device_unref(device)
                }
            } else {
                usleep(UInt32(sliceMs) * 1000)
            }
        }
    }

    private func isReady(name: String, node: FilePath) -> Bool {
        var st = stat()
        guard node.withPlatformString({ stat($0, &st) }) == 0, (st.st_mode & S_IFMT) == S_IFBLK else { return false }
        guard let udev else { return true }
        return udev.device(sysname: name)?.isInitialized ?? false
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
