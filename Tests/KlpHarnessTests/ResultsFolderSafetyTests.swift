import Foundation
import Testing
@testable import KlpHarness

/// The runner clears and writes its results folder; it must never do so
/// through a link, nor in a folder another user could have planted.
@Suite("ResultsFolder: never through a link, never another user's folder")
struct ResultsFolderSafetyTests {
    /// A scratch directory with a results root and a victim folder holding a file.
    final class Scratch {
        let path = NSTemporaryDirectory() + "klp-results-safety-" + UUID().uuidString
        var victim: String { "\(path)/victim" }
        var results: String { "\(path)/results" }
        init() throws {
            try FileManager.default.createDirectory(atPath: "\(path)/victim", withIntermediateDirectories: true)
            try "keep me\n".write(toFile: "\(path)/victim/precious.txt", atomically: true, encoding: .utf8)
        }
        var victimIsUntouched: Bool {
            (try? String(contentsOfFile: "\(victim)/precious.txt", encoding: .utf8)) == "keep me\n"
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    let release = "6.1.0-56-amd64"

    @Test func aReleaseFolderThatIsALinkIsRefusedAndItsTargetKept() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.results, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(scratch.results)/\(release)", withDestinationPath: scratch.victim)
        let error = #expect(throws: HarnessError.self) {
            _ = try ResultsFolder(root: scratch.results, release: release).open()
        }
        #expect(error?.status == .badInput)
        #expect(error?.problem.hasPrefix("results folder \(scratch.results)/\(release) is a symbolic link") == true, "\(String(describing: error))")
        #expect(error?.remedy?.contains("--results") == true)
        #expect(scratch.victimIsUntouched)
    }

    @Test func aResultsRootThatIsALinkIsRefused() throws {
        let scratch = try Scratch()
        try FileManager.default.createSymbolicLink(atPath: scratch.results, withDestinationPath: scratch.victim)
        for root in [scratch.results, scratch.results + "/"] {
            let error = #expect(throws: HarnessError.self) {
                _ = try ResultsFolder(root: root, release: release).open()
            }
            #expect(error?.status == .badInput)
            #expect(error?.problem.contains("is a symbolic link") == true)
        }
        #expect(scratch.victimIsUntouched)
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.victim)/\(release)"))
    }

    @Test func theRunnerRefusesALinkedReleaseFolderBeforeTouchingTheKernel() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.results, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(scratch.results)/\(SystemState.kernelRelease)", withDestinationPath: scratch.victim)
        var options = SuiteRunner.Options(modules: "/nonexistent-modules", scenarios: Repository.scenariosDirectory.path, results: scratch.results)
        options.names = ["busy-target-module"]
        var output: [String] = []
        let error = #expect(throws: HarnessError.self) {
            _ = try SuiteRunner(options: options) { output.append($0) }.run()
        }
        // On the skip path too (not root, no livepatch): a link is never cleared.
        #expect(error?.status == .badInput)
        #expect(error?.problem.contains("is a symbolic link") == true)
        #expect(scratch.victimIsUntouched)
        #expect(output.isEmpty)
    }

    @Test func linksInsideTheFolderAreRemovedNotFollowed() throws {
        let scratch = try Scratch()
        let folder = ResultsFolder(root: scratch.results, release: release)
        try FileManager.default.createDirectory(atPath: "\(folder.root)/old-scenario", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(folder.root)/old-scenario/kmsg.txt", withDestinationPath: "\(scratch.victim)/precious.txt")
        try FileManager.default.createSymbolicLink(atPath: "\(folder.root)/busy-target-module", withDestinationPath: scratch.victim)
        try FileManager.default.createSymbolicLink(atPath: "\(folder.root)/results.json", withDestinationPath: "\(scratch.victim)/precious.txt")
        try "console\n".write(toFile: "\(folder.root)/console.log", atomically: true, encoding: .utf8)
        let opened = try folder.open()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.root) == ["console.log"])
        #expect(scratch.victimIsUntouched)
        // A link planted after the clear is replaced, not written through.
        try FileManager.default.createSymbolicLink(atPath: "\(folder.root)/results.json", withDestinationPath: "\(scratch.victim)/precious.txt")
        #expect(try opened.write(ResultsDocument(kernel: release, planned: 1)) == ["results.json", "junit.xml"])
        #expect(scratch.victimIsUntouched)
        #expect(try ResultsDocument.read(from: folder.jsonPath).planned == 1)
    }

    @Test func aScenarioFolderThatIsALinkIsRefused() throws {
        let scratch = try Scratch()
        let folder = ResultsFolder(root: scratch.results, release: release)
        let opened = try folder.open()
        try FileManager.default.createSymbolicLink(atPath: "\(folder.root)/alpha", withDestinationPath: scratch.victim)
        let scenario = try ScenarioParser.parse("% insmod a.ko\n", path: "scenarios/01-alpha.scenario")
        let result = ScenarioResult(scenario: scenario, status: .failed, actual: [], records: [], wallTime: .zero, transitions: [], diagnostics: [])
        #expect(throws: ResultsFolderError.self) { try opened.write(result) }
        #expect(scratch.victimIsUntouched)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.victim) == ["precious.txt"])
    }

    @Test func writingAScenarioNamesTheFilesItChanged() throws {
        let scratch = try Scratch()
        let opened = try ResultsFolder(root: scratch.results, release: release).open()
        let scenario = try ScenarioParser.parse("% insmod a.ko\n", path: "scenarios/01-alpha.scenario")
        let failed = ScenarioResult(scenario: scenario, status: .failed, actual: [], records: [], wallTime: .zero, transitions: [], diagnostics: ["a note"])
        #expect(try opened.write(failed) == ["alpha/expected.txt", "alpha/actual.txt", "alpha/kmsg.txt", "alpha/diff.txt"])
        let diff = try String(contentsOfFile: "\(scratch.results)/\(release)/alpha/diff.txt", encoding: .utf8)
        #expect(diff.hasPrefix("# a note\n"))
    }

    @Test func anotherUsersRootInAWorldWritableDirectoryIsRefused() throws {
        guard geteuid() == 0 else { return }  // chown needs root
        let scratch = try Scratch()
        let shared = "\(scratch.path)/shared"
        try FileManager.default.createDirectory(atPath: "\(shared)/results", withIntermediateDirectories: true)
        #expect(chmod(shared, 0o1777) == 0)
        #expect(chown("\(shared)/results", 65534, 65534) == 0)
        let error = #expect(throws: HarnessError.self) {
            _ = try ResultsFolder(root: "\(shared)/results", release: release).open()
        }
        #expect(error?.problem.contains("belongs to user 65534") == true, "\(String(describing: error))")
        // Our own (or root's) folder there is fine.
        #expect(chown("\(shared)/results", 0, 0) == 0)
        _ = try ResultsFolder(root: "\(shared)/results", release: release).open()
    }

    @Test func theRuleStatedOnce() {
        #expect(DirectoryHandle.refusal(isSymlink: true, owner: 0, parentWorldWritable: false, euid: 0) == "is a symbolic link")
        #expect(DirectoryHandle.refusal(isSymlink: false, owner: 1000, parentWorldWritable: false, euid: 0) == nil)
        #expect(DirectoryHandle.refusal(isSymlink: false, owner: 1000, parentWorldWritable: true, euid: 1000) == nil)
        #expect(DirectoryHandle.refusal(isSymlink: false, owner: 0, parentWorldWritable: true, euid: 1000) == nil)
        #expect(DirectoryHandle.refusal(isSymlink: false, owner: 1001, parentWorldWritable: true, euid: 1000) != nil)
    }

    @Test func anUnwritableRootIsBadInput() {
        let error = #expect(throws: HarnessError.self) {
            _ = try ResultsFolder(root: "/proc/klp-harness-results", release: release).open()
        }
        #expect(error?.status == .badInput)
        #expect(error?.problem.hasPrefix("cannot create results folder /proc/klp-harness-results") == true, "\(String(describing: error))")
    }
}
