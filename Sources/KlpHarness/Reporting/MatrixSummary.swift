import Foundation

/// The kernel × scenario table: after a multi-kernel run, and in `show`.
public struct MatrixSummary {
    public var documents: [ResultsDocument]
    /// An extra last row, e.g. each VM's verdict and time.
    public var footer: (label: String, cells: [String])?
    public var showsTransitions = false

    public init(documents: [ResultsDocument], footer: (label: String, cells: [String])? = nil) {
        self.documents = documents
        self.footer = footer
    }

    func cell(_ entry: ResultsDocument.Entry?) -> String {
        guard let entry else { return "-" }
        var text = "\(entry.status.rawValue) \(String(format: "%.2f", entry.durationSeconds)) s"
        if showsTransitions && entry.transitions > 0 {
            text += " (\(String(format: "%.2f", entry.transitionSeconds)) s in \(entry.transitions))"
        }
        return text
    }

    public func render() -> [String] {
        var names: [String] = []
        for document in documents {
            for entry in document.scenarios where !names.contains(entry.name) { names.append(entry.name) }
        }
        let rows = names.map { name in (name, documents.map { document in cell(document.scenarios.first { $0.name == name }) }) }
        let allRows = rows + (footer.map { [($0.label, $0.cells)] } ?? [])
        let nameWidth = max(8, allRows.map(\.0.count).max() ?? 0)
        let width = max(16, documents.map(\.kernel.count).max() ?? 0, allRows.flatMap(\.1).map(\.count).max() ?? 0)
        let line: (String, [String]) -> String = { label, cells in
            ("# " + label.rightPadded(to: nameWidth) + cells.map { "  " + $0.rightPadded(to: width) }.joined())
                .trimmingTrailingSpaces.description
        }
        var lines = [line("scenario", documents.map(\.kernel))]
        lines += allRows.map(line)
        // Why a kernel's column is all `infrastructure` (it never booted, or
        // its VM died): the first line of the reason, the rest in its results.json.
        for document in documents {
            guard let reason = document.infrastructureError?.split(separator: "\n").first else { continue }
            lines.append("# \(document.kernel): infrastructure: \(reason)")
        }
        let entries = documents.flatMap(\.scenarios)
        lines.append("matrix: \(StatusTally(entries.map(\.status)).closingCount)")
        return lines
    }
}
