// swift-tools-version: 6.0
// SPDX-License-Identifier: Apache-2.0
import PackageDescription

let package = Package(
    name: "pcache",
    products: [
        .executable(name: "pcachectl", targets: ["pcachectl"]),
        .library(name: "PcacheFormat", targets: ["PcacheFormat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        // THE on-media layout, shared with KernelShim/ through ccflags-y.
        .target(name: "CPcacheFormat", path: "Sources/CPcacheFormat"),
        .systemLibrary(name: "CKmod", path: "Sources/CKmod", pkgConfig: "libkmod",
                       providers: [.apt(["libkmod-dev"])]),
        .systemLibrary(name: "CUdev", path: "Sources/CUdev", pkgConfig: "libudev",
                       providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CBlkid", path: "Sources/CBlkid", pkgConfig: "blkid",
                       providers: [.apt(["libblkid-dev"])]),
        .target(name: "PcacheFormat", dependencies: [
            "CPcacheFormat",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .target(name: "PcacheSysfs", dependencies: [
            "CPcacheFormat",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .target(name: "PcacheLifecycle", dependencies: [
            "CKmod", "CUdev", "CBlkid", "PcacheFormat", "PcacheSysfs",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .executableTarget(name: "pcachectl", dependencies: [
            "PcacheFormat", "PcacheSysfs", "PcacheLifecycle",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pcache-corrupt", dependencies: ["PcacheFormat", "CPcacheFormat"], path: "Tests/reliability/pcache-corrupt"),
        .testTarget(name: "PcacheFormatTests", dependencies: ["PcacheFormat", "CPcacheFormat"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PcacheSysfsTests", dependencies: ["PcacheSysfs"]),
        .testTarget(name: "PcacheCtlTests", dependencies: ["pcachectl", "PcacheFormat", "PcacheSysfs", "PcacheLifecycle"]),
    ]
)
