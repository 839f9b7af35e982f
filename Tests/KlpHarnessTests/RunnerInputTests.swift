import Foundation
import Testing
@testable import KlpHarness

/// Bad input the runner must refuse with exit 2 before it touches anything,
/// and the kernel settings it must skip on.
@Suite("Runner input: scenario files, names, signals, printk.devkmsg")
struct RunnerInputTests {
    final class Scratch {
        let path = NSTemporaryDirectory() + "klp-input-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    func loadError(_ scratch: Scratch) -> HarnessError? {
        #expect(throws: HarnessError.self) { try ScenarioSuite.load(directory: scratch.path) }
    }

    @Test func aFIFOIsRefusedWithoutHanging() throws {
        let scratch = try Scratch()
        #expect(mkfifo("\(scratch.path)/01-fifo.scenario", 0o644) == 0)
        let error = loadError(scratch)
        #expect(error?.status == .badInput)
        #expect(error?.problem == "scenario \(scratch.path)/01-fifo.scenario is not a regular file")
    }

    @Test func aDeviceIsRefused() throws {
        let scratch = try Scratch()
        try FileManager.default.createSymbolicLink(atPath: "\(scratch.path)/01-zero.scenario", withDestinationPath: "/dev/zero")
        #expect(loadError(scratch)?.problem == "scenario \(scratch.path)/01-zero.scenario is not a regular file")
    }

    @Test func aFileOver1MiBIsRefused() throws {
        let scratch = try Scratch()
        try Data(repeating: UInt8(ascii: "#"), count: (1 << 20) + 1).write(to: URL(fileURLWithPath: "\(scratch.path)/01-big.scenario"))
        #expect(loadError(scratch)?.problem == "scenario \(scratch.path)/01-big.scenario is 1048577 bytes, over the 1048576-byte (1 MiB) limit")
    }

    @Test func bytesThatAreNotUTF8AreRefused() throws {
        let scratch = try Scratch()
        try Data([0x25, 0x20, 0xff, 0xfe, 0x0a]).write(to: URL(fileURLWithPath: "\(scratch.path)/01-binary.scenario"))
        let error = loadError(scratch)
        #expect(error?.problem == "scenario \(scratch.path)/01-binary.scenario is not valid UTF-8 text")
        #expect(error?.remedy != nil)
    }

    @Test func aFileWhoseNameGivesNoScenarioNameIsRefused() throws {
        let scratch = try Scratch()
        try "% insmod a.ko\n".write(toFile: "\(scratch.path)/..scenario", atomically: true, encoding: .utf8)
        #expect(loadError(scratch)?.problem == "\(scratch.path)/..scenario gives the scenario name '.', which cannot name its results folder")
    }

    @Test(arguments: ["", ".", "..", "../etc", "a/b"])
    func pathLikeNamesOnTheCommandLineAreRefused(name: String) throws {
        let suite = ScenarioSuite(scenarios: [try ScenarioParser.parse("% insmod a.ko\n", path: "s/01-alpha.scenario")])
        let error = #expect(throws: HarnessError.self) { try suite.filtered(names: [name]) }
        #expect(error?.status == .badInput)
        #expect(error?.problem == "'\(name)' is not a scenario name")
        #expect(error?.remedy?.hasPrefix("name a scenario as its file name without number and extension") == true)
    }

    @Test func signalsExitWith128PlusTheirNumber() {
        #expect(Interruption.handled == [SIGINT, SIGTERM, SIGHUP, SIGPIPE])
        #expect(Interruption.exitStatus(for: SIGHUP).rawValue == 129)
        #expect(Interruption.exitStatus(for: SIGINT).rawValue == 130)
        #expect(Interruption.exitStatus(for: SIGPIPE).rawValue == 141)
        #expect(Interruption.exitStatus(for: SIGTERM).rawValue == 143)
        #expect(Interruption.name(of: SIGHUP) == "SIGHUP")
        #expect(Interruption.name(of: SIGPIPE) == "SIGPIPE")
    }

    @Test func printkDevkmsgOffSkips() throws {
        let scratch = try Scratch()
        let sysfs = "\(scratch.path)/sys"
        try FileManager.default.createDirectory(atPath: sysfs + "/kernel/livepatch", withIntermediateDirectories: true)
        let knob = "\(scratch.path)/printk_devkmsg"
        try "off\n".write(toFile: knob, atomically: true, encoding: .utf8)
        let reason = try #require(SuiteRunner.reasonToSkip(isRoot: true, sysfs: Sysfs(root: sysfs), printkDevkmsg: knob))
        #expect(reason.hasPrefix("\(knob) reads 'off' (printk.devkmsg=off): the kernel drops the runner's /dev/kmsg markers"))
        for value in ["on", "ratelimit"] {
            try "\(value)\n".write(toFile: knob, atomically: true, encoding: .utf8)
            #expect(SuiteRunner.reasonToSkip(isRoot: true, sysfs: Sysfs(root: sysfs), printkDevkmsg: knob) == nil)
        }
        // A kernel without the knob (older than 4.10) runs.
        #expect(SuiteRunner.reasonToSkip(isRoot: true, sysfs: Sysfs(root: sysfs), printkDevkmsg: "\(scratch.path)/none") == nil)
    }

    @Test func resultsJSONSaysWhichScenarioWasRunning() throws {
        var document = ResultsDocument(kernel: "6.1.0-56-amd64", planned: 2)
        document.running = "busy-target-module"
        let decoded = try JSONDecoder().decode(ResultsDocument.self, from: Data(try document.encoded().utf8))
        #expect(decoded.running == "busy-target-module")
        #expect(try document.encoded().contains(#""running" : "busy-target-module""#))
        // Documents of older runs, without the field, still read.
        let old = #"{"kernel":"k","complete":true,"planned":0,"scenarios":[]}"#
        #expect(try JSONDecoder().decode(ResultsDocument.self, from: Data(old.utf8)).running == nil)
    }

    /// Option errors exit 2, like every other bad input, not ArgumentParser's 64.
    @Test(arguments: [["run", "--frob"], ["run", "--timeout", "0"], ["run", "--timeout", "x"], ["show", "--bogus"], ["report", "a", "b", "c"], ["vm", "--cpus", "0"]])
    func optionErrorsAreBadInput(arguments: [String]) throws {
        let binary = Repository.root.appendingPathComponent(".build/debug/klp-harness").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { return }  // swift build builds it
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2, "\(arguments): \(stderr)")
        #expect(stderr.hasPrefix("klp-harness: error: "), "\(stderr)")
        #expect(stderr.contains("klp-harness: hint: see 'klp-harness \(arguments[0]) --help'"), "\(stderr)")
    }
}
