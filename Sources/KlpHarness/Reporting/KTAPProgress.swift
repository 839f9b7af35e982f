/// Follows a KTAP stream line by line through KTAPLine: the plan, the
/// result lines, the records and whether the runner finished. The host's
/// hermetic run reads its ttyS1 with KTAPLine directly (it renumbers across
/// boots as it goes); this is the summary for readers of a whole stream.
public struct KTAPProgress: Sendable {
    public private(set) var plan: Int?
    public private(set) var results: [(number: Int, ok: Bool, name: String, directive: String?)] = []
    /// The `# klp-result` records, in the order they came.
    public private(set) var records: [ScenarioRecord] = []
    public private(set) var skipReason: String?
    public private(set) var sawTotals = false

    public init() {}

    /// The runner printed its closing lines (or skipped the whole suite).
    public var isComplete: Bool { sawTotals || skipReason != nil }

    public mutating func consume(_ line: String) {
        switch KTAPLine.parse(line) {
        case .plan(let count, let reason):
            plan = count
            if let reason { skipReason = reason }
        case .totals:
            sawTotals = true
        case .result(let result):
            results.append((result.number, result.ok, result.name, result.directive))
        case .record(let record):
            records.append(record)
        case .version, .diagnostic, .other:
            break
        }
    }

    /// `ok 3 name`, `not ok 4 name # TIMEOUT 60 seconds`.
    static func parseResult(_ line: String) -> (number: Int, ok: Bool, name: String, directive: String?)? {
        guard case .result(let result) = KTAPLine.parse(line) else { return nil }
        return (result.number, result.ok, result.name, result.directive)
    }
}
