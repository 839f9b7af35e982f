#if canImport(Glibc)
import Glibc
#endif

/// The built test modules a run may load, checked before anything touches
/// the kernel: a missing file, a module built for another kernel or a
/// non-livepatch used as a livepatch is reported up front, with nothing loaded.
public struct ModuleCatalog: Sendable {
    public var directory: String
    /// Module name (from .modinfo, as the kernel knows it) → its file's info.
    public var modules: [String: ModuleInfo]
    /// File name in `directory` → module name. A copy renamed to `x.ko`
    /// still loads as its .modinfo name, so everything after the insert
    /// (transition waits, clean-up, the transcript) uses that name.
    public var files: [String: String]

    public init(directory: String, modules: [String: ModuleInfo], files: [String: String]) {
        self.directory = directory
        self.modules = modules
        self.files = files
    }

    public var names: Set<String> { Set(modules.keys) }

    public var livepatchNames: Set<String> { Set(modules.values.filter(\.isLivepatch).map(\.name)) }

    public func path(of file: String) -> String { "\(directory)/\(file)" }

    /// The module name `file` loads as, or nil if it is not in the directory.
    public func moduleName(ofFile file: String) -> String? { files[file] }

    /// Reads every `.ko` in `directory`.
    public static func load(directory: String, kmod: KmodContext) throws -> ModuleCatalog {
        guard KernelFile.exists(directory) else {
            throw HarnessError.badInput(
                "module directory \(directory) does not exist",
                remedy: "build kmod/ first (make -C kmod KDIR=/lib/modules/$(uname -r)/build) and pass its path with --modules")
        }
        let files = try KernelFile.listDirectory(directory).filter { $0.hasSuffix(".ko") }
        var modules: [String: ModuleInfo] = [:]
        var names: [String: String] = [:]
        for file in files {
            let info = try readInfo(path: "\(directory)/\(file)", kmod: kmod)
            modules[info.name] = info
            names[file] = info.name
        }
        return ModuleCatalog(directory: directory, modules: modules, files: names)
    }

    static func readInfo(path: String, kmod: KmodContext) throws -> ModuleInfo {
        do {
            return try kmod.info(ofModuleAt: path)
        } catch {
            throw HarnessError.badInput(
                "\(path) is not a kernel module (\(error.errno.message))",
                remedy: "rebuild it with make -C kmod, or remove it from the module directory")
        }
    }

    /// Checks that every module `scenarios` use is here, was built for
    /// `release`, and is a livepatch where a scenario drives it as one.
    public func validate(for scenarios: [Scenario], release: String) throws {
        for scenario in scenarios {
            for step in scenario.steps {
                try validate(step, in: scenario, release: release)
            }
        }
    }

    /// A scenario acts only on the test modules of this directory: it loads
    /// their files, unloads them by name, writes the parameters their
    /// modinfo declares and the `enabled` knob of those that are livepatches.
    /// Anything else (rmmod ext4, a kernel parameter, another patch) is bad
    /// input, named by file and line before anything is loaded.
    func validate(_ step: Step, in scenario: Scenario, release: String) throws {
        let place = "\(scenario.path):\(step.line)"
        let known = "test modules in \(directory): \(names.sorted().joined(separator: ", "))"
        switch step.action {
        case .insert(let file, _, _):
            guard let name = files[file], let info = modules[name] else {
                throw HarnessError.badInput(
                    "\(place): module file \(path(of: file)) does not exist",
                    remedy: "build kmod/ for this kernel, or point --modules at the directory that holds \(file)")
            }
            guard info.release == release else {
                throw HarnessError.badInput(
                    "\(path(of: file)) was built for kernel \(info.release), but this kernel is \(release) (vermagic mismatch)",
                    remedy: "rebuild kmod/ against this kernel's headers: make -C kmod KDIR=/lib/modules/\(release)/build")
            }
        case .remove(let module):
            guard modules[ModuleName.normalized(module)] != nil else {
                throw HarnessError.badInput(
                    "\(place): rmmod \(module): not a test module; a scenario may unload only the modules of its module directory",
                    remedy: known)
            }
        case .write(_, .patchEnabled(let patch), _), .waitForTransition(let patch):
            try validateLivepatch(patch, file: "/sys/kernel/livepatch/\(patch)/enabled", place: place, known: known)
        case .checkSysfsRights(let file, _), .checkSysfsValue(let file, _), .waitForValue(.patchFile(let file), _):
            try validateLivepatch(file.patch, file: "/sys/kernel/livepatch/\(file.patch)", place: place, known: known)
        case .write(_, .moduleParameter(let module, let parameter), _), .waitForValue(.moduleParameter(let module, let parameter), _):
            try validateParameter(parameter, of: module, place: place, known: known)
        case .spawn(_, let program):
            // The hammer ships beside the modules (make -C tools/hammer, then
            // copied in); nothing outside the directory can be started.
            var info = stat()
            guard stat(path(of: program), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(path(of: program), X_OK) == 0 else {
                throw HarnessError.badInput(
                    "\(place): spawn \(program): \(path(of: program)) is not an executable file",
                    remedy: "build it (make -C tools/hammer for getpid-hammer) and copy it into the module directory \(directory)")
            }
        case .grep, .sysctl, .kill:
            break
        }
    }

    private func validateLivepatch(_ patch: String, file: String, place: String, known: String) throws {
        guard let info = modules[patch] else {
            throw HarnessError.badInput(
                "\(place): \(file): \(patch) is not a test module; a scenario may switch only its own livepatches",
                remedy: known)
        }
        guard info.isLivepatch else {
            throw HarnessError.badInput(
                "\(place): the scenario drives \(patch) as a livepatch, but its modinfo has no 'livepatch: Y'",
                remedy: "build it with MODULE_INFO(livepatch, \"Y\") and klp_enable_patch(), or fix the scenario")
        }
    }

    private func validateParameter(_ parameter: String, of module: String, place: String, known: String) throws {
        guard let info = modules[module] else {
            throw HarnessError.badInput(
                "\(place): /sys/module/\(module)/parameters/\(parameter): \(module) is not a test module; a scenario may write only its own modules' parameters",
                remedy: known)
        }
        guard info.parameters.contains(parameter) else {
            throw HarnessError.badInput(
                "\(place): \(module) has no parameter '\(parameter)' in its modinfo",
                remedy: "its parameters: \(info.parameters.isEmpty ? "none" : info.parameters.joined(separator: ", "))")
        }
    }
}
