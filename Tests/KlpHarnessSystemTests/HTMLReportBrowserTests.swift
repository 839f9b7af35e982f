import Foundation
import XCTest
@testable import KlpHarness

/// The HTML report in a real browser: Debian's headless Chromium renders the
/// page of a real two-kernel run (Fixtures/real-run, one failing scenario),
/// takes screenshots at a phone's and a desktop's width, prints it, and dumps
/// the DOM it built, whose structure is checked here.
///
/// Runs only when KLP_HARNESS_BROWSER_TESTS=1 (needs `apt-get install -y chromium`):
///   swift build --build-tests
///   KLP_HARNESS_BROWSER_TESTS=1 .build/debug/klp-harnessPackageTests.xctest KlpHarnessSystemTests.HTMLReportBrowserTests
final class HTMLReportBrowserTests: XCTestCase {
    static let chromium = "/usr/bin/chromium"
    static let fixture = "\(HarnessProcess.repository)/Tests/KlpHarnessSystemTests/Fixtures/real-run"
    static let kernels = ["6.1.0-56-amd64", "6.12.117+deb12-amd64"]
    static let scenarios = ["target-module-before-livepatch", "module-going-notifier", "busy-target-module"]
    static let failing = "module-going-notifier"

    var scratch: ScratchDirectory!
    var page: String!

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["KLP_HARNESS_BROWSER_TESTS"] == "1" else {
            throw XCTSkip("renders in Chromium: set KLP_HARNESS_BROWSER_TESTS=1 (needs apt-get install -y chromium)")
        }
        guard FileManager.default.isExecutableFile(atPath: Self.chromium) else {
            XCTFail("KLP_HARNESS_BROWSER_TESTS=1 but \(Self.chromium) is missing: apt-get install -y chromium")
            throw XCTSkip("no Chromium")
        }
        // The page sits in the results root, as `klp-harness report` writes it
        // by default, so its links to the scenario files resolve.
        scratch = try ScratchDirectory()
        let results = "\(scratch.path)/results"
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: results)
        page = "\(results)/index.html"
        try HTMLReport.write(try ResultsArchive.load(results), to: page)
    }

    override func tearDown() { scratch = nil }

    // MARK: Screenshots

    func testScreenshotAtPhoneWidth() throws {
        try checkScreenshot(width: 390, height: 1600)
    }

    func testScreenshotAtDesktopWidth() throws {
        try checkScreenshot(width: 1280, height: 1600)
    }

    func checkScreenshot(width: Int, height: Int) throws {
        let png = "\(scratch.path)/report-\(width).png"
        let run = try chromium(["--window-size=\(width),\(height)", "--screenshot=\(png)", url()])
        XCTAssertEqual(run.status, 0, run.output)
        let data = try XCTUnwrap(FileManager.default.contents(atPath: png), "no screenshot; chromium said: \(run.output)")
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")
        XCTAssertGreaterThan(data.count, 20_000, "a blank page compresses to a few kB")
        // IHDR: width and height, big-endian, at bytes 16 and 20.
        let bytes = Array(data)
        let be32: (Int) -> Int = { bytes[$0...$0 + 3].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(String(decoding: bytes[12..<16], as: UTF8.self), "IHDR")
        XCTAssertEqual(be32(16), width)
        XCTAssertEqual(be32(20), height)
    }

    // MARK: DOM

    func testDumpedDOMHasTheMatrixSectionsAndTimelines() throws {
        let dom = try dumpDOM(width: 1280)
        let root = HTMLTree.parse(dom)

        // The matrix: one column per kernel, one row per scenario, each cell a link to its section.
        let matrix = try XCTUnwrap(root.first { $0.name == "table" && $0.hasClass("matrix") })
        let head = try XCTUnwrap(matrix.first { $0.name == "thead" })
        XCTAssertEqual(head.all { $0.name == "th" }.map(\.text), ["Scenario"] + Self.kernels)
        let rows = try XCTUnwrap(matrix.first { $0.name == "tbody" }).children.filter { $0.name == "tr" }
        XCTAssertEqual(rows.map { $0.first { $0.name == "th" }?.text ?? "" }, Self.scenarios)
        var linked: [String] = []
        for row in rows {
            let cells = row.children.filter { $0.name == "td" }
            XCTAssertEqual(cells.count, Self.kernels.count)
            for cell in cells {
                let href = try XCTUnwrap(cell.first { $0.name == "a" }?.attributes["href"])
                linked.append(String(href.dropFirst()))
                let isFailing = href.hasSuffix("-\(Self.failing)")
                XCTAssertEqual(cell.hasClass("problem"), isFailing, href)
                XCTAssertTrue(cell.text.contains(isFailing ? "FAIL" : "PASS"), cell.text)
            }
        }

        // A section per kernel × scenario, with the ids the matrix links to.
        let sections = root.all { $0.name == "section" && $0.hasClass("scenario") }
        let expectedIDs = Self.kernels.flatMap { kernel in Self.scenarios.map { HTMLReport.sectionID(release: kernel, scenario: $0) } }
        XCTAssertEqual(Set(sections.compactMap { $0.attributes["id"] }), Set(expectedIDs))
        XCTAssertEqual(sections.count, expectedIDs.count)
        XCTAssertEqual(Set(linked), Set(expectedIDs))

        for section in sections {
            let id = section.attributes["id"] ?? ""
            let isFailing = id.hasSuffix("-\(Self.failing)")
            // Failures open, passes collapsed.
            let details = try XCTUnwrap(section.children.first { $0.name == "details" }, id)
            XCTAssertEqual(details.attributes["open"] != nil, isFailing, id)
            // One timeline chart, with its events table.
            let svgs = section.all { $0.name == "svg" }
            XCTAssertEqual(svgs.count, 1, id)
            XCTAssertEqual(svgs.first?.attributes["role"], "img")
            XCTAssertGreaterThan(svgs.first?.all { $0.name == "rect" }.count ?? 0, 0, "\(id): no transition bars")
            let events = try XCTUnwrap(section.first { $0.name == "table" && $0.hasClass("ev") }, id)
            XCTAssertGreaterThan(events.all { $0.name == "tr" }.count, 10, id)
            // Diff marks only where the transcripts differ.
            let removed = section.all { $0.name == "div" && $0.hasClass("r") }
            let added = section.all { $0.name == "div" && $0.hasClass("a") }
            XCTAssertEqual(section.all { $0.name == "del" }.isEmpty, !isFailing, id)
            XCTAssertEqual(section.all { $0.name == "ins" }.isEmpty, !isFailing, id)
            if isFailing {
                XCTAssertEqual(removed.map(\.text), ["23−livepatch_callbacks_demo: post_unpatch_callback: vmlinux (deliberately wrong)"], id)
                XCTAssertEqual(added.map(\.text), ["23+livepatch_callbacks_demo: post_unpatch_callback: vmlinux"], id)
                let panes = section.all { $0.name == "div" && $0.hasClass("pane") }
                XCTAssertEqual(panes.count, 2, id)
                // Side by side: as many rows on each side.
                XCTAssertEqual(Set(panes.map { $0.children.filter { $0.hasClass("l") }.count }).count, 1, id)
                XCTAssertNotNil(svgs.first?.first { $0.hasClass("missing") }, "\(id): the missing line is not on the chart")
                XCTAssertNotNil(svgs.first?.first { $0.hasClass("unexpected") }, "\(id): the unexpected line is not on the chart")
            } else {
                XCTAssertTrue(removed.isEmpty && added.isEmpty, id)
                XCTAssertNotNil(section.first { $0.name == "ol" && $0.hasClass("single") }, id)
            }
        }

        // The links to the scenario files resolve next to the page.
        let files = root.all { $0.name == "a" }.compactMap { $0.attributes["href"] }.filter { !$0.hasPrefix("#") }
        XCTAssertEqual(files.count, 2 * 3 * 3 + 2, "expected, actual, kmsg for each; diff for the two failures")
        for file in files {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(scratch.path)/results/\(file.removingPercentEncoding ?? file)"), file)
        }
        // Nothing fetched from elsewhere.
        XCTAssertFalse(dom.contains("http://") || dom.contains("https://"))
        XCTAssertTrue(root.all { $0.attributes["src"] != nil }.isEmpty)
    }

    /// Layout as Chromium computes it, read back through a probe script added
    /// to a copy of the page (the report itself is unchanged).
    func testLayoutStacksOnNarrowScreensAndNeverOverflowsThePage() throws {
        // Headless Chromium lays out --dump-dom at no less than 500 px; still
        // below the 700 px breakpoint.
        let narrow = try layout(width: 390)
        XCTAssertLessThan(narrow.viewport, 700)
        XCTAssertLessThanOrEqual(narrow.pageWidth, narrow.viewport, "the page scrolls sideways; tables must scroll inside their box")
        XCTAssertEqual(narrow.expected.left, narrow.actual.left, accuracy: 1, "panes must stack under 700 px")
        XCTAssertGreaterThan(narrow.actual.top, narrow.expected.top + 100)

        let wide = try layout(width: 1280)
        XCTAssertEqual(wide.viewport, 1280)
        XCTAssertLessThanOrEqual(wide.pageWidth, wide.viewport)
        XCTAssertEqual(wide.expected.top, wide.actual.top, accuracy: 1, "panes must be side by side")
        XCTAssertGreaterThan(wide.actual.left, wide.expected.left + wide.expected.width - 1)
        // The aligned rows are as tall on both sides (long lines wrap).
        XCTAssertEqual(wide.expected.height, wide.actual.height, accuracy: 1)
    }

    func testPrintsToPDF() throws {
        let pdf = "\(scratch.path)/report.pdf"
        let run = try chromium(["--no-pdf-header-footer", "--print-to-pdf=\(pdf)", url()])
        XCTAssertEqual(run.status, 0, run.output)
        let data = try XCTUnwrap(FileManager.default.contents(atPath: pdf), run.output)
        XCTAssertEqual(String(decoding: data.prefix(5), as: UTF8.self), "%PDF-")
        // A page break before each of the six scenarios, so at least seven pages
        // (the page tree's /Count is the number of pages).
        let counts = String(decoding: data, as: UTF8.self).matches(of: /\/Count (\d+)/).compactMap { Int($0.1) }
        XCTAssertGreaterThanOrEqual(counts.max() ?? 0, 7)
    }

    // MARK: Helpers

    func url() -> String { URL(fileURLWithPath: page).absoluteString }

    func dumpDOM(width: Int, file: String? = nil) throws -> String {
        let target = file.map { URL(fileURLWithPath: $0).absoluteString } ?? url()
        let run = try chromium(["--window-size=\(width),1600", "--dump-dom", target])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("</html>"), "no DOM dumped: \(run.stderr)")
        return run.stdout
    }

    struct Box { var left, top, width, height: Double }
    struct Layout { var viewport: Double; var pageWidth: Double; var expected: Box; var actual: Box }

    func layout(width: Int) throws -> Layout {
        let probe = """
            <script>(function(){var d=document.documentElement,r=function(s){var b=document.querySelector(s).getBoundingClientRect();return [b.left,b.top,b.width,b.height].join(",")};\
            document.body.setAttribute("data-probe",[innerWidth,d.scrollWidth,r(".pane.expected"),r(".pane.actual")].join(";"))})()</script></body>
            """
        let html = try String(contentsOfFile: page, encoding: .utf8).replacingOccurrences(of: "</body>", with: probe)
        let copy = "\(scratch.path)/results/probe.html"
        try html.write(toFile: copy, atomically: true, encoding: .utf8)
        let dom = try dumpDOM(width: width, file: copy)
        let value = try XCTUnwrap(dom.firstMatch(of: /data-probe="([^"]*)"/)?.1, "probe did not run")
        let parts = value.split(separator: ";").map { $0.split(separator: ",").compactMap { Double($0) } }
        XCTAssertEqual(parts.map(\.count), [1, 1, 4, 4], String(value))
        let box: ([Double]) -> Box = { Box(left: $0[0], top: $0[1], width: $0[2], height: $0[3]) }
        return Layout(viewport: parts[0][0], pageWidth: parts[1][0], expected: box(parts[2]), actual: box(parts[3]))
    }

    func chromium(_ arguments: [String]) throws -> HarnessProcess.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.chromium)
        // Root needs --no-sandbox; a profile of its own keeps the user's alone.
        process.arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
                             "--user-data-dir=\(scratch.path)/chromium-profile"] + arguments
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        let outFile = "\(scratch.path)/chromium.out", errFile = "\(scratch.path)/chromium.err"
        _ = FileManager.default.createFile(atPath: outFile, contents: nil)
        _ = FileManager.default.createFile(atPath: errFile, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errFile))
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            XCTFail("chromium \(arguments) took over 120 s")
        }
        process.waitUntilExit()
        return HarnessProcess.Result(status: process.terminationStatus,
                                     stdout: (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? "",
                                     stderr: (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "")
    }
}

/// Just enough of an HTML parser for Chromium's serialised DOM: elements,
/// attributes and text; void elements; raw text in script and style.
final class HTMLTree {
    let name: String
    var attributes: [String: String] = [:]
    var children: [HTMLTree] = []
    var ownText = ""

    init(name: String) { self.name = name }

    var text: String { ownText + children.map(\.text).joined() }

    func hasClass(_ cls: String) -> Bool {
        (attributes["class"] ?? "").split(separator: " ").contains { $0 == cls }
    }

    func all(_ predicate: (HTMLTree) -> Bool) -> [HTMLTree] {
        children.flatMap { (predicate($0) ? [$0] : []) + $0.all(predicate) }
    }

    func first(_ predicate: (HTMLTree) -> Bool) -> HTMLTree? {
        for child in children {
            if predicate(child) { return child }
            if let found = child.first(predicate) { return found }
        }
        return nil
    }

    static let void: Set<String> = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]

    static func parse(_ html: String) -> HTMLTree {
        let root = HTMLTree(name: "#document")
        var stack = [root]
        var rest = Substring(html)
        while !rest.isEmpty {
            guard let open = rest.firstIndex(of: "<") else {
                stack.last!.ownText += decode(rest); break
            }
            stack.last!.ownText += decode(rest[..<open])
            rest = rest[open...]
            if rest.hasPrefix("<!--") {
                rest = rest.range(of: "-->").map { rest[$0.upperBound...] } ?? ""
                continue
            }
            if rest.hasPrefix("<!") {
                rest = rest.firstIndex(of: ">").map { rest[rest.index(after: $0)...] } ?? ""
                continue
            }
            guard let close = tagEnd(rest) else { break }
            let tag = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("/") {
                let name = tag.dropFirst().trimmingCharacters(in: .whitespaces).lowercased()
                if let index = stack.lastIndex(where: { $0.name == name }), index > 0 { stack.removeSubrange(index...) }
                continue
            }
            let selfClosing = tag.hasSuffix("/")
            let element = HTMLTree(name: String(tag.prefix { !$0.isWhitespace && $0 != "/" }).lowercased())
            element.attributes = attributes(tag.dropFirst(element.name.count))
            stack.last!.children.append(element)
            if element.name == "script" || element.name == "style" {
                if let end = rest.range(of: "</\(element.name)>") {
                    element.ownText = String(rest[..<end.lowerBound])
                    rest = rest[end.upperBound...]
                }
            } else if !selfClosing && !void.contains(element.name) {
                stack.append(element)
            }
        }
        return root
    }

    /// The `>` closing a tag, skipping quoted attribute values.
    static func tagEnd(_ text: Substring) -> Substring.Index? {
        var quote: Character?
        for index in text.indices {
            let c = text[index]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == ">" { return index }
        }
        return nil
    }

    static func attributes(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        for match in text.matches(of: /([^\s=\/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/) {
            let value = match.2 ?? match.3 ?? match.4 ?? ""
            result[String(match.1).lowercased()] = decode(value)
        }
        return result
    }

    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&nbsp;", with: "\u{A0}").replacingOccurrences(of: "&amp;", with: "&")
    }
}
