import Foundation
import Testing
@testable import KlpHarness

/// The programs scenarios start (`% spawn`, tools/hammer) are built for real
/// with gcc, as ModuleBuilder does for every kernel, and travel with the
/// modules into the guest image; the runner never reads one as a module.
@Suite("Programs built beside the modules")
struct GuestProgramTests {
    static let hammer = Repository.root.appendingPathComponent("tools/hammer").path

    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "klp-guest-program-" + UUID().uuidString
        try FileBytes.makeDirectories(path)
        return path
    }

    static func modificationTime(_ path: String) throws -> Date {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
    }

    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    @Test("getpid-hammer is linked statically, installed executable beside the .ko files, and rebuilt only when its source changes")
    func builtOnceStaticAndExecutable() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let builder = ModuleBuilder(sourceDirectory: directory, outputRoot: directory)
        try builder.buildPrograms(from: Self.hammer, into: directory)
        let installed = "\(directory)/getpid-hammer", built = "\(directory)/programs/getpid-hammer"
        #expect(ModuleBuilder.programProblem(installed) == nil)
        #expect(Self.isExecutable(installed))
        let first = try Self.modificationTime(built)

        // Unchanged sources: make finds nothing to do.
        try builder.buildPrograms(from: Self.hammer, into: directory)
        #expect(try Self.modificationTime(built) == first)

        // A changed source is compiled again.
        let source = try Self.scratch()
        defer { try? FileBytes.removeTree(source) }
        for file in ["Makefile", "getpid-hammer.c"] {
            try FileBytes.write(try KernelFile.read("\(Self.hammer)/\(file)"), to: "\(source)/\(file)")
        }
        try FileBytes.write(try KernelFile.read("\(source)/getpid-hammer.c") + "/* changed */\n", to: "\(source)/getpid-hammer.c")
        try builder.buildPrograms(from: source, into: directory)
        #expect(try Self.modificationTime(built) > first)
        #expect(ModuleBuilder.programProblem(installed) == nil)
    }

    @Test("a program cut short is deleted and built again, and the installed copy replaced")
    func damagedProgramIsRebuilt() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let lines = KernelCacheTests.Lines()
        let builder = ModuleBuilder(sourceDirectory: directory, outputRoot: directory, log: { lines.add($0) })
        try builder.buildPrograms(from: Self.hammer, into: directory)
        let built = "\(directory)/programs/getpid-hammer", installed = "\(directory)/getpid-hammer"
        let whole = try FileBytes.read(built)
        try FileBytes.write(whole.prefix(4096), to: built)
        try FileBytes.write(whole.prefix(4096), to: installed)
        #expect(ModuleBuilder.programProblem(built)?.hasPrefix("is cut short") == true)
        try builder.buildPrograms(from: Self.hammer, into: directory)
        #expect(lines.all.count == 1)
        #expect(lines.all.first?.hasPrefix("\(built) is cut short (4096 bytes") == true)
        #expect(ModuleBuilder.programProblem(installed) == nil)
        #expect(Self.isExecutable(installed))
    }

    @Test("a dynamically linked program is refused: the guest has no C library")
    func dynamicProgramIsRefused() throws {
        let directory = try Self.scratch(), source = try Self.scratch()
        defer { try? FileBytes.removeTree(directory); try? FileBytes.removeTree(source) }
        try FileBytes.write(try KernelFile.read("\(Self.hammer)/getpid-hammer.c"), to: "\(source)/getpid-hammer.c")
        let makefile = try KernelFile.read("\(Self.hammer)/Makefile")
        #expect(makefile.contains(" -static "))
        try FileBytes.write(makefile.replacing(" -static ", with: " "), to: "\(source)/Makefile")
        let builder = ModuleBuilder(sourceDirectory: directory, outputRoot: directory)
        let error = #expect(throws: HarnessError.self) { try builder.buildPrograms(from: source, into: directory) }
        #expect(error?.problem == "make built \(directory)/programs/getpid-hammer, but it is dynamically linked (it has a PT_INTERP program header)")
        #expect(!KernelFile.exists("\(directory)/getpid-hammer"))
    }

    @Test("the guest image carries the modules and the programs, executable, and nothing else of the module directory")
    func guestImageCarriesThePrograms() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        let modules = "\(directory)/modules", scenarios = "\(directory)/scenarios"
        try FileBytes.makeDirectories(modules)
        try FileBytes.makeDirectories(scenarios)
        try FileBytes.write("module", to: "\(modules)/livepatch-getpid.ko")
        try FileBytes.write("program", to: "\(modules)/getpid-hammer")
        try FileBytes.write("log", to: "\(modules)/build.log")
        try FileBytes.write("# a scenario\n", to: "\(scenarios)/01-a.scenario")
        try FileBytes.write("runner", to: "\(directory)/klp-harness")
        try FileBytes.write("busybox", to: "\(directory)/busybox")
        let contents = GuestImage.Contents(runner: "\(directory)/klp-harness", busybox: "\(directory)/busybox",
                                           modules: modules, scenarios: scenarios)
        let image = try GuestImage.build(contents, libraries: [], to: "\(directory)/guest.cpio")
        let entries = Self.cpioModes(try FileBytes.read(image.path))
        #expect(entries["klp/modules/getpid-hammer"] == 0o100755)
        #expect(entries["klp/modules/livepatch-getpid.ko"] == 0o100644)
        #expect(entries.keys.filter { $0.hasPrefix("klp/modules/") }.sorted() == ["klp/modules/getpid-hammer", "klp/modules/livepatch-getpid.ko"])
    }

    @Test("the runner's module catalog skips the programs: only .ko files are modules")
    func catalogSkipsPrograms() throws {
        let directory = try Self.scratch()
        defer { try? FileBytes.removeTree(directory) }
        try FileBytes.write("program", to: "\(directory)/getpid-hammer")
        let catalog = try ModuleCatalog.load(directory: directory, kmod: try KmodContext())
        #expect(catalog.files.isEmpty)
    }

    /// Entry name → mode of a newc archive (the kernel's
    /// Documentation/driver-api/early-userspace/buffer-format.rst).
    static func cpioModes(_ bytes: [UInt8]) -> [String: Int] {
        var modes: [String: Int] = [:]
        var offset = 0
        func hex(_ at: Int) -> Int { Int(String(decoding: bytes[at..<at + 8], as: UTF8.self), radix: 16) ?? 0 }
        func aligned(_ value: Int) -> Int { (value + 3) & ~3 }
        while offset + 110 <= bytes.count {
            let mode = hex(offset + 14), size = hex(offset + 54), nameSize = hex(offset + 94)
            let name = String(decoding: bytes[offset + 110..<offset + 110 + nameSize - 1], as: UTF8.self)
            if name == "TRAILER!!!" { break }
            modes[name] = mode
            offset = aligned(aligned(offset + 110 + nameSize) + size)
        }
        return modes
    }
}
