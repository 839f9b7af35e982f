import Foundation
import Testing
@testable import KlpHarness

/// A scenario may act only on the test modules of its module directory, and
/// a module is known by its own (.modinfo) name, not its file name.
@Suite("ModuleCatalog: what a scenario may touch")
struct ModuleCatalogTests {
    static let release = "6.1.0-56-amd64"

    static func info(_ name: String, livepatch: Bool = false, parameters: [String] = []) -> ModuleInfo {
        ModuleInfo(name: name, vermagic: "\(release) SMP preempt mod_unload modversions ", isLivepatch: livepatch, parameters: parameters)
    }

    /// kmod/ as the catalog sees it, plus `x.ko`, a renamed copy of the demo.
    let catalog = ModuleCatalog(
        directory: "kmod",
        modules: [
            "livepatch_callbacks_demo": info("livepatch_callbacks_demo", livepatch: true, parameters: ["pre_patch_ret"]),
            "livepatch_callbacks_busymod": info("livepatch_callbacks_busymod", parameters: ["block_transition"]),
            "livepatch_callbacks_mod": info("livepatch_callbacks_mod"),
        ],
        files: [
            "livepatch-callbacks-demo.ko": "livepatch_callbacks_demo",
            "livepatch-callbacks-busymod.ko": "livepatch_callbacks_busymod",
            "livepatch-callbacks-mod.ko": "livepatch_callbacks_mod",
            "x.ko": "livepatch_callbacks_demo",
        ])

    func validate(_ text: String) throws {
        let scenario = try ScenarioParser.parse(text, path: "scenarios/01-case.scenario")
        try catalog.validate(for: [scenario], release: Self.release)
    }

    func problem(_ text: String) -> HarnessError? {
        #expect(throws: HarnessError.self) { try validate(text) }
    }

    @Test func theShippedActionsPass() throws {
        try validate("""
            % insmod livepatch-callbacks-busymod.ko block_transition=Y
            % insmod livepatch-callbacks-demo.ko
            % echo -19 > /sys/module/livepatch_callbacks_demo/parameters/pre_patch_ret
            % echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled
            % echo N > /sys/module/livepatch_callbacks_busymod/parameters/block_transition
            % rmmod livepatch_callbacks_demo
            % rmmod livepatch-callbacks-busymod
            """)
    }

    @Test func rmmodOfAModuleOutsideTheCatalogIsBadInput() {
        let error = problem("% insmod livepatch-callbacks-mod.ko\n% rmmod ext4\n")
        #expect(error?.status == .badInput)
        #expect(error?.problem == "scenarios/01-case.scenario:2: rmmod ext4: not a test module; a scenario may unload only the modules of its module directory")
        #expect(error?.remedy == "test modules in kmod: livepatch_callbacks_busymod, livepatch_callbacks_demo, livepatch_callbacks_mod")
    }

    @Test func aKernelParameterIsBadInput() {
        let error = problem("% echo 1 > /sys/module/kernel/parameters/panic\n")
        #expect(error?.status == .badInput)
        #expect(error?.problem.hasPrefix("scenarios/01-case.scenario:1: /sys/module/kernel/parameters/panic: kernel is not a test module") == true, "\(String(describing: error))")
    }

    @Test func aParameterTheModuleDoesNotDeclareIsBadInput() {
        let error = problem("% echo 1 > /sys/module/livepatch_callbacks_demo/parameters/replace\n")
        #expect(error?.problem == "scenarios/01-case.scenario:1: livepatch_callbacks_demo has no parameter 'replace' in its modinfo")
        #expect(error?.remedy == "its parameters: pre_patch_ret")
    }

    @Test func anotherPatchsEnabledKnobIsBadInput() {
        let error = problem("% echo 0 > /sys/kernel/livepatch/kpatch_cve_fix/enabled\n")
        #expect(error?.status == .badInput)
        #expect(error?.problem == "scenarios/01-case.scenario:1: /sys/kernel/livepatch/kpatch_cve_fix/enabled: kpatch_cve_fix is not a test module; a scenario may switch only its own livepatches")
    }

    @Test func aNonLivepatchDrivenAsOneIsStillNamed() {
        let error = problem("% echo 0 > /sys/kernel/livepatch/livepatch_callbacks_mod/enabled\n")
        #expect(error?.problem == "scenarios/01-case.scenario:1: the scenario drives livepatch_callbacks_mod as a livepatch, but its modinfo has no 'livepatch: Y'")
    }

    @Test func aRenamedFileIsKnownByItsModinfoName() throws {
        try validate("% insmod x.ko\n% rmmod livepatch_callbacks_demo\n")
        #expect(catalog.moduleName(ofFile: "x.ko") == "livepatch_callbacks_demo")
        #expect(catalog.livepatchNames.contains(catalog.moduleName(ofFile: "x.ko") ?? ""))
        #expect(catalog.moduleName(ofFile: "y.ko") == nil)
        let error = problem("% insmod y.ko\n")
        #expect(error?.problem == "scenarios/01-case.scenario:1: module file kmod/y.ko does not exist")
    }

    /// The real kmod/ build, if there is one: a renamed copy reads as the
    /// module's own name, which libkmod's name for a path (the file name)
    /// would not give.
    @Test func libkmodReadsTheNameFromModinfo() throws {
        let build = Repository.root.appendingPathComponent(".build/kmod").path
        guard let release = try? FileManager.default.contentsOfDirectory(atPath: build).sorted().first(where: {
            FileManager.default.fileExists(atPath: "\(build)/\($0)/livepatch-callbacks-demo.ko")
        }) else { return }
        let scratch = NSTemporaryDirectory() + "klp-catalog-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.copyItem(atPath: "\(build)/\(release)/livepatch-callbacks-demo.ko", toPath: "\(scratch)/x.ko")
        try FileManager.default.copyItem(atPath: "\(build)/\(release)/livepatch-callbacks-busymod.ko", toPath: "\(scratch)/livepatch-callbacks-busymod.ko")
        let catalog = try ModuleCatalog.load(directory: scratch, kmod: KmodContext())
        #expect(catalog.files == ["x.ko": "livepatch_callbacks_demo", "livepatch-callbacks-busymod.ko": "livepatch_callbacks_busymod"])
        #expect(catalog.modules["livepatch_callbacks_demo"]?.isLivepatch == true)
        #expect(catalog.modules["livepatch_callbacks_demo"]?.parameters == ["pre_patch_fail_object", "pre_patch_ret"])
        #expect(catalog.modules["livepatch_callbacks_busymod"]?.parameters == ["block_patched", "block_transition"])
    }

    // MARK: Issue 16's actions

    @Test func checksOfAPatchThatIsNotATestLivepatchAreBadInput() {
        let outside = problem("% insmod livepatch-callbacks-demo.ko\n% check_sysfs_value other_patch enabled 1\n")
        #expect(outside?.status == .badInput)
        #expect(outside?.problem == "scenarios/01-case.scenario:2: /sys/kernel/livepatch/other_patch: other_patch is not a test module; a scenario may switch only its own livepatches")
        let notLivepatch = problem("% insmod livepatch-callbacks-mod.ko\n% check_sysfs_rights livepatch_callbacks_mod drwxr-xr-x\n")
        #expect(notLivepatch?.problem == "scenarios/01-case.scenario:2: the scenario drives livepatch_callbacks_mod as a livepatch, but its modinfo has no 'livepatch: Y'")
        let wait = problem("% insmod livepatch-callbacks-mod.ko\n% wait_for_value /sys/kernel/livepatch/livepatch_callbacks_mod/enabled 1\n")
        #expect(wait?.problem.hasPrefix("scenarios/01-case.scenario:2: the scenario drives livepatch_callbacks_mod as a livepatch") == true)
        let parameter = problem("% insmod livepatch-callbacks-demo.ko\n% wait_for_value /sys/module/livepatch_callbacks_demo/parameters/npids 0\n")
        #expect(parameter?.problem == "scenarios/01-case.scenario:2: livepatch_callbacks_demo has no parameter 'npids' in its modinfo")
    }

    @Test func spawnOfAProgramNotInTheModuleDirectoryIsBadInput() throws {
        let error = problem("% spawn 2 getpid-hammer\n% kill getpid-hammer\n")
        #expect(error?.status == .badInput)
        #expect(error?.problem == "scenarios/01-case.scenario:1: spawn getpid-hammer: kmod/getpid-hammer is not an executable file")
        #expect(error?.remedy?.contains("make -C tools/hammer") == true)
    }

    @Test func theNewActionsOnTestModulesPass() throws {
        try validate("""
            % insmod livepatch-callbacks-demo.ko
            % check_sysfs_rights livepatch_callbacks_demo drwxr-xr-x
            % check_sysfs_rights livepatch_callbacks_demo enabled -rw-r--r--
            % check_sysfs_value livepatch_callbacks_demo enabled 1
            % wait_for_value /sys/module/livepatch_callbacks_demo/parameters/pre_patch_ret 0
            % grep 'live patched' /proc/cmdline
            % sysctl kernel.ftrace_enabled=1
            """)
    }
}
