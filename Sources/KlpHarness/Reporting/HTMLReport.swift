import Foundation

/// A results folder as one self-contained HTML page: the kernel × scenario
/// matrix, then per kernel and scenario its status, diagnostics, expected and
/// actual transcripts side by side, and a timeline of its kernel log.
///
/// Everything is inline (CSS, SVG, a few lines of optional script), so the
/// page can be attached to a CI run or mailed and opened anywhere, offline.
/// It reads fully without script, works from a phone's width up, and prints
/// with every section open, one scenario per page.
public enum HTMLReport {
    /// The page for `archive`. With `linkingFrom`, the directory the page
    /// will be saved in, each scenario links its files when they lie below
    /// that directory; without it, file names are shown but not linked.
    public static func render(_ archive: ResultsArchive, linkingFrom directory: String? = nil) -> String {
        var page = Page(archive: archive, linkBase: directory.map(standardized))
        return page.render()
    }

    /// Writes the page to `path`, linking the scenario files relative to it.
    /// I/O style: Foundation, not `FileBytes.replace`: `--output` may name a
    /// directory still to be created, and the message quotes Foundation's
    /// description of what went wrong.
    public static func write(_ archive: ResultsArchive, to path: String) throws {
        let html = render(archive, linkingFrom: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try html.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw HarnessError.badInput("cannot write the report to \(path): \(error.localizedDescription)",
                                        remedy: "pass --output with a path you can write to")
        }
    }

    // MARK: - Helpers shared with the tests

    static func escape(_ text: String) -> String { Markup.escape(text) }

    /// An HTML id from free text: letters, digits, `-` and `_` kept, every
    /// other character (`.`, `+`, spaces) turned into `-`.
    static func sanitizedID(_ text: String) -> String {
        String(text.unicodeScalars.map { scalar -> Character in
            let allowed = (scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar))) || scalar == "-" || scalar == "_"
            return allowed ? Character(scalar) : "-"
        })
    }

    /// The section id of one kernel × scenario: `k-<release>-<scenario>`.
    public static func sectionID(release: String, scenario: String) -> String {
        "k-\(sanitizedID(release))-\(sanitizedID(scenario))"
    }

    /// One row of the side-by-side view: a line on either side, or a gap
    /// where the other side has a line this one lacks.
    struct AlignedRow: Equatable {
        enum Side: Equatable {
            case same(Int, String)
            case changed(Int, String)
            case gap
        }
        var expected: Side
        var actual: Side
    }

    /// Pairs the diff's edits into rows: equal lines side by side, and within
    /// a changed run the n-th removed line beside the n-th added line.
    static func align(_ diff: UnifiedDiff) -> [AlignedRow] {
        var rows: [AlignedRow] = []
        var old = 0, new = 0
        var removed: [String] = [], added: [String] = []
        func flush() {
            for index in 0..<max(removed.count, added.count) {
                var row = AlignedRow(expected: .gap, actual: .gap)
                if index < removed.count { old += 1; row.expected = .changed(old, removed[index]) }
                if index < added.count { new += 1; row.actual = .changed(new, added[index]) }
                rows.append(row)
            }
            removed = []; added = []
        }
        for edit in diff.edits {
            switch edit {
            case .same(let text):
                flush()
                old += 1; new += 1
                rows.append(AlignedRow(expected: .same(old, text), actual: .same(new, text)))
            case .removed(let text): removed.append(text)
            case .added(let text): added.append(text)
            }
        }
        flush()
        return rows
    }

    /// The word shown for a status, with a symbol so it never relies on colour.
    static func label(_ status: ScenarioStatus) -> String {
        switch status {
        case .pass: "✓ PASS"
        case .fail: "✗ FAIL"
        case .timeout: "⏱ TIMEOUT"
        case .error: "! ERROR"
        case .skip: "– SKIP"
        case .infrastructure: "! INFRA"
        case .crash: "✗ CRASH"
        }
    }

    /// The stylesheet's class: a crash is coloured as a failure.
    static func statusClass(_ status: ScenarioStatus) -> String {
        status == .crash ? ScenarioStatus.fail.rawValue : status.rawValue
    }

    static func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }

    static func standardized(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
}

// MARK: - The page

extension HTMLReport {
    struct Page {
        var archive: ResultsArchive
        var linkBase: String?
        var out = ""
        var usedIDs = Set<String>()
        /// Section ids by kernel index and scenario name, fixed before writing.
        var ids: [Int: [String: String]] = [:]

        init(archive: ResultsArchive, linkBase: String?) {
            self.archive = archive
            self.linkBase = linkBase
        }

        mutating func uniqueID(_ base: String) -> String {
            var id = base, counter = 2
            while usedIDs.contains(id) { id = "\(base)-\(counter)"; counter += 1 }
            usedIDs.insert(id)
            return id
        }

        mutating func render() -> String {
            usedIDs = ["matrix", "top", "kernels"]
            var kernelIDs: [String] = []
            for (index, kernel) in archive.kernels.enumerated() {
                kernelIDs.append(uniqueID("k-\(sanitizedID(kernel.release))"))
                for entry in kernel.document.scenarios {
                    ids[index, default: [:]][entry.name] = uniqueID(sectionID(release: kernel.release, scenario: entry.name))
                }
            }
            let entries = archive.kernels.flatMap(\.document.scenarios)
            let problems = entries.filter(\.status.needsAttention).count
            let title = "klp-harness report: \(problems == 0 ? "all \(entries.count) passed" : "\(problems) of \(entries.count) not passing")"
            out += """
                <!DOCTYPE html>
                <html lang="en">
                <head>
                <meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <meta name="generator" content="klp-harness">
                <title>\(escape(title))</title>
                <style>\(HTMLReport.stylesheet)</style>
                </head>
                <body>

                """
            header(entries: entries, kernelIDs: kernelIDs)
            out += "<main>\n"
            matrix()
            for (index, kernel) in archive.kernels.enumerated() {
                kernelSection(kernel, index: index, id: kernelIDs[index])
            }
            out += "</main>\n"
            out += "<footer><p>Written by <code>klp-harness report</code> from <code>\(escape(archive.root))</code>. Times are wall-clock seconds inside the guest; timeline offsets are kernel timestamps from the scenario’s first log line.</p></footer>\n"
            out += "<script>\(HTMLReport.printScript)</script>\n</body>\n</html>\n"
            return out
        }

        // MARK: Header

        mutating func header(entries: [ResultsDocument.Entry], kernelIDs: [String]) {
            out += "<header id=\"top\">\n<h1>klp-harness report</h1>\n"
            out += "<p class=\"totals\">\(entries.count) scenario run\(entries.count == 1 ? "" : "s") on \(archive.kernels.count) kernel\(archive.kernels.count == 1 ? "" : "s"): "
            out += countsText(entries.map(\.status)).map { "<span class=\"count \(statusClass($0.status))\">\(escape($0.text))</span>" }.joined(separator: ", ")
            out += "</p>\n<ul id=\"kernels\" class=\"kernels\">\n"
            for (index, kernel) in archive.kernels.enumerated() {
                let document = kernel.document
                let statuses = document.scenarios.map(\.status)
                var facts = "\(StatusTally(statuses).passed)/\(statuses.count) passed"
                if !document.complete || document.scenarios.count < document.planned {
                    facts += "; incomplete: \(document.scenarios.count) of \(document.planned) planned scenarios reported"
                }
                let bad = statuses.contains(where: \.needsAttention)
                out += "<li class=\"\(bad ? "bad" : "good")\"><a href=\"#\(kernelIDs[index])\"><code>\(escape(kernel.release))</code></a> "
                out += "<span class=\"verdict\">\(bad ? "✗ problems" : "✓ all passed")</span> — \(escape(facts))</li>\n"
            }
            out += "</ul>\n</header>\n"
        }

        struct Count { var status: ScenarioStatus; var text: String }

        func countsText(_ statuses: [ScenarioStatus]) -> [Count] {
            let tally = StatusTally(statuses)
            let words: [(ScenarioStatus, String)] = [
                (.pass, "passed"), (.fail, "failed"), (.crash, "crashed the kernel"), (.timeout, "timed out"),
                (.error, "errors"), (.infrastructure, "infrastructure errors"), (.skip, "skipped"),
            ]
            return words.compactMap { status, word in
                tally[status] > 0 ? Count(status: status, text: "\(tally[status]) \(word)") : nil
            }
        }

        // MARK: Matrix

        mutating func matrix() {
            let names = archive.scenarioNames
            out += "<section id=\"matrix\" aria-labelledby=\"matrix-h\">\n<h2 id=\"matrix-h\">Kernel × scenario</h2>\n"
            out += "<p class=\"hint\">Each cell: status and wall time; follow it to the scenario’s section.</p>\n"
            out += "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"kernel by scenario matrix\">\n<table class=\"matrix\">\n"
            out += "<thead><tr><th scope=\"col\">Scenario</th>"
            for kernel in archive.kernels { out += "<th scope=\"col\"><code>\(escape(kernel.release))</code></th>" }
            out += "</tr></thead>\n<tbody>\n"
            for name in names {
                out += "<tr><th scope=\"row\">\(escape(name))</th>"
                for (index, kernel) in archive.kernels.enumerated() {
                    guard let entry = kernel.document.scenarios.first(where: { $0.name == name }),
                          let id = ids[index]?[name] else {
                        out += "<td class=\"cell missing\">— not run</td>"
                        continue
                    }
                    let cls = statusClass(entry.status)
                    out += "<td class=\"cell \(cls)\(entry.status.needsAttention ? " problem" : "")\"><a href=\"#\(id)\">"
                    out += "<strong>\(escape(label(entry.status)))</strong> <span class=\"time\">\(seconds(entry.durationSeconds))</span></a></td>"
                }
                out += "</tr>\n"
            }
            out += "</tbody>\n<tfoot><tr><th scope=\"row\">Passed</th>"
            for kernel in archive.kernels {
                let tally = StatusTally(kernel.document.scenarios.map(\.status))
                out += "<td>\(tally.passed)/\(tally.total)</td>"
            }
            out += "</tr></tfoot>\n</table>\n</div>\n</section>\n"
        }

        // MARK: Sections

        mutating func kernelSection(_ kernel: ResultsArchive.KernelRun, index: Int, id: String) {
            out += "<section class=\"kernel\" id=\"\(id)\" aria-labelledby=\"\(id)-h\">\n"
            out += "<h2 id=\"\(id)-h\">Kernel <code>\(escape(kernel.release))</code></h2>\n"
            if !kernel.document.complete {
                out += "<p class=\"warning\">⚠ This kernel’s run did not complete: \(kernel.document.scenarios.count) of \(kernel.document.planned) planned scenarios reported.</p>\n"
            }
            for entry in kernel.document.scenarios {
                scenarioSection(entry, kernel: kernel, id: ids[index]?[entry.name] ?? uniqueID("s"))
            }
            out += "</section>\n"
        }

        func fileLinks(_ entry: ResultsDocument.Entry, kernel: ResultsArchive.KernelRun) -> String {
            let order = ["expected", "actual", "kmsg", "diff"]
            let keys = entry.artifacts.keys.sorted { (order.firstIndex(of: $0) ?? 99, $0) < (order.firstIndex(of: $1) ?? 99, $1) }
            var base: String?
            if let linkBase {
                let directory = standardized(kernel.directory)
                if directory.hasPrefix(linkBase + "/") { base = String(directory.dropFirst(linkBase.count + 1)) }
                else if directory == linkBase { base = "" }
            }
            return keys.map { key in
                let path = entry.artifacts[key]!
                let shown = "<code>\(escape(path))</code>"
                guard let base, !path.hasPrefix("/"), !path.contains("://"),
                      let href = (base.isEmpty ? path : "\(base)/\(path)").addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)
                else { return shown }
                return "<a href=\"\(escape(href))\">\(shown)</a>"
            }.joined(separator: " ")
        }

        mutating func scenarioSection(_ entry: ResultsDocument.Entry, kernel: ResultsArchive.KernelRun, id: String) {
            let problem = entry.status.needsAttention
            let cls = statusClass(entry.status)
            out += "<section class=\"scenario \(cls)\(problem ? " problem" : "")\" id=\"\(id)\" aria-labelledby=\"\(id)-h\">\n"
            out += "<details\(problem ? " open" : "")>\n<summary><span class=\"sumtime\">\(seconds(entry.durationSeconds))</span>"
            out += "<h3 id=\"\(id)-h\"><span class=\"badge \(cls)\">\(escape(label(entry.status)))</span> "
            out += "\(escape(entry.name)) <span class=\"on\">on <code>\(escape(kernel.release))</code></span></h3></summary>\n"
            out += "<dl class=\"facts\">"
            out += "<div><dt>Status</dt><dd>\(escape(entry.status.rawValue))</dd></div>"
            out += "<div><dt>Wall time</dt><dd>\(seconds(entry.durationSeconds))</dd></div>"
            out += "<div><dt>Transitions</dt><dd>\(entry.transitions), \(seconds(entry.transitionSeconds)) in total</dd></div>"
            out += "<div><dt>Order</dt><dd>#\(entry.number)</dd></div>"
            if !entry.artifacts.isEmpty { out += "<div class=\"files\"><dt>Files</dt><dd>\(fileLinks(entry, kernel: kernel))</dd></div>" }
            out += "</dl>\n"
            if !entry.diagnostics.isEmpty {
                out += "<h4>Diagnostics</h4>\n<ul class=\"diagnostics\">"
                for line in entry.diagnostics { out += "<li>\(escape(line))</li>" }
                out += "</ul>\n"
            }
            if let artifacts = kernel.artifacts(of: entry.name) {
                let diff = artifacts.diff
                transcripts(diff, id: id)
                let timeline = artifacts.timeline
                out += "<h4>Timeline</h4>\n"
                out += TimelineChart(timeline: timeline, diff: diff, actual: artifacts.actual, id: id).render()
            } else {
                out += "<p class=\"note\">No transcript files: the run did not get to this scenario.</p>\n"
            }
            out += "<p class=\"up\"><a href=\"#matrix\">↑ matrix</a></p>\n</details>\n</section>\n"
        }

        mutating func transcripts(_ diff: UnifiedDiff, id: String) {
            let rows = align(diff)
            if diff.isEmpty {
                out += "<h4>Transcript <span class=\"sub\">expected = actual, \(rows.count) lines</span></h4>\n"
                out += "<ol class=\"pane single\" aria-label=\"transcript, identical on both sides\">"
                for row in rows {
                    if case .same(_, let text) = row.expected { out += "<li>\(escape(text))</li>" }
                }
                out += "</ol>\n"
                return
            }
            let removed = diff.edits.filter { if case .removed = $0 { true } else { false } }.count
            let added = diff.edits.filter { if case .added = $0 { true } else { false } }.count
            out += "<h4>Transcript <span class=\"sub\">expected vs actual: \(removed) missing, \(added) unexpected</span></h4>\n"
            out += "<p class=\"legend\"><span class=\"key r\"><b>−</b> <del>expected, not in the log</del></span> <span class=\"key a\"><b>+</b> <ins>in the log, not expected</ins></span></p>\n"
            let span = rows.count + 1
            out += "<div class=\"sbs\" style=\"--rows:\(span)\">"
            for side in ["expected", "actual"] {
                out += "<div class=\"pane \(side)\" role=\"group\" aria-label=\"\(side) transcript\" style=\"grid-row:1 / span \(span)\">"
                out += "<div class=\"ph\">\(side == "expected" ? "expected.txt (the scenario)" : "actual.txt (the kernel log)")</div>"
                for row in rows {
                    switch side == "expected" ? row.expected : row.actual {
                    case .same(let number, let text): out += line("", number, " ", text)
                    case .changed(let number, let text):
                        out += side == "expected" ? line("r", number, "−", text, tag: "del") : line("a", number, "+", text, tag: "ins")
                    case .gap: out += "<div class=\"l g\" aria-hidden=\"true\"><i></i><b></b><span> </span></div>"
                    }
                }
                out += "</div>"
            }
            out += "</div>\n"
        }

        func line(_ cls: String, _ number: Int, _ marker: String, _ text: String, tag: String = "span") -> String {
            "<div class=\"l\(cls.isEmpty ? "" : " " + cls)\"><i>\(number)</i><b>\(marker)</b><\(tag)>\(escape(text))</\(tag)></div>"
        }
    }
}

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

        var plotWidth: Double { Self.width - Self.left - Self.right }

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
            let x: (Double) -> Double = { Self.left + $0 / axisEnd * plotWidth }
            let limit = Self.width - 4
            var svg = ""
            var y = 8.0

            // Actions: ticks with numbered labels above them; faint guides run down to the axis.
            let actions = marks.filter { $0.kind == .action }
            var actionRows = Rows(4)
            var actionLabels: [(Mark, Int, Double, String, String)] = []
            for (index, mark) in actions.enumerated() {
                let full = "\(index + 1) " + Self.short(String(mark.text.dropFirst(2)), 42)
                if let (row, lx, anchor) = actionRows.place(x: x(mark.time), width: Double(full.count) * Self.charWidth, limit: limit) {
                    actionLabels.append((mark, row, lx, anchor, full))
                } else if let (row, lx, anchor) = actionRows.place(x: x(mark.time), width: 2 * Self.charWidth, limit: limit) {
                    actionLabels.append((mark, row, lx, anchor, "\(index + 1)"))
                }
            }
            let actionTop = y
            let actionHeight = Double(max(1, actionRows.used)) * Self.rowHeight + 14
            let tickTop = actionTop + actionHeight - 12
            for (mark, row, lx, anchor, text) in actionLabels {
                svg += "<text class=\"al\" x=\"\(fmt(lx))\" y=\"\(fmt(tickTop - 3 - Double(row) * Self.rowHeight))\"\(anchor == "end" ? " text-anchor=\"end\"" : "")>\(escape(text))<title>\(escape(mark.text))</title></text>"
            }
            y += actionHeight

            // Transitions: one row per overlapping bar.
            let barHeight = 14.0, barRowHeight = 20.0
            var barRowEnds: [Double] = []
            var placedBars: [(Bar, Int)] = []
            for bar in bars {
                let label = "\(bar.patch) \(String(format: "%.3f", bar.duration)) s\(bar.completed ? "" : " — not completed")"
                let x0 = x(bar.start), x1 = max(x(bar.start + bar.duration), x0 + 2)
                let labelWidth = Double(label.count) * Self.charWidth + 8
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
                let labelWidth = Double(label.count) * Self.charWidth + 8
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
                svg += "<text class=\"none\" x=\"\(fmt(Self.left + 4))\" y=\"\(fmt(transitionTop + 15))\">no transition</text>"
            }
            y += transitionHeight

            // Callbacks, and expected lines the log lacks: dots with labels below.
            func dotLane(_ lane: [Mark]) -> (String, Double) {
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
                    let text = (mark.missing ? "− " : mark.unexpected ? "+ " : "") + Self.short(Self.callbackLabel(mark.text), flagged ? 64 : 40)
                    if let (row, lx, anchor) = rows.place(x: cx, width: Double(text.count) * Self.charWidth, limit: limit) {
                        labels += "<text class=\"cl\(mark.missing ? " missing" : mark.unexpected ? " unexpected" : "")\" x=\"\(fmt(lx))\" y=\"\(fmt(dotY + 16 + Double(row) * Self.rowHeight))\"\(anchor == "end" ? " text-anchor=\"end\"" : "")>\(escape(text))</text>"
                    }
                }
                return (body + labels, Double(max(1, rows.used)) * Self.rowHeight + 18)
            }
            let callbacks = marks.filter { $0.kind == .callback }
            let callbackTop = y
            let (callbackSVG, callbackHeight) = dotLane(callbacks)
            svg += callbackSVG
            y += callbackHeight
            var missingTop: Double?, missingHeight = 0.0
            let missing = marks.filter(\.missing)
            if !missing.isEmpty {
                missingTop = y
                let (missingSVG, height) = dotLane(missing)
                svg += missingSVG
                missingHeight = height
                y += height
            }

            // Livepatch core and other lines: small ticks, drawn as one path per
            // lane (the table below lists them); unexpected ones stand alone.
            func tickLane(_ lane: [Mark], cls: String) -> Double {
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
                return 20
            }
            let coreTop = y
            y += tickLane(marks.filter { $0.kind == .livepatch }, cls: "core")
            let otherTop = y
            y += tickLane(marks.filter { $0.kind == .other }, cls: "other")

            // Axis.
            let axisY = y + 4
            var axis = "<line class=\"axis\" x1=\"\(fmt(Self.left))\" x2=\"\(fmt(Self.left + plotWidth))\" y1=\"\(fmt(axisY))\" y2=\"\(fmt(axisY))\"/>"
            var tick = 0.0
            var grid = ""
            while tick <= axisEnd + step / 1000 {
                let tx = x(tick)
                grid += "M\(fmt(tx)) \(fmt(actionTop))V\(fmt(axisY + 4))"
                // The first label starts at the axis, clear of the lane title.
                let anchor = tick == 0 ? "" : " text-anchor=\"middle\""
                axis += "<text class=\"ax\" x=\"\(fmt(tx))\" y=\"\(fmt(axisY + 16))\"\(anchor)>\(Self.axisLabel(tick, step: step))</text>"
                tick += step
            }
            axis += "<text class=\"lt\" x=\"\(fmt(Self.left - 10))\" y=\"\(fmt(axisY + 16))\" text-anchor=\"end\">seconds</text>"
            axis = "<path class=\"grid\" d=\"\(grid)\"/>" + axis
            let height = axisY + 24

            // Action ticks and guides go over the lanes, under the labels.
            var guides = "", guidePath = ""
            for mark in actions {
                let ax = x(mark.time)
                guidePath += "M\(fmt(ax)) \(fmt(tickTop + 10))V\(fmt(axisY))"
                guides += "<line class=\"tick action\" x1=\"\(fmt(ax))\" x2=\"\(fmt(ax))\" y1=\"\(fmt(tickTop))\" y2=\"\(fmt(tickTop + 10))\"><title>\(escape(String(format: "%.6f", mark.time) + " s action: " + mark.text))</title></line>"
            }

            if !guidePath.isEmpty { guides = "<path class=\"guide\" d=\"\(guidePath)\"/>" + guides }

            var lanes = ""
            func lane(_ text: String, _ top: Double, _ height: Double) {
                lanes += "<line class=\"lane\" x1=\"0\" x2=\"\(fmt(Self.width))\" y1=\"\(fmt(top + height))\" y2=\"\(fmt(top + height))\"/>"
                lanes += "<text class=\"lt\" x=\"\(fmt(Self.left - 10))\" y=\"\(fmt(top + min(height / 2, 14) + 4))\" text-anchor=\"end\">\(text)</text>"
            }
            lane("actions", actionTop, actionHeight)
            lane("transitions", transitionTop, transitionHeight)
            lane("callbacks", callbackTop, callbackHeight)
            if let missingTop { lane("missing", missingTop, missingHeight) }
            lane("livepatch core", coreTop, 20)
            lane("other lines", otherTop, 20)

            let callbackCount = callbacks.count
            let longest = bars.map(\.duration).max()
            var summary = "\(actions.count) actions, \(callbackCount) callbacks, \(bars.count) transition\(bars.count == 1 ? "" : "s")"
            if let longest { summary += " (longest \(String(format: "%.3f", longest)) s)" }
            if bars.contains(where: { !$0.completed }) { summary += ", a transition not completed" }
            if !missing.isEmpty { summary += ", \(missing.count) expected line\(missing.count == 1 ? "" : "s") missing" }
            let unexpectedCount = marks.filter(\.unexpected).count
            if unexpectedCount > 0 { summary += ", \(unexpectedCount) unexpected" }
            summary += " over \(String(format: "%.3f", length)) s"

            var html = "<div class=\"tl scroll\">"
            html += "<svg class=\"timeline\" viewBox=\"0 0 \(fmt(Self.width)) \(fmt(height))\" width=\"\(fmt(Self.width))\" height=\"\(fmt(height))\" role=\"img\">"
            html += "<title>Timeline: \(escape(summary)); the events are listed in the table below.</title>"
            html += axis + lanes + guides + svg + "</svg></div>\n"
            html += "<p class=\"tlsum\">\(escape(summary)).</p>\n"
            html += eventsTable(marks)
            return html
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

// MARK: - Style and script

extension HTMLReport {
    /// The page's stylesheet: HTMLReport.css beside this file, embedded in
    /// the binary at build time (SwiftPM's `.embedInCode`, see Package.swift),
    /// so the runner needs no resource bundle. The file ends in a newline;
    /// the page has the text without it.
    static let stylesheet: String = {
        var text = String(decoding: PackageResources.HTMLReport_css, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }()

    /// Optional: opens every collapsed section for printing, and closes them again.
    static let printScript = """
        addEventListener("beforeprint",function(){document.querySelectorAll("details:not([open])").forEach(function(d){d.open=true;d.setAttribute("data-print-opened","")})});\
        addEventListener("afterprint",function(){document.querySelectorAll("details[data-print-opened]").forEach(function(d){d.open=false;d.removeAttribute("data-print-opened")})});
        """
}
