import Testing
@testable import KlpHarness

/// `@RELEASE-PREFIX: line`: a line expected on some kernels only.
@Suite("Scenario variants: kernel-specific expected lines")
struct ScenarioVariantTests {
    static let text = """
        # Old and new wording of the same cancel path.
        % insmod livepatch-callbacks-demo.ko pre_patch_ret=-19
        livepatch: enabling patch 'livepatch_callbacks_demo'
        @6.1: livepatch: 'livepatch_callbacks_demo': old wording
        @6.12: livepatch: 'livepatch_callbacks_demo': new wording
        insmod: ERROR: could not insert module livepatch-callbacks-demo.ko: No such device
        """

    @Test func commonLinesApplyEverywhereAndVariantsOnlyToTheirKernel() throws {
        let scenario = try ScenarioParser.parse(Self.text, path: "01-variant.scenario")
        #expect(scenario.transcript(for: "6.1.0-56-amd64") == [
            "% insmod livepatch-callbacks-demo.ko pre_patch_ret=-19",
            "livepatch: enabling patch 'livepatch_callbacks_demo'",
            "livepatch: 'livepatch_callbacks_demo': old wording",
            "insmod: ERROR: could not insert module livepatch-callbacks-demo.ko: No such device",
        ])
        #expect(scenario.transcript(for: "6.12.117+deb12-amd64")[2] == "livepatch: 'livepatch_callbacks_demo': new wording")
        // With no kernel named, only the common lines.
        #expect(scenario.transcript.count == 3)
        // The error line after a variant still marks the insmod as failing.
        #expect(scenario.steps[0].expectsFailure)
    }

    @Test("a release prefix ends at a component boundary", arguments: [
        ("6.1", "6.1.0-56-amd64", true),
        ("6.1", "6.12.117+deb12-amd64", false),
        ("6.12", "6.12.117+deb12-amd64", true),
        ("6.12", "6.1.0-56-amd64", false),
        ("6", "6.1.0-56-amd64", true),
        ("6.12.117", "6.12.117+deb12-amd64", true),
    ])
    func prefixMatching(prefix: String, release: String, applies: Bool) {
        #expect(TranscriptLine(text: "x", kernel: prefix, line: 1).applies(to: release) == applies)
    }

    @Test func variantsAreListedForTheReport() throws {
        let scenario = try ScenarioParser.parse(Self.text, path: "01-variant.scenario")
        #expect(scenario.variants(for: "6.12.117+deb12-amd64").map(\.line) == [5])
        #expect(scenario.variants(for: "5.15.0").isEmpty)
    }

    @Test("malformed variant lines", arguments: ["@6.12 no colon", "@: empty prefix", "@6.x: not a release", "@6.12:no space"])
    func malformed(line: String) throws {
        let error = try #require(throws: ScenarioParseError.self) {
            try ScenarioParser.parse("% rmmod a\n\(line)\n", path: "01-bad.scenario")
        }
        #expect(error.line == 2)
        #expect(error.message.contains("'@RELEASE-PREFIX: expected line'"))
    }

    @Test func theShippedScenariosNeedNoVariants() throws {
        // 6.1 and 6.12 print the same lines for every scenario (both pass in
        // the VM suite); a variant appearing here must be a deliberate change.
        for file in try Repository.scenarioFiles() {
            let scenario = try Repository.scenario(file.lastPathComponent)
            #expect(scenario.lines.allSatisfy { $0.kernel == nil }, "\(scenario.path)")
        }
    }
}
