import Foundation

/// JUnit XML for Jenkins and GitLab: one `<testsuite>` per kernel, one
/// `<testcase>` per scenario, rendered from results.json so the runner and
/// the host (after a VM failure) produce the same thing.
public enum JUnitReport {
    public static func render(_ documents: [ResultsDocument]) -> String {
        let suites = documents.map(suite)
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        let totals = documents.map(Counts.init).reduce(Counts(), +)
        xml += #"<testsuites name="klp-harness" \#(totals.attributes)>"# + "\n"
        xml += suites.joined()
        xml += "</testsuites>\n"
        return xml
    }

    public static func write(_ documents: [ResultsDocument], to path: String) throws {
        let temporary = path + ".tmp"
        try ResultsFolder.write(render(documents), to: temporary)
        guard rename(temporary, path) == 0 else {
            throw KernelFileError(path: path, operation: "replace", errno: ErrnoDescription(errno))
        }
    }

    struct Counts {
        var tests = 0, failures = 0, errors = 0, skipped = 0
        var time = 0.0

        init() {}

        init(_ document: ResultsDocument) {
            for entry in document.scenarios {
                tests += 1
                time += entry.durationSeconds
                switch entry.status {
                case "pass": break
                case "fail", "timeout", "crash": failures += 1
                case "skip": skipped += 1
                default: errors += 1
                }
            }
        }

        static func + (a: Counts, b: Counts) -> Counts {
            var sum = Counts()
            sum.tests = a.tests + b.tests
            sum.failures = a.failures + b.failures
            sum.errors = a.errors + b.errors
            sum.skipped = a.skipped + b.skipped
            sum.time = a.time + b.time
            return sum
        }

        var attributes: String {
            #"tests="\#(tests)" failures="\#(failures)" errors="\#(errors)" skipped="\#(skipped)" time="\#(seconds(time))""#
        }
    }

    static func suite(_ document: ResultsDocument) -> String {
        let name = "livepatch-callbacks.\(document.kernel)"
        var xml = #"  <testsuite name="\#(escape(name))" \#(Counts(document).attributes)>"# + "\n"
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
        case "pass":
            outcome = nil
        case "fail":
            outcome = element("failure", type: "mismatch", message: "the kernel log differs from the expected transcript", body: body)
        case "timeout":
            outcome = element("failure", type: "timeout", message: reason, body: body)
        case "crash":
            let headline = entry.diagnostics.first { $0.hasPrefix("kernel crashed: ") || $0.hasPrefix("kernel tainted: ") } ?? reason
            outcome = element("failure", type: "crash", message: headline, body: body)
        case "skip":
            outcome = #"      <skipped message="\#(escape(reason))"/>"# + "\n"
        case "infrastructure":
            outcome = element("error", type: "infrastructure", message: reason, body: body)
        default:
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
