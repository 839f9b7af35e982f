import Foundation

/// One scenario's result as data: the kernel it ran on and the same entry
/// results.json holds. The runner prints it as a KTAP diagnostic right
/// before the scenario's result line (`# klp-result {json}`), so every
/// reader of the stream (the host, LAVA, kselftest) takes the result from
/// this value and never rebuilds it from the prose around it. KTAP
/// (Documentation/dev-tools/ktap.rst) lets a producer print any `# ` line,
/// so other KTAP readers skip it as a diagnostic.
public struct ScenarioRecord: Codable, Equatable, Sendable {
    /// The kernel release (`uname -r`) the scenario ran on.
    public var kernel: String
    public var result: ResultsDocument.Entry

    /// What starts the record's KTAP line.
    public static let ktapPrefix = "# klp-result "

    public init(kernel: String, result: ResultsDocument.Entry) {
        self.kernel = kernel
        self.result = result
    }

    /// One line of compact JSON with sorted keys: JSONEncoder escapes any
    /// newline inside a string, so the record never spans lines.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, numbers and a dictionary of strings cannot
        // fail; an empty object would be rejected by `parse` as a record.
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The KTAP diagnostic line: `# klp-result {json}`.
    public var ktapLine: String { Self.ktapPrefix + json() }

    /// Decodes one record from its JSON text, or nil if it is not one
    /// (truncated by a lost serial tail, or not ours).
    public static func decode(json text: some StringProtocol) -> ScenarioRecord? {
        try? JSONDecoder().decode(ScenarioRecord.self, from: Data(text.utf8))
    }

    /// The record on a KTAP line, or nil. Accepts the nesting the kernel's
    /// kselftest runner adds (tools/testing/selftests/kselftest/runner.sh
    /// prefixes a test's output with `# `, once per level), leading
    /// indentation, and a serial line's trailing `\r`.
    public static func parse(ktapLine line: some StringProtocol) -> ScenarioRecord? {
        var rest = Substring(line)
        while rest.last == "\r" || rest.last == "\n" { rest = rest.dropLast() }
        while true {
            rest = rest.drop { $0 == " " || $0 == "\t" }
            if rest.hasPrefix(ktapPrefix) {
                return decode(json: rest.dropFirst(ktapPrefix.count))
            }
            guard rest.hasPrefix("# ") else { return nil }
            rest = rest.dropFirst(2)
        }
    }
}
