import Foundation

/// The kernel × scenario table printed after a multi-kernel run.
public struct MatrixSummary {
    public var outcomes: [KernelOutcome]

    public init(outcomes: [KernelOutcome]) { self.outcomes = outcomes }

    public func render() -> [String] {
        var names: [String] = []
        for outcome in outcomes {
            for entry in outcome.document?.scenarios ?? [] where !names.contains(entry.name) { names.append(entry.name) }
        }
        let columns = outcomes.map(\.release)
        let nameWidth = max(8, names.map(\.count).max() ?? 0)
        let width = max(16, columns.map(\.count).max() ?? 0)
        var lines = ["# " + "scenario".rightPadded(to: nameWidth) + columns.map { "  " + $0.rightPadded(to: width) }.joined()]
        for name in names {
            let cells = outcomes.map { outcome -> String in
                guard let entry = outcome.document?.scenarios.first(where: { $0.name == name }) else { return "-" }
                return "\(entry.status) \(String(format: "%.2f", entry.durationSeconds)) s"
            }
            lines.append("# " + name.rightPadded(to: nameWidth) + cells.map { "  " + $0.rightPadded(to: width) }.joined())
        }
        let verdicts = outcomes.map { "\($0.status) (\($0.elapsed.secondsText))" }
        lines.append("# " + "VM".rightPadded(to: nameWidth) + verdicts.map { "  " + $0.rightPadded(to: width) }.joined())
        let entries = outcomes.flatMap { $0.document?.scenarios ?? [] }
        let passed = entries.filter { $0.status == "pass" }.count
        lines.append("matrix: \(passed) passed, \(entries.count - passed) failed")
        return lines
    }
}
