import Glibc

/// Builds kmod/ out of tree against one kernel, in a per-release copy so
/// several kernels' builds never overwrite each other's .ko files, and the
/// user-space programs scenarios start (`% spawn`, docs/scenarios.md) into
/// the same directory: every way the modules reach a guest (the hermetic
/// image, the LAVA image, `--exec`'s KLP_HARNESS_MODULES) then brings the
/// programs along.
public struct ModuleBuilder: Sendable {
    public var sourceDirectory: String
    public var outputRoot: String
    /// tools/hammer: the programs' sources and their Makefile; nil builds
    /// modules only.
    public var programSourceDirectory: String?
    /// Progress for people: which damaged .ko files are rebuilt.
    public var log: @Sendable (String) -> Void

    public init(sourceDirectory: String, outputRoot: String, programSourceDirectory: String? = nil,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.sourceDirectory = sourceDirectory
        self.outputRoot = outputRoot
        self.programSourceDirectory = programSourceDirectory
        self.log = log
    }

    /// The programs built beside the modules, by file name. They are
    /// linked statically: the hermetic guest has busybox and no C library.
    /// Only `.ko` files are modules to the runner (ModuleCatalog), so these
    /// never pass for one.
    public static let programs = ["getpid-hammer"]

    /// Where the programs are compiled, inside a release's module
    /// directory; kbuild builds only the objects Kbuild names, so it
    /// leaves this folder alone.
    static let programBuildFolder = "programs"

    /// What is copied from the source directory. Not `*.mod.c`: modpost
    /// writes those for one kernel when someone runs `make -C kmod` in
    /// place, and a copy would overwrite this kernel's own, so the modules
    /// would carry the other kernel's symbol versions (the kernel refuses
    /// them: "disagrees about version of symbol module_layout").
    public static func isSource(_ name: String) -> Bool {
        (name.hasSuffix(".c") && !name.hasSuffix(".mod.c")) || name.hasSuffix(".h") || name == "Kbuild" || name == "Makefile"
    }

    /// Returns the directory holding the built .ko files.
    public func build(for kernel: ProvisionedKernel) throws -> String {
        try build(release: kernel.release, buildDirectory: kernel.buildDirectory)
    }

    /// Builds against a kernel build directory alone (`build-modules`,
    /// for scripts/kselftest-install): nothing to boot, so no image.
    /// Returns the directory holding the built .ko files.
    public func build(release: String, buildDirectory: String) throws -> String {
        let directory = "\(outputRoot)/\(release)"
        try FileBytes.makeDirectories(directory)
        try Self.copySources(from: sourceDirectory, to: directory)
        try removeDamagedModules(in: directory)
        let make = Subprocess("make", ["-C", directory, "KDIR=\(buildDirectory)"])
        let outcome = try make.run(timeout: .seconds(600))
        try? FileBytes.write(outcome.output, to: "\(directory)/build.log")
        guard outcome.status == 0 else {
            throw HarnessError.infrastructure(
                "building kmod/ against \(release) failed (full log: \(directory)/build.log):\n\(outcome.output.suffix(2000))",
                remedy: "fix the compile error above; 'make -C kmod KDIR=\(buildDirectory)' reproduces it")
        }
        if let damaged = try Self.damagedModules(in: directory).first {
            throw HarnessError.infrastructure("make built \(damaged.path), but it \(damaged.problem)",
                                              remedy: "check the disk, then run again")
        }
        if let programSourceDirectory {
            try buildPrograms(from: programSourceDirectory, into: directory)
        }
        return directory
    }

    /// Copies kmod/'s sources (`isSource`) into a build directory, changed
    /// files only; throws bad input when `source` has no Kbuild.
    static func copySources(from source: String, to directory: String) throws {
        let sources = try KernelFile.listDirectory(source).filter(Self.isSource)
        guard sources.contains("Kbuild") else {
            throw HarnessError.badInput("\(source) has no Kbuild file", remedy: "run from the repository root, or pass --kmod")
        }
        try copyChanged(sources, from: source, to: directory)
    }

    /// The release modules built in a kernel build directory carry in
    /// their vermagic: UTS_RELEASE of include/generated/utsrelease.h,
    /// which include/linux/vermagic.h uses. Not include/config/
    /// kernel.release: Debian's 6.1 headers have 6.1.192 there and
    /// 6.1.0-57-amd64 in UTS_RELEASE.
    public static func release(ofBuildDirectory directory: String) throws -> String {
        guard KernelFile.exists("\(directory)/Makefile") else {
            throw HarnessError.badInput("\(directory) is not a kernel build directory (no Makefile)",
                                        remedy: "install linux-headers-<release>, or pass the directory of a built kernel tree")
        }
        let header = "\(directory)/include/generated/utsrelease.h"
        guard let text = try? KernelFile.read(header), let release = utsRelease(text) else {
            throw HarnessError.badInput("\(header) is missing or has no UTS_RELEASE",
                                        remedy: "build or prepare the tree first (make modules_prepare)")
        }
        return release
    }

    /// `#define UTS_RELEASE "6.1.0-57-amd64"` → `6.1.0-57-amd64`.
    static func utsRelease(_ header: String) -> String? {
        for line in header.split(separator: "\n") where line.hasPrefix("#define UTS_RELEASE \"") {
            let value = line.dropFirst("#define UTS_RELEASE \"".count)
            guard let end = value.firstIndex(of: "\""), end > value.startIndex else { return nil }
            return String(value[..<end])
        }
        return nil
    }

    /// What is copied from the programs' source directory: not the
    /// program itself, which `make -C tools/hammer` (scripts/int3-soak)
    /// leaves there.
    static func isProgramSource(_ name: String) -> Bool {
        name.hasSuffix(".c") || name.hasSuffix(".h") || name == "Makefile"
    }

    /// Copies `files` from `source` to `target`, rewriting only those whose
    /// text changed: make then sees the same timestamps and its second run
    /// is a no-op (for kmod/, about 1.5 s, not 3.5).
    static func copyChanged(_ files: [String], from source: String, to target: String) throws {
        for file in files {
            let text = try KernelFile.read("\(source)/\(file)")
            if (try? KernelFile.read("\(target)/\(file)")) != text {
                try FileBytes.write(text, to: "\(target)/\(file)")
            }
        }
    }

    /// Compiles `programs` with their own Makefile in a copy of `source`
    /// under `directory`, checks each is a whole, statically linked ELF
    /// file and installs it (mode 755) beside the .ko files. As for the
    /// modules, only changed sources are rewritten, so make rebuilds a
    /// program exactly when its source changed; one cut short is deleted
    /// first, or make would keep it.
    func buildPrograms(from source: String, into directory: String) throws {
        let build = "\(directory)/\(Self.programBuildFolder)"
        try FileBytes.makeDirectories(build)
        let sources = try KernelFile.listDirectory(source).filter(Self.isProgramSource)
        guard sources.contains("Makefile") else {
            throw HarnessError.badInput("\(source) has no Makefile for \(Self.programs.joined(separator: ", "))",
                                        remedy: "run from the repository root, where tools/hammer is")
        }
        try Self.copyChanged(sources, from: source, to: build)
        for program in Self.programs {
            let path = "\(build)/\(program)"
            guard KernelFile.exists(path), let problem = Self.programProblem(path) else { continue }
            log("\(path) \(problem): it is rebuilt (deleted before make)")
            try FileBytes.remove(path)
        }
        let make = Subprocess("make", ["-C", build] + Self.programs)
        let outcome = try make.run(timeout: .seconds(120))
        try? FileBytes.write(outcome.output, to: "\(build)/build.log")
        guard outcome.status == 0 else {
            throw HarnessError.infrastructure(
                "building \(Self.programs.joined(separator: ", ")) from \(source) failed (full log: \(build)/build.log):\n\(outcome.output.suffix(2000))",
                remedy: "a static link needs the C library's archive (libc6-dev; scripts/setup installs it); 'make -C \(source)' reproduces it")
        }
        for program in Self.programs {
            let built = "\(build)/\(program)", installed = "\(directory)/\(program)"
            if let problem = Self.programProblem(built) {
                throw HarnessError.infrastructure("make built \(built), but it \(problem)",
                                                  remedy: "link it with -static (tools/hammer/Makefile does), then run again")
            }
            try Self.install(built, at: installed)
        }
    }

    /// Copies `built` to `installed`, executable, unless it is already
    /// there: written aside and renamed, so a reader never sees half of it.
    static func install(_ built: String, at installed: String) throws {
        let bytes = try FileBytes.read(built)
        if (try? FileBytes.read(installed)) == bytes, access(installed, X_OK) == 0 { return }
        let partial = "\(installed).partial"
        try FileBytes.write(bytes, to: partial)
        guard chmod(partial, 0o755) == 0 else {
            let error = KernelFileError(path: partial, operation: "chmod 755", errno: ErrnoDescription(errno))
            try? FileBytes.remove(partial)
            throw error
        }
        try FileBytes.rename(partial, to: installed)
    }

    /// Why the program at `path` cannot run in the guest, or nil.
    static func programProblem(_ path: String) -> String? {
        guard let elf = try? FileBytes.read(path) else { return "is unreadable" }
        return programProblem(elf: elf)
    }

    /// Why `elf` is not a whole, statically linked ELF64 executable, or
    /// nil. A dynamically linked one names its loader in a PT_INTERP
    /// program header (the ELF gABI, "Program Header", and elf(5)); the
    /// guest has no loader or C library for it.
    static func programProblem(elf: [UInt8]) -> String? {
        if let problem = KernelImage.elfProblem(elf) { return problem }
        func u16(_ at: Int) -> Int { elf.littleEndian(at: at, size: 2) }
        func u32(_ at: Int) -> Int { elf.littleEndian(at: at, size: 4) }
        // ET_EXEC, or ET_DYN for a static-pie.
        guard [2, 3].contains(u16(0x10)) else { return "is not an executable (ELF type \(u16(0x10)))" }
        // elfProblem has checked the program header table lies in the file.
        let programHeaders = elf.littleEndian(at: 0x20, size: 6)
        let entrySize = u16(0x36), count = u16(0x38)
        for index in 0..<count where u32(programHeaders + index * entrySize) == 3 /* PT_INTERP */ {
            return "is dynamically linked (it has a PT_INTERP program header)"
        }
        return nil
    }

    /// A .ko cut short (a full disk, a killed copy) would otherwise stay:
    /// kbuild relinks a module only when it is older than its objects, and
    /// the guest would then refuse it as bad input. Deleting it makes make
    /// link it again.
    func removeDamagedModules(in directory: String) throws {
        for damaged in try Self.damagedModules(in: directory) {
            log("\(damaged.path) \(damaged.problem): it is rebuilt (deleted before make)")
            try FileBytes.remove(damaged.path)
        }
    }

    /// The .ko files in `directory` that are not whole ELF files.
    static func damagedModules(in directory: String) throws -> [(path: String, problem: String)] {
        try KernelFile.listDirectory(directory).filter { $0.hasSuffix(".ko") }.sorted().compactMap { name in
            let path = "\(directory)/\(name)"
            let problem = (try? FileBytes.read(path)).map(KernelImage.elfProblem) ?? "is unreadable"
            return problem.map { (path, $0) }
        }
    }
}
