import Foundation
import Testing
@testable import KlpHarness

@Suite("--kernel-tree: the .config check against kmod/klp-harness.config, and --bisect's exit codes")
struct KernelConfigTests {
    static let fragmentPath = Repository.root.appendingPathComponent("kmod/klp-harness.config").path

    static func fragment() throws -> ConfigFragment {
        ConfigFragment(parsing: try String(contentsOfFile: fragmentPath, encoding: .utf8))
    }

    /// Lines as Kconfig writes them (from Debian's 6.12 .config), with the
    /// livepatch options turned off and the 8250 driver as a module, as an
    /// x86_64 defconfig without the fragment has them.
    static let lacking = """
        CONFIG_64BIT=y
        # CONFIG_LIVEPATCH is not set
        CONFIG_HAVE_LIVEPATCH=y
        CONFIG_FTRACE=y
        CONFIG_FUNCTION_TRACER=y
        CONFIG_DYNAMIC_FTRACE=y
        CONFIG_KALLSYMS=y
        CONFIG_MODULES=y
        CONFIG_MODULE_UNLOAD=y
        CONFIG_MODULE_SIG_FORCE=y
        CONFIG_SYSFS=y
        CONFIG_PRINTK=y
        CONFIG_PROC_FS=y
        CONFIG_PROC_SYSCTL=y
        CONFIG_DEBUG_FS=y
        CONFIG_BLK_DEV_INITRD=y
        CONFIG_BINFMT_ELF=y
        CONFIG_DEVTMPFS=y
        CONFIG_TTY=y
        CONFIG_SERIAL_8250=m
        CONFIG_SERIAL_8250_RUNTIME_UARTS=4
        CONFIG_LOCALVERSION=""

        """

    @Test func parsesSetValuesAndSkipsNotSetLines() {
        let config = KernelConfig(parsing: Self.lacking)
        #expect(config["CONFIG_SERIAL_8250"] == "m")
        #expect(config["CONFIG_SERIAL_8250_RUNTIME_UARTS"] == "4")
        #expect(config["CONFIG_LOCALVERSION"] == "\"\"")
        #expect(config["CONFIG_LIVEPATCH"] == nil)
        #expect(config["CONFIG_HAVE_LIVEPATCH"] == "y")
    }

    @Test func theShippedFragmentParses() throws {
        let fragment = try Self.fragment()
        let required = fragment.requirements.filter { !$0.recommended }
        #expect(required.contains(.init(option: "CONFIG_LIVEPATCH", value: "y", recommended: false)))
        #expect(required.contains(.init(option: "CONFIG_SERIAL_8250", value: "y", recommended: false)))
        #expect(required.contains(.init(option: "CONFIG_MODULE_SIG_FORCE", value: nil, recommended: false)))
        #expect(fragment.requirements.filter(\.recommended).map(\.option) == ["CONFIG_PVH"])
        // Every line of the file that names an option became a requirement.
        let text = try String(contentsOfFile: Self.fragmentPath, encoding: .utf8)
        let optionLines = text.split(separator: "\n").filter { $0.hasPrefix("CONFIG_") || $0.hasSuffix(" is not set") }
        #expect(fragment.requirements.count == optionLines.count)
    }

    @Test func namesEachOptionThatIsMissingOrWrong() throws {
        let shortfalls = try Self.fragment().shortfalls(of: KernelConfig(parsing: Self.lacking))
        #expect(shortfalls.map(\.description) == [
            "CONFIG_LIVEPATCH (not set, needs y)",
            "CONFIG_DYNAMIC_DEBUG (not set, needs y)",
            "CONFIG_KALLSYMS_ALL (not set, needs y)",
            "CONFIG_MODULE_SIG_FORCE=y (must not be set)",
            "CONFIG_SERIAL_8250=m (needs y)",
            "CONFIG_SERIAL_8250_CONSOLE (not set, needs y)",
            "CONFIG_PVH (not set, needs y)",
        ])
        #expect(shortfalls.last?.requirement.recommended == true)
    }

    /// Debian's own kernels run the suite, so their real .config must pass.
    @Test func debiansKernelConfigMeetsTheFragment() throws {
        let configs = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/src")) ?? [])
            .filter { $0.hasPrefix("linux-headers-") && !$0.hasSuffix("-common") }
            .map { "/usr/src/\($0)/.config" }
            .filter { FileManager.default.fileExists(atPath: $0) }
        try #require(!configs.isEmpty, "no Debian kernel headers installed (scripts/test installs them)")
        for path in configs {
            let config = KernelConfig(parsing: try String(contentsOfFile: path, encoding: .utf8))
            #expect(try Self.fragment().shortfalls(of: config) == [], "\(path)")
        }
    }

    @Test func aLackingTreeIsSkippedWithTheMergeConfigLine() throws {
        let error = #expect(throws: HarnessError.self) {
            try KernelTree.checkConfig(KernelConfig(parsing: Self.lacking), of: "/home/dev/linux", fragment: Self.fragmentPath)
        }
        #expect(error?.status == .skipped)
        #expect(error?.problem.hasPrefix("kernel tree /home/dev/linux lacks CONFIG_LIVEPATCH (not set, needs y), CONFIG_DYNAMIC_DEBUG") == true)
        // Recommended options are not reasons to skip.
        #expect(error?.problem.contains("CONFIG_PVH") == false)
        #expect(error?.remedy == "fix: cd /home/dev/linux && scripts/kconfig/merge_config.sh -m .config \(Self.fragmentPath) && make olddefconfig, then rebuild")
    }

    @Test func aTreeWithoutOnlyTheRecommendedOptionPasses() throws {
        var lines = try Self.fragment().requirements.compactMap { requirement in
            requirement.value.map { "\(requirement.option)=\($0)" }
        }
        lines.removeAll { $0 == "CONFIG_PVH=y" }
        lines.append("# CONFIG_MODULE_SIG_FORCE is not set")
        try KernelTree.checkConfig(KernelConfig(parsing: lines.joined(separator: "\n")), of: "/t", fragment: Self.fragmentPath)
    }

    @Test(arguments: [
        (KlpHarness.ExitStatus.passed, Int32(0)), (.failed, 1),
        (.badInput, 125), (.infrastructure, 125), (.skipped, 125),
        (.interruptedByHangup, 129), (.interruptedByInt, 130), (.interruptedByBrokenPipe, 141), (.interruptedByTerm, 143),
    ])
    func bisectCodes(status: KlpHarness.ExitStatus, code: Int32) {
        #expect(status.bisectCode == code)
    }
}
