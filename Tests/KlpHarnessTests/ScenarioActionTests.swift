#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import KlpHarness

/// The actions and the directive that issue 16 added for the rest of the
/// kernel's livepatch selftest directory: each parses to what the engine
/// runs, and each kind of bad input is a parse error naming file and line.
@Suite("Scenario actions: sysfs checks, grep, sysctl, spawn/kill, wait_for_value, requires")
struct ScenarioActionTests {
    func parse(_ text: String) throws -> Scenario {
        try ScenarioParser.parse(text, path: "scenarios/20-x.scenario")
    }

    func parseError(_ text: String) throws -> ScenarioParseError {
        let error = #expect(throws: ScenarioParseError.self) { try parse(text) }
        return try #require(error)
    }

    // MARK: Each action

    @Test func everyNewActionParses() throws {
        let scenario = try parse("""
            % requires Linux 6.11: the replace attribute
            % insmod livepatch-cmdline.ko
            % check_sysfs_rights livepatch_cmdline drwxr-xr-x
            % check_sysfs_rights livepatch_cmdline vmlinux/patched -r--r--r--
            % check_sysfs_rights livepatch-cmdline force --w-------
            % check_sysfs_value livepatch_cmdline enabled 1
            % grep 'this has been live patched' /proc/cmdline
            % sysctl kernel.ftrace_enabled=0
            sysctl: setting key "kernel.ftrace_enabled": Device or resource busy
            % spawn nproc getpid-hammer
            % spawn 128 getpid-hammer
            % insmod livepatch-getpid.ko klp_pids=$PIDS
            % wait_for_value /sys/module/livepatch_getpid/parameters/npids 0
            % wait_for_value /sys/kernel/livepatch/livepatch_getpid/transition 0
            % kill getpid-hammer
            """)
        #expect(scenario.requirement == KernelRequirement(major: 6, minor: 11, reason: "the replace attribute", line: 1))
        #expect(scenario.steps.map(\.action) == [
            .insert(file: "livepatch-cmdline.ko", parameters: [], waitsForTransition: true),
            .checkSysfsRights(file: PatchFile(patch: "livepatch_cmdline"), rights: "drwxr-xr-x"),
            .checkSysfsRights(file: PatchFile(patch: "livepatch_cmdline", relativePath: "vmlinux/patched"), rights: "-r--r--r--"),
            .checkSysfsRights(file: PatchFile(patch: "livepatch_cmdline", relativePath: "force"), rights: "--w-------"),
            .checkSysfsValue(file: PatchFile(patch: "livepatch_cmdline", relativePath: "enabled"), value: "1"),
            .grep(text: "this has been live patched", file: .cmdline),
            .sysctl(.ftraceEnabled, value: "0"),
            .spawn(count: .onlineCPUs, program: "getpid-hammer"),
            .spawn(count: .exactly(128), program: "getpid-hammer"),
            .insert(file: "livepatch-getpid.ko", parameters: ["klp_pids=$PIDS"], waitsForTransition: true),
            .waitForValue(file: .moduleParameter(module: "livepatch_getpid", name: "npids"), value: "0"),
            .waitForValue(file: .patchFile(PatchFile(patch: "livepatch_getpid", relativePath: "transition")), value: "0"),
            .kill(program: "getpid-hammer"),
        ])
        // The directive is neither a step nor a transcript line.
        #expect(scenario.steps.first?.line == 2)
        #expect(!scenario.transcript.contains { $0.contains("requires") })
        // The sysctl's refusal is procps' line, expected, and marks the step.
        #expect(scenario.steps[6].expectsFailure)
        #expect(scenario.steps.filter(\.expectsFailure).count == 1)
        // Logged as written: $PIDS stays literal, so transcripts do not depend on pids.
        #expect(scenario.steps[9].logLine == "% insmod livepatch-getpid.ko klp_pids=$PIDS")
        #expect(scenario.transcript.contains("% insmod livepatch-getpid.ko klp_pids=$PIDS"))
        #expect(scenario.moduleNames == ["livepatch_cmdline", "livepatch_getpid"])
    }

    @Test func errorLinesOfTheNewActions() throws {
        let sysfs = Sysfs()
        let check = Action.checkSysfsValue(file: PatchFile(patch: "p", relativePath: "enabled"), value: "1")
        #expect(check.errorLine(#"/sys/kernel/livepatch/p/enabled reads "0", expected "1""#, sysfs: sysfs)
            == #"check_sysfs_value: ERROR: /sys/kernel/livepatch/p/enabled reads "0", expected "1""#)
        #expect(Action.sysctl(.ftraceEnabled, value: "0").errorLine("Device or resource busy", sysfs: sysfs)
            == #"sysctl: setting key "kernel.ftrace_enabled": Device or resource busy"#)
        // A check's error line after it marks the check as expected to fail.
        let scenario = try parse("""
            % insmod a.ko
            % check_sysfs_value a enabled 1
            check_sysfs_value: ERROR: /sys/kernel/livepatch/a/enabled reads "0", expected "1"
            """)
        #expect(scenario.steps[1].expectsFailure)
    }

    @Test func grepTextMayHoldSpacesAndColons() throws {
        let scenario = try parse("% grep 'livepatch_meminfo: this has been live patched' /proc/meminfo\n")
        #expect(scenario.steps[0].action == .grep(text: "livepatch_meminfo: this has been live patched", file: .meminfo))
    }

    // MARK: Bad input, each a parse error with the line

    @Test("bad input is a parse error naming the line", arguments: [
        ("% sysctl kernel.panic=1", "'kernel.panic' is not a sysctl a scenario may set; known: kernel.ftrace_enabled"),
        ("% sysctl kernel.ftrace_enabled=2", "kernel.ftrace_enabled takes 0 or 1, not '2'"),
        ("% sysctl kernel.ftrace_enabled", "sysctl takes KEY=VALUE"),
        ("% grep 'x' /etc/shadow", "grep reads only /proc/cmdline or /proc/meminfo, not '/etc/shadow'"),
        ("% grep 'x' /proc/self/../cmdline", "grep reads only /proc/cmdline or /proc/meminfo"),
        ("% grep live /proc/cmdline", "grep takes 'TEXT' FILE"),
        ("% grep 'unterminated /proc/cmdline", "grep takes 'TEXT' FILE"),
        ("% check_sysfs_value p ../../module/x/parameters/y 1", "'../../module/x/parameters/y' must be a path inside /sys/kernel/livepatch/PATCH"),
        ("% check_sysfs_value p vmlinux/../../q 1", "'vmlinux/../../q' must be a path inside"),
        ("% check_sysfs_rights p /etc/passwd -rw-r--r--", "'/etc/passwd' must be a path inside"),
        ("% check_sysfs_rights p enabled rw-r--r--", "'rw-r--r--' is not ls -l rights"),
        ("% check_sysfs_rights p enabled -rw-r--r--x", "'-rw-r--r--x' is not ls -l rights"),
        ("% check_sysfs_value p enabled", "check_sysfs_value takes 'PATCH RELPATH VALUE'"),
        ("% check_sysfs_value ../p enabled 1", "check_sysfs_value takes 'PATCH RELPATH VALUE'"),
        ("% spawn 2 /bin/sh", "spawn takes a program file name of the module directory (no '/'), found '/bin/sh'"),
        ("% spawn 2 ../getpid-hammer", "found '../getpid-hammer'"),
        ("% spawn 0 getpid-hammer", "'0' is not a process count"),
        ("% spawn 129 getpid-hammer", "'129' is not a process count"),
        ("% spawn -1 getpid-hammer", "'-1' is not a process count"),
        ("% spawn lots getpid-hammer", "'lots' is not a process count"),
        ("% kill getpid-hammer", "kill getpid-hammer: no '% spawn' of getpid-hammer comes before it"),
        ("% insmod livepatch-getpid.ko klp_pids=$PIDS", "'klp_pids=$PIDS' uses $PIDS, but no '% spawn' comes before it"),
        ("% wait_for_value /proc/sys/kernel/tainted 0", "'/proc/sys/kernel/tainted' is not a file wait_for_value may read"),
        ("% wait_for_value /sys/kernel/livepatch/p/../../x 0", "must be a path inside"),
        ("% wait_for_value /sys/module/p/parameters/npids", "wait_for_value takes 'PATH VALUE'"),
    ])
    func badInput(line: String, message: String) throws {
        let error = try parseError("# Summary.\n\(line)\n")
        #expect(error.line == 2)
        #expect(error.message.contains(message), "\(error.message)")
        #expect(error.description.hasPrefix("scenarios/20-x.scenario:2: "))
    }

    @Test("a malformed requirement is a parse error", arguments: [
        ("% requires Linux 6: x", "'6' is not a kernel version X.Y"),
        ("% requires Linux 6.11.2: x", "'6.11.2' is not a kernel version X.Y"),
        ("% requires Linux six.eleven: x", "'six.eleven' is not a kernel version X.Y"),
        ("% requires Linux 6.11", "a requirement reads '% requires Linux X.Y: REASON'"),
        ("% requires 6.11: x", "a requirement reads"),
        ("% requires Linux 6.11:", "the requirement gives no reason"),
    ])
    func malformedRequirement(line: String, message: String) throws {
        let error = try parseError("\(line)\n% insmod a.ko\n")
        #expect(error.line == 1)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func requirementAfterAStepIsAParseError() throws {
        let error = try parseError("% insmod a.ko\n% requires Linux 6.11: late\n")
        #expect(error.line == 2)
        #expect(error.message == "'% requires' must come before the first action (line 1)")
        let twice = try parseError("% requires Linux 6.11: a\n% requires Linux 6.12: b\n% insmod a.ko\n")
        #expect(twice.line == 2)
    }

    // MARK: The version compare behind `requires`

    @Test("the version compare is numeric on uname -r's first two numbers", arguments: [
        ("6.1.0-57-amd64", false),
        ("6.1.0-57-cloud-amd64", false),
        ("6.9.12-amd64", false),
        ("6.10.0", false),
        ("6.11.0-rc1", true),
        ("6.11", true),
        ("6.12.117+deb12-amd64", true),
        ("7.0.0", true),
        ("5.19.0", false),
        ("10.1.0", true),
    ])
    func versionCompare(release: String, met: Bool) {
        let requirement = KernelRequirement(major: 6, minor: 11, reason: "r", line: 1)
        #expect(requirement.isMet(by: release) == met)
    }

    @Test func skipReasonNamesVersionReleaseAndWhy() {
        let requirement = KernelRequirement(major: 6, minor: 11, reason: "the replace attribute", line: 1)
        #expect(requirement.skipReason(release: "6.1.0-57-amd64")
            == "needs Linux 6.11 or later (this kernel is 6.1.0-57-amd64): the replace attribute")
        #expect(KernelRequirement.version(of: "6.12.117+deb12-amd64")! == (6, 12))
        #expect(KernelRequirement.version(of: "garbage") == nil)
    }

    // MARK: A skipped scenario in every report

    @Test func aSkippedScenarioIsNotAFailureAnywhere() throws {
        let scenario = try parse("% requires Linux 6.11: the replace attribute\n% insmod a.ko\n")
        let reason = "needs Linux 6.11 or later (this kernel is 6.1.0-57-amd64): the replace attribute"
        let result = ScenarioResult(scenario: scenario, status: .skipped(reason), actual: [], records: [],
                                    wallTime: .zero, transitions: [], diagnostics: [reason], kernel: "6.1.0-57-amd64")
        #expect(result.isSuccess && !result.passed && !result.showsDiff)
        #expect(KTAPReport.resultLine(result, number: 23) == "ok 23 x # SKIP \(reason)")
        #expect(ScenarioStatus(result.status) == .skip)
        var document = ResultsDocument(kernel: "6.1.0-57-amd64", planned: 1)
        document.append(result, number: 23)
        #expect(document.scenarios[0].status == .skip)
        #expect(document.scenarios[0].artifacts["diff"] == nil)
        #expect(JUnitReport.testcase(document.scenarios[0], classname: "k").contains(#"<skipped message="\#(reason)"/>"#))
        #expect(StatusTally([ScenarioStatus(result.status)]).closingCount == "0 passed, 0 failed, 1 skipped")
        #expect(KTAPProgress.parseResult("ok 23 x # SKIP \(reason)")?.directive == "SKIP \(reason)")
    }

    // MARK: The kernel side, on real files and processes

    @Test func rightsAsStatPrintsThem() throws {
        #expect(FileRights.describe(mode: UInt32(S_IFDIR) | 0o755) == "drwxr-xr-x")
        #expect(FileRights.describe(mode: UInt32(S_IFREG) | 0o644) == "-rw-r--r--")
        #expect(FileRights.describe(mode: UInt32(S_IFREG) | 0o200) == "--w-------")
        #expect(FileRights.describe(mode: UInt32(S_IFREG) | 0o4755) == "-rwsr-xr-x")
        #expect(FileRights.describe(mode: UInt32(S_IFDIR) | 0o1777) == "drwxrwxrwt")
        let scratch = try ScratchFolder()
        let file = "\(scratch.path)/enabled"
        FileManager.default.createFile(atPath: file, contents: Data("1\n".utf8))
        chmod(file, 0o644)
        #expect(try FileRights.of(file) == "-rw-r--r--")
        #expect(try FileRights.of(scratch.path).hasPrefix("d"))
        #expect(ScenarioParser.isRights(try FileRights.of(file)))
    }

    @Test func grepKeepsTheMatchingLinesInOrder() {
        let meminfo = "MemTotal:        1000 kB\nlivepatch_meminfo: this has been live patched\nMemFree: 1 kB\n"
        #expect(ProcFile.lines(of: meminfo, containing: "live patched") == ["livepatch_meminfo: this has been live patched"])
        #expect(ProcFile.lines(of: meminfo, containing: "nothing") == [])
        #expect(ProcFile.lines(of: meminfo, containing: "Mem") == ["MemTotal:        1000 kB", "MemFree: 1 kB"])
    }

    @Test func sysctlSnapshotPutsTheOldValueBack() throws {
        let scratch = try ScratchFolder()
        try FileManager.default.createDirectory(atPath: "\(scratch.path)/sys/kernel", withIntermediateDirectories: true)
        let path = Sysctl.ftraceEnabled.path(procRoot: scratch.path)
        #expect(path == "\(scratch.path)/sys/kernel/ftrace_enabled")
        try "1\n".write(toFile: path, atomically: true, encoding: .utf8)
        var snapshot = SysctlSnapshot(procRoot: scratch.path)
        snapshot.save([.ftraceEnabled])
        try Sysctl.ftraceEnabled.write("0", procRoot: scratch.path)
        #expect(snapshot.restore() == ["restored kernel.ftrace_enabled from 0 to 1"])
        #expect(try Sysctl.ftraceEnabled.read(procRoot: scratch.path) == "1")
        // Nothing changed: nothing to say.
        snapshot.save([.ftraceEnabled])
        #expect(snapshot.restore() == [])
    }

    @Test func spawnedProcessesAreListedKilledAndReaped() throws {
        // yes(1) runs until killed, like the hammer; its stdout is /dev/null.
        let load = SpawnedLoad()
        try load.spawn(3, of: "/usr/bin/yes", program: "yes")
        let pids = load.running.map(\.pid)
        #expect(pids.count == 3)
        #expect(load.pidList == pids.map(String.init).joined(separator: ","))
        #expect(load.substitute("klp_pids=$PIDS") == "klp_pids=\(load.pidList)")
        #expect(pids.allSatisfy { kill($0, 0) == 0 })
        #expect(load.endAll() == ["killed and reaped 3 spawned process(es) (yes)"])
        #expect(load.running.isEmpty)
        // Reaped, not zombies: the pids no longer exist.
        #expect(pids.allSatisfy { kill($0, 0) == -1 && errno == ESRCH })
        #expect(load.endAll() == [])
    }

    @Test func killEndsOnlyThatProgram() throws {
        let load = SpawnedLoad()
        try load.spawn(1, of: "/usr/bin/yes", program: "yes")
        try load.spawn(1, of: "/usr/bin/sleep", program: "sleep")
        #expect(try load.kill("yes") == 1)
        #expect(load.running.map(\.program) == ["sleep"])
        #expect(load.endAll().count == 1)
    }

    @Test func spawnOfAMissingProgramNamesIt() {
        let load = SpawnedLoad()
        let error = #expect(throws: KernelFileError.self) {
            try load.spawn(1, of: "/nonexistent/getpid-hammer", program: "getpid-hammer")
        }
        #expect(error?.errno.name == "ENOENT")
        #expect(load.running.isEmpty)
    }
}

/// A temporary directory removed when the test ends.
final class ScratchFolder {
    let path: String

    init() throws {
        var template = Array("/tmp/klp-harness-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw KernelFileError(path: "/tmp", operation: "mkdtemp", errno: ErrnoDescription(errno)) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
