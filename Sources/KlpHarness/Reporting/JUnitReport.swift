import Foundation

/// JUnit XML for Jenkins and GitLab: one `<testsuite>` per kernel, one
/// `<testcase>` per scenario, rendered from results.json so the runner and
/// the host (after a VM failure) produce the same thing.
public enum JUnitReport {
    public static func render(_ documents: [ResultsDocument]) -> String {
        let suites = documents.map(suite)
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml += #"<testsuites name="klp-harness" \#(attributes(documents))>"# + "\n"
        xml += suites.joined()
        xml += "</testsuites>\n"
        return xml
    }

    public static func write(_ documents: [ResultsDocument], to path: String) throws {
        try FileBytes.replace(path, with: Array(render(documents).utf8))
    }

    /// The counts JUnit puts on `<testsuites>` and `<testsuite>`; the time is
    /// summed per document, then across them.
    static func attributes(_ documents: [ResultsDocument]) -> String {
        let tally = StatusTally(documents.flatMap(\.scenarios).map(\.status))
        let time = documents.map { $0.scenarios.reduce(0.0) { $0 + $1.durationSeconds } }.reduce(0.0, +)
        return #"tests="\#(tally.total)" failures="\#(tally.failures)" errors="\#(tally.errors)" skipped="\#(tally.skipped)" time="\#(seconds(time))""#
    }

    static func suite(_ document: ResultsDocument) -> String {
        let name = "livepatch-callbacks.\(document.kernel)"
        var xml = #"  <testsuite name="\#(escape(name))" \#(attributes([document]))>"# + "\n"
        xml += "    <properties>\n"
        xml += #"      <property name="kernel" value="\#(escape(document.kernel))"/>"# + "\n"
        xml += #"      <property name="complete" value="\#(document.complete)"/>"# + "\n"
        if let error = document.infrastructureError {
            xml += #"      <property name="infrastructure-error" value="\#(escape(error))"/>"# + "\n"
        }
        xml += "    </properties>\n"
        for entry in document.scenarios {
            xml += testcase(entry, classname: name)
        }
        xml += "  </testsuite>\n"
        return xml
    }

    static func testcase(_ entry: ResultsDocument.Entry, classname: String) -> String {
        var xml = #"    <testcase name="\#(escape(entry.name))" classname="\#(escape(classname))" time="\#(seconds(entry.durationSeconds))""#
        let reason = entry.diagnostics.first ?? ""
        let body = (entry.diagnostics + entry.logExcerpt).joined(separator: "\n")
        let outcome: String?
        switch entry.status {
        case .pass:
            outcome = nil
        case .fail:
            outcome = element("failure", type: "mismatch", message: "the kernel log differs from the expected transcript", body: body)
        case .timeout:
            outcome = element("failure", type: "timeout", message: reason, body: body)
        case .crash:
            let headline = entry.diagnostics.first { $0.hasPrefix("kernel crashed: ") || $0.hasPrefix("kernel tainted: ") } ?? reason
            outcome = element("failure", type: "crash", message: headline, body: body)
        case .skip:
            outcome = #"      <skipped message="\#(escape(reason))"/>"# + "\n"
        case .infrastructure:
            outcome = element("error", type: "infrastructure", message: reason, body: body)
        case .error:
            outcome = element("error", type: "error", message: reason, body: body)
        }
        let out = entry.artifacts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        if outcome == nil && out.isEmpty { return xml + "/>\n" }
        xml += ">\n" + (outcome ?? "")
        if !out.isEmpty { xml += "      <system-out>\(escape(out))</system-out>\n" }
        return xml + "    </testcase>\n"
    }

    static func element(_ name: String, type: String, message: String, body: String) -> String {
        #"      <\#(name) type="\#(type)" message="\#(escape(message))">\#(escape(body))</\#(name)>"# + "\n"
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    static func escape(_ text: String) -> String { Markup.escape(text, keepingNewlines: true) }
}
