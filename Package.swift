// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "klp-harness",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "klp-harness", targets: ["klp-harness"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // libkmod, the library behind insmod/rmmod/modinfo: we load and unload
        // modules in-process instead of spawning a process per step.
        .systemLibrary(
            name: "CKmod",
            pkgConfig: "libkmod",
            providers: [.apt(["libkmod-dev"])]
        ),
        // The engine. Its folders are the layers. On the kernel under test:
        // Kmod (the libkmod binding), Kernel (kmsg, sysfs, dynamic debug,
        // livepatch verbs), Scenario (format and engine), Suite (the runner,
        // and its LAVA wrapper), Explore (the callback model and the
        // explorer). Shared: Reporting (the record, KTAP, diff, results
        // documents, the results channel's frames) and Support. On the host,
        // Host/: Provisioning (kernels, module build), GuestImage,
        // Machines (QEMU, virtme-ng), Orchestration (the boots and kernels
        // of `vm`), Lava (jobs and their logs).
        .target(
            name: "KlpHarness",
            dependencies: [
                "CKmod",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // The HTML report's stylesheet, compiled into the binary as
            // `PackageResources.HTMLReport_css`: no bundle to ship or find.
            resources: [.embedInCode("Reporting/HTMLReport.css")]
        ),
        .executableTarget(
            name: "klp-harness",
            dependencies: [
                "KlpHarness",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Also the command line's target, so options are tested as parsed.
        .testTarget(
            name: "KlpHarnessTests",
            dependencies: ["KlpHarness", "klp-harness"],
            resources: [.copy("Fixtures")]
        ),
        // Run for real, each skipping itself unless scripts/test asks for it:
        // GuestFailurePathTests inside a VM (klp-harness vm --exec),
        // HostFailurePathTests against QEMU and apt, HTMLReportBrowserTests
        // in headless Chromium, KselftestTargetTests under the kernel's runner,
        // ExploreMutationTests in a VM (a wrong model rule the explorer must
        // catch), and the others scripts/test names step by step.
        .testTarget(
            name: "KlpHarnessSystemTests",
            dependencies: ["KlpHarness"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
