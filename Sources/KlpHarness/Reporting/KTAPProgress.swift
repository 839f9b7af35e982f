/// Follows a KTAP stream line by line (the guest's stdout), so the host
/// knows whether the runner finished and what it reported, without waiting
/// for the VM to exit.
public struct KTAPProgress: Sendable {
    public private(set) var plan: Int?
    public private(set) var results: [(number: Int, ok: Bool, name: String, directive: String?)] = []
    public private(set) var skipReason: String?
    public private(set) var sawTotals = false

    public init() {}

    /// The runner printed its closing lines (or skipped the whole suite).
    public var isComplete: Bool { sawTotals || skipReason != nil }

    public mutating func consume(_ line: String) {
        if line.hasPrefix("1..") {
            let rest = line.dropFirst(3)
            plan = Int(rest.prefix { $0.isNumber })
            if let skip = rest.range(of: "# SKIP") {
                skipReason = String(rest[skip.upperBound...].trimmingSpaces)
            }
        } else if line.hasPrefix("# Totals:") {
            sawTotals = true
        } else if let result = Self.parseResult(line) {
            results.append(result)
        }
    }

    /// `ok 3 name`, `not ok 4 name # TIMEOUT 60 seconds`.
    static func parseResult(_ line: String) -> (number: Int, ok: Bool, name: String, directive: String?)? {
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
        }
        return (number, ok, String(name), directive)
    }
}
