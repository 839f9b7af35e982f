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
            // explore.json counts transitions per run, not per sequence.
            if entry.sequence == nil {
                out += "<div><dt>Transitions</dt><dd>\(entry.transitions), \(seconds(entry.transitionSeconds)) in total</dd></div>"
            }
            out += "<div><dt>Order</dt><dd>#\(entry.number)</dd></div>"
            if let seed = entry.seed, let sequence = entry.sequence {
                out += "<div><dt>Explored</dt><dd>seed \(seed), sequence \(sequence)</dd></div>"
            }
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
            } else if !entry.logExcerpt.isEmpty {
                // An explored sequence keeps no transcript files, only its
                // shrunk ones: its diff or crash excerpt is the entry's.
                out += "<h4>Log excerpt <span class=\"sub\">\(entry.logExcerpt.count) lines</span></h4>\n"
                out += "<ol class=\"pane single\" aria-label=\"log excerpt\">"
                for line in entry.logExcerpt { out += "<li>\(escape(line))</li>" }
                out += "</ol>\n"
            } else if entry.sequence != nil {
                out += "<p class=\"note\">No transcript: explore.json keeps the kernel's transcript only when it differs from the model's.</p>\n"
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
