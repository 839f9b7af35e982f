import Foundation
import Testing
@testable import KlpHarness

/// The one spawner (posix_spawn) under Subprocess: what Foundation's
/// Process did for the host's tools still holds.
@Suite("ProcessSpawner: host tools through posix_spawn")
struct ProcessSpawnerTests {
    @Test("a tool runs in its working directory, with its environment, and sees none of the runner's other descriptors")
    func workingDirectoryEnvironmentAndDescriptors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spawner-\(UUID().uuidString)").path
        try FileBytes.makeDirectories(directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A descriptor the runner holds without O_CLOEXEC, as a lock file
        // or another run's pipe may be: the child must not inherit it.
        let held = open("\(directory)/held", O_CREAT | O_WRONLY, 0o644)
        try #require(held > 2)
        defer { close(held) }
        var tool = Subprocess("/bin/sh", ["-c", "pwd; echo \"$KLP_X\"; if [ -e /proc/$$/fd/\(held) ]; then echo inherited; else echo closed; fi; exit 7"],
                              workingDirectory: directory)
        tool.environment = ["KLP_X": "from the caller", "PATH": "/usr/bin:/bin"]
        let outcome = try tool.run(timeout: .seconds(30))
        #expect(outcome.status == 7)
        #expect(!outcome.timedOut)
        let resolved = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        #expect(outcome.output.split(separator: "\n").map(String.init) == [resolved, "from the caller", "closed"])
    }

    @Test("a tool a signal ends reports 128 + the signal, as a shell does")
    func signalExit() throws {
        let outcome = try Subprocess("/bin/sh", ["-c", "kill -TERM $$"]).run(timeout: .seconds(30))
        #expect(outcome.status == 128 + SIGTERM)
    }
}
