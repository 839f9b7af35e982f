import Foundation
import Testing
@testable import KlpHarness

/// Access to the fixtures (real output captured from a 6.1.0-56-amd64 guest)
/// and to the repository's own scenarios/ folder.
enum Fixture {
    /// The contents of `Fixtures/<name>.<ext>`.
    static func text(_ name: String, _ ext: String) throws -> String {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"),
            "fixture Fixtures/\(name).\(ext) is not in the test bundle")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The lines of a text fixture, without the final empty line.
    static func lines(_ name: String, _ ext: String) throws -> [String] {
        var lines = try text(name, ext).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// `kmsg-busy-and-enodev.raw`: a `timeout 2 cat /dev/kmsg` dump, trimmed.
    /// Each element is one record exactly as one read(2) of /dev/kmsg returns
    /// it: the record line plus its ` KEY=value` dictionary lines.
    static func rawKmsgChunks(_ name: String = "kmsg-busy-and-enodev") throws -> [String] {
        var chunks: [String] = []
        for line in try lines(name, "raw") {
            if line.hasPrefix(" "), !chunks.isEmpty {
                chunks[chunks.count - 1] += line + "\n"
            } else {
                chunks.append(line + "\n")
            }
        }
        return chunks
    }

    /// Every record of the raw fixture, parsed.
    static func rawKmsgRecords(_ name: String = "kmsg-busy-and-enodev") throws -> [KmsgRecord] {
        try rawKmsgChunks(name).map { chunk in
            try #require(KmsgRecord(kmsg: chunk[...]), "fixture record does not parse: \(chunk)")
        }
    }

    /// The records the engine gives the transcript filter for one scenario:
    /// from its `begin` marker through its `steps done` marker.
    static func transcriptWindow(of scenario: String, in records: [KmsgRecord]) throws -> [KmsgRecord] {
        let begin = try #require(records.firstIndex { $0.message.contains("]: begin \(scenario) #") },
                                 "no begin marker for \(scenario)")
        let done = try #require(records.firstIndex { $0.message.contains("]: steps done \(scenario) #") },
                                "no steps-done marker for \(scenario)")
        return Array(records[begin...done])
    }

    /// The test modules of kmod/, as the catalog names them.
    static let moduleNames: Set<String> = [
        "livepatch_callbacks_mod", "livepatch_callbacks_busymod",
        "livepatch_callbacks_demo", "livepatch_callbacks_demo2",
    ]
}

enum Repository {
    /// /…/Tests/KlpHarnessTests/FixtureSupport.swift → the repository root.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    static let scenariosDirectory = root.appendingPathComponent("scenarios")

    /// The shipped `*.scenario` files, in file-name order.
    static func scenarioFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: scenariosDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "scenario" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// The callbacks group: the scenarios whose header cites
    /// test-callbacks.sh first. The recorded runs in Fixtures/ and the
    /// callback model cover these 11; the other groups' scenarios (other
    /// test modules, other test-*.sh) are outside both.
    static func callbackScenarioFiles() throws -> [URL] {
        try scenarioFiles().filter { url in
            let comments = try String(contentsOf: url, encoding: .utf8)
                .split(separator: "\n").prefix { $0.hasPrefix("#") }
            let script = comments.lazy.compactMap { $0.firstMatch(of: #/test-[a-z-]+\.sh/#) }.first
            return script.map { $0.output == "test-callbacks.sh" } ?? false
        }
    }

    /// Parses one shipped scenario file, e.g. `09-busy-target-module.scenario`.
    static func scenario(_ fileName: String) throws -> Scenario {
        let url = scenariosDirectory.appendingPathComponent(fileName)
        return try ScenarioParser.parse(try String(contentsOf: url, encoding: .utf8), path: url.path)
    }
}

extension Scenario {
    /// What the engine writes into the log while running this scenario when
    /// every action does what the transcript says: the action lines and the
    /// error lines of the actions expected to fail.
    var harnessLines: Set<String> {
        Set(steps.map(\.logLine)).union(transcript.filter { ScenarioParser.errorLineCommand($0) != nil })
    }
}
