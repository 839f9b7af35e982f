/// One scenario of a results folder as text for a terminal: status, the
/// diff (or the transcript when it passed) and the timeline.
public struct ScenarioView {
    public var kernel: ResultsArchive.KernelRun
    public var entry: ResultsDocument.Entry
    public var artifacts: ScenarioArtifacts
    public var color: Bool

    public init(kernel: ResultsArchive.KernelRun, entry: ResultsDocument.Entry, artifacts: ScenarioArtifacts, color: Bool) {
        self.kernel = kernel
        self.entry = entry
        self.artifacts = artifacts
        self.color = color
    }

    enum Style: String {
        case bold = "1", red = "31", green = "32", yellow = "33", cyan = "36", dim = "2"
    }

    func paint(_ text: String, _ style: Style) -> String {
        color ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    public func render() -> [String] {
        var lines: [String] = []
        let status = entry.status == .pass ? paint("pass", .green) : paint(entry.status.rawValue.uppercased(), .red)
        lines.append(paint("\(entry.name) on \(kernel.release)", .bold) + ": " + status
            + ", \(Duration.seconds(entry.durationSeconds).secondsText) wall, "
            + "\(Duration.seconds(entry.transitionSeconds).secondsText) in \(entry.transitions) transition(s)")
        lines += entry.diagnostics.map { "  " + $0 }
        lines.append("")
        let diff = artifacts.diff.render(expectedLabel: "expected.txt", actualLabel: "actual.txt")
        if diff.isEmpty {
            lines.append(paint("Transcript (expected and actual agree, \(artifacts.expected.count) lines):", .bold))
            lines += artifacts.expected.map { "  " + $0 }
        } else {
            lines.append(paint("Diff (- expected, + actual):", .bold))
            lines += diff.map { line in
                if line.hasPrefix("@@") { return paint(line, .cyan) }
                if line.hasPrefix("-") && !line.hasPrefix("---") { return paint(line, .red) }
                if line.hasPrefix("+") && !line.hasPrefix("+++") { return paint(line, .green) }
                return line
            }
        }
        lines.append("")
        lines += timeline()
        return lines
    }

    /// Every kernel-log line at its offset from the scenario's start, the
    /// harness's actions highlighted, and each transition's duration on the
    /// line that completes it.
    func timeline() -> [String] {
        let timeline = artifacts.timeline
        guard !timeline.events.isEmpty else { return ["(no kmsg.txt)"] }
        var lines = [paint("Timeline (seconds from the scenario's start; kernel timestamps):", .bold)]
        var spans = timeline.transitions
        for event in timeline.events {
            var text = event.text
            if let index = spans.firstIndex(where: { $0.start + $0.duration == event.offset && TransitionSpan.parse(event.text)?.0 == $0.patch }),
               TransitionSpan.parse(event.text)?.1 == .complete {
                text += paint("   [transition took \(spans[index].duration.secondsText)]", .yellow)
                spans.remove(at: index)
            }
            let stamp = String(format: "%7.3f s", event.offset.seconds)
            switch event.kind {
            case .action: lines.append("  \(stamp)  " + paint(text, .bold))
            case .callback: lines.append("  \(stamp)    " + text)
            case .livepatch: lines.append("  \(stamp)    " + text)
            case .other: lines.append("  \(stamp)    " + paint(text, .dim))
            }
        }
        if !timeline.transitions.isEmpty {
            lines.append("")
            lines.append(paint("Transitions:", .bold))
            for span in timeline.transitions {
                lines.append("  \(span.patch): from +\(String(format: "%.3f", span.start.seconds)) s, \(span.duration.secondsText)")
            }
        }
        return lines
    }
}

import Foundation
