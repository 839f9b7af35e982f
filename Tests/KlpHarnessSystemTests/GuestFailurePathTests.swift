import Foundation
import XCTest
@testable import KlpHarness

/// Every way `klp-harness run` can be handed bad input or be cut short,
/// triggered for real on a livepatch kernel. Each test checks the message,
/// the exit code, and that no test module is left loaded.
///
/// These run inside the VM (scripts/test boots one with `klp-harness vm
/// --exec`), as root on a livepatch kernel; elsewhere they skip.
final class GuestFailurePathTests: XCTestCase {
    var modules = ""
    let testModules: Set<String> = ["livepatch_callbacks_mod", "livepatch_callbacks_busymod",
                                    "livepatch_callbacks_demo", "livepatch_callbacks_demo2", "livepatch_callbacks_crash",
                                    "livepatch_getpid"]

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["KLP_HARNESS_GUEST"] == "1" else {
            throw XCTSkip("runs inside the VM only (scripts/test: klp-harness vm --exec …)")
        }
        try HarnessProcess.requireBinary()
        modules = try XCTUnwrap(ProcessInfo.processInfo.environment["KLP_HARNESS_MODULES"], "klp-harness vm --exec sets KLP_HARNESS_MODULES")
        XCTAssertEqual(loadedTestModules(), [], "a test module was loaded before the test started")
    }

    override func tearDown() {
        // Every path must leave the kernel clean; say which module leaked.
        if ProcessInfo.processInfo.environment["KLP_HARNESS_GUEST"] == "1" {
            XCTAssertEqual(loadedTestModules(), [], "test modules left loaded in /proc/modules")
            XCTAssertEqual(Sysfs().patches(), [], "livepatches left in /sys/kernel/livepatch")
        }
    }

    func loadedTestModules() -> Set<String> {
        SystemState.loadedModules().intersection(testModules)
    }

    var scenarios: String { "\(HarnessProcess.repository)/scenarios" }

    func run(_ arguments: [String], results: String) throws -> HarnessProcess.Result {
        try HarnessProcess.run(["run"] + arguments + ["--results", results])
    }

    /// A scenario directory holding one scenario with the given text.
    func scenarioDirectory(_ scratch: ScratchDirectory, _ name: String, _ text: String) throws -> String {
        let directory = try scratch.subdirectory("scenarios")
        try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        return directory
    }

    /// A copy of the module directory, optionally without or with a fake file.
    func moduleCopy(_ scratch: ScratchDirectory, replacing file: String? = nil, with contents: String? = nil) throws -> String {
        let directory = try scratch.subdirectory("modules")
        for entry in try FileManager.default.contentsOfDirectory(atPath: modules) where entry.hasSuffix(".ko") && entry != file {
            try FileManager.default.copyItem(atPath: "\(modules)/\(entry)", toPath: "\(directory)/\(entry)")
        }
        if let file, let contents {
            try contents.write(toFile: "\(directory)/\(file)", atomically: true, encoding: .utf8)
        }
        return directory
    }

    func testModuleDirectoryThatDoesNotExist() throws {
        let scratch = try ScratchDirectory()
        let result = try run(["--modules", "/nonexistent/kmod", "--scenarios", scenarios], results: scratch.path)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("error: module directory /nonexistent/kmod does not exist"), result.stderr)
        XCTAssertTrue(result.stderr.contains("hint: build kmod/ first"), result.stderr)
    }

    func testModuleFileThatDoesNotExist() throws {
        let scratch = try ScratchDirectory()
        let copy = try moduleCopy(scratch, replacing: "livepatch-callbacks-mod.ko")
        let result = try run(["--modules", copy, "--scenarios", scenarios], results: scratch.path)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("module file \(copy)/livepatch-callbacks-mod.ko does not exist"), result.stderr)
        XCTAssertTrue(result.stderr.contains("01-target-module-before-livepatch.scenario:"), "names the scenario line: \(result.stderr)")
    }

    func testFileThatIsNotAKernelModule() throws {
        let scratch = try ScratchDirectory()
        let copy = try moduleCopy(scratch, replacing: "livepatch-callbacks-mod.ko", with: "not an ELF file\n")
        let result = try run(["--modules", copy, "--scenarios", scenarios], results: scratch.path)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("\(copy)/livepatch-callbacks-mod.ko is not a kernel module"), result.stderr)
    }

    func testModuleBuiltForAnotherKernel() throws {
        let release = SystemState.kernelRelease
        let buildRoot = "\(HarnessProcess.repository)/.build/kmod"
        let others = (try? FileManager.default.contentsOfDirectory(atPath: buildRoot))?.filter { $0 != release }.sorted() ?? []
        guard let other = others.first(where: { FileManager.default.fileExists(atPath: "\(buildRoot)/\($0)/livepatch-callbacks-demo.ko") }) else {
            throw XCTSkip("no kmod/ build for another kernel in \(buildRoot) (scripts/test builds 6.1 and 6.12)")
        }
        let scratch = try ScratchDirectory()
        let result = try run(["--modules", "\(buildRoot)/\(other)", "--scenarios", scenarios], results: scratch.path)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("was built for kernel \(other), but this kernel is \(release) (vermagic mismatch)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("KDIR=/lib/modules/\(release)/build"), result.stderr)
    }

    func testScenarioDrivingANonLivepatchAsOne() throws {
        let scratch = try ScratchDirectory()
        let directory = try scenarioDirectory(scratch, "01-not-a-livepatch.scenario", """
            % insmod livepatch-callbacks-mod.ko
            livepatch_callbacks_mod: livepatch_callbacks_mod_init
            % echo 0 > /sys/kernel/livepatch/livepatch_callbacks_mod/enabled
            % rmmod livepatch_callbacks_mod
            """)
        let result = try run(["--modules", modules, "--scenarios", directory], results: scratch.path)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("01-not-a-livepatch.scenario:3: the scenario drives livepatch_callbacks_mod as a livepatch, but its modinfo has no 'livepatch: Y'"), result.stderr)
    }

    func testMalformedScenarios() throws {
        let cases: [(text: String, message: String)] = [
            ("% insmod livepatch-callbacks-mod.ko\n% modprobe foo\n", "02-bad.scenario:2: unknown action 'modprobe'"),
            ("% echo 1 > /sys/kernel/debug/foo\n", "02-bad.scenario:1: '/sys/kernel/debug/foo' is not a sysfs file a scenario may write"),
            ("# comment\n% insmod livepatch-callbacks-demo.ko pre_patch_ret\n", "02-bad.scenario:2: module parameter 'pre_patch_ret' does not parse"),
        ]
        for (text, message) in cases {
            let scratch = try ScratchDirectory()
            let directory = try scenarioDirectory(scratch, "02-bad.scenario", text)
            let result = try run(["--modules", modules, "--scenarios", directory], results: scratch.path)
            XCTAssertEqual(result.status, 2, message)
            XCTAssertTrue(result.stderr.contains("error: malformed scenario: \(directory)/\(message)"), result.stderr)
        }
    }

    func testUnknownScenarioName() throws {
        let scratch = try ScratchDirectory()
        let result = try run(["--modules", modules, "--scenarios", scenarios, "no-such-scenario"], results: scratch.path)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("error: no scenario is named 'no-such-scenario'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("known scenarios: target-module-before-livepatch,"), result.stderr)
    }

    func testNotRoot() throws {
        let scratch = try ScratchDirectory()
        let result = try HarnessProcess.run(
            ["run", "--modules", modules, "--scenarios", scenarios, "--results", scratch.path],
            prefix: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        XCTAssertEqual(result.status, 4)
        XCTAssertTrue(result.stdout.contains("1..0 # SKIP not root: loading modules and writing livepatch sysfs files needs root"), result.output)
    }

    func testTransitionThatNeverFinishesTimesOut() throws {
        let scratch = try ScratchDirectory()
        // The busy module stays blocked and the load waits for the transition
        // to finish: it cannot, so the scenario's 5-second limit ends it.
        let directory = try scenarioDirectory(scratch, "01-stalled.scenario", TestScenarios.stalled)
        let result = try run(["--modules", modules, "--scenarios", directory, "--timeout", "5"], results: scratch.path)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.stdout.contains("not ok 1 stalled # TIMEOUT 5 seconds"), result.stdout)
        XCTAssertTrue(result.stdout.contains("# stopped: timed out after 5.000 s waiting for livepatch_callbacks_demo's patching transition to finish"), result.stdout)
        XCTAssertTrue(result.stdout.contains("clean-up after the scenario: released livepatch_callbacks_busymod's block_transition; disabled patch livepatch_callbacks_demo"), result.stdout)
    }

    func testScenarioActingOnModulesOutsideTheCatalog() throws {
        let cases: [(text: String, message: String)] = [
            ("% insmod livepatch-callbacks-mod.ko\n% rmmod ext4\n",
             "01-outside.scenario:2: rmmod ext4: not a test module; a scenario may unload only the modules of its module directory"),
            ("% insmod livepatch-callbacks-mod.ko\n% echo 1 > /sys/module/kernel/parameters/panic\n",
             "01-outside.scenario:2: /sys/module/kernel/parameters/panic: kernel is not a test module"),
            ("% insmod livepatch-callbacks-demo.ko\n% echo 0 > /sys/kernel/livepatch/some_other_patch/enabled\n",
             "01-outside.scenario:2: /sys/kernel/livepatch/some_other_patch/enabled: some_other_patch is not a test module"),
            ("% insmod livepatch-callbacks-demo.ko\n% echo 1 > /sys/module/livepatch_callbacks_demo/parameters/replace\n",
             "01-outside.scenario:2: livepatch_callbacks_demo has no parameter 'replace' in its modinfo"),
        ]
        for (text, message) in cases {
            let scratch = try ScratchDirectory()
            let directory = try scenarioDirectory(scratch, "01-outside.scenario", text)
            let result = try run(["--modules", modules, "--scenarios", directory], results: scratch.path)
            XCTAssertEqual(result.status, 2, message)
            XCTAssertTrue(result.stderr.contains("error: \(directory)/\(message)"), result.stderr)
            XCTAssertTrue(result.stderr.contains("hint: "), result.stderr)
            XCTAssertEqual(loadedTestModules(), [], "nothing may be loaded before validation: \(message)")
        }
    }

    func testRenamedModuleFileIsKnownByItsOwnName() throws {
        let scratch = try ScratchDirectory()
        let copy = try moduleCopy(scratch)
        try FileManager.default.copyItem(atPath: "\(copy)/livepatch-callbacks-demo.ko", toPath: "\(copy)/x.ko")
        // The load must wait for the transition (else the last three lines
        // are missing), and the clean-up must find the module left loaded.
        let directory = try scenarioDirectory(scratch, "01-renamed.scenario", """
            % insmod x.ko
            livepatch: enabling patch 'livepatch_callbacks_demo'
            livepatch: 'livepatch_callbacks_demo': initializing patching transition
            livepatch_callbacks_demo: pre_patch_callback: vmlinux
            livepatch: 'livepatch_callbacks_demo': starting patching transition
            livepatch: 'livepatch_callbacks_demo': completing patching transition
            livepatch_callbacks_demo: post_patch_callback: vmlinux
            livepatch: 'livepatch_callbacks_demo': patching complete
            """)
        let result = try run(["--modules", copy, "--scenarios", directory], results: scratch.path)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.stdout.contains("ok 1 renamed"), result.stdout)
        XCTAssertTrue(result.stdout.contains("# clean-up after the scenario: disabled patch livepatch_callbacks_demo; unloaded livepatch_callbacks_demo"), result.stdout)
    }

    func testKernelWarningFailsTheScenario() throws {
        let scratch = try ScratchDirectory()
        let directory = try scenarioDirectory(scratch, "01-crash-warn.scenario", """
            % insmod livepatch-callbacks-crash.ko crash=warn
            livepatch: enabling patch 'livepatch_callbacks_crash'
            livepatch: 'livepatch_callbacks_crash': initializing patching transition
            livepatch_callbacks_crash: pre_patch_callback: crash=warn
            livepatch_callbacks_crash: warning on request
            livepatch: 'livepatch_callbacks_crash': starting patching transition
            livepatch: 'livepatch_callbacks_crash': completing patching transition
            livepatch: 'livepatch_callbacks_crash': patching complete
            % echo 0 > /sys/kernel/livepatch/livepatch_callbacks_crash/enabled
            livepatch: 'livepatch_callbacks_crash': initializing unpatching transition
            livepatch: 'livepatch_callbacks_crash': starting unpatching transition
            livepatch: 'livepatch_callbacks_crash': completing unpatching transition
            livepatch: 'livepatch_callbacks_crash': unpatching complete
            % rmmod livepatch_callbacks_crash
            """)
        let result = try run(["--modules", modules, "--scenarios", directory], results: scratch.path)
        XCTAssertEqual(result.status, 1, result.output)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let verdict = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("not ok 1 crash-warn") }, result.stdout)
        XCTAssertEqual(lines[verdict], "not ok 1 crash-warn")
        XCTAssertTrue(lines[..<verdict].contains { $0.hasPrefix("# kernel crashed: WARNING: CPU: ") && $0.contains("pre_patch_callback") }, result.stdout)
        let folder = "\(scratch.path)/\(SystemState.kernelRelease)"
        let diff = try String(contentsOfFile: "\(folder)/crash-warn/diff.txt", encoding: .utf8)
        XCTAssertTrue(diff.contains("------------[ cut here ]------------"), diff)
        let document = try ResultsDocument.read(from: "\(folder)/results.json")
        XCTAssertEqual(document.scenarios.first?.status, .crash)
        XCTAssertNil(document.running)
        let junit = try String(contentsOfFile: "\(folder)/junit.xml", encoding: .utf8)
        XCTAssertTrue(junit.contains(#"<failure type="crash" message="kernel crashed: WARNING: CPU: "#), junit)
    }

    /// 2,000 parameter writes print more than the kernel's 128 KiB log ring
    /// holds. The runner reads the log after every action, so the scenario
    /// passes; made to read only at its markers (as it did before,
    /// KLP_HARNESS_TEST_NO_KMSG_DRAIN=1), it loses the scenario's start, and
    /// that is an error naming the lost records, not a failed transcript.
    func testLongScenarioLosesNoRecordsAndALossIsNotAMismatch() throws {
        let scratch = try ScratchDirectory()
        let echo = "% echo N > /sys/module/livepatch_callbacks_busymod/parameters/block_transition"
        let lines = ["% insmod livepatch-callbacks-busymod.ko",
                     "livepatch_callbacks_busymod: livepatch_callbacks_busymod_init",
                     "livepatch_callbacks_busymod: busymod_work_func enter",
                     "livepatch_callbacks_busymod: busymod_work_func exit"]
            + Array(repeating: echo, count: 2000)
            + ["% rmmod livepatch_callbacks_busymod", "livepatch_callbacks_busymod: livepatch_callbacks_busymod_exit"]
        let directory = try scenarioDirectory(scratch, "01-many-parameter-writes.scenario", lines.joined(separator: "\n") + "\n")
        let command = [HarnessProcess.binary, "run", "--modules", modules, "--scenarios", directory, "--results", scratch.path]

        let drained = try HarnessProcess.runCommand(command)
        XCTAssertEqual(drained.status, 0, drained.output)
        XCTAssertTrue(drained.stdout.split(separator: "\n").contains("ok 1 many-parameter-writes"), drained.stdout)

        let lossy = try HarnessProcess.runCommand(command, environment: ["KLP_HARNESS_TEST_NO_KMSG_DRAIN": "1"])
        XCTAssertEqual(lossy.status, 1, lossy.output)
        let headline = try XCTUnwrap(lossy.stdout.split(separator: "\n").first { $0.hasPrefix("not ok 1 many-parameter-writes # ERROR the kernel log lost ") },
                                     lossy.stdout)
        XCTAssertTrue(headline.hasSuffix(" records during this scenario (the ring buffer wrapped before the runner read it): the transcript cannot be judged"),
                      String(headline))
        XCTAssertTrue(lossy.stdout.contains("# missing: records "), lossy.stdout)
        XCTAssertFalse(lossy.stdout.contains("# @@ "), "no diff for a transcript with records missing: \(lossy.stdout)")
        let folder = "\(scratch.path)/\(SystemState.kernelRelease)"
        let document = try ResultsDocument.read(from: "\(folder)/results.json")
        XCTAssertEqual(document.scenarios.first?.status, .error)
    }

    func testPrintkDevkmsgOffSkips() throws {
        let knob = "/proc/sys/kernel/printk_devkmsg"
        let previous = try KernelFile.readValue(knob)
        // The sysctl takes a value only with its newline, and none at all
        // when the boot command line set printk.devkmsg (it is locked then).
        do {
            try KernelFile.write("off\n", to: knob)
        } catch {
            throw XCTSkip("cannot set \(knob) (\(error)); /proc/cmdline: \((try? KernelFile.readValue("/proc/cmdline")) ?? "?")")
        }
        defer { try? KernelFile.write(previous + "\n", to: knob) }
        let scratch = try ScratchDirectory()
        let result = try run(["--modules", modules, "--scenarios", scenarios], results: scratch.path)
        XCTAssertEqual(result.status, 4, result.output)
        XCTAssertTrue(result.stdout.contains("1..0 # SKIP \(knob) reads 'off' (printk.devkmsg=off): the kernel drops the runner's /dev/kmsg markers"), result.stdout)
    }

    func testSIGHUPInTheMiddleOfAScenario() throws {
        let scratch = try ScratchDirectory()
        let directory = try scenarioDirectory(scratch, "01-stalled.scenario", """
            % insmod livepatch-callbacks-busymod.ko block_transition=Y
            % insmod livepatch-callbacks-demo.ko
            % rmmod livepatch_callbacks_busymod
            """)
        let (process, out, _) = try HarnessProcess.start(
            ["run", "--modules", modules, "--scenarios", directory, "--results", scratch.path, "--timeout", "60"])
        try Deadline(after: .seconds(30)).wait(for: "the runner to load livepatch_callbacks_demo") {
            Sysfs().isPatchPresent("livepatch_callbacks_demo")
        }
        // results.json says which scenario was running while it runs.
        let running = try ResultsDocument.read(from: "\(scratch.path)/\(SystemState.kernelRelease)/results.json")
        XCTAssertEqual(running.running, "stalled")
        kill(process.processIdentifier, SIGHUP)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 129, stdout)
        XCTAssertTrue(stdout.contains("not ok 1 stalled # ERROR interrupted by SIGHUP"), stdout)
        XCTAssertTrue(stdout.contains("# interrupted by SIGHUP after 1 of 1 scenario(s); the kernel was cleaned up"), stdout)
        let control = try String(contentsOfFile: DynamicDebug.locateControl(), encoding: .utf8)
        XCTAssertTrue(DynamicDebug.enabledSites(in: control, under: "kernel/livepatch/").isEmpty,
                      "dynamic debug for kernel/livepatch/* was not restored")
    }

    func testSIGTERMInTheMiddleOfAScenario() throws {
        let scratch = try ScratchDirectory()
        let directory = try scenarioDirectory(scratch, "01-stalled.scenario", """
            % insmod livepatch-callbacks-busymod.ko block_transition=Y
            % insmod livepatch-callbacks-demo.ko
            % rmmod livepatch_callbacks_busymod
            """)
        let (process, out, _) = try HarnessProcess.start(
            ["run", "--modules", modules, "--scenarios", directory, "--results", scratch.path, "--timeout", "60"])
        // Signal once the patch is in its (stalled) transition.
        try Deadline(after: .seconds(30)).wait(for: "the runner to load livepatch_callbacks_demo") {
            Sysfs().isPatchPresent("livepatch_callbacks_demo")
        }
        process.terminate()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 143, stdout)
        XCTAssertTrue(stdout.contains("not ok 1 stalled # ERROR interrupted by SIGTERM"), stdout)
        XCTAssertTrue(stdout.contains("# interrupted by SIGTERM after 1 of 1 scenario(s); the kernel was cleaned up"), stdout)
        let ktap = try String(contentsOfFile: "\(scratch.path)/\(SystemState.kernelRelease)/ktap.txt", encoding: .utf8)
        XCTAssertTrue(ktap.hasSuffix("0 passed, 1 failed\n"), "ktap.txt is complete: \(ktap)")
        let control = try String(contentsOfFile: DynamicDebug.locateControl(), encoding: .utf8)
        XCTAssertTrue(DynamicDebug.enabledSites(in: control, under: "kernel/livepatch/").isEmpty,
                      "dynamic debug for kernel/livepatch/* was not restored")
    }

    func testModuleLeftLoadedBeforeAScenarioIsCleanedFirst() throws {
        let scratch = try ScratchDirectory()
        try KmodContext().insertModule(atPath: "\(modules)/livepatch-callbacks-mod.ko", parameters: "")
        let result = try run(["--modules", modules, "--scenarios", scenarios, "target-module-not-present"], results: scratch.path)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.stdout.contains("# kernel was not clean before the scenario; clean-up: unloaded livepatch_callbacks_mod"), result.stdout)
    }
    /// The clean-up of issue 16's actions on every path that ends a
    /// scenario early: getpid hammers spawned, then a failing
    /// check_sysfs_value (a failure); hammers spawned, then a wait_for_value
    /// that never comes true (a timeout); ftrace_enabled set to 0, then a
    /// livepatch load the kernel refuses (a failure). Afterwards no hammer
    /// runs, no test module is loaded (tearDown) and ftrace_enabled reads
    /// what it read before.
    func testSpawnedProcessesAndSysctlAreUndoneWhenAScenarioFails() throws {
        let hammer = "\(HarnessProcess.repository)/tools/hammer/getpid-hammer"
        guard FileManager.default.isExecutableFile(atPath: hammer) else {
            return XCTFail("\(hammer) is missing: build it with make -C tools/hammer (scripts/test does before step 4)")
        }
        let scratch = try ScratchDirectory()
        let copy = try moduleCopy(scratch)
        try FileManager.default.copyItem(atPath: hammer, toPath: "\(copy)/getpid-hammer")
        let ftraceBefore = try Sysctl.ftraceEnabled.read()
        XCTAssertEqual(ftraceBefore, "1", "the test needs ftrace on to begin with")
        // If the runner failed to restore it, later tests must not inherit it.
        defer { try? Sysctl.ftraceEnabled.write(ftraceBefore) }
        _ = try scenarioDirectory(scratch, "01-hammers-then-check-fails.scenario", """
            % spawn 3 getpid-hammer
            % spawn nproc getpid-hammer
            % insmod livepatch-callbacks-demo.ko
            % check_sysfs_value livepatch_callbacks_demo enabled 0
            % rmmod livepatch_callbacks_demo
            """)
        _ = try scenarioDirectory(scratch, "02-hammers-then-timeout.scenario", """
            % spawn 2 getpid-hammer
            % insmod livepatch-callbacks-demo.ko
            % wait_for_value /sys/kernel/livepatch/livepatch_callbacks_demo/enabled 0
            """)
        // livepatch-getpid patches a vmlinux function, so its load needs an
        // ftrace handler, which ftrace_enabled=0 refuses (EBUSY); the demo
        // patches no vmlinux function and would load.
        let directory = try scenarioDirectory(scratch, "03-ftrace-off-then-load-fails.scenario", """
            % sysctl kernel.ftrace_enabled=0
            % insmod livepatch-getpid.ko
            """)
        let result = try run(["--modules", copy, "--scenarios", directory, "--timeout", "15"], results: scratch.path)
        XCTAssertEqual(result.status, 1, result.output)
        let out = result.stdout
        XCTAssertTrue(out.contains("not ok 1 hammers-then-check-fails\n"), out)
        XCTAssertTrue(out.contains(#"# stopped at line 4 (% check_sysfs_value livepatch_callbacks_demo enabled 0): check_sysfs_value: ERROR: /sys/kernel/livepatch/livepatch_callbacks_demo/enabled reads "1", expected "0""#), out)
        let hammers = 3 + min(ProcessInfo.processInfo.activeProcessorCount, 128)
        XCTAssertTrue(out.contains("# clean-up after the scenario: killed and reaped \(hammers) spawned process(es) (getpid-hammer); disabled patch livepatch_callbacks_demo; unloaded livepatch_callbacks_demo"), out)
        XCTAssertTrue(out.contains("not ok 2 hammers-then-timeout # TIMEOUT 15 seconds"), out)
        XCTAssertTrue(out.contains(#"# stopped: timed out after 15.000 s waiting for /sys/kernel/livepatch/livepatch_callbacks_demo/enabled to read "0""#), out)
        XCTAssertTrue(out.contains("# clean-up after the scenario: killed and reaped 2 spawned process(es) (getpid-hammer); disabled patch livepatch_callbacks_demo"), out)
        XCTAssertTrue(out.contains("not ok 3 ftrace-off-then-load-fails\n"), out)
        XCTAssertTrue(out.contains("insmod: ERROR: could not insert module livepatch-getpid.ko: Device or resource busy"), out)
        XCTAssertTrue(out.contains("# clean-up after the scenario: restored kernel.ftrace_enabled from 0 to \(ftraceBefore)\n"), out)
        XCTAssertEqual(try Sysctl.ftraceEnabled.read(), ftraceBefore)
        // The runner reaped them itself; a hammer it missed would still run
        // (or, orphaned, wait for init as a zombie).
        XCTAssertEqual(Self.processes(named: "getpid-hammer"), [], "getpid-hammer processes left behind")
        // The check's error line is in the actual transcript, after its action line.
        let actual = try String(contentsOfFile: "\(scratch.path)/\(SystemState.kernelRelease)/hammers-then-check-fails/actual.txt", encoding: .utf8)
        XCTAssertTrue(actual.hasSuffix("% check_sysfs_value livepatch_callbacks_demo enabled 0\ncheck_sysfs_value: ERROR: /sys/kernel/livepatch/livepatch_callbacks_demo/enabled reads \"1\", expected \"0\"\n"), actual)
    }

    /// Pids whose /proc/PID/comm is `name`, zombies included.
    static func processes(named name: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { $0.allSatisfy(\.isNumber) } ?? []
        return pids.filter { pid in
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines) == name
        }.sorted()
    }
}
