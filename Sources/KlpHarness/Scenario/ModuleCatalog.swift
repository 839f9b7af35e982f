/// The built test modules a run may load, checked before anything touches
/// the kernel: a missing file, a module built for another kernel or a
/// non-livepatch used as a livepatch is reported up front, with nothing loaded.
public struct ModuleCatalog: Sendable {
    public var directory: String
    /// Module name → its file's info.
    public var modules: [String: ModuleInfo]

    public var names: Set<String> { Set(modules.keys) }

    public var livepatchNames: Set<String> { Set(modules.values.filter(\.isLivepatch).map(\.name)) }

    public func path(of file: String) -> String { "\(directory)/\(file)" }

    /// Reads every `.ko` in `directory`.
    public static func load(directory: String, kmod: KmodContext) throws -> ModuleCatalog {
        guard KernelFile.exists(directory) else {
            throw HarnessError.badInput(
                "module directory \(directory) does not exist",
                remedy: "build kmod/ first (make -C kmod KDIR=/lib/modules/$(uname -r)/build) and pass its path with --modules")
        }
        let files = try KernelFile.listDirectory(directory).filter { $0.hasSuffix(".ko") }
        var modules: [String: ModuleInfo] = [:]
        for file in files {
            let info = try readInfo(path: "\(directory)/\(file)", kmod: kmod)
            modules[info.name] = info
        }
        return ModuleCatalog(directory: directory, modules: modules)
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

    private func validate(_ step: Step, in scenario: Scenario, release: String) throws {
        let place = "\(scenario.path):\(step.line)"
        switch step.action {
        case .insert(let file, _, _):
            let name = ModuleName.fromFile(file)
            guard let info = modules[name] else {
                throw HarnessError.badInput(
                    "\(place): module file \(path(of: file)) does not exist",
                    remedy: "build kmod/ for this kernel, or point --modules at the directory that holds \(file)")
            }
            guard info.release == release else {
                throw HarnessError.badInput(
                    "\(path(of: file)) was built for kernel \(info.release), but this kernel is \(release) (vermagic mismatch)",
                    remedy: "rebuild kmod/ against this kernel's headers: make -C kmod KDIR=/lib/modules/\(release)/build")
            }
        case .write(_, .patchEnabled(let patch)):
            if let info = modules[patch], !info.isLivepatch {
                throw HarnessError.badInput(
                    "\(place): the scenario drives \(patch) as a livepatch, but its modinfo has no 'livepatch: Y'",
                    remedy: "build it with MODULE_INFO(livepatch, \"Y\") and klp_enable_patch(), or fix the scenario")
            }
        case .remove, .write:
            break
        }
    }
}
