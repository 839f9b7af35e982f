import Foundation
import Testing
@testable import KlpHarness

/// The kernel image formats and the caches that check themselves, on small
/// files: the real boot header of Debian's 6.1.0-57-amd64 bzImage with a
/// tiny ELF compressed by each tool as the kernel build does
/// (Fixtures/bzimage/README.md says how each was made).
@Suite("Kernel images and cached artifacts")
struct KernelCacheTests {
    static let fixtures = Repository.root.appendingPathComponent("Tests/KlpHarnessTests/Fixtures/bzimage").path

    static func bytes(_ name: String) throws -> [UInt8] {
        try FileBytes.read("\(fixtures)/\(name)")
    }

    /// The real set-up sectors followed by `payload`, with payload_offset,
    /// payload_length and syssize set for it as the kernel's build tool
    /// (arch/x86/boot/tools/build.c) would.
    static func bzImage(payload: [UInt8], trailing: Int = 0) throws -> [UInt8] {
        var image = try bytes("setup-6.1.0-57-amd64.bin")
        func put(_ value: Int, at offset: Int) {
            for index in 0..<4 { image[offset + index] = UInt8((value >> (8 * index)) & 0xFF) }
        }
        put(0, at: 0x248)
        put(payload.count, at: 0x24C)
        put((payload.count + 15) / 16, at: 0x1F4)
        return image + payload + [UInt8](repeating: 0, count: (16 - payload.count % 16) % 16 + trailing)
    }

    /// A fresh directory, removed by the caller.
    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "klp-kernel-cache-" + UUID().uuidString
        try FileBytes.makeDirectories(path)
        return path
    }

    @Test("every compression the boot protocol allows is extracted from a real header", arguments: KernelImage.Compression.allCases)
    func extractsEachCompression(compression: KernelImage.Compression) throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let payload = try Self.bytes("tiny-pvh.elf.\(compression.rawValue)")
        #expect(KernelImage.Compression(magic: payload[...]) == compression)
        try FileBytes.write(try Self.bzImage(payload: payload), to: "\(directory)/bzImage")
        let extraction = try KernelImage.extractVmlinux(from: "\(directory)/bzImage", to: "\(directory)/vmlinux")
        #expect(extraction == .extracted)
        #expect(try FileBytes.read("\(directory)/vmlinux") == Self.bytes("tiny-pvh.elf"))
    }

    @Test("a payload in no known format is impossible, not an error: the bzImage boots")
    func unknownCompressionIsImpossible() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        try FileBytes.write(try Self.bzImage(payload: Array("not compressed at all, just text".utf8)), to: "\(directory)/bzImage")
        let extraction = try KernelImage.extractVmlinux(from: "\(directory)/bzImage", to: "\(directory)/vmlinux")
        guard case .impossible(let reason) = extraction else {
            Issue.record("expected impossible, got \(extraction)")
            return
        }
        #expect(reason.contains("none of gzip, bzip2, lzma, xz, lzo, lz4, zstd"))
        #expect(!KernelFile.exists("\(directory)/vmlinux"))
    }

    @Test("a bzImage shorter than its header says is damaged; a longer one (a signature appended) is not")
    func bzImageSize() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let image = try Self.bzImage(payload: try Self.bytes("tiny-pvh.elf.xz"))
        try FileBytes.write(image, to: "\(directory)/whole")
        try FileBytes.write(image + [UInt8](repeating: 0x55, count: 1472), to: "\(directory)/signed")
        try FileBytes.write(image.dropLast(100), to: "\(directory)/cut")
        #expect(KernelImage.bzImageProblem("\(directory)/whole") == nil)
        #expect(KernelImage.bzImageProblem("\(directory)/signed") == nil)
        #expect(KernelImage.bzImageProblem("\(directory)/cut")?.contains("its boot header says at least") == true)
        #expect(KernelImage.bzImageProblem("\(directory)/missing") == "missing")
    }

    @Test("a vmlinux must be a whole ELF file with the PVH note")
    func vmlinuxChecks() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let good = try Self.bytes("tiny-pvh.elf")
        try FileBytes.write(good, to: "\(directory)/good")
        try FileBytes.write(good.dropLast(1), to: "\(directory)/cut")
        try FileBytes.write(good.prefix(100), to: "\(directory)/headers-only")
        try FileBytes.write(try Self.bytes("tiny-nopvh.elf"), to: "\(directory)/nopvh")
        #expect(KernelImage.vmlinuxProblem("\(directory)/good") == nil)
        #expect(KernelImage.vmlinuxProblem("\(directory)/cut")?.hasPrefix("is cut short") == true)
        #expect(KernelImage.vmlinuxProblem("\(directory)/headers-only")?.hasPrefix("is cut short") == true)
        #expect(KernelImage.vmlinuxProblem("\(directory)/nopvh") == "has no PVH entry note (CONFIG_PVH)")
        #expect(KernelImage.vmlinuxProblem("\(directory)/missing") == "is missing or unreadable")
    }

    /// Collects the provisioner's lines.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ line: String) { lock.withLock { lines.append(line) } }
        var all: [String] { lock.withLock { lines } }
        func take() -> [String] { lock.withLock { defer { lines = [] }; return lines } }
    }

    @Test("a cached vmlinux cut short is extracted again once, with a line saying so")
    func damagedVmlinuxIsRebuilt() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let lines = Lines()
        let provisioner = KernelProvisioner(cacheDirectory: directory, apt: Apt(log: { lines.add($0) }))
        try FileBytes.write(try Self.bzImage(payload: try Self.bytes("tiny-pvh.elf.lz4")), to: "\(directory)/bzImage")
        let vmlinux = "\(directory)/vmlinux"
        #expect(try provisioner.vmlinux(from: "\(directory)/bzImage", in: directory) == vmlinux)
        #expect(lines.take().first?.hasPrefix("extracting the ELF kernel") == true)
        #expect(try provisioner.vmlinux(from: "\(directory)/bzImage", in: directory) == vmlinux)
        #expect(lines.take() == [], "a whole cached vmlinux is used as it is")
        let good = try FileBytes.read(vmlinux)
        try FileBytes.write(good.dropLast(40), to: vmlinux)
        #expect(try provisioner.vmlinux(from: "\(directory)/bzImage", in: directory) == vmlinux)
        #expect(lines.take() == ["the cached \(vmlinux) is cut short (448 bytes; its headers say at least 488): it is rebuilt (extracted again from \(directory)/bzImage)"])
        #expect(try FileBytes.read(vmlinux) == good)
    }

    @Test("where no vmlinux can be extracted the reason is recorded and not retried")
    func impossibleExtractionIsRemembered() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let lines = Lines()
        let provisioner = KernelProvisioner(cacheDirectory: directory, apt: Apt(log: { lines.add($0) }))
        // An ELF kernel without the PVH note cannot boot through -kernel vmlinux.
        let nopvh = try Self.bytes("tiny-nopvh.elf")
        let payload = try Subprocess("xz", ["--check=crc32", "-c"]).run(timeout: .seconds(30), stdinPath: "\(Self.fixtures)/tiny-nopvh.elf", stdoutPath: "\(directory)/nopvh.xz")
        #expect(payload.status == 0)
        try FileBytes.write(try Self.bzImage(payload: try FileBytes.read("\(directory)/nopvh.xz") + [UInt8(nopvh.count & 0xFF), UInt8(nopvh.count >> 8), 0, 0]), to: "\(directory)/bzImage")
        #expect(try provisioner.vmlinux(from: "\(directory)/bzImage", in: directory) == nil)
        #expect(lines.take().last?.contains("has no PVH entry note (CONFIG_PVH) (recorded in \(directory)/vmlinux.unavailable, not retried)") == true)
        #expect(try provisioner.vmlinux(from: "\(directory)/bzImage", in: directory) == nil)
        let second = lines.take()
        #expect(second.count == 1)
        #expect(second.first?.hasPrefix("booting the bzImage of \(directory)/bzImage: no ELF kernel can be extracted from it") == true)
    }

    @Test("the unpacked tree's manifest notices a file missing or of another size")
    func manifest() throws {
        let root = try Self.scratch()
        defer { try? FileBytes.removeTree(root) }
        try FileBytes.makeDirectories("\(root)/boot")
        try FileBytes.write("kernel", to: "\(root)/boot/vmlinuz-x")
        try FileBytes.write("module", to: "\(root)/a.ko")
        let recorded = KernelProvisioner.manifest(release: "x", root: root)
        #expect(recorded == "x\n/a.ko 6\n/boot/vmlinuz-x 6\n")
        #expect(KernelProvisioner.manifestProblem(recorded: recorded, root: root) == nil)
        try FileBytes.write("kern", to: "\(root)/boot/vmlinuz-x")
        #expect(KernelProvisioner.manifestProblem(recorded: recorded, root: root) == "/boot/vmlinuz-x has 4 bytes, 6 when unpacked")
        try FileBytes.remove("\(root)/a.ko")
        #expect(KernelProvisioner.manifestProblem(recorded: recorded, root: root) == "/a.ko is missing")
    }

    @Test("a .ko cut short is found (and deleted before make); a whole one is kept")
    func damagedModules() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let good = try Self.bytes("tiny-pvh.elf")
        try FileBytes.write(good, to: "\(directory)/whole.ko")
        try FileBytes.write(good.dropLast(8), to: "\(directory)/cut.ko")
        try FileBytes.write("not a module", to: "\(directory)/text.ko")
        try FileBytes.write("not a module either, but not a .ko", to: "\(directory)/build.log")
        let damaged = try ModuleBuilder.damagedModules(in: directory)
        #expect(damaged.map(\.path) == ["\(directory)/cut.ko", "\(directory)/text.ko"])
        let lines = Lines()
        try ModuleBuilder(sourceDirectory: directory, outputRoot: directory, log: { lines.add($0) }).removeDamagedModules(in: directory)
        #expect(lines.all.count == 2)
        #expect(lines.all.first == "\(directory)/cut.ko is cut short (480 bytes; its headers say at least 488): it is rebuilt (deleted before make)")
        #expect(try KernelFile.listDirectory(directory).sorted() == ["build.log", "whole.ko"])
    }

    @Test("a kernel that never booted is its own column, with its reason under the table")
    func matrixWithAnInfrastructureRow() {
        var passed = ResultsDocument(kernel: "6.1.0-57-amd64", planned: 1)
        passed.scenarios = [ResultsDocument.Entry(number: 1, name: "atomic-replace", status: .pass, durationSeconds: 1.5,
                                                  transitionSeconds: 0, transitions: 0, diagnostics: [], logExcerpt: [], artifacts: [:])]
        var failed = ResultsDocument(kernel: "6.1.0-57-cloud-amd64", planned: 1)
        failed.infrastructureError = "not booted: building kmod/ against 6.1.0-57-cloud-amd64 failed (full log: x)\nmake: *** error"
        failed.addUnreported(["atomic-replace"], status: .infrastructure, reason: "not booted")
        let lines = MatrixSummary(documents: [passed, failed], footer: ("VM", ["passed (20.0 s)", "infrastructure (0.000 s)"])).render()
        #expect(lines == [
            "# scenario        6.1.0-57-amd64            6.1.0-57-cloud-amd64",
            "# atomic-replace  pass 1.50 s               infrastructure 0.00 s",
            "# VM              passed (20.0 s)           infrastructure (0.000 s)",
            "# 6.1.0-57-cloud-amd64: infrastructure: not booted: building kmod/ against 6.1.0-57-cloud-amd64 failed (full log: x)",
            "matrix: 1 passed, 1 failed",
        ])
    }
}
