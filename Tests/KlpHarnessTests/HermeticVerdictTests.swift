import Foundation
import Testing
@testable import KlpHarness

/// The host's verdict on a hermetic run is the agreement of every witness:
/// the runner's exit status (ttyS1 and the results channel), ttyS1's KTAP
/// plan, result lines and records, and the records and completion frame of
/// the results channel. Each test replays
/// recorded boots through `SuiteBoots` (no VM) and makes one witness go
/// missing or lie; the recordings use the runner's own line and frame
/// formats (compare Fixtures/ktap-6.1-pass.txt and ResultsChannel).
@Suite("Hermetic verdict")
struct HermeticVerdictTests {
    static let names = ["target-module-before-livepatch", "module-coming-notifier", "module-going-notifier",
                        "module-coming-and-going-notifiers", "target-module-not-present"]

    // MARK: the good paths

    @Test("every witness says pass: exit 0, complete results")
    func allPass() throws {
        let outcome = try replay([Recording(Self.names)])
        #expect(outcome.result.status == .passed)
        #expect(outcome.result.infrastructureError == nil)
        #expect(outcome.document.complete)
        #expect(outcome.document.scenarios.map(\.status) == Array(repeating: .pass, count: 5))
        #expect(outcome.stdout.contains("# Totals: pass:5 fail:0 xfail:0 xpass:0 skip:0 error:0"))
        // The guest's junit.xml never becomes a result; the host writes its own.
        #expect(try String(contentsOfFile: outcome.folder.junitPath, encoding: .utf8).contains(#"failures="0""#))
        #expect(!outcome.junit.contains("guest's own junit"))
    }

    @Test("one failure that every witness reports: exit 1")
    func oneFailureAgreed() throws {
        let outcome = try replay([Recording(Self.names, failing: ["target-module-not-present"])])
        #expect(outcome.result.status == .failed)
        #expect(outcome.result.infrastructureError == nil)
        #expect(outcome.document.complete)
        #expect(outcome.junit.contains(#"failures="1""#))
    }

    @Test("a kernel crash fails its scenario, and the next boot runs the rest")
    func crashThenReboot() throws {
        let console = try Fixture.text("console-oops-6.1", "log").split(separator: "\n").map(String.init)
        var crashed = Recording(Array(Self.names.prefix(2)))
        crashed.crashIn = Self.names[2]
        crashed.console = console
        let second = Recording(Array(Self.names.suffix(2)))
        let outcome = try replay([crashed, second])
        #expect(outcome.result.status == .failed)
        #expect(outcome.result.boots == 2)
        #expect(outcome.result.infrastructureError == nil)
        #expect(outcome.document.scenarios.map(\.status) == [.pass, .pass, .crash, .pass, .pass])
        #expect(outcome.document.scenarios.map(\.number) == [1, 2, 3, 4, 5])
        #expect(outcome.stdout.contains("not ok 3 module-going-notifier"))
        #expect(outcome.stdout.contains { $0.hasPrefix("# kernel crashed: BUG: kernel NULL pointer dereference") })
        #expect(outcome.stdout.contains("ok 5 target-module-not-present"))
    }

    /// The rule for a lost port (see Witnesses): ttyS1 lost as a whole is
    /// a missing witness, and the channel's results and exit status decide.
    @Test("ttyS1 lost as a whole: the channel's complete results and exit status decide")
    func lostKTAPPort() throws {
        var recording = Recording(Self.names, failing: ["module-going-notifier"])
        recording.dropKTAP = true
        let outcome = try replay([recording])
        #expect(outcome.result.status == .failed)
        #expect(outcome.result.infrastructureError == nil)
        #expect(outcome.document.scenarios.map(\.status) == [.pass, .pass, .fail, .pass, .pass])
    }

    // MARK: a witness missing

    @Test("ttyS1 lost only its exit line: the channel's copy is the status, and the rest agrees")
    func ktapLostOnlyItsExitLine() throws {
        var recording = Recording(Self.names, failing: ["module-going-notifier"])
        recording.exitStatus = nil
        recording.channelExitStatus = 1
        let outcome = try replay([recording])
        #expect(outcome.result.status == .failed)
        #expect(outcome.result.infrastructureError == nil)
    }

    @Test("a record that arrived but does not decode")
    func undecodableRecord() throws {
        var recording = Recording(Self.names)
        recording.channelTail = Array("KLP-FILE 5 records/3.json\n{nope".utf8)
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("the guest's records/3.json arrived but is not a scenario record") == true)
    }

    @Test("a completion frame that arrived but does not decode")
    func undecodableCompletion() throws {
        var recording = Recording(Self.names)
        recording.channelTail = Array("KLP-FILE 5 records/end.json\n{nope".utf8)
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("records/end.json arrived but is not a completion frame") == true)
    }

    @Test("no completion frame although the runner exited 0")
    func missingCompletion() throws {
        var recording = Recording(Self.names)
        recording.sendsCompletion = false
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("records/end.json did not arrive over the results channel") == true)
    }

    @Test("a record missing from the channel")
    func channelMissesARecord() throws {
        var recording = Recording(Self.names)
        recording.channelOmitsRecord = "module-going-notifier"
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("the guest's records list 4 of the 5 planned scenarios; missing: module-going-notifier") == true)
    }

    @Test("the channel loses its tail: the failing scenario's entry never arrives (issue 15's reproduction)")
    func channelTailLost() throws {
        var recording = Recording(Self.names, failing: ["target-module-not-present"])
        recording.channelCut = .beforeScenario("target-module-not-present")
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        let error = try #require(outcome.result.infrastructureError)
        #expect(error.contains("the results channel has no exit status (ttyS1 says 1): the channel lost its tail"), "\(error)")
        #expect(!outcome.document.complete)
        #expect(outcome.document.scenarios.last?.status == .infrastructure)
        #expect(outcome.stdout.contains { $0.hasPrefix("# error: the guest's witnesses disagree") })
        #expect(!outcome.junit.contains(#"errors="0""#))
    }

    @Test("a frame cut short is never ignored once the runner exited")
    func truncatedFrame() throws {
        var recording = Recording(Self.names, failing: ["target-module-not-present"])
        recording.channelCut = .insideLastFrame
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("ends in the middle of a frame") == true)
        // None of the boot's entries is a verdict: JUnit must not read as a pass.
        #expect(outcome.document.scenarios.allSatisfy { $0.status == .infrastructure })
        #expect(outcome.junit.contains(#"failures="0" errors="5""#))
        #expect(outcome.document.scenarios[0].diagnostics.last?.hasPrefix("the guest reported pass, but the guest's witnesses disagree") == true)
    }

    @Test("a frame longer than 64 MiB is neither trusted nor allocated")
    func oversizedFrame() throws {
        var recording = Recording(Self.names)
        recording.channelTail = Array("KLP-FILE \(Int.max) results.json\n{}".utf8)
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("a frame longer than 64 MiB") == true)
        let parsed = ResultsChannel.parse(Array("KLP-FILE 67108865 x\nab".utf8))
        #expect(parsed.oversizedFrame == "KLP-FILE 67108865 x")
        #expect(parsed.files.isEmpty)
    }

    @Test("no exit status anywhere, with a complete-looking results.json: infrastructure")
    func missingExitStatus() throws {
        var recording = Recording(Self.names)
        recording.exitStatus = nil
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("without the runner's exit status") == true)
    }

    @Test("ttyS1 misses one planned scenario's result line")
    func ktapMissesAScenario() throws {
        var recording = Recording(Self.names, failing: ["module-going-notifier"])
        recording.ktapOmits = "module-going-notifier"
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("ttyS1's KTAP has no result line for module-going-notifier") == true)
    }

    @Test("the completion frame says the suite did not finish")
    func incompleteDocument() throws {
        var recording = Recording(Self.names)
        recording.documentComplete = false
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("the guest's completion frame says the suite did not finish although the runner exited with 0") == true)
    }

    // MARK: a witness lying

    @Test("exit status 0 with a `not ok` line")
    func exitZeroWithNotOK() throws {
        var recording = Recording(Self.names, failing: ["target-module-not-present"])
        recording.exitStatus = 0
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("the runner exited 0 but the guest's records have target-module-not-present failing") == true)
    }

    @Test("exit status 1 while every witness says pass")
    func exitOneAllPass() throws {
        var recording = Recording(Self.names)
        recording.exitStatus = 1
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("the runner exited 1 but every scenario passed") == true)
    }

    @Test("ttyS1 and the channel give different exit statuses")
    func exitStatusesDiffer() throws {
        var recording = Recording(Self.names)
        recording.channelExitStatus = 1
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("exit status is 0 on ttyS1 but 1 over the results channel") == true)
    }

    @Test("the channel's record says pass where KTAP says `not ok`")
    func documentDisagreesWithKTAP() throws {
        var recording = Recording(Self.names, failing: ["module-going-notifier"])
        recording.documentSaysPass = true
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("module-going-notifier is 'not ok' on ttyS1 but 'pass' in the guest's record") == true)
        #expect(outcome.document.scenarios.first { $0.name == "module-going-notifier" }?.status == .infrastructure)
    }

    @Test("ttyS1's record differs from the channel's (same status, other data)")
    func recordsDiffer() throws {
        var recording = Recording(Self.names, failing: ["module-going-notifier"])
        recording.channelRecordDuration = 9.5
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("ttyS1's record of target-module-before-livepatch differs from the one over the results channel") == true)
    }

    @Test("the host's results are the records': the crash's record and renumbered records on stdout")
    func hostKTAPCarriesRenumberedRecords() throws {
        let console = try Fixture.text("console-oops-6.1", "log").split(separator: "\n").map(String.init)
        var crashed = Recording(Array(Self.names.prefix(2)))
        crashed.crashIn = Self.names[2]
        crashed.console = console
        let outcome = try replay([crashed, Recording(Array(Self.names.suffix(2)))])
        let records = outcome.stdout.compactMap { ScenarioRecord.parse(ktapLine: $0) }
        #expect(records.map(\.result.number) == [1, 2, 3, 4, 5])
        #expect(records.map(\.result) == outcome.document.scenarios)
        #expect(records[2].result.status == .crash)
        let crashLine = try #require(outcome.stdout.firstIndex(of: "not ok 3 module-going-notifier"))
        #expect(ScenarioRecord.parse(ktapLine: outcome.stdout[crashLine - 1])?.result.name == "module-going-notifier")
        // ktap.txt holds the same stream.
        let ktap = try String(contentsOfFile: outcome.folder.ktapPath, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(ktap == outcome.stdout)
    }

    @Test("the page is built from what the host holds in memory, not from the folder read back")
    func pageFromMemory() throws {
        let console = try Fixture.text("console-oops-6.1", "log").split(separator: "\n").map(String.init)
        var crashed = Recording(Array(Self.names.prefix(2)))
        crashed.crashIn = Self.names[2]
        crashed.console = console
        let outcome = try replay([crashed, Recording(Array(Self.names.suffix(2)))])
        #expect(outcome.result.artifacts.keys.sorted() == Self.names.sorted())
        #expect(outcome.result.artifacts["module-coming-notifier"]?.actual == ["livepatch: enabling patch module-coming-notifier"])
        #expect(outcome.result.artifacts["module-coming-notifier"]?.records.map(\.message) == ["livepatch: enabling patch module-coming-notifier"])
        #expect(outcome.result.artifacts["module-going-notifier"]?.actual == [])
        // The folders go away: the page must not need them.
        for name in Self.names { try FileBytes.removeTree(outcome.folder.scenarioDirectory(name)) }
        let kernel = ResultsArchive.KernelRun(release: outcome.document.kernel, directory: outcome.folder.root,
                                              document: outcome.document, delivered: outcome.result.artifacts)
        let page = HTMLReport.render(ResultsArchive(root: outcome.folder.resultsRoot, kernels: [kernel]))
        for name in Self.names where name != Self.names[2] {
            #expect(page.contains("livepatch: enabling patch \(name)"), "\(name)'s transcript is not on the page")
        }
        let onDisk = ResultsArchive.KernelRun(release: outcome.document.kernel, directory: outcome.folder.root, document: outcome.document)
        #expect(onDisk.artifacts(of: Self.names[0]) == nil)
    }

    @Test("a KTAP plan that disagrees with the scenarios planned")
    func planDisagrees() throws {
        var recording = Recording(Self.names)
        recording.plan = 4
        let outcome = try replay([recording])
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("ttyS1's KTAP plan is 1..4 but 5 scenario(s) were planned") == true)
    }

    // MARK: the host cannot write

    @Test("a results file the host cannot write leaves no results.json, junit.xml or .tmp behind")
    func hostWriteFailure() throws {
        var recording = Recording(Self.names)
        // A directory where the host writes results.json: rename(2) fails,
        // as a write does on a full disk.
        recording.beforeReturning = { folder in
            try FileBytes.makeDirectories(folder.jsonPath)
            try FileBytes.write("stale", to: folder.junitPath)
        }
        let (machine, folder) = try ReplayedGuest.make([recording])
        var stdout: [String] = []
        let run = SuiteBoots(machine: machine, scenarios: Self.names.map(Self.scenario), scenarioTimeout: 60,
                              emit: { stdout.append($0) }, narrate: false)
        #expect(throws: HarnessError.self) { try run.run() }
        #expect(stdout.last?.hasPrefix("# error: could not store this kernel's results") == true)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.root)
        #expect(!left.contains("junit.xml"))
        #expect(!left.contains("ktap.txt"))
        #expect(!left.contains { $0.hasSuffix(".tmp") }, "\(left)")
    }

    @Test("the guest's top-level files (its junit.xml) are never stored; its scenario folders are")
    func storeKeepsOnlyScenarioFolders() throws {
        let (machine, folder) = try ReplayedGuest.make([])
        let run = SuiteBoots(machine: machine, scenarios: [], scenarioTimeout: 60, emit: nil, narrate: false)
        let delivered = try run.store(ResultsChannel.parse(try Recording(["a"]).channel(release: "x")))
        #expect(delivered.completionArrived && delivered.completion?.complete == true)
        #expect(delivered.records.map(\.result.name) == ["a"])
        #expect(FileBytes.size("\(folder.root)/records") == nil)
        #expect(FileBytes.size(folder.junitPath) == nil)
        #expect(FileBytes.size(folder.jsonPath) == nil)
        #expect(FileBytes.size("\(folder.root)/a/actual.txt") != nil)
    }

    @Test("FileBytes.replace removes its .tmp when the rename fails")
    func replaceLeavesNoTemporary() throws {
        let root = NSTemporaryDirectory() + "klp-verdict-" + UUID().uuidString
        try FileBytes.makeDirectories("\(root)/target.json")
        defer { try? FileBytes.removeTree(root) }
        #expect(throws: KernelFileError.self) { try FileBytes.replace("\(root)/target.json", with: Array("x".utf8)) }
        #expect(FileBytes.size("\(root)/target.json.tmp") == nil)
    }

    // MARK: replaying

    static func scenario(_ name: String) -> Scenario {
        Scenario(name: name, path: "scenarios/\(name).scenario", steps: [], lines: [])
    }

    struct Outcome {
        var result: SuiteBoots.Result
        var document: ResultsDocument
        var stdout: [String]
        var folder: ResultsFolder
        var junit: String
    }

    func replay(_ recordings: [Recording]) throws -> Outcome {
        let (machine, folder) = try ReplayedGuest.make(recordings)
        var stdout: [String] = []
        let run = SuiteBoots(machine: machine, scenarios: Self.names.map(Self.scenario), scenarioTimeout: 60,
                              emit: { stdout.append($0) }, narrate: false)
        let result = try run.run()
        let junit = try String(contentsOfFile: folder.junitPath, encoding: .utf8)
        // What the host wrote is what it returned.
        #expect(try ResultsDocument.read(from: folder.jsonPath) == result.document)
        return Outcome(result: result, document: result.document, stdout: stdout, folder: folder, junit: junit)
    }
}

/// One boot as the guest would have produced it: ttyS1's lines (the
/// runner's KTAP with a record before each result line, then the init's
/// exit line), the results channel's frames (each scenario's files and its
/// record, the completion frame at the end, then the init's `exit-status`)
/// and the console.
struct Recording {
    enum Cut { case beforeScenario(String), insideLastFrame }

    var names: [String]
    var failing: Set<String> = []
    /// The runner's exit status on both ports; nil when the runner never finished.
    var exitStatus: Int32?
    var channelExitStatus: Int32?
    var plan: Int?
    var ktapOmits: String?
    var dropKTAP = false
    var documentComplete = true
    /// The channel's records say pass for every scenario.
    var documentSaysPass = false
    var sendsCompletion = true
    var channelOmitsRecord: String?
    /// The channel's records give this wall time, ttyS1's the real one.
    var channelRecordDuration: Double?
    var channelCut: Cut?
    var channelTail: [UInt8] = []
    /// A scenario started after `names` in which the kernel crashed.
    var crashIn: String?
    var console: [String] = []
    var beforeReturning: ((ResultsFolder) throws -> Void)?

    init(_ names: [String], failing: Set<String> = []) {
        self.names = names
        self.failing = failing
        exitStatus = failing.isEmpty ? 0 : 1
        plan = names.count
    }

    static let release = "6.1.0-57-amd64"

    /// The record the runner printed and sent for scenario `index`.
    func record(_ index: Int, onChannel: Bool) -> ScenarioRecord {
        let name = names[index]
        let failed = failing.contains(name) && !(onChannel && documentSaysPass)
        return ScenarioRecord(kernel: Self.release, result: .init(
            number: index + 1, name: name, status: failed ? .fail : .pass,
            durationSeconds: onChannel ? channelRecordDuration ?? 0.455 : 0.455, transitionSeconds: 0.003, transitions: 2,
            diagnostics: [], logExcerpt: [], artifacts: ["actual": "\(name)/actual.txt"]))
    }

    var ktap: [String] {
        guard !dropKTAP else { return [] }
        var lines = ["# guest: init started 0.62 s after the kernel did", "KTAP version 1", "1..\(plan ?? names.count)"]
        for (index, name) in names.enumerated() {
            lines.append("# starting \(index + 1) \(name)")
            lines.append("# \(name): 0.455 s wall, 0.003 s in 2 transition(s)")
            if name != ktapOmits {
                lines.append(record(index, onChannel: false).ktapLine)
                lines.append("\(failing.contains(name) ? "not ok" : "ok") \(index + 1) \(name)")
            }
        }
        if let crashIn {
            lines.append("# starting \(names.count + 1) \(crashIn)")
            return lines
        }
        let passed = names.count - failing.count
        lines += ["# Totals: pass:\(passed) fail:\(failing.count) xfail:0 xpass:0 skip:0 error:0", "\(passed) passed, \(failing.count) failed"]
        if let exitStatus { lines.append(GuestImage.exitPrefix + String(exitStatus)) }
        return lines
    }

    /// This boot as the host would have recorded it. QEMU exits 0 after
    /// the init's `reboot -f` under -no-reboot, and with a status of its own
    /// after a panic (panic=-1).
    func boot(release: String) throws -> BootRecording {
        BootRecording(ttyS1: ktap, channel: try channel(release: release), console: console,
                      qemuStatus: crashIn == nil ? 0 : 1)
    }

    func frame(_ path: String, _ bytes: [UInt8]) -> [UInt8] {
        Array("\(ResultsChannel.tag)\(bytes.count) \(path)\n".utf8) + bytes
    }

    func channel(release: String) throws -> [UInt8] {
        // A top-level file the host must never store (the guest's junit.xml
        // crossed the channel in earlier versions).
        var stream = frame("junit.xml", Array("<testsuites name=\"guest's own junit\"/>\n".utf8))
        for (index, name) in names.enumerated() {
            if case .beforeScenario(name) = channelCut { return stream }
            stream += frame("\(name)/expected.txt", Array("livepatch: enabling patch\n".utf8))
            stream += frame("\(name)/actual.txt", Array("livepatch: enabling patch \(name)\n".utf8))
            stream += frame("\(name)/kmsg.txt", Array("[   12.500000] livepatch: enabling patch \(name)\n".utf8))
            if name != channelOmitsRecord {
                stream += frame(ResultsChannel.recordPath(index + 1), Array(record(index, onChannel: true).json().utf8))
            }
        }
        if crashIn != nil { return stream }
        if sendsCompletion {
            let completion = ResultsChannel.Completion(complete: documentComplete, planned: names.count)
            stream += frame(ResultsChannel.completionPath, Array(completion.json().utf8))
        }
        if case .insideLastFrame = channelCut { return Array(stream.dropLast(10)) }
        if let status = channelExitStatus ?? exitStatus { stream += frame(GuestImage.exitStatusFile, Array(String(status).utf8)) }
        return stream + channelTail
    }
}

/// Recorded boots, replayed in order as `GuestMachine` would deliver them.
final class ReplayedGuest: GuestBooting {
    let release = "6.1.0-57-amd64"
    let folder: ResultsFolder
    let wallClock = Deadline(after: .seconds(3600))
    let log: (String) -> Void = { _ in }
    let firstQemuComplaint: String? = nil
    /// Each boot, and what to do to the host's folder before it returns.
    private var boots: [(recording: BootRecording, beforeReturning: ((ResultsFolder) throws -> Void)?)]

    init(folder: ResultsFolder, boots: [(recording: BootRecording, beforeReturning: ((ResultsFolder) throws -> Void)?)]) {
        self.folder = folder
        self.boots = boots
    }

    /// A fresh results folder.
    static func makeFolder() throws -> ResultsFolder {
        let folder = ResultsFolder(root: NSTemporaryDirectory() + "klp-verdict-" + UUID().uuidString, release: "6.1.0-57-amd64")
        try FileBytes.makeDirectories(folder.root)
        return folder
    }

    static func make(_ recordings: [Recording]) throws -> (ReplayedGuest, ResultsFolder) {
        let folder = try makeFolder()
        let boots = try recordings.map { (try $0.boot(release: "6.1.0-57-amd64"), $0.beforeReturning) }
        return (ReplayedGuest(folder: folder, boots: boots), folder)
    }

    /// Through the same routing as a live boot (`GuestMachine.replay`).
    func boot(arguments: [String], files: [(name: String, text: String)], stopWhen: (@Sendable () -> Bool)?,
              onLine: (String) -> Void) throws -> GuestMachine.Boot {
        guard !boots.isEmpty else { throw HarnessError.infrastructure("no recorded boot left") }
        let (recording, beforeReturning) = boots.removeFirst()
        let boot = GuestMachine.replay(recording, release: release, log: log, onLine: onLine)
        try beforeReturning?(folder)
        return boot
    }
}
