import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import KlpHarness

/// junit.xml: validated against Fixtures/junit.xsd with xmllint, and parsed
/// back, never grepped.
@Suite("JUnitReport: junit.xml for Jenkins and GitLab")
struct JUnitReportTests {
    static func entry(_ number: Int, _ name: String, _ status: ScenarioStatus, diagnostics: [String] = [], excerpt: [String] = []) -> ResultsDocument.Entry {
        ResultsDocument.Entry(number: number, name: name, status: status, durationSeconds: 1.25, transitionSeconds: 1.0,
                              transitions: 2, diagnostics: diagnostics, logExcerpt: excerpt,
                              artifacts: ["expected": "\(name)/expected.txt"])
    }

    /// One kernel with every status, one with an infrastructure error.
    static var documents: [ResultsDocument] {
        var first = ResultsDocument(kernel: "6.1.0-56-amd64", planned: 5)
        first.complete = true
        first.scenarios = [
            entry(1, "target-module-before-livepatch", .pass),
            entry(2, "module-coming-notifier", .fail, excerpt: ["--- expected.txt", "+++ actual.txt", "-livepatch_callbacks_demo: <wrong> & \"quoted\"", "+livepatch_callbacks_demo: right"]),
            entry(3, "busy-target-module", .timeout, diagnostics: ["stopped: timed out after 60.000 s waiting for livepatch_callbacks_demo's patching transition to finish"]),
            entry(4, "atomic-replace", .error, diagnostics: ["stopped: SIGTERM received"]),
            entry(5, "multiple-livepatches", .skip, diagnostics: ["not root"]),
        ]
        var second = ResultsDocument(kernel: "6.12.117+deb12-amd64", planned: 2)
        second.infrastructureError = "the VM exited before the runner finished; see console.log"
        second.addUnreported(["target-module-before-livepatch", "module-coming-notifier"], status: .infrastructure,
                             reason: "the VM exited before the runner finished; see console.log")
        return [first, second]
    }

    func validate(_ xml: String) throws -> (status: Int32, output: String) {
        let xmllint = "/usr/bin/xmllint"
        try #require(FileManager.default.isExecutableFile(atPath: xmllint), "xmllint is missing: scripts/setup installs libxml2-utils")
        let schema = try #require(Bundle.module.url(forResource: "junit", withExtension: "xsd", subdirectory: "Fixtures"))
        let file = NSTemporaryDirectory() + "junit-\(UUID().uuidString).xml"
        try xml.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: xmllint)
        process.arguments = ["--noout", "--schema", schema.path, file]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func validatesAgainstTheSchema() throws {
        let result = try validate(JUnitReport.render(Self.documents))
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func theSchemaRejectsWhatCIWouldMisread() throws {
        // A test that cannot fail proves nothing: a testcase without a time,
        // and one with two outcomes, must both be refused.
        let noTime = #"<testsuites name="x" tests="1" failures="0" errors="0" skipped="0" time="0"><testsuite name="k" tests="1" failures="0" errors="0" skipped="0" time="0"><properties><property name="kernel" value="k"/></properties><testcase name="a" classname="k"/></testsuite></testsuites>"#
        #expect(try validate(noTime).status != 0)
        let twoOutcomes = #"<testsuites name="x" tests="1" failures="1" errors="1" skipped="0" time="0"><testsuite name="k" tests="1" failures="1" errors="1" skipped="0" time="0"><properties><property name="kernel" value="k"/></properties><testcase name="a" classname="k" time="1"><failure type="t" message="m"/><error type="t" message="m"/></testcase></testsuite></testsuites>"#
        #expect(try validate(twoOutcomes).status != 0)
    }

    @Test func parsesBackToTheSameResults() throws {
        let document = try XMLDocument(xmlString: JUnitReport.render(Self.documents), options: [])
        let root = try #require(document.rootElement())
        #expect(root.name == "testsuites")
        #expect(root.attribute(forName: "tests")?.stringValue == "7")
        #expect(root.attribute(forName: "failures")?.stringValue == "2")
        #expect(root.attribute(forName: "errors")?.stringValue == "3")
        #expect(root.attribute(forName: "skipped")?.stringValue == "1")

        let suites = root.elements(forName: "testsuite")
        #expect(suites.map { $0.attribute(forName: "name")?.stringValue } == ["livepatch-callbacks.6.1.0-56-amd64", "livepatch-callbacks.6.12.117+deb12-amd64"])
        let cases = suites[0].elements(forName: "testcase")
        #expect(cases.count == 5)
        #expect(cases[0].children == nil || cases[0].elements(forName: "failure").isEmpty)
        let failure = try #require(cases[1].elements(forName: "failure").first)
        #expect(failure.attribute(forName: "type")?.stringValue == "mismatch")
        #expect(failure.stringValue?.contains("-livepatch_callbacks_demo: <wrong> & \"quoted\"") == true)
        #expect(cases[2].elements(forName: "failure").first?.attribute(forName: "type")?.stringValue == "timeout")
        #expect(cases[2].elements(forName: "failure").first?.attribute(forName: "message")?.stringValue?.contains("waiting for livepatch_callbacks_demo's patching transition") == true)
        #expect(cases[3].elements(forName: "error").first?.attribute(forName: "type")?.stringValue == "error")
        #expect(cases[4].elements(forName: "skipped").first?.attribute(forName: "message")?.stringValue == "not root")
        let infrastructure = suites[1].elements(forName: "testcase").compactMap { $0.elements(forName: "error").first }
        #expect(infrastructure.count == 2)
        #expect(infrastructure.allSatisfy { $0.attribute(forName: "type")?.stringValue == "infrastructure" })
        #expect(cases[0].attribute(forName: "time")?.stringValue == "1.250")
    }

    @Test func controlCharactersCannotBreakTheXML() throws {
        var document = ResultsDocument(kernel: "k", planned: 1)
        document.scenarios = [Self.entry(1, "a", .fail, excerpt: ["+bell \u{07} and nul \u{0}"])]
        let xml = JUnitReport.render([document])
        #expect(try validate(xml).status == 0)
        #expect(!xml.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\t" })
    }
}
