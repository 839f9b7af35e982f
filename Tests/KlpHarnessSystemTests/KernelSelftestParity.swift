import Foundation
import KlpHarness

/// One `start_test "NAME"` of a kernel livepatch selftest script
/// (tools/testing/selftests/livepatch/test-*.sh) with the transcript its
/// `check_result "..."` expects, the script's `$MOD_*` variables expanded as
/// they stood at that point (test-sysfs.sh reassigns MOD_LIVEPATCH between
/// tests).
struct KernelSelftest: Equatable {
    var script: String
    var name: String
    var expected: [String]

    /// "test-state.sh \"incompatible cumulative livepatches\"", as our scenario headers cite it.
    var citation: String { "\(script) \"\(name)\"" }
}

/// Reads the kernel's selftest scripts. Only the few shell forms these
/// scripts use are understood: `MOD_X=value` assignments at the start of a
/// line, `start_test "NAME"`, and `check_result "…"` spanning lines up to the
/// closing unescaped quote, with `$VAR`, `${VAR}` and `\"` inside it.
enum KernelSelftestScript {
    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String, script: String) throws -> [KernelSelftest] {
        var variables: [String: String] = [:]
        var tests: [KernelSelftest] = []
        var pendingName: String?
        let lines = text.components(separatedBy: "\n")
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            if let assignment = variableAssignment(line) {
                variables[assignment.name] = assignment.value
            } else if line.hasPrefix("start_test \"") {
                let rest = line.dropFirst("start_test \"".count)
                guard let close = rest.firstIndex(of: "\"") else {
                    throw ParseError(description: "\(script):\(index): start_test without a closing quote")
                }
                pendingName = String(rest[..<close])
            } else if line.hasPrefix("check_result \"") {
                guard let name = pendingName else {
                    throw ParseError(description: "\(script):\(index): check_result before any start_test")
                }
                // Collect the double-quoted word, which may span lines.
                var body = String(line.dropFirst("check_result \"".count))
                let start = index
                while closingQuote(in: body) == nil {
                    guard index < lines.count else {
                        throw ParseError(description: "\(script):\(start): check_result's quote never closes")
                    }
                    body += "\n" + lines[index]
                    index += 1
                }
                let quoted = String(body[..<closingQuote(in: body)!])
                tests.append(KernelSelftest(script: script, name: name,
                                            expected: expand(quoted, variables).components(separatedBy: "\n")))
                pendingName = nil
            }
        }
        return tests
    }

    /// `MOD_LIVEPATCH=test_klp_livepatch` → ("MOD_LIVEPATCH", "test_klp_livepatch").
    static func variableAssignment(_ line: String) -> (name: String, value: String)? {
        guard line.hasPrefix("MOD_"), let equals = line.firstIndex(of: "=") else { return nil }
        let name = line[..<equals]
        guard name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) else { return nil }
        return (String(name), String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces))
    }

    /// The index of the first `"` not escaped by a backslash.
    static func closingQuote(in text: String) -> String.Index? {
        var escaped = false
        for index in text.indices {
            let character = text[index]
            if escaped { escaped = false; continue }
            if character == "\\" { escaped = true; continue }
            if character == "\"" { return index }
        }
        return nil
    }

    /// Bash's double-quote expansion for what check_result bodies contain:
    /// `\"`, `\$`, `\\`, `$NAME` and `${NAME}`. A variable the script did not
    /// assign at the top level (test-syscall.sh's `$pid_list`) stays as written.
    static func expand(_ text: String, _ variables: [String: String]) -> String {
        var result = ""
        var rest = Substring(text)
        func isNameCharacter(_ character: Character) -> Bool {
            character.isLetter || character.isNumber || character == "_"
        }
        while let character = rest.first {
            rest = rest.dropFirst()
            if character == "\\", let next = rest.first, "\"$\\`".contains(next) {
                result.append(next)
                rest = rest.dropFirst()
            } else if character == "$", rest.first == "{", let close = rest.firstIndex(of: "}") {
                let name = String(rest[rest.index(after: rest.startIndex)..<close])
                result += variables[name] ?? "${\(name)}"
                rest = rest[rest.index(after: close)...]
            } else if character == "$", let first = rest.first, first.isLetter || first == "_" {
                let name = String(rest.prefix(while: isNameCharacter))
                result += variables[name] ?? "$\(name)"
                rest = rest.dropFirst(name.count)
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// Brings the kernel's expected transcript and ours to one form, so that only
/// the differences design.md lists as known are hidden:
///
/// - module names: the kernel's test_klp_* modules are our livepatch-* ones;
/// - loads: the kernel logs `% modprobe M ARGS` (6.1's functions.sh) or
///   `% insmod test_modules/M.ko ARGS` (6.12's), we log `% insmod file.ko ARGS`
///   (with a trailing ` &` when the runner does not wait for the transition,
///   which functions.sh's load_lp_nowait does not log): all become `% load M ARGS`;
/// - load errors: modprobe's and insmod's wording become `load error: M: MESSAGE`;
/// - functions.sh's own `log` lines become the action or error line we log
///   in their place: "livepatch: kernel.ftrace_enabled = N" is our
///   `% sysctl kernel.ftrace_enabled=N`, "livepatch: sysctl: setting key …" is
///   our sysctl error line, test-syscall.sh's "M: Remaining not livepatched
///   processes: N" is our `% wait_for_value /sys/module/M/parameters/npids N`;
/// - our action lines the kernel's script performs without logging them
///   (check_sysfs_*, grep, spawn, kill, other wait_for_value, and the
///   wait_for_transition after a ` &` load) are dropped;
/// - test-syscall.sh's `$pid_list` is our `$PIDS`.
enum TranscriptParity {
    /// design.md's table, longest names first so test_klp_state2 is not read
    /// as test_klp_state followed by "2".
    static let moduleNames: [(kernel: String, ours: String)] = [
        ("test_klp_callbacks_demo2", "livepatch_callbacks_demo2"),
        ("test_klp_callbacks_demo", "livepatch_callbacks_demo"),
        ("test_klp_callbacks_busy", "livepatch_callbacks_busymod"),
        ("test_klp_callbacks_mod", "livepatch_callbacks_mod"),
        ("test_klp_atomic_replace", "livepatch_meminfo"),
        ("test_klp_shadow_vars", "livepatch_shadow_vars"),
        ("test_klp_livepatch", "livepatch_cmdline"),
        ("test_klp_syscall", "livepatch_getpid"),
        ("test_klp_state2", "livepatch_state2"),
        ("test_klp_state3", "livepatch_state3"),
        ("test_klp_state", "livepatch_state"),
    ]

    static func mapModuleNames(_ line: String) -> String {
        var line = line
        for (kernel, ours) in moduleNames {
            line = line.replacingOccurrences(of: kernel, with: ours)
        }
        return line
    }

    /// The kernel's expected lines in the common form.
    static func normalizeKernel(_ lines: [String]) -> [String] {
        lines.map { line in
            let line = mapModuleNames(line.replacingOccurrences(of: "$pid_list", with: "$PIDS"))
            if let rest = line.dropPrefix("% modprobe ") {
                return load(rest)
            }
            if let rest = line.dropPrefix("% insmod test_modules/") {
                return load(rest)
            }
            // 6.1: "modprobe: ERROR: could not insert 'M': Device or resource busy"
            if let rest = line.dropPrefix("modprobe: ERROR: could not insert '"),
               let quote = rest.firstIndex(of: "'"), rest[quote...].hasPrefix("': ") {
                return "load error: \(rest[..<quote]): \(rest[rest.index(quote, offsetBy: 3)...])"
            }
            // 6.12: "insmod: ERROR: could not insert module test_modules/M.ko: MESSAGE"
            if let rest = line.dropPrefix("insmod: ERROR: could not insert module test_modules/") {
                return loadError(strerrorWording(ofInsmodError: rest))
            }
            if let value = line.dropPrefix("livepatch: kernel.ftrace_enabled = ") {
                return "% sysctl kernel.ftrace_enabled=\(value)"
            }
            if let error = line.dropPrefix("livepatch: sysctl: ") {
                return "sysctl: \(error)"
            }
            if let range = line.range(of: ": Remaining not livepatched processes: ") {
                return "remaining not livepatched: \(line[range.upperBound...])"
            }
            return line
        }
    }

    /// Our expected transcript in the common form.
    static func normalizeOurs(_ lines: [String]) -> [String] {
        var result: [String] = []
        for (index, line) in lines.enumerated() {
            if let rest = line.dropPrefix("% insmod ") {
                result.append(load(rest.hasSuffix(" &") ? String(rest.dropLast(2)) : rest))
                continue
            }
            if let rest = line.dropPrefix("insmod: ERROR: could not insert module ") {
                result.append(loadError(String(rest)))
                continue
            }
            if line.hasPrefix("% sysctl ") {
                // A refused write: the kernel's script logs only the error line.
                let next = index + 1 < lines.count ? lines[index + 1] : ""
                if next.hasPrefix("sysctl: ") { continue }
                result.append(line)
                continue
            }
            if let rest = line.dropPrefix("% wait_for_value "), rest.hasPrefix("/sys/module/"),
               let space = rest.lastIndex(of: " "), rest[..<space].hasSuffix("/parameters/npids") {
                result.append("remaining not livepatched: \(rest[rest.index(after: space)...])")
                continue
            }
            let unlogged = ["% check_sysfs_rights ", "% check_sysfs_value ", "% grep ", "% spawn ", "% kill ",
                            "% wait_for_value ", "% wait_for_transition "]
            if unlogged.contains(where: line.hasPrefix) { continue }
            result.append(line)
        }
        return result
    }

    /// `M.ko ARGS` → `% load M ARGS`.
    private static func load(_ rest: String) -> String {
        var words = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard !words.isEmpty else { return "% load" }
        // Our file names use '-', module names '_' (ModuleName.fromFile).
        if words[0].hasSuffix(".ko") { words[0] = ModuleName.fromFile(words[0]) }
        return "% load " + words.joined(separator: " ")
    }

    /// `M.ko: MESSAGE` → `load error: M: MESSAGE`.
    private static func loadError(_ rest: String) -> String {
        guard let range = rest.range(of: ".ko: ") else { return "load error: \(rest)" }
        let module = rest[..<range.lowerBound].replacingOccurrences(of: "-", with: "_")
        return "load error: \(module): \(rest[range.upperBound...])"
    }

    /// kmod's insmod words four errnos its own way (mod_strerror() in kmod's
    /// tools/insmod.c); modprobe, and our runner, print strerror(3). 6.12's
    /// test-state.sh expects insmod's "Invalid parameters" where 6.1's
    /// expects modprobe's "Invalid argument" for the same -EINVAL.
    static let insmodWording: [String: String] = [
        "Invalid module format": "Exec format error",      // ENOEXEC
        "Unknown symbol in module": "No such file or directory", // ENOENT
        "Module has wrong symbol version": "No such process", // ESRCH
        "Invalid parameters": "Invalid argument",          // EINVAL
    ]

    static func strerrorWording(ofInsmodError line: String) -> String {
        for (insmod, strerror) in insmodWording where line.hasSuffix(": \(insmod)") {
            return String(line.dropLast(insmod.count)) + strerror
        }
        return line
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}

/// Our scenario files with the kernel test each header cites.
struct CitedScenario {
    var scenario: Scenario
    var file: String
    /// `test-X.sh "NAME"` from the header comment, nil when none is cited.
    var citation: String?
    /// The `% requires Linux X.Y` directive's version, if any, read from the text.
    var requiredVersion: String?

    static func load(directory: String) throws -> [CitedScenario] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".scenario") }.sorted()
        return try files.map { file in
            let path = "\(directory)/\(file)"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let scenario = try ScenarioParser.parse(text, path: path)
            return CitedScenario(scenario: scenario, file: file, citation: citation(in: text),
                                 requiredVersion: requiredVersion(in: text))
        }
    }

    /// The first `test-X.sh "NAME"` in the leading comment block.
    static func citation(in text: String) -> String? {
        for line in text.components(separatedBy: "\n") {
            guard line.hasPrefix("#") else { break }
            guard let script = line.range(of: #"test-[a-z-]+\.sh "[^"]+""#, options: .regularExpression) else { continue }
            return String(line[script])
        }
        return nil
    }

    static func requiredVersion(in text: String) -> String? {
        for line in text.components(separatedBy: "\n") where line.hasPrefix("% requires Linux ") {
            let rest = line.dropFirst("% requires Linux ".count)
            return String(rest.prefix { $0.isNumber || $0 == "." })
        }
        return nil
    }
}

/// The comparison of one kernel test with our scenario for it.
struct ParityRow {
    var kernelTest: String
    var scenario: String
    /// nil when at parity, else a unified-style diff (kernel's lines `-`, ours `+`).
    var diff: String?
    /// Set when the diff is a documented superset (ParityCheck.newerTestOnOlderKernel).
    var superset: String?

    var verdict: String { diff == nil ? "ok" : superset == nil ? "DIFF" : "superset" }
    var failed: Bool { diff != nil && superset == nil }
}

enum ParityCheck {
    /// The one kernel test whose script changed between 6.1 and 6.12 in what
    /// it does, not only in its wording: 6.12's "atomic replace livepatch"
    /// loads three patches before the replacement, 6.1's one. Our scenario
    /// follows 6.12's and says so in its header; on 6.1 it passes as a
    /// superset only if every line the kernel's test expects is in ours, in
    /// order. The row says "superset" and shows the diff, never "ok".
    static let newerTestOnOlderKernel: [String: String] = [
        #"test-livepatch.sh "atomic replace livepatch""#: "follows 6.12's test, which also loads the getpid and callbacks-demo patches first",
    ]

    /// Compares every kernel test with the scenario citing it, on `release`.
    /// Returns the rows, the kernel tests with no scenario, and our scenarios
    /// citing a test this kernel does not have (or none).
    static func compare(tests: [KernelSelftest], scenarios: [CitedScenario], release: String)
        -> (rows: [ParityRow], missing: [String], extra: [String]) {
        var rows: [ParityRow] = []
        var missing: [String] = []
        for test in tests {
            guard let ours = scenarios.first(where: { $0.citation == test.citation }) else {
                missing.append(test.citation)
                continue
            }
            let expected = TranscriptParity.normalizeKernel(test.expected)
            let actual = TranscriptParity.normalizeOurs(ours.scenario.transcript(for: release))
            var row = ParityRow(kernelTest: test.citation, scenario: ours.file,
                                diff: expected == actual ? nil : lineDiff(expected, actual))
            if row.diff != nil, let reason = newerTestOnOlderKernel[test.citation], isSubsequence(expected, of: actual) {
                row.superset = reason
            }
            rows.append(row)
        }
        let cited = Set(tests.map(\.citation))
        let extra = scenarios.filter { $0.citation.map { !cited.contains($0) } ?? true }
            .map { "\($0.file) (cites \($0.citation ?? "no kernel test")\($0.requiredVersion.map { ", requires Linux \($0)" } ?? ""))" }
        return (rows, missing, extra)
    }

    static func isSubsequence(_ lines: [String], of other: [String]) -> Bool {
        var remaining = lines[...]
        for line in other where line == remaining.first { remaining = remaining.dropFirst() }
        return remaining.isEmpty
    }

    /// A minimal line diff through the longest common subsequence: enough to
    /// show which lines differ; `-` the kernel's, `+` ours, ` ` both.
    static func lineDiff(_ kernel: [String], _ ours: [String]) -> String {
        let n = kernel.count, m = ours.count
        var lcs = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = kernel[i] == ours[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, kernel[i] == ours[j] {
                out.append("  \(kernel[i])"); i += 1; j += 1
            } else if j < m, i == n || lcs[i][j + 1] >= lcs[i + 1][j] {
                out.append("+ \(ours[j])"); j += 1
            } else {
                out.append("- \(kernel[i])"); i += 1
            }
        }
        return out.joined(separator: "\n")
    }

    static func table(_ rows: [ParityRow], missing: [String], extra: [String], release: String) -> String {
        let width = max(20, (rows.map(\.kernelTest) + missing).map(\.count).max() ?? 0)
        let scenarioWidth = max(10, rows.map(\.scenario.count).max() ?? 0)
        func pad(_ text: String, _ count: Int) -> String {
            text + String(repeating: " ", count: max(0, count - text.count))
        }
        var out = ["parity with the kernel's livepatch selftests on \(release)",
                   "\(pad("kernel test", width))  \(pad("our scenario", scenarioWidth))  parity"]
        for row in rows {
            out.append("\(pad(row.kernelTest, width))  \(pad(row.scenario, scenarioWidth))  \(row.verdict)")
        }
        for test in missing { out.append("\(pad(test, width))  \(pad("(none)", scenarioWidth))  MISSING") }
        for scenario in extra { out.append("ours only: \(scenario)") }
        let supersets = rows.filter { $0.superset != nil }.count
        out.append("\(rows.filter { $0.diff == nil }.count) of \(rows.count + missing.count) kernel tests at parity"
                   + (supersets > 0 ? ", \(supersets) a documented superset" : ""))
        for row in rows {
            guard let diff = row.diff else { continue }
            let heading = row.superset.map { "SUPERSET (\($0))" } ?? "DIFF"
            out += ["", "\(heading) \(row.kernelTest) vs \(row.scenario) (- kernel, + ours):", diff]
        }
        return out.joined(separator: "\n")
    }
}
