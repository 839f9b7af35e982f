import Testing
@testable import KlpHarness

/// The expected texts are what GNU diffutils 3.8 prints for the same two
/// files: `diff -u --label expected --label actual OLD NEW`.
@Suite("UnifiedDiff: diff -u of expected against actual")
struct UnifiedDiffTests {
    /// "line 1" … "line n", like `seq 1 n | sed 's/^/line /'`.
    func numbered(_ range: ClosedRange<Int>) -> [String] { range.map { "line \($0)" } }

    func replacing(_ lines: [String], _ replacements: [Int: String]) -> [String] {
        lines.enumerated().map { replacements[$0.offset + 1] ?? $0.element }
    }

    func render(_ expected: [String], _ actual: [String]) -> String {
        UnifiedDiff(expected: expected, actual: actual).render().joined(separator: "\n")
    }

    @Test func identicalTranscriptsHaveAnEmptyDiff() throws {
        let transcript = try Fixture.lines("busy-target-module-expected", "txt")
        let diff = UnifiedDiff(expected: transcript, actual: try Fixture.lines("busy-target-module-actual", "txt"))
        #expect(diff.isEmpty)
        #expect(diff.render() == [])
        #expect(diff.edits == transcript.map { .same($0) })
        #expect(UnifiedDiff(expected: [], actual: []).render() == [])
    }

    @Test func oneChangedLine() {
        let old = numbered(1...10)
        #expect(render(old, replacing(old, [5: "line five"])) == """
            --- expected
            +++ actual
            @@ -2,7 +2,7 @@
             line 2
             line 3
             line 4
            -line 5
            +line five
             line 6
             line 7
             line 8
            """)
    }

    @Test func additionAtTheStart() {
        let old = numbered(1...5)
        #expect(render(old, ["line 0"] + old) == """
            --- expected
            +++ actual
            @@ -1,3 +1,4 @@
            +line 0
             line 1
             line 2
             line 3
            """)
    }

    @Test func additionAtTheEnd() {
        let old = numbered(1...5)
        #expect(render(old, old + ["line 6"]) == """
            --- expected
            +++ actual
            @@ -3,3 +3,4 @@
             line 3
             line 4
             line 5
            +line 6
            """)
    }

    @Test func removalOfTheFirstLine() {
        let old = numbered(1...5)
        #expect(render(old, Array(old.dropFirst())) == """
            --- expected
            +++ actual
            @@ -1,4 +1,3 @@
            -line 1
             line 2
             line 3
             line 4
            """)
    }

    @Test func everythingAddedToAnEmptyFile() {
        #expect(render([], numbered(1...5)) == """
            --- expected
            +++ actual
            @@ -0,0 +1,5 @@
            +line 1
            +line 2
            +line 3
            +line 4
            +line 5
            """)
    }

    @Test func twoDistantChangesAreTwoHunks() {
        let old = numbered(1...20)
        #expect(render(old, replacing(old, [3: "line three", 17: "line seventeen"])) == """
            --- expected
            +++ actual
            @@ -1,6 +1,6 @@
             line 1
             line 2
            -line 3
            +line three
             line 4
             line 5
             line 6
            @@ -14,7 +14,7 @@
             line 14
             line 15
             line 16
            -line 17
            +line seventeen
             line 18
             line 19
             line 20
            """)
    }

    @Test func changesSixLinesApartShareOneHunk() {
        // Up to 2 × 3 unchanged lines between two changes: one hunk.
        let old = numbered(1...20)
        #expect(render(old, replacing(old, [3: "X", 10: "Y"])) == """
            --- expected
            +++ actual
            @@ -1,13 +1,13 @@
             line 1
             line 2
            -line 3
            +X
             line 4
             line 5
             line 6
             line 7
             line 8
             line 9
            -line 10
            +Y
             line 11
             line 12
             line 13
            """)
    }

    @Test func changesSevenLinesApartAreTwoHunks() {
        let old = numbered(1...20)
        #expect(render(old, replacing(old, [3: "X", 11: "Y"])) == """
            --- expected
            +++ actual
            @@ -1,6 +1,6 @@
             line 1
             line 2
            -line 3
            +X
             line 4
             line 5
             line 6
            @@ -8,7 +8,7 @@
             line 8
             line 9
             line 10
            -line 11
            +Y
             line 12
             line 13
             line 14
            """)
    }

    @Test func labelsAndContextAreOptions() {
        let old = numbered(1...10)
        let lines = UnifiedDiff(expected: old, actual: replacing(old, [5: "line five"]))
            .render(context: 1, expectedLabel: "busy-target-module/expected.txt", actualLabel: "busy-target-module/actual.txt")
        // diff -U1 --label …/expected.txt --label …/actual.txt
        #expect(lines == [
            "--- busy-target-module/expected.txt",
            "+++ busy-target-module/actual.txt",
            "@@ -4,3 +4,3 @@",
            " line 4",
            "-line 5",
            "+line five",
            " line 6",
        ])
    }

    @Test func aMissingKernelLineInARealTranscript() throws {
        // The busy-target-module transcript with its post-unpatch callback for vmlinux missing.
        let expected = try Fixture.lines("busy-target-module-expected", "txt")
        let index = try #require(expected.firstIndex(of: "livepatch_callbacks_demo: post_unpatch_callback: vmlinux"))
        var actual = expected
        actual.remove(at: index)
        #expect(render(expected, actual) == """
            --- expected
            +++ actual
            @@ -19,7 +19,6 @@
             livepatch: 'livepatch_callbacks_demo': reversing transition from patching to unpatching
             livepatch: 'livepatch_callbacks_demo': starting unpatching transition
             livepatch: 'livepatch_callbacks_demo': completing unpatching transition
            -livepatch_callbacks_demo: post_unpatch_callback: vmlinux
             livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_busymod -> [MODULE_STATE_LIVE] Normal state
             livepatch: 'livepatch_callbacks_demo': unpatching complete
             % rmmod livepatch_callbacks_demo
            """)
    }

    @Test("with the scenario file's line numbers, a hunk starts at the file line of its first expected line")
    func fileLineNumbers() {
        // Expected lines 1-5 stand on file lines 3, 4, 7, 8 and 12 (comments between).
        let expected = ["a", "b", "c", "d", "e"]
        let actual = ["a", "b", "c", "X", "e"]
        let lines = UnifiedDiff(expected: expected, actual: actual)
            .render(context: 1, expectedLabel: "scenarios/01-x.scenario", actualLabel: "x/actual.txt", expectedLineNumbers: [3, 4, 7, 8, 12])
        #expect(lines == ["--- scenarios/01-x.scenario", "+++ x/actual.txt", "@@ -7,3 +3,3 @@", " c", "-d", "+X", " e"])
        // A hunk with no expected line starts after the expected line before it.
        let added = UnifiedDiff(expected: ["a"], actual: ["a", "Y"])
            .render(context: 0, expectedLineNumbers: [5])
        #expect(added.dropFirst(2).first == "@@ -5,0 +2 @@")
    }
}
