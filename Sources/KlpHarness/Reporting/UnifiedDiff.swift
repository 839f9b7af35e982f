/// A line diff of expected against actual transcripts, printed as a unified
/// diff (`diff -u`), so a failing scenario reads like any patch review.
public struct UnifiedDiff: Equatable, Sendable {
    public enum Edit: Equatable, Sendable {
        case same(String)
        case removed(String)
        case added(String)
    }

    public var edits: [Edit]

    public var isEmpty: Bool { edits.allSatisfy { if case .same = $0 { true } else { false } } }

    /// A longest-common-subsequence alignment. Transcripts are tens of
    /// lines, so the quadratic table is cheap and the result is minimal.
    public init(expected: [String], actual: [String]) {
        let n = expected.count, m = actual.count
        var common = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                common[i][j] = expected[i] == actual[j]
                    ? common[i + 1][j + 1] + 1
                    : max(common[i + 1][j], common[i][j + 1])
            }
        }
        var edits: [Edit] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, expected[i] == actual[j] {
                edits.append(.same(expected[i])); i += 1; j += 1
            } else if j < m, i == n || common[i][j + 1] >= common[i + 1][j] {
                edits.append(.added(actual[j])); j += 1
            } else {
                edits.append(.removed(expected[i])); i += 1
            }
        }
        // Show removals before additions within a changed run, as diff -u does.
        self.edits = Self.removalsFirst(edits)
    }

    static func removalsFirst(_ edits: [Edit]) -> [Edit] {
        var result: [Edit] = [], removed: [Edit] = [], added: [Edit] = []
        func flush() { result += removed + added; removed = []; added = [] }
        for edit in edits {
            switch edit {
            case .same: flush(); result.append(edit)
            case .removed: removed.append(edit)
            case .added: added.append(edit)
            }
        }
        flush()
        return result
    }

    /// The `--- expected` / `+++ actual` text with `context` lines around
    /// changes. With `expectedLineNumbers` (the file line of each expected
    /// line), a hunk's `-start` is that file's line number, as cram labels
    /// its failures: the reader jumps straight to the line to change.
    public func render(context: Int = 3, expectedLabel: String = "expected", actualLabel: String = "actual",
                       expectedLineNumbers: [Int]? = nil) -> [String] {
        guard !isEmpty else { return [] }
        var lines = ["--- \(expectedLabel)", "+++ \(actualLabel)"]
        // Positions (old line, new line) before each edit.
        var positions: [(Int, Int)] = []
        var old = 0, new = 0
        for edit in edits {
            positions.append((old, new))
            switch edit {
            case .same: old += 1; new += 1
            case .removed: old += 1
            case .added: new += 1
            }
        }
        let changed = edits.indices.filter { if case .same = edits[$0] { false } else { true } }
        var hunks: [ClosedRange<Int>] = []
        for index in changed {
            let range = max(0, index - context)...min(edits.count - 1, index + context)
            if let last = hunks.last, range.lowerBound <= last.upperBound + 1 {
                hunks[hunks.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                hunks.append(range)
            }
        }
        for hunk in hunks {
            let slice = edits[hunk]
            let oldCount = slice.filter { if case .added = $0 { false } else { true } }.count
            let newCount = slice.filter { if case .removed = $0 { false } else { true } }.count
            let (oldStart, newStart) = positions[hunk.lowerBound]
            let oldRange = expectedLineNumbers.map { Self.fileRange(oldStart, oldCount, lines: $0) } ?? Self.range(oldStart, oldCount)
            lines.append("@@ -\(oldRange) +\(Self.range(newStart, newCount)) @@")
            for edit in slice {
                switch edit {
                case .same(let text): lines.append(" \(text)")
                case .removed(let text): lines.append("-\(text)")
                case .added(let text): lines.append("+\(text)")
                }
            }
        }
        return lines
    }

    /// `start,count` where start is the file line of expected line
    /// `index` (0-based): for an empty range, the line after the previous one.
    static func fileRange(_ index: Int, _ count: Int, lines: [Int]) -> String {
        guard index < lines.count || count == 0 else { return range(index, count) }
        if count == 0 {
            return "\(index > 0 && index - 1 < lines.count ? lines[index - 1] : 0),0"
        }
        return count == 1 ? "\(lines[index])" : "\(lines[index]),\(count)"
    }

    /// diff -u's `start,count`, where an empty range starts one line earlier.
    static func range(_ start: Int, _ count: Int) -> String {
        count == 0 ? "\(start),0" : count == 1 ? "\(start + 1)" : "\(start + 1),\(count)"
    }
}

// Here rather than beside ScenarioResult: Reporting reads Scenario's
// results, Scenario never needs Reporting.
extension ScenarioResult {
    /// diff.txt: the notes, then expected against actual as diff -u (only
    /// the notes when records of the transcript were lost).
    public var diffFileLines: [String] {
        diagnostics.map { "# \($0)" }
            + crashExcerpt
            + (showsDiff ? UnifiedDiff(expected: expected, actual: actual).render(
                expectedLabel: scenario.path, actualLabel: "actual.txt", expectedLineNumbers: expectedLineNumbers) : [])
    }
}
