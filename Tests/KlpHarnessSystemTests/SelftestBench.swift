import Foundation

/// The side-by-side table of scripts/bench-selftests: per script group, the
/// kernel's own test-GROUP.sh wall time against the sum of our scenarios of
/// that group (results.json's durationSeconds), measured in the same boot.
struct SelftestBench {
    /// The kernel's scripts, in the order the table lists them.
    static let groups = ["callbacks", "livepatch", "shadow-vars", "state", "ftrace", "sysfs", "syscall"]
    /// The goal, printed beside each ratio, not asserted.
    static let ratioGoal = 0.5

    struct KernelScript: Equatable {
        var group: String
        var seconds: Double
        var exitStatus: Int
    }

    struct OurScenario: Equatable {
        var name: String
        var status: String
        var seconds: Double
        var transitionSeconds: Double
        var group: String { SelftestBench.group(ofScenario: name) }
    }

    var kernel: [KernelScript]
    var ours: [OurScenario]
    /// `klp-harness run` as a whole process (start-up and clean-up included).
    var oursProcessSeconds: Double?

    struct FormatError: Error, CustomStringConvertible {
        var description: String
    }

    /// Our scenario names start with their kernel script's group
    /// (design.md); the 11 callbacks scenarios keep their older names.
    static func group(ofScenario name: String) -> String {
        groups.dropFirst().first { name.hasPrefix("\($0)-") } ?? "callbacks"
    }

    /// kernel-times.txt, written by the guest: `test-GROUP.sh START END EXIT` per line.
    static func parseKernelTimes(_ text: String) throws -> [KernelScript] {
        try text.split(separator: "\n").map { line in
            let fields = line.split(separator: " ")
            guard fields.count == 4, fields[0].hasPrefix("test-"), fields[0].hasSuffix(".sh"),
                  let start = Double(fields[1]), let end = Double(fields[2]), let status = Int(fields[3]) else {
                throw FormatError(description: "kernel-times.txt: '\(line)' is not 'test-GROUP.sh START END EXIT'")
            }
            let group = String(fields[0].dropFirst("test-".count).dropLast(".sh".count))
            return KernelScript(group: group, seconds: end - start, exitStatus: status)
        }
    }

    /// The scenarios of a `klp-harness run` results.json.
    static func parseResults(_ data: Data) throws -> [OurScenario] {
        guard let document = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let scenarios = document["scenarios"] as? [[String: Any]] else {
            throw FormatError(description: "results.json has no 'scenarios' array")
        }
        return scenarios.map { scenario in
            OurScenario(name: scenario["name"] as? String ?? "?",
                        status: scenario["status"] as? String ?? "?",
                        seconds: scenario["durationSeconds"] as? Double ?? 0,
                        transitionSeconds: scenario["transitionSeconds"] as? Double ?? 0)
        }
    }

    func table(title: String) -> String {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "-" }
        func ratio(_ ours: Double?, _ kernel: Double?) -> String {
            guard let ours, let kernel, kernel > 0 else { return "-" }
            return String(format: "%.2f", ours / kernel)
        }
        func row(_ cells: [String]) -> String {
            let widths = [12, 11, 13, 9, 7, 10, 14]
            return zip(cells, widths).map { cell, width in cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0) }
                .joined(separator: " ").trimmingCharacters(in: .whitespaces)
        }
        var lines = [title, row(["group", "kernel s", "ours s", "ratio", "goal", "kernel", "ours"])]
        var kernelTotal = 0.0, oursTotal = 0.0, kernelBoth = 0.0, oursBoth = 0.0
        let present = Self.groups.filter { group in kernel.contains { $0.group == group } || ours.contains { $0.group == group } }
        for group in present {
            let scripts = kernel.filter { $0.group == group }
            let scenarios = ours.filter { $0.group == group }
            let kernelSeconds = scripts.isEmpty ? nil : scripts.map(\.seconds).reduce(0, +)
            let oursSeconds = scenarios.isEmpty ? nil : scenarios.map(\.seconds).reduce(0, +)
            kernelTotal += kernelSeconds ?? 0
            oursTotal += oursSeconds ?? 0
            if let kernelSeconds, let oursSeconds { kernelBoth += kernelSeconds; oursBoth += oursSeconds }
            let kernelVerdict = scripts.isEmpty ? "-" : scripts.allSatisfy { $0.exitStatus == 0 } ? "exit 0" : "exit \(scripts.map(\.exitStatus).max() ?? 0)"
            let passed = scenarios.filter { $0.status == "pass" }.count
            let skipped = scenarios.filter { $0.status == "skip" }.count
            lines.append(row([group, seconds(kernelSeconds), seconds(oursSeconds), ratio(oursSeconds, kernelSeconds),
                              String(format: "<= %.1f", Self.ratioGoal), kernelVerdict,
                              scenarios.isEmpty ? "-" : "\(passed)/\(scenarios.count) pass" + (skipped > 0 ? ", \(skipped) skip" : "")]))
        }
        // A ratio of totals only compares like with like: every group measured on both sides.
        let bothSides = present.allSatisfy { group in kernel.contains { $0.group == group } && ours.contains { $0.group == group } }
        lines.append(row(["total", seconds(kernelTotal), seconds(oursTotal), bothSides ? ratio(oursTotal, kernelTotal) : "-",
                          String(format: "<= %.1f", Self.ratioGoal), "", ""]))
        if !bothSides {
            lines.append(row(["both sides", seconds(kernelBoth), seconds(oursBoth), ratio(oursBoth, kernelBoth),
                              String(format: "<= %.1f", Self.ratioGoal), "", "(groups measured on both)"]))
        }
        let transitions = ours.map(\.transitionSeconds).reduce(0, +)
        lines.append("ours in kernel transitions: \(seconds(transitions)) s of \(seconds(ours.map(\.seconds).reduce(0, +))) s in scenarios"
                     + (oursProcessSeconds.map { "; klp-harness run as a whole process: \(seconds($0)) s" } ?? ""))
        return lines.joined(separator: "\n")
    }
}
