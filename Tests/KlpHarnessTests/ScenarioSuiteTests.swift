import Foundation
import Testing
@testable import KlpHarness

@Suite("ScenarioSuite: choosing scenarios by name")
struct ScenarioSuiteTests {
    /// A suite of small in-memory scenarios, in this order.
    func suite(_ files: [String]) throws -> ScenarioSuite {
        ScenarioSuite(scenarios: try files.map { file in
            try ScenarioParser.parse("# \(file)\n% insmod a.ko\n% rmmod a\n", path: "scenarios/\(file)")
        })
    }

    let files = ["01-alpha.scenario", "02-beta.scenario", "03-gamma.scenario", "04-delta.scenario"]

    @Test func noNamesKeepsEverything() throws {
        let suite = try suite(files)
        #expect(try suite.filtered(names: []).scenarios.map(\.name) == ["alpha", "beta", "gamma", "delta"])
    }

    @Test func keepsSuiteOrderWhateverTheOrderOfNames() throws {
        let suite = try suite(files)
        #expect(try suite.filtered(names: ["delta", "alpha"]).scenarios.map(\.name) == ["alpha", "delta"])
        #expect(try suite.filtered(names: ["gamma"]).scenarios.map(\.path) == ["scenarios/03-gamma.scenario"])
        // A name given twice runs once.
        #expect(try suite.filtered(names: ["beta", "beta"]).scenarios.map(\.name) == ["beta"])
    }

    @Test func unknownNameIsBadInputListingTheKnownNames() throws {
        let suite = try suite(files)
        let error = #expect(throws: HarnessError.self) {
            try suite.filtered(names: ["alpha", "epsilon"])
        }
        #expect(error?.status == .badInput)
        #expect(error?.problem == "no scenario is named 'epsilon'")
        #expect(error?.remedy == "known scenarios: alpha, beta, gamma, delta")
        #expect(error?.description == "no scenario is named 'epsilon'; known scenarios: alpha, beta, gamma, delta")
    }

    @Test func namesAreExactKTAPNames() throws {
        let suite = try suite(files)
        // Neither the file name nor its order prefix is a scenario name.
        for name in ["01-alpha", "01-alpha.scenario", "Alpha", "alph"] {
            #expect(throws: HarnessError.self) { try suite.filtered(names: [name]) }
        }
    }

    @Test func theShippedSuiteFiltersToTheRunsScenarios() throws {
        let suite = ScenarioSuite(scenarios: try Repository.scenarioFiles().map { try Repository.scenario($0.lastPathComponent) })
        let picked = try suite.filtered(names: ["busy-target-module", "pre-patch-callback-enodev"])
        // The order of the capture's KTAP: the suite's, not the command line's.
        #expect(picked.scenarios.map(\.name) == ["pre-patch-callback-enodev", "busy-target-module"])
    }

    // MARK: Loading a directory

    @Test func loadsTheShippedDirectoryInFileNameOrder() throws {
        let suite = try ScenarioSuite.load(directory: Repository.scenariosDirectory.path)
        let ktapNames = try Fixture.lines("ktap-6.1-pass", "txt")
            .filter { $0.hasPrefix("ok ") }
            .map { String($0.split(separator: " ")[2]) }
        // The run recorded the callbacks group (01-11), the first files.
        #expect(Array(suite.scenarios.map(\.name).prefix(ktapNames.count)) == ktapNames)
        #expect(suite.scenarios.count == (try Repository.scenarioFiles().count))
    }

    @Test func aMissingDirectoryIsBadInput() {
        let error = #expect(throws: HarnessError.self) {
            try ScenarioSuite.load(directory: "/nonexistent/klp-harness-tests/scenarios")
        }
        #expect(error?.status == .badInput)
        #expect(error?.problem == "scenario directory /nonexistent/klp-harness-tests/scenarios does not exist")
    }

    @Test func aMalformedFileStopsTheLoadNamingItsLine() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("klp-harness-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "# Fine.\n% insmod a.ko\n".write(to: directory.appendingPathComponent("01-fine.scenario"), atomically: true, encoding: .utf8)
        try "# Broken.\n% insmod a.ko\n%rmmod a\n".write(to: directory.appendingPathComponent("02-broken.scenario"), atomically: true, encoding: .utf8)
        try "not a scenario".write(to: directory.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let error = #expect(throws: HarnessError.self) {
            try ScenarioSuite.load(directory: directory.path)
        }
        #expect(error?.status == .badInput)
        #expect(error?.problem == "malformed scenario: \(directory.path)/02-broken.scenario:3: an action line starts with '% ' (percent, space)")
    }

    @Test func twoFilesWithTheSameNameAreRejected() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("klp-harness-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in ["01-same.scenario", "02-same.scenario"] {
            try "# Same.\n% insmod a.ko\n".write(to: directory.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        let error = #expect(throws: HarnessError.self) {
            try ScenarioSuite.load(directory: directory.path)
        }
        #expect(error?.problem == "two scenarios are named same: \(directory.path)/01-same.scenario and \(directory.path)/02-same.scenario")
    }
}
