import Foundation
import XCTest

/// Runs the release klp-harness binary as a user would, capturing its
/// output and exit code.
struct HarnessProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        var output: String { stdout + stderr }
    }

    static let repository: String = {
        // Tests/KlpHarnessSystemTests/HarnessProcess.swift → repository root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    static var binary: String { "\(repository)/.build/release/klp-harness" }

    static func requireBinary() throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw XCTSkip("build the runner first: swift build -c release --product klp-harness")
        }
    }

    /// The explorer's VM tests run only when KLP_HARNESS_EXPLORE_TESTS=1
    /// (scripts/test sets it), on KLP_HARNESS_EXPLORE_KERNEL (default 6.1).
    static func requireExploreTests() throws {
        guard ProcessInfo.processInfo.environment["KLP_HARNESS_EXPLORE_TESTS"] == "1" else {
            throw XCTSkip("boots VMs: set KLP_HARNESS_EXPLORE_TESTS=1 (scripts/test does)")
        }
        try requireBinary()
    }

    static var exploreKernel: String { ProcessInfo.processInfo.environment["KLP_HARNESS_EXPLORE_KERNEL"] ?? "6.1" }

    /// Starts the harness; `prefix` runs it through another program (setpriv).
    static func start(_ arguments: [String], prefix: [String] = []) throws -> (Process, Pipe, Pipe) {
        try startCommand(prefix + [binary] + arguments)
    }

    /// Starts any command from the repository root, stdin from /dev/null.
    static func startCommand(_ command: [String], environment extra: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        process.currentDirectoryURL = URL(fileURLWithPath: repository)
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    static func run(_ arguments: [String], prefix: [String] = []) throws -> Result {
        try runCommand(prefix + [binary] + arguments)
    }

    /// Runs any command to the end, collecting stdout and stderr apart.
    static func runCommand(_ command: [String], environment extra: [String: String] = [:]) throws -> Result {
        let (process, out, err) = try startCommand(command, environment: extra)
        // Read both pipes to the end before waiting, so a chatty child never blocks.
        let stderrData = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            stderrData.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData.data, as: UTF8.self))
    }
}

/// Scenarios the system tests write on the fly.
enum TestScenarios {
    /// The busy module stays blocked and the livepatch load waits for its
    /// transition to finish, which it cannot: only a time limit ends it.
    static let stalled = """
        % insmod livepatch-callbacks-busymod.ko block_transition=Y
        livepatch_callbacks_busymod: livepatch_callbacks_busymod_init
        livepatch_callbacks_busymod: busymod_work_func enter
        % insmod livepatch-callbacks-demo.ko
        % echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled
        % rmmod livepatch_callbacks_demo
        % rmmod livepatch_callbacks_busymod

        """

    /// A livepatch whose pre-patch callback writes through a NULL pointer
    /// (kmod/livepatch-callbacks-crash.c): an oops in the insmod.
    static let crashing = """
        # The pre-patch callback oopses; with oops=panic the guest panics.
        % insmod livepatch-callbacks-crash.ko crash=oops
        livepatch: enabling patch 'livepatch_callbacks_crash'
        livepatch: 'livepatch_callbacks_crash': initializing patching transition
        livepatch_callbacks_crash: pre_patch_callback: crash=oops

        """

    /// The pre-patch callback spins with preemption off: a soft lockup.
    static let hanging = """
        # The pre-patch callback never returns; softlockup_panic=1 panics the guest.
        % insmod livepatch-callbacks-crash.ko crash=hang
        livepatch: enabling patch 'livepatch_callbacks_crash'
        livepatch: 'livepatch_callbacks_crash': initializing patching transition
        livepatch_callbacks_crash: pre_patch_callback: crash=hang

        """
}

/// Written by one reader thread, read after DispatchGroup.wait().
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// A scratch directory removed after the test.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "klp-harness-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // The not-root test writes results here as nobody.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: path)
    }

    func subdirectory(_ name: String) throws -> String {
        let sub = "\(path)/\(name)"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: sub)
        return sub
    }

    func write(_ text: String, to name: String) throws {
        try text.write(toFile: "\(path)/\(name)", atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
