import Foundation

// The timeline of one scenario in the HTML report: an SVG chart with one
// lane per kind of kernel-log line (actions, transitions, callbacks,
// missing expected lines, livepatch core, other lines), then the same
// events as a table. HTMLReport.swift writes the rest of the page.

// MARK: - Timeline chart

extension HTMLReport {
    /// The SVG chart of one scenario's kernel log and the same events as a table.
    struct TimelineChart {
        var timeline: Timeline
        var diff: UnifiedDiff
        var actual: [String]
        var id: String

        static let width = 960.0
        static let left = 118.0
        static let right = 24.0
        static let charWidth = 6.3
        static let rowHeight = 14.0

        /// A point of the chart: an event, or an expected line the log lacks,
        /// placed just after the actual line it should have followed.
        struct Mark {
            var time: Double
            /// Nil for an expected line the log lacks.
            var kind: Timeline.Kind?
            var text: String
            var unexpected = false
            var number: Int

            var missing: Bool { kind == nil }
            /// The kind's name, as the event table and tooltips show it.
            var kindName: String { kind?.rawValue ?? "missing" }
        }

        /// A transition from its start to its completion, or to the end of
        /// the log if it never completed.
        struct Bar {
            var patch: String
            var start: Double
            var duration: Double
            var completed: Bool
        }

        static var plotWidth: Double { width - left - right }

        func marks() -> [Mark] {
            let events = timeline.events
            // Which event is which actual line: the transcript is the log filtered,
            // so its lines are a subsequence of the events' texts.
            var eventOfActual: [Int: Int] = [:]
            var next = 0
            for (index, event) in events.enumerated() where next < actual.count && event.text == actual[next] {
                eventOfActual[next] = index
                next += 1
            }
            var unexpected = Set<Int>()
            var missing: [(after: Int?, text: String)] = []
            var position = 0
            for edit in diff.edits {
                switch edit {
                case .same: position += 1
                case .added: if let event = eventOfActual[position] { unexpected.insert(event) }; position += 1
                case .removed(let text): missing.append((position > 0 ? eventOfActual[position - 1] : nil, text))
                }
            }
            var marks = events.enumerated().map { index, event in
                Mark(time: event.offset.seconds, kind: event.kind, text: event.text, unexpected: unexpected.contains(index), number: index + 1)
            }
            for entry in missing {
                let time = entry.after.map { events[$0].offset.seconds } ?? 0
                marks.append(Mark(time: time, kind: nil, text: entry.text, number: 0))
            }
            return marks
        }

        func bars() -> [Bar] {
            var bars = timeline.transitions.map { Bar(patch: $0.patch, start: $0.start.seconds, duration: $0.duration.seconds, completed: true) }
            // A transition that never completed (a stall, a timeout) is not a
            // span; draw it open to the end of the log.
            let end = timeline.length.seconds
            for (patch, start) in timeline.unfinishedTransitions {
                bars.append(Bar(patch: patch, start: start.seconds, duration: max(0, end - start.seconds), completed: false))
            }
            return bars.sorted { $0.start < $1.start }
        }

        /// Axis step: 1, 2 or 5 × 10ⁿ seconds, at most 8 intervals.
        static func step(for length: Double) -> Double {
            for exponent in -4...4 {
                for mantissa in [1.0, 2.0, 5.0] {
                    let step = mantissa * pow(10, Double(exponent))
                    if length / step <= 8 { return step }
                }
            }
            return max(length / 8, 1)
        }

        static func axisLabel(_ value: Double, step: Double) -> String {
            let decimals = step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3
            return String(format: "%.\(decimals)f s", value)
        }

        static func short(_ text: String, _ limit: Int) -> String {
            text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
        }

        /// `livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_LIVE] Normal state`
        /// → `pre_patch livepatch_callbacks_mod LIVE`.
        static func callbackLabel(_ text: String) -> String {
            guard let range = text.range(of: "_callback: ") else { return text }
            let name = text[..<range.lowerBound].split(separator: " ").last.map(String.init) ?? ""
            var rest = String(text[range.upperBound...])
            if let arrow = rest.range(of: " -> [MODULE_STATE_") {
                let state = rest[arrow.upperBound...].prefix { $0 != "]" }
                rest = rest[..<arrow.lowerBound] + " " + state
            }
            return "\(name) \(rest)"
        }

        /// Places labels in up to `rows` rows without overlaps; a label that
        /// fits nowhere falls back to `fallback`, then to none.
        struct Rows {
            var ends: [Double]
            init(_ count: Int) { ends = Array(repeating: -Double.infinity, count: count) }

            /// Returns (row, x, anchor) for a label of `width` at `x`.
            mutating func place(x: Double, width: Double, limit: Double) -> (Int, Double, String)? {
                for row in ends.indices {
                    // Right of the mark, or left of it near the right edge.
                    if x + 3 + width <= limit, x - 2 > ends[row] {
                        ends[row] = x + 3 + width + 6
                        return (row, x + 3, "start")
                    }
                    if x + 3 + width > limit, x - 3 - width > ends[row] {
                        ends[row] = x + 6
                        return (row, x - 3, "end")
                    }
                }
                return nil
            }

            var used: Int { ends.lastIndex { $0 > -Double.infinity }.map { $0 + 1 } ?? 0 }
        }

        func render() -> String {
            let marks = marks()
            guard !marks.isEmpty else { return "<p class=\"note\">No kernel log recorded for this scenario.</p>\n" }
            let bars = bars()
            let length = max(timeline.length.seconds, marks.map(\.time).max() ?? 0, bars.map { $0.start + $0.duration }.max() ?? 0, 0.001)
            let step = Self.step(for: length)
            let axisEnd = (length / step).rounded(.up) * step
            var canvas = Canvas(x: { Self.left + $0 / axisEnd * Self.plotWidth })

            // The lanes, top to bottom; each adds its shapes and its title.
            let actions = marks.filter { $0.kind == .action }
            let tickTop = canvas.drawActionLabels(actions)
            canvas.drawTransitions(bars)
            let callbacks = marks.filter { $0.kind == .callback }
            canvas.drawDots(callbacks, lane: "callbacks")
            let missing = marks.filter(\.missing)
            if !missing.isEmpty { canvas.drawDots(missing, lane: "missing") }
            canvas.drawTicks(marks.filter { $0.kind == .livepatch }, cls: "core", lane: "livepatch core")
            canvas.drawTicks(marks.filter { $0.kind == .other }, cls: "other", lane: "other lines")
            let (axis, axisY) = canvas.axis(step: step, end: axisEnd)
            let guides = canvas.actionTicks(actions, tickTop: tickTop, axisY: axisY)
            let height = axisY + 24

            let summary = summary(marks: marks, bars: bars, actions: actions.count, callbacks: callbacks.count, missing: missing.count, length: length)
            var html = "<div class=\"tl scroll\">"
            html += "<svg class=\"timeline\" viewBox=\"0 0 \(fmt(Self.width)) \(fmt(height))\" width=\"\(fmt(Self.width))\" height=\"\(fmt(height))\" role=\"img\">"
            html += "<title>Timeline: \(escape(summary)); the events are listed in the table below.</title>"
            html += axis + canvas.laneTitles + guides + canvas.svg + "</svg></div>\n"
            html += "<p class=\"tlsum\">\(escape(summary)).</p>\n"
            html += eventsTable(marks)
            return html
        }

        /// The sentence under the chart, also the SVG's accessible title.
        func summary(marks: [Mark], bars: [Bar], actions: Int, callbacks: Int, missing: Int, length: Double) -> String {
            let longest = bars.map(\.duration).max()
            var summary = "\(actions) actions, \(callbacks) callbacks, \(bars.count) transition\(bars.count == 1 ? "" : "s")"
            if let longest { summary += " (longest \(String(format: "%.3f", longest)) s)" }
            if bars.contains(where: { !$0.completed }) { summary += ", a transition not completed" }
            if missing > 0 { summary += ", \(missing) expected line\(missing == 1 ? "" : "s") missing" }
            let unexpectedCount = marks.filter(\.unexpected).count
            if unexpectedCount > 0 { summary += ", \(unexpectedCount) unexpected" }
            summary += " over \(String(format: "%.3f", length)) s"
            return summary
        }

        /// The SVG drawn so far and where the next lane starts. One method
        /// per lane, called top to bottom; each records its title and the
        /// line under it in `laneTitles`.
        struct Canvas {
            /// Seconds from the scenario's first record to an x coordinate.
            let x: (Double) -> Double
            /// The top of the first lane, where the grid starts.
            let top = 8.0
            var y = 8.0
            var svg = ""
            var laneTitles = ""
            let limit = TimelineChart.width - 4

            init(x: @escaping (Double) -> Double) { self.x = x }

            mutating func addLane(_ text: String, _ top: Double, _ height: Double) {
                laneTitles += "<line class=\"lane\" x1=\"0\" x2=\"\(fmt(TimelineChart.width))\" y1=\"\(fmt(top + height))\" y2=\"\(fmt(top + height))\"/>"
                laneTitles += "<text class=\"lt\" x=\"\(fmt(TimelineChart.left - 10))\" y=\"\(fmt(top + min(height / 2, 14) + 4))\" text-anchor=\"end\">\(text)</text>"
            }

            /// Actions: numbered labels in up to four rows above their ticks;
            /// returns where the ticks start (they are drawn by `actionTicks`,
            /// over the lanes below).
            mutating func drawActionLabels(_ actions: [Mark]) -> Double {
                var actionRows = Rows(4)
                var actionLabels: [(Mark, Int, Double, String, String)] = []
                for (index, mark) in actions.enumerated() {
                    let full = "\(index + 1) " + TimelineChart.short(String(mark.text.dropFirst(2)), 42)
                    if let (row, lx, anchor) = actionRows.place(x: x(mark.time), width: Double(full.count) * TimelineChart.charWidth, limit: limit) {
                        actionLabels.append((mark, row, lx, anchor, full))
                    } else if let (row, lx, anchor) = actionRows.place(x: x(mark.time), width: 2 * TimelineChart.charWidth, limit: limit) {
                        actionLabels.append((mark, row, lx, anchor, "\(index + 1)"))
                    }
                }
                let actionTop = y
                let actionHeight = Double(max(1, actionRows.used)) * TimelineChart.rowHeight + 14
                let tickTop = actionTop + actionHeight - 12
                for (mark, row, lx, anchor, text) in actionLabels {
                    svg += "<text class=\"al\" x=\"\(fmt(lx))\" y=\"\(fmt(tickTop - 3 - Double(row) * TimelineChart.rowHeight))\"\(anchor == "end" ? " text-anchor=\"end\"" : "")>\(escape(text))<title>\(escape(mark.text))</title></text>"
                }
                y += actionHeight
                addLane("actions", actionTop, actionHeight)
                return tickTop
            }

            /// Transitions: one row per overlapping bar, labelled inside the
            /// bar when it fits, else beside it.
            mutating func drawTransitions(_ bars: [Bar]) {
                let barHeight = 14.0, barRowHeight = 20.0
                var barRowEnds: [Double] = []
                var placedBars: [(Bar, Int)] = []
                for bar in bars {
                    let label = "\(bar.patch) \(String(format: "%.3f", bar.duration)) s\(bar.completed ? "" : " — not completed")"
                    let x0 = x(bar.start), x1 = max(x(bar.start + bar.duration), x0 + 2)
                    let labelWidth = Double(label.count) * TimelineChart.charWidth + 8
                    let end = x1 - x0 >= labelWidth ? x1 : x1 + labelWidth
                    let row = barRowEnds.firstIndex { $0 < x0 - 2 } ?? barRowEnds.count
                    if row == barRowEnds.count { barRowEnds.append(end) } else { barRowEnds[row] = end }
                    placedBars.append((bar, row))
                }
                let transitionTop = y
                let transitionHeight = Double(max(1, barRowEnds.count)) * barRowHeight + 6
                for (bar, row) in placedBars {
                    let x0 = x(bar.start), x1 = max(x(bar.start + bar.duration), x0 + 2)
                    let top = transitionTop + 4 + Double(row) * barRowHeight
                    let label = "\(bar.patch) \(String(format: "%.3f", bar.duration)) s\(bar.completed ? "" : " — not completed")"
                    let title = "\(bar.completed ? "transition" : "transition not completed"): \(bar.patch), from \(String(format: "%.6f", bar.start)) s for \(String(format: "%.6f", bar.duration)) s"
                    svg += "<g class=\"bar\(bar.completed ? "" : " open")\"><title>\(escape(title))</title>"
                    svg += "<rect x=\"\(fmt(x0))\" y=\"\(fmt(top))\" width=\"\(fmt(x1 - x0))\" height=\"\(fmt(barHeight))\" rx=\"2\"/>"
                    let labelWidth = Double(label.count) * TimelineChart.charWidth + 8
                    if x1 - x0 >= labelWidth {
                        svg += "<text class=\"bl in\" x=\"\(fmt(x0 + 4))\" y=\"\(fmt(top + 11))\">\(escape(label))</text>"
                    } else if x1 + 4 + labelWidth <= limit {
                        svg += "<text class=\"bl\" x=\"\(fmt(x1 + 4))\" y=\"\(fmt(top + 11))\">\(escape(label))</text>"
                    } else {
                        svg += "<text class=\"bl\" x=\"\(fmt(x0 - 4))\" y=\"\(fmt(top + 11))\" text-anchor=\"end\">\(escape(label))</text>"
                    }
                    svg += "</g>"
                }
                if bars.isEmpty {
                    svg += "<text class=\"none\" x=\"\(fmt(TimelineChart.left + 4))\" y=\"\(fmt(transitionTop + 15))\">no transition</text>"
                }
                y += transitionHeight
                addLane("transitions", transitionTop, transitionHeight)
            }

            /// Callbacks, or expected lines the log lacks: dots with labels
            /// below them in up to four rows.
            mutating func drawDots(_ lane: [Mark], lane title: String) {
                var rows = Rows(4)
                var body = ""
                let top = y
                let dotY = top + 10
                var labels = ""
                for mark in lane {
                    let cx = x(mark.time)
                    let what = mark.missing ? "missing (expected after this point)" : mark.unexpected ? "unexpected" : mark.kindName
                    let title = "\(String(format: "%.6f", mark.time)) s\(mark.kind == .callback && !mark.unexpected ? "" : " " + what): \(mark.text)"
                    if mark.missing {
                        body += "<g class=\"dot missing\"><title>\(escape(title))</title><circle cx=\"\(fmt(cx))\" cy=\"\(fmt(dotY))\" r=\"5\"/><path d=\"M\(fmt(cx - 3)) \(fmt(dotY - 3))l6 6m0 -6l-6 6\"/></g>"
                    } else if mark.unexpected {
                        body += "<g class=\"dot unexpected\"><title>\(escape(title))</title><path d=\"M\(fmt(cx)) \(fmt(dotY - 6))l6 6l-6 6l-6 -6z\"/></g>"
                    } else {
                        body += "<circle class=\"dot\" cx=\"\(fmt(cx))\" cy=\"\(fmt(dotY))\" r=\"4\"><title>\(escape(title))</title></circle>"
                    }
                    let flagged = mark.missing || mark.unexpected
                    let text = (mark.missing ? "− " : mark.unexpected ? "+ " : "") + TimelineChart.short(TimelineChart.callbackLabel(mark.text), flagged ? 64 : 40)
                    if let (row, lx, anchor) = rows.place(x: cx, width: Double(text.count) * TimelineChart.charWidth, limit: limit) {
                        labels += "<text class=\"cl\(mark.missing ? " missing" : mark.unexpected ? " unexpected" : "")\" x=\"\(fmt(lx))\" y=\"\(fmt(dotY + 16 + Double(row) * TimelineChart.rowHeight))\"\(anchor == "end" ? " text-anchor=\"end\"" : "")>\(escape(text))</text>"
                    }
                }
                let height = Double(max(1, rows.used)) * TimelineChart.rowHeight + 18
                svg += body + labels
                y += height
                addLane(title, top, height)
            }

            /// Livepatch core and other lines: small ticks, drawn as one path
            /// per lane (the table below lists them); unexpected ones stand alone.
            mutating func drawTicks(_ lane: [Mark], cls: String, lane title: String) {
                let top = y
                var path = ""
                for mark in lane {
                    let cx = x(mark.time)
                    if mark.unexpected {
                        let title = "\(String(format: "%.6f", mark.time)) s unexpected \(mark.kindName): \(mark.text)"
                        svg += "<line class=\"tick unexpected\" x1=\"\(fmt(cx))\" x2=\"\(fmt(cx))\" y1=\"\(fmt(top + 4))\" y2=\"\(fmt(top + 16))\"><title>\(escape(title))</title></line>"
                    } else {
                        path += "M\(fmt(cx)) \(fmt(top + 4))v12"
                    }
                }
                if !path.isEmpty { svg += "<path class=\"tick \(cls)\" d=\"\(path)\"/>" }
                y += 20
                addLane(title, top, 20)
            }

            /// The seconds axis under the last lane, with a grid line per
            /// step from the top lane down; returns it and its y.
            func axis(step: Double, end axisEnd: Double) -> (String, Double) {
                let axisY = y + 4
                var axis = "<line class=\"axis\" x1=\"\(fmt(TimelineChart.left))\" x2=\"\(fmt(TimelineChart.left + TimelineChart.plotWidth))\" y1=\"\(fmt(axisY))\" y2=\"\(fmt(axisY))\"/>"
                var tick = 0.0
                var grid = ""
                while tick <= axisEnd + step / 1000 {
                    let tx = x(tick)
                    grid += "M\(fmt(tx)) \(fmt(top))V\(fmt(axisY + 4))"
                    // The first label starts at the axis, clear of the lane title.
                    let anchor = tick == 0 ? "" : " text-anchor=\"middle\""
                    axis += "<text class=\"ax\" x=\"\(fmt(tx))\" y=\"\(fmt(axisY + 16))\"\(anchor)>\(TimelineChart.axisLabel(tick, step: step))</text>"
                    tick += step
                }
                axis += "<text class=\"lt\" x=\"\(fmt(TimelineChart.left - 10))\" y=\"\(fmt(axisY + 16))\" text-anchor=\"end\">seconds</text>"
                return ("<path class=\"grid\" d=\"\(grid)\"/>" + axis, axisY)
            }

            /// Action ticks and their guides down to the axis: drawn over the
            /// lanes, under the labels.
            func actionTicks(_ actions: [Mark], tickTop: Double, axisY: Double) -> String {
                var guides = "", guidePath = ""
                for mark in actions {
                    let ax = x(mark.time)
                    guidePath += "M\(fmt(ax)) \(fmt(tickTop + 10))V\(fmt(axisY))"
                    guides += "<line class=\"tick action\" x1=\"\(fmt(ax))\" x2=\"\(fmt(ax))\" y1=\"\(fmt(tickTop))\" y2=\"\(fmt(tickTop + 10))\"><title>\(escape(String(format: "%.6f", mark.time) + " s action: " + mark.text))</title></line>"
                }
                if !guidePath.isEmpty { guides = "<path class=\"guide\" d=\"\(guidePath)\"/>" + guides }
                return guides
            }
        }

        func eventsTable(_ marks: [Mark]) -> String {
            let ordered = marks.sorted { ($0.time, $0.missing ? 1 : 0, $0.number) < ($1.time, $1.missing ? 1 : 0, $1.number) }
            let flagged = marks.contains { $0.missing || $0.unexpected }
            var html = "<details class=\"events\"\(flagged ? " open" : "")><summary>Kernel log events (\(timeline.events.count))</summary>\n"
            html += "<div class=\"scroll\"><table class=\"ev\"><thead><tr><th scope=\"col\">Time (s)</th><th scope=\"col\">Kind</th><th scope=\"col\">Message</th></tr></thead><tbody>\n"
            for mark in ordered {
                let time = (mark.missing ? "≈" : "") + String(format: "%.6f", mark.time)
                var cls = mark.kind == .action ? "action" : ""
                var kind = mark.kindName
                if mark.missing { kind = "− missing (expected)"; cls = "r" }
                if mark.unexpected { kind += " + unexpected"; cls = "a" }
                html += "<tr\(cls.isEmpty ? "" : " class=\"\(cls)\"")><td>\(time)</td><td>\(escape(kind))</td><td>\(escape(mark.text))</td></tr>\n"
            }
            html += "</tbody></table></div></details>\n"
            return html
        }
    }

    static func fmt(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }
}
