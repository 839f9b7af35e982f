/// Builds kmod/ out of tree against one kernel, in a per-release copy so
/// several kernels' builds never overwrite each other's .ko files.
public struct ModuleBuilder: Sendable {
    public var sourceDirectory: String
    public var outputRoot: String
    /// Progress for people: which damaged .ko files are rebuilt.
    public var log: @Sendable (String) -> Void

    public init(sourceDirectory: String, outputRoot: String, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.sourceDirectory = sourceDirectory
        self.outputRoot = outputRoot
        self.log = log
    }

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
        let directory = "\(outputRoot)/\(kernel.release)"
        try FileBytes.makeDirectories(directory)
        let sources = try KernelFile.listDirectory(sourceDirectory).filter(Self.isSource)
        guard sources.contains("Kbuild") else {
            throw HarnessError.badInput("\(sourceDirectory) has no Kbuild file", remedy: "run from the repository root, or pass --kmod")
        }
        // Only what changed is rewritten: kbuild then sees the same
        // timestamps and its second run is a no-op (about 1.5 s, not 3.5).
        for file in sources {
            let text = try KernelFile.read("\(sourceDirectory)/\(file)")
            if (try? KernelFile.read("\(directory)/\(file)")) != text {
                try FileBytes.write(text, to: "\(directory)/\(file)")
            }
        }
        try removeDamagedModules(in: directory)
        let make = Subprocess("make", ["-C", directory, "KDIR=\(kernel.buildDirectory)"])
        let outcome = try make.run(timeout: .seconds(600))
        try? FileBytes.write(outcome.output, to: "\(directory)/build.log")
        guard outcome.status == 0 else {
            throw HarnessError.infrastructure(
                "building kmod/ against \(kernel.release) failed (full log: \(directory)/build.log):\n\(outcome.output.suffix(2000))",
                remedy: "fix the compile error above; 'make -C kmod KDIR=\(kernel.buildDirectory)' reproduces it")
        }
        if let damaged = try Self.damagedModules(in: directory).first {
            throw HarnessError.infrastructure("make built \(damaged.path), but it \(damaged.problem)",
                                              remedy: "check the disk, then run again")
        }
        return directory
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
