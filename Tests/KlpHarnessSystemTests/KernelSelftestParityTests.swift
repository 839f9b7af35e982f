import Foundation
import KlpHarness
import XCTest

/// Parity with the kernel's own livepatch selftests: every `start_test` of
/// every tools/testing/selftests/livepatch/test-*.sh must have a scenario of
/// ours citing it in its header, whose expected transcript equals the one the
/// kernel's `check_result` expects, up to the differences TranscriptParity
/// lists (design.md's module names, load lines, functions.sh's own log lines).
///
/// Needs the unpacked selftests (scripts/kernel-selftests 6.1 6.12):
///
///     KLP_HARNESS_KERNEL_SELFTESTS=$PWD/.cache/linux-source/6.12/tools/testing/selftests/livepatch \
///         .build/debug/klp-harnessPackageTests.xctest KlpHarnessSystemTests.KernelSelftestParityTests
///
/// KLP_HARNESS_KERNEL_RELEASE (default: the X.Y in that path, as X.Y.0)
/// picks the transcript variant, KLP_HARNESS_SCENARIOS (default: scenarios/)
/// the scenario folder. The fixture tests below run everywhere.
final class KernelSelftestParityTests: XCTestCase {

    // MARK: - Against the kernel's scripts

    func testEveryKernelSelftestHasAScenarioAtParity() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = environment["KLP_HARNESS_KERNEL_SELFTESTS"] else {
            throw XCTSkip("set KLP_HARNESS_KERNEL_SELFTESTS to an unpacked tools/testing/selftests/livepatch (scripts/kernel-selftests)")
        }
        guard let release = environment["KLP_HARNESS_KERNEL_RELEASE"] ?? Self.release(fromPath: directory) else {
            XCTFail("cannot tell the kernel version from \(directory): set KLP_HARNESS_KERNEL_RELEASE, e.g. 6.1.0-57-amd64")
            return
        }
        let scenarioDirectory = environment["KLP_HARNESS_SCENARIOS"] ?? "\(HarnessProcess.repository)/scenarios"

        let scripts = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("test-") && $0.hasSuffix(".sh") }.sorted()
        XCTAssertFalse(scripts.isEmpty, "no test-*.sh in \(directory)")
        var tests: [KernelSelftest] = []
        for script in scripts {
            let text = try String(contentsOfFile: "\(directory)/\(script)", encoding: .utf8)
            let parsed = try KernelSelftestScript.parse(text, script: script)
            // Every start_test must have yielded a test: a form we do not
            // understand must not shrink the comparison silently.
            let started = text.components(separatedBy: "\n").filter { $0.hasPrefix("start_test \"") }.count
            XCTAssertEqual(parsed.count, started, "\(script): \(started) start_test, \(parsed.count) check_result read")
            tests += parsed
        }
        let scenarios = try CitedScenario.load(directory: scenarioDirectory)
        let (rows, missing, extra) = ParityCheck.compare(tests: tests, scenarios: scenarios, release: release)
        print(ParityCheck.table(rows, missing: missing, extra: extra, release: release))
        print("kernel tests: \(tests.count) in \(scripts.count) scripts (\(directory))")

        XCTAssertEqual(missing, [], "kernel selftests with no scenario citing them")
        for row in rows where row.failed {
            XCTFail("\(row.kernelTest) vs \(row.scenario): not at parity (the diff is printed above)")
        }
    }

    /// "…/linux-source-6.12/…" or "…/linux-source/6.1/…" → "6.12.0" / "6.1.0".
    static func release(fromPath path: String) -> String? {
        for component in path.split(separator: "/").reversed() {
            let version = component.hasPrefix("linux-source-") ? component.dropFirst("linux-source-".count) : component
            let parts = version.split(separator: ".")
            if parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
                return "\(version).0"
            }
        }
        return nil
    }

    // MARK: - The comparison itself, on small fixtures of the scripts' forms

    /// A 6.12-style script: variables reassigned between tests, `${VAR}_init`,
    /// `\"`, a failing load and functions.sh's own ftrace lines.
    static let script612 = #"""
    MOD_LIVEPATCH=test_klp_livepatch
    MOD_TARGET=test_klp_callbacks_mod

    start_test "first"
    load_mod $MOD_TARGET
    check_result "% insmod test_modules/$MOD_TARGET.ko
    $MOD_TARGET: ${MOD_TARGET}_init
    % insmod test_modules/$MOD_LIVEPATCH.ko
    insmod: ERROR: could not insert module test_modules/$MOD_LIVEPATCH.ko: Device or resource busy
    echo \"quoted\" \$HOME
    % rmmod $MOD_TARGET"

    start_test "second"
    MOD_LIVEPATCH=test_klp_state2
    check_result "% insmod test_modules/$MOD_LIVEPATCH.ko replace=1
    $MOD_LIVEPATCH: Remaining not livepatched processes: 0"
    """#

    static let ours = """
    # A fixture; cites test-fixture.sh "first".
    % insmod livepatch-callbacks-mod.ko
    livepatch_callbacks_mod: livepatch_callbacks_mod_init
    % insmod livepatch-cmdline.ko
    insmod: ERROR: could not insert module livepatch-cmdline.ko: Device or resource busy
    echo "quoted" $HOME
    % rmmod livepatch_callbacks_mod
    """

    func testScriptParsingExpandsVariablesAsTheyStoodAtEachTest() throws {
        let tests = try KernelSelftestScript.parse(Self.script612, script: "test-fixture.sh")
        XCTAssertEqual(tests.map(\.name), ["first", "second"])
        XCTAssertEqual(tests[0].expected[1], "test_klp_callbacks_mod: test_klp_callbacks_mod_init")
        XCTAssertEqual(tests[0].expected[4], #"echo "quoted" $HOME"#)
        XCTAssertEqual(tests[1].expected, ["% insmod test_modules/test_klp_state2.ko replace=1",
                                           "test_klp_state2: Remaining not livepatched processes: 0"])
    }

    func testAScenarioAtParityPasses() throws {
        let rows = try compareFixture(ours: Self.ours)
        XCTAssertEqual(rows.map(\.verdict), ["ok"], rows.compactMap(\.diff).joined(separator: "\n"))
    }

    /// The check can fail: one changed expected line is a DIFF naming it.
    func testOneChangedLineIsADiff() throws {
        let changed = Self.ours.replacingOccurrences(of: "livepatch_callbacks_mod_init", with: "livepatch_callbacks_mod_init!")
        let rows = try compareFixture(ours: changed)
        XCTAssertEqual(rows.map(\.verdict), ["DIFF"])
        XCTAssertTrue(rows[0].diff?.contains("+ livepatch_callbacks_mod: livepatch_callbacks_mod_init!") == true,
                      rows[0].diff ?? "")
        XCTAssertTrue(rows[0].diff?.contains("- livepatch_callbacks_mod: livepatch_callbacks_mod_init") == true)
    }

    /// Only the listed differences are mapped: an extra kernel line of ours
    /// that is not an unlogged action is a DIFF.
    func testAnUnlistedExtraLineIsADiff() throws {
        let extra = Self.ours.replacingOccurrences(of: "% rmmod livepatch_callbacks_mod",
                                                   with: "% rmmod livepatch_callbacks_mod\nlivepatch: something else")
        XCTAssertEqual(try compareFixture(ours: extra).map(\.verdict), ["DIFF"])
    }

    /// 6.1's functions.sh modprobes by name and modprobe words its error differently.
    func testModprobeFormsOf61() {
        XCTAssertEqual(TranscriptParity.normalizeKernel([
            "% modprobe test_klp_callbacks_busy block_transition=Y",
            "modprobe: ERROR: could not insert 'test_klp_livepatch': Device or resource busy",
        ]), TranscriptParity.normalizeOurs([
            "% insmod livepatch-callbacks-busymod.ko block_transition=Y &",
            "insmod: ERROR: could not insert module livepatch-cmdline.ko: Device or resource busy",
        ]))
    }

    /// functions.sh's set_ftrace_enabled logs the value it set, or only the
    /// error when the write was refused; we log the action, plus the error.
    func testFtraceSysctlLogLinesAreOurSysctlAction() {
        XCTAssertEqual(TranscriptParity.normalizeKernel([
            "livepatch: kernel.ftrace_enabled = 0",
            #"livepatch: sysctl: setting key "kernel.ftrace_enabled": Device or resource busy"#,
        ]), TranscriptParity.normalizeOurs([
            "% sysctl kernel.ftrace_enabled=0",
            "% check_sysfs_value livepatch_cmdline enabled 1",
            "% grep 'live patched' /proc/cmdline",
            "% sysctl kernel.ftrace_enabled=0",
            #"sysctl: setting key "kernel.ftrace_enabled": Device or resource busy"#,
        ]))
    }

    /// 6.12's insmod says "Invalid parameters" for -EINVAL (kmod's
    /// mod_strerror), 6.1's modprobe and our runner "Invalid argument".
    func testInsmodsOwnErrorWordingIsStrerrors() {
        XCTAssertEqual(TranscriptParity.normalizeKernel([
            "insmod: ERROR: could not insert module test_modules/test_klp_state.ko: Invalid parameters",
        ]), TranscriptParity.normalizeOurs([
            "insmod: ERROR: could not insert module livepatch-state.ko: Invalid argument",
        ]))
        XCTAssertEqual(TranscriptParity.normalizeKernel([
            "modprobe: ERROR: could not insert 'test_klp_state': Invalid argument",
        ]), TranscriptParity.normalizeOurs([
            "insmod: ERROR: could not insert module livepatch-state.ko: Invalid argument",
        ]))
    }

    /// Only the listed test may be a superset, and only if every kernel line
    /// is in ours in order; it is never reported "ok".
    func testOnlyTheListedNewerTestMayBeASuperset() {
        let kernel = KernelSelftest(script: "test-livepatch.sh", name: "atomic replace livepatch",
                                    expected: ["% modprobe test_klp_livepatch", "% rmmod test_klp_livepatch"])
        func row(_ ours: String, _ test: KernelSelftest = kernel) throws -> ParityRow {
            let scenario = try ScenarioParser.parse(ours, path: "/f/14-x.scenario")
            let cited = CitedScenario(scenario: scenario, file: "14-x.scenario", citation: test.citation, requiredVersion: nil)
            return ParityCheck.compare(tests: [test], scenarios: [cited], release: "6.1.0").rows[0]
        }
        let superset = "% insmod livepatch-cmdline.ko\n% insmod livepatch-callbacks-demo.ko\n% rmmod livepatch_cmdline\n"
        XCTAssertEqual(try row(superset).verdict, "superset")
        XCTAssertFalse(try row(superset).failed)
        XCTAssertEqual(try row("% insmod livepatch-callbacks-demo.ko\n% rmmod livepatch_cmdline\n").verdict, "DIFF")
        var other = kernel
        other.name = "basic function patching"
        XCTAssertEqual(try row(superset, other).verdict, "DIFF")
    }

    func testSyscallTestsLogLineIsOurWaitForValue() {
        XCTAssertEqual(TranscriptParity.normalizeKernel([
            "% insmod test_modules/test_klp_syscall.ko klp_pids=$pid_list",
            "test_klp_syscall: Remaining not livepatched processes: 0",
        ]), TranscriptParity.normalizeOurs([
            "% spawn nproc getpid-hammer",
            "% insmod livepatch-getpid.ko klp_pids=$PIDS",
            "% wait_for_value /sys/module/livepatch_getpid/parameters/npids 0",
            "% kill getpid-hammer",
        ]))
    }

    func testReleaseFromThePathOfTheUnpackedSelftests() {
        XCTAssertEqual(Self.release(fromPath: "/w/.cache/linux-source/6.1/tools/testing/selftests/livepatch"), "6.1.0")
        XCTAssertEqual(Self.release(fromPath: "/x/usr/src/linux-source-6.12/tools/testing/selftests/livepatch"), "6.12.0")
        XCTAssertNil(Self.release(fromPath: "/tmp/livepatch"))
    }

    private func compareFixture(ours text: String) throws -> [ParityRow] {
        let tests = try KernelSelftestScript.parse(Self.script612, script: "test-fixture.sh")
        let scenario = try ScenarioParser.parse(text, path: "/fixture/01-first.scenario")
        let cited = CitedScenario(scenario: scenario, file: "01-first.scenario",
                                  citation: CitedScenario.citation(in: text), requiredVersion: nil)
        let (rows, _, _) = ParityCheck.compare(tests: [tests[0]], scenarios: [cited], release: "6.12.0")
        return rows
    }
}
