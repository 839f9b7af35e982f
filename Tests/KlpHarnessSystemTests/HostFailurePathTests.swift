import Foundation
import XCTest
@testable import KlpHarness

/// The host side's failure paths, for real: apt, and VMs that do not boot
/// or overrun their wall-clock limit. They boot QEMU, so they run only when
/// KLP_HARNESS_HOST_TESTS=1 (scripts/test sets it).
final class HostFailurePathTests: XCTestCase {
    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["KLP_HARNESS_HOST_TESTS"] == "1" else {
            throw XCTSkip("boots VMs: set KLP_HARNESS_HOST_TESTS=1 (scripts/test does)")
        }
        try HarnessProcess.requireBinary()
    }

    func testKernelReleaseThatAptDoesNotKnow() throws {
        let result = try HarnessProcess.run(["vm", "--kernel", "9.9.9-nosuch-amd64"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("error: apt does not know a package linux-image-9.9.9-nosuch-amd64"), result.stderr)
        XCTAssertTrue(result.stderr.contains("hint: use an alias (6.1, 6.12, 6.1-cloud"), result.stderr)
    }

    func testKernelValueThatIsAPatternNeverReachesApt() throws {
        let result = try HarnessProcess.run(["vm", "--kernel", "6.1.*"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("error: --kernel '6.1.*' is neither an alias nor a kernel release name"), result.stderr)
    }

    /// A broken apt is the machine's problem (3), not a bad kernel name (2).
    func testBrokenAptIsAnInfrastructureError() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("Dir::State::lists \"\(scratch.path)/no-such-lists\";\nthis is not apt syntax {\n", to: "apt.conf")
        let result = try HarnessProcess.runCommand([HarnessProcess.binary, "vm", "--kernel", "6.1.0-56-amd64"],
                                                   environment: ["APT_CONFIG": "\(scratch.path)/apt.conf"])
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertTrue(result.stderr.contains("error: apt-cache policy linux-image-6.1.0-56-amd64 failed"), result.stderr)
        XCTAssertTrue(result.stderr.contains("hint: apt itself is broken here, not the kernel name"), result.stderr)
    }

    /// The KTAP port discarded on the host: the guest's exit status and
    /// results still arrive over the results channel, so a passing suite
    /// stays a pass, never an infrastructure error.
    func testLostKTAPStreamKeepsTheGuestsVerdict() throws {
        let scratch = try ScratchDirectory()
        let result = try HarnessProcess.runCommand(
            [HarnessProcess.binary, "vm", "--accel", "tcg", "--cpus", "1", "--results", scratch.path, "pre-patch-callback-enodev", "module-going-notifier"],
            environment: ["KLP_HARNESS_TEST_DROP_KTAP": "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("came over the results channel only"), result.stderr)
        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("6.") })
        let document = try ResultsDocument.read(from: "\(scratch.path)/\(release)/results.json")
        XCTAssertEqual(document.scenarios.map(\.status), [.pass, .pass])
    }

    /// Issue 15's reproduction: the results channel loses its tail (QEMU may
    /// write at most 40 KiB to a file, as on a full disk under --results),
    /// just as the last scenario fails. ttyS1 says `not ok 5` and exit 1;
    /// the channel has neither scenario 5's entry nor the exit status. The
    /// witnesses disagree: exit 3 naming what disagreed, never a pass.
    func testChannelThatLostItsTailIsAnInfrastructureError() throws {
        let scratch = try ScratchDirectory()
        let scenarios = try scratch.subdirectory("scenarios")
        let shipped = "\(HarnessProcess.repository)/scenarios"
        for file in try FileManager.default.contentsOfDirectory(atPath: shipped) where file.hasPrefix("0") && "1234".contains(file.dropFirst().prefix(1)) {
            try FileManager.default.copyItem(atPath: "\(shipped)/\(file)", toPath: "\(scenarios)/\(file)")
        }
        let fifth = try String(contentsOfFile: "\(shipped)/05-target-module-not-present.scenario", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0 == "livepatch_callbacks_demo: post_patch_callback: vmlinux" ? "\($0) (deliberately wrong)" : String($0) }
        XCTAssertTrue(fifth.contains { $0.hasSuffix("(deliberately wrong)") }, "the shipped scenario 05 changed; pick another line to break")
        try fifth.joined(separator: "\n").write(toFile: "\(scenarios)/05-target-module-not-present.scenario", atomically: true, encoding: .utf8)
        let wrapper = try scratch.subdirectory("qwrap")
        let qemu = try Subprocess.resolve("qemu-system-x86_64")
        // The channel carries each scenario's files and its record (not a
        // results.json that grows after every scenario): in a 6.1 run about
        // 26 KiB through scenario 4 and 32 KiB through the failing scenario
        // 5, so 29 KiB cuts it inside scenario 5's frames.
        try "#!/bin/bash\ntrap '' XFSZ\nulimit -f 29\nexec \(qemu) \"$@\"\n".write(toFile: "\(wrapper)/qemu-system-x86_64", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(wrapper)/qemu-system-x86_64")
        let results = "\(scratch.path)/results"
        let result = try HarnessProcess.runCommand(
            [HarnessProcess.binary, "vm", "--accel", "tcg", "--cpus", "1", "--scenarios", scenarios, "--results", results],
            environment: ["PATH": "\(wrapper):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")"])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertTrue(result.stdout.contains("not ok 5 target-module-not-present"), result.stdout)
        XCTAssertTrue(result.stderr.contains("error: the guest's witnesses disagree: the results channel"), result.stderr)
        XCTAssertTrue(result.stdout.contains("# error: the guest's witnesses disagree"), result.stdout)
        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: results).first { $0.hasPrefix("6.") })
        let document = try ResultsDocument.read(from: "\(results)/\(release)/results.json")
        XCTAssertFalse(document.complete)
        XCTAssertNotNil(document.infrastructureError)
        XCTAssertEqual(document.scenarios.count, 5)
        XCTAssertEqual(document.scenarios.map(\.status), Array(repeating: .infrastructure, count: 5))
        let junit = try String(contentsOfFile: "\(results)/\(release)/junit.xml", encoding: .utf8)
        XCTAssertTrue(junit.contains(#"errors="5""#), junit)
    }

    /// Issue 15, item 7: --results on a 64 KiB tmpfs fills up while the
    /// host stores the guest's files. Exit 3 with what to do, a closing
    /// error line on stdout, and nothing half-written that reads as a
    /// result: no results.json, junit.xml or ktap.txt, no `.tmp` anywhere.
    func testFullResultsFileSystemLeavesNothingThatLooksLikeAResult() throws {
        guard getuid() == 0 else { throw XCTSkip("mounts a tmpfs: needs root") }
        let scratch = try ScratchDirectory()
        let results = try scratch.subdirectory("tiny")
        let mount = try HarnessProcess.runCommand(["/bin/mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", results])
        XCTAssertEqual(mount.status, 0, mount.output)
        defer { _ = try? HarnessProcess.runCommand(["/bin/umount", results]); withExtendedLifetime(scratch) {} }
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--cpus", "1", "--results", results])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertTrue(result.stderr.contains("No space left on device (ENOSPC)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("free space under \(results) or pass --results a directory with room"), result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.last?.hasPrefix("# error: could not store this kernel's results") == true, result.stdout)
        let left = try XCTUnwrap(FileManager.default.subpathsOfDirectory(atPath: results))
        XCTAssertFalse(left.contains { $0.hasSuffix(".tmp") }, "\(left)")
        XCTAssertFalse(left.contains { $0.hasSuffix("results.json") || $0.hasSuffix("junit.xml") || $0.hasSuffix("ktap.txt") }, "\(left)")
    }

    func testKernelTreeThatWasNotBuilt() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("# not a kernel\n", to: "Makefile")
        let result = try HarnessProcess.run(["vm", "--kernel-tree", scratch.path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("\(scratch.path) has not been built (no arch/x86/boot/bzImage"), result.stderr)
    }

    /// A kernel that kmod/ cannot be built for (a "kernel tree" whose
    /// Makefile fails, deterministically) is that kernel's infrastructure
    /// row; 6.1 beside it still boots and passes.
    func testOneKernelThatCannotBeBuiltForNeverSinksTheOthers() throws {
        let scratch = try ScratchDirectory()
        let tree = try scratch.subdirectory("tree")
        try FileManager.default.createDirectory(atPath: "\(tree)/arch/x86/boot", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(tree)/include/config", withIntermediateDirectories: true)
        try scratch.write("modules:\n\t@echo 'this tree builds no modules' >&2; exit 1\n", to: "tree/Makefile")
        try scratch.write("not a kernel\n", to: "tree/arch/x86/boot/bzImage")
        try scratch.write("0.0.0-klp-unbuildable\n", to: "tree/include/config/kernel.release")
        // Every option the harness needs, so the tree passes the .config
        // check (kmod/klp-harness.config) and fails later, in the build.
        try scratch.write(try String(contentsOfFile: "\(HarnessProcess.repository)/kmod/klp-harness.config", encoding: .utf8), to: "tree/.config")
        let results = try scratch.subdirectory("results")
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--cpus", "1", "--kernel", "6.1", "--kernel-tree", tree,
                                             "--results", results, "pre-patch-callback-enodev"])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertTrue(result.stderr.contains("0.0.0-klp-unbuildable: error: building kmod/ against 0.0.0-klp-unbuildable failed"), result.stderr)
        XCTAssertTrue(result.stderr.contains("0.0.0-klp-unbuildable: not booted; the other kernels run"), result.stderr)
        let header = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("# scenario") }, result.stdout)
        XCTAssertTrue(header.contains("6.1.0-") && header.contains("0.0.0-klp-unbuildable"), String(header))
        let row = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("# pre-patch-callback-enodev") }, result.stdout)
        XCTAssertTrue(row.contains("pass ") && row.contains("infrastructure "), String(row))
        XCTAssertTrue(result.stdout.contains("# 0.0.0-klp-unbuildable: infrastructure: not booted: building kmod/"), result.stdout)
        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: results).first { $0.hasPrefix("6.1.") })
        let passed = try ResultsDocument.read(from: "\(results)/\(release)/results.json")
        XCTAssertEqual(passed.scenarios.map(\.status), [.pass])
        let failed = try ResultsDocument.read(from: "\(results)/0.0.0-klp-unbuildable/results.json")
        XCTAssertEqual(failed.scenarios.map(\.status), [.infrastructure])
        XCTAssertTrue(failed.infrastructureError?.contains("building kmod/ against 0.0.0-klp-unbuildable failed") == true)
        let junit = try String(contentsOfFile: "\(results)/junit.xml", encoding: .utf8)
        XCTAssertTrue(junit.contains("type=\"infrastructure\""), junit)
    }

    /// A cached vmlinux cut short (1 MB keeps the ELF header but loses the
    /// PVH note) and a cached .ko cut short are each rebuilt once, with a
    /// line saying so, and the run passes through PVH; the next run
    /// rebuilds nothing.
    func testDamagedCachedArtifactsAreRebuiltOnce() throws {
        let scratch = try ScratchDirectory()
        let arguments = ["vm", "--accel", "tcg", "--cpus", "1", "--results", scratch.path, "pre-patch-callback-enodev"]
        let first = try HarnessProcess.run(arguments)
        XCTAssertEqual(first.status, 0, first.output)
        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("6.1.") })
        let vmlinux = "\(HarnessProcess.repository)/.cache/kernels/\(release)/vmlinux"
        let module = "\(HarnessProcess.repository)/.build/kmod/\(release)/livepatch-callbacks-demo.ko"
        XCTAssertEqual(truncate(vmlinux, 1 << 20), 0)
        XCTAssertEqual(truncate(module, 4000), 0)
        let second = try HarnessProcess.run(arguments)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.stderr.contains("the cached \(vmlinux) is cut short (1048576 bytes"), second.stderr)
        XCTAssertTrue(second.stderr.contains("\(module) is cut short (4000 bytes"), second.stderr)
        XCTAssertTrue(second.stderr.contains("(vmlinux through PVH)"), second.stderr)
        let third = try HarnessProcess.run(arguments)
        XCTAssertEqual(third.status, 0, third.output)
        XCTAssertFalse(third.stderr.contains("it is rebuilt"), third.stderr)
    }

    func testVMOverItsWallClockLimitIsAnInfrastructureError() throws {
        let scratch = try ScratchDirectory()
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--vm-timeout", "4", "--results", scratch.path])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertTrue(result.stderr.contains("error: the VM exceeded its wall-clock limit of 4.000 s and was killed; console log: "), result.stderr)
        XCTAssertFalse(result.stdout.contains("not ok"), "an infrastructure failure must not look like a failing scenario")
        XCTAssertEqual(try qemuProcesses(using: scratch.path), [], "QEMU outlived the killed VM")
    }

    /// A kernel crash is the scenario's failure, not the VM's: the crashing
    /// scenario runs first, oopses in its pre-patch callback (oops=panic
    /// panics the guest), and every scenario after it still runs, in a
    /// guest booted again.
    func testKernelCrashFailsItsScenarioAndTheRestRun() throws {
        let scratch = try ScratchDirectory()
        let scenarios = try scratch.subdirectory("scenarios")
        // The 11 callbacks scenarios (those citing test-callbacks.sh) follow
        // the crash: enough to show every one after it runs in the new boot.
        let shipped = "\(HarnessProcess.repository)/scenarios"
        for file in try FileManager.default.contentsOfDirectory(atPath: shipped) where file.hasSuffix(".scenario") {
            let text = try String(contentsOfFile: "\(shipped)/\(file)", encoding: .utf8)
            guard text.contains("test-callbacks.sh") else { continue }
            try FileManager.default.copyItem(atPath: "\(shipped)/\(file)", toPath: "\(scenarios)/\(file)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scenarios).count, 11)
        try TestScenarios.crashing.write(toFile: "\(scenarios)/00-crash-in-pre-patch.scenario", atomically: true, encoding: .utf8)
        let results = "\(scratch.path)/results"
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--scenarios", scenarios, "--results", results])
        XCTAssertEqual(result.status, 1, result.output)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("# kernel crashed: BUG: kernel NULL pointer dereference, address: 0000000000000000"), result.stdout)
        XCTAssertTrue(lines.contains("not ok 1 crash-in-pre-patch"), result.stdout)
        XCTAssertEqual(lines.filter { $0.hasPrefix("ok ") }.count, 11, result.stdout)
        XCTAssertEqual(lines.filter { $0.hasPrefix("not ok ") }.count, 1, result.stdout)
        XCTAssertTrue(lines.contains("11 passed, 1 failed"), result.stdout)
        XCTAssertTrue(result.stderr.contains("(2 boots, exit 1)"), result.stderr)
        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: results).first { $0.hasPrefix("6.") })
        let folder = "\(results)/\(release)"
        let document = try ResultsDocument.read(from: "\(folder)/results.json")
        XCTAssertEqual(document.scenarios.map(\.status), [.crash] + Array(repeating: .pass, count: 11))
        XCTAssertEqual(document.scenarios.map(\.number), Array(1...12))
        XCTAssertTrue(document.complete)
        let diff = try String(contentsOfFile: "\(folder)/crash-in-pre-patch/diff.txt", encoding: .utf8)
        XCTAssertTrue(diff.hasPrefix("# kernel crashed: BUG: kernel NULL pointer dereference"), diff)
        XCTAssertTrue(diff.contains("RIP: 0010:pre_patch_callback"), diff)
        let junit = try String(contentsOfFile: "\(folder)/junit.xml", encoding: .utf8)
        XCTAssertTrue(junit.contains("kernel crashed: BUG: kernel NULL pointer dereference"), junit)
        XCTAssertTrue(try String(contentsOfFile: "\(results)/index.html", encoding: .utf8).contains("crash-in-pre-patch"))
    }

    /// User-space load does not change that: a scenario that starts
    /// getpid-hammer processes (`% spawn`, the program built beside the
    /// modules and shipped in the guest image) and then oopses is `crash`,
    /// that scenario only; the guest is booted again and the next scenario
    /// passes. The spawn must have worked for the insmod after it to run at
    /// all (a failed action stops its scenario as `fail`, with no crash).
    func testKernelCrashWhileHammersRunFailsOnlyItsScenario() throws {
        let scratch = try ScratchDirectory()
        let scenarios = try scratch.subdirectory("scenarios")
        let crashing = """
            # Two processes call getpid in a loop while the pre-patch callback
            # oopses; with oops=panic the guest panics under that load.
            % spawn 2 getpid-hammer
            % insmod livepatch-callbacks-crash.ko crash=oops
            livepatch: enabling patch 'livepatch_callbacks_crash'
            livepatch: 'livepatch_callbacks_crash': initializing patching transition
            livepatch_callbacks_crash: pre_patch_callback: crash=oops

            """
        try crashing.write(toFile: "\(scenarios)/01-crash-while-hammering.scenario", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: "\(HarnessProcess.repository)/scenarios/06-pre-patch-callback-enodev.scenario",
                                         toPath: "\(scenarios)/02-pre-patch-callback-enodev.scenario")
        let results = "\(scratch.path)/results"
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--cpus", "1", "--scenarios", scenarios, "--results", results])
        XCTAssertEqual(result.status, 1, result.output)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("# kernel crashed: BUG: kernel NULL pointer dereference, address: 0000000000000000"), result.stdout)
        XCTAssertTrue(lines.contains("not ok 1 crash-while-hammering"), result.stdout)
        XCTAssertTrue(lines.contains("ok 2 pre-patch-callback-enodev"), result.stdout)
        XCTAssertTrue(lines.contains("1 passed, 1 failed"), result.stdout)
        XCTAssertTrue(result.stderr.contains("(2 boots, exit 1)"), result.stderr)
        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: results).first { $0.hasPrefix("6.") })
        let document = try ResultsDocument.read(from: "\(results)/\(release)/results.json")
        XCTAssertEqual(document.scenarios.map(\.status), [.crash, .pass])
        XCTAssertTrue(document.complete)
        let diff = try String(contentsOfFile: "\(results)/\(release)/crash-while-hammering/diff.txt", encoding: .utf8)
        XCTAssertTrue(diff.contains("RIP: 0010:pre_patch_callback"), diff)
    }

    /// Bad input found in the hermetic guest (a program that is not in the
    /// module directory) is exit 2 with the guest's message, as on a host:
    /// the runner stops before it opens the results channel, and the init's
    /// exit-status frame must still arrive whole.
    func testBadInputInTheGuestIsExit2() throws {
        let scratch = try ScratchDirectory()
        let scenarios = try scratch.subdirectory("scenarios")
        try "% spawn 1 no-such-program\n".write(toFile: "\(scenarios)/01-spawn-missing.scenario", atomically: true, encoding: .utf8)
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--cpus", "1", "--scenarios", scenarios,
                                             "--results", "\(scratch.path)/results"])
        XCTAssertEqual(result.status, 2, result.output)
        XCTAssertTrue(result.stderr.contains("guest: error: scenarios/01-spawn-missing.scenario:1: spawn no-such-program: modules/no-such-program is not an executable file"),
                      result.stderr)
        XCTAssertFalse(result.stderr.contains("witnesses disagree"), result.stderr)
    }

    /// A kernel that hangs in a callback is that scenario's failure too:
    /// the soft-lockup detector panics it (softlockup_panic=1), and the
    /// scenario after it runs in a guest booted again.
    func testKernelHangFailsItsScenarioAndTheNextRuns() throws {
        let scratch = try ScratchDirectory()
        let scenarios = try scratch.subdirectory("scenarios")
        try TestScenarios.hanging.write(toFile: "\(scenarios)/01-hang-in-pre-patch.scenario", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: "\(HarnessProcess.repository)/scenarios/06-pre-patch-callback-enodev.scenario",
                                         toPath: "\(scenarios)/02-pre-patch-callback-enodev.scenario")
        let results = "\(scratch.path)/results"
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--scenarios", scenarios, "--results", results])
        XCTAssertEqual(result.status, 1, result.output)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("# kernel crashed: watchdog: BUG: soft lockup - CPU#") }, result.stdout)
        XCTAssertTrue(lines.contains("not ok 1 hang-in-pre-patch"), result.stdout)
        XCTAssertTrue(lines.contains("ok 2 pre-patch-callback-enodev"), result.stdout)
    }

    /// Ctrl-C (and SIGTERM, SIGHUP) stops QEMU, keeps what the guest
    /// finished, and exits 128 + the signal.
    func testSignalsStopQEMUAndKeepResults() throws {
        for (signal, status) in [(SIGINT, Int32(130)), (SIGTERM, 143), (SIGHUP, 129)] {
            let scratch = try ScratchDirectory()
            let (process, out, err) = try HarnessProcess.start(["vm", "--accel", "tcg", "--results", scratch.path])
            let stderr = StreamBox(err), stdout = StreamBox(out)
            try Deadline(after: .seconds(240)).wait(for: "the first scenario's result", every: .milliseconds(50)) {
                stdout.text.contains("ok 1 ")
            }
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, status, "signal \(signal): \(stderr.text)")
            XCTAssertEqual(try qemuProcesses(using: scratch.path), [], "QEMU outlived signal \(signal)")
            let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("6.") })
            let document = try ResultsDocument.read(from: "\(scratch.path)/\(release)/results.json")
            XCTAssertFalse(document.scenarios.isEmpty, "what finished before signal \(signal) was not kept")
            XCTAssertFalse(document.complete)
        }
    }

    func testVMThatDoesNotBootIsAnInfrastructureError() throws {
        let scratch = try ScratchDirectory()
        // 48 MiB cannot hold Debian's kernel and the guest image: the guest
        // dies before the runner starts.
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--memory", "48M", "--vm-timeout", "120", "--results", scratch.path])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertTrue(result.stderr.contains("error: the VM"), result.stderr)
        XCTAssertTrue(result.stderr.contains("console log: \(scratch.path)/"), result.stderr)
        XCTAssertFalse(result.stdout.contains("not ok"), "an infrastructure failure must not look like a failing scenario")
    }

    /// QEMU processes whose command line names `path` (this test's results).
    func qemuProcesses(using path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { Int($0) != nil }.compactMap { pid in
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), comm.hasPrefix("qemu-system"),
                  let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return nil }
            return command.contains(path) ? pid : nil
        }
    }
}

/// Collects a pipe's output on a thread of its own, for tests that act on
/// what a running harness has printed so far.
final class StreamBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                lock.withLock { data.append(chunk) }
            }
        }.start()
    }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
