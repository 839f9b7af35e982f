/// One line of a KTAP stream (Documentation/dev-tools/ktap.rst), the one
/// reader of KTAP in the harness: the host's hermetic run, KTAPProgress and
/// LAVA's readers classify lines with it instead of matching prefixes each
/// their own way. Results are read from the record (`# klp-result`), never
/// rebuilt from the prose diagnostics around it.
public enum KTAPLine: Equatable, Sendable {
    /// `KTAP version 1` (also TAP's `TAP version 13`, as kselftest prints).
    case version(Int)
    /// `1..N`, or `1..0 # SKIP reason` for a suite that did not run.
    case plan(count: Int, skipReason: String?)
    /// `ok 3 name`, `not ok 4 name # TIMEOUT 60 seconds`.
    case result(Result)
    /// `# klp-result {json}`: the scenario's result as data.
    case record(ScenarioRecord)
    /// `# Totals: pass:… fail:…`, the kernel's kselftest closing line.
    case totals(String)
    /// Any other `# ` line, without its `# ` (or `#` alone: empty).
    case diagnostic(String)
    /// Anything else (our closing `N passed, N failed`, console noise).
    case other(String)

    public struct Result: Equatable, Sendable {
        public var number: Int
        public var ok: Bool
        public var name: String
        /// What follows ` # `: `SKIP reason`, `TIMEOUT 60 seconds`, …
        public var directive: String?

        public var isSkip: Bool { directive?.hasPrefix("SKIP") == true }
    }

    /// Reads `line` at nesting `depth`: that many levels of a subtest's
    /// prefix are removed first, each either four spaces (KTAP's
    /// indentation) or the `# ` that the kernel's kselftest runner
    /// (tools/testing/selftests/kselftest/runner.sh) puts before a test's
    /// output. A trailing `\r` of a serial line is dropped. A record is
    /// recognised at any depth.
    public static func parse(_ line: some StringProtocol, depth: Int = 0) -> KTAPLine {
        var text = Substring(line)
        while text.last == "\r" || text.last == "\n" { text = text.dropLast() }
        if let record = ScenarioRecord.parse(ktapLine: text) { return .record(record) }
        for _ in 0..<depth {
            if text.hasPrefix("    ") {
                text = text.dropFirst(4)
            } else if text.hasPrefix("# ") {
                text = text.dropFirst(2)
            } else if text == "#" {
                text = ""
            }
        }
        if text.hasPrefix("KTAP version "), let version = Int(text.dropFirst("KTAP version ".count)) { return .version(version) }
        if text.hasPrefix("TAP version "), let version = Int(text.dropFirst("TAP version ".count)) { return .version(version) }
        if text.hasPrefix("1.."), let plan = parsePlan(text.dropFirst(3)) { return plan }
        if let result = parseResult(text) { return .result(result) }
        if text.hasPrefix("# Totals:") { return .totals(String(text.dropFirst(2))) }
        if text == "#" { return .diagnostic("") }
        if text.hasPrefix("# ") { return .diagnostic(String(text.dropFirst(2))) }
        return .other(String(text))
    }

    static func parsePlan(_ rest: Substring) -> KTAPLine? {
        let digits = rest.prefix { $0.isNumber }
        guard let count = Int(digits) else { return nil }
        var skipReason: String?
        if let skip = rest.range(of: "# SKIP") {
            skipReason = String(rest[skip.upperBound...].trimmingSpaces)
        }
        return .plan(count: count, skipReason: skipReason)
    }

    static func parseResult(_ line: Substring) -> Result? {
        let ok = line.hasPrefix("ok ")
        guard ok || line.hasPrefix("not ok ") else { return nil }
        let rest = line.dropFirst(ok ? 3 : 7)
        let digits = rest.prefix { $0.isNumber }
        guard let number = Int(digits) else { return nil }
        var name = rest.dropFirst(digits.count).trimmingSpaces
        var directive: String?
        if let hash = name.range(of: " # ") {
            directive = String(name[hash.upperBound...])
            name = name[..<hash.lowerBound]
        } else if name.hasPrefix("# ") {
            // `ok 1 # SKIP reason`: a result without a name.
            directive = String(name.dropFirst(2))
            name = ""
        }
        return Result(number: number, ok: ok, name: String(name), directive: directive)
    }
}
