import ArgumentParser
import KlpHarness
#if canImport(Glibc)
import Glibc
#endif

struct ShowCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a results folder: the kernel x scenario table, or one scenario's diff and timeline.",
        discussion: """
            Reads only the results folder (results.json, expected.txt, actual.txt, kmsg.txt), \
            so it works on a folder copied out of CI.

            Without a scenario: the kernel x scenario table with status, wall time and \
            transition time. With a scenario: for each kernel that ran it, its status and \
            diagnostics, the unified diff of expected against actual (or the transcript when \
            they agree), and the timeline: every kernel-log line at its offset from the \
            scenario's start, the harness's '%' actions in line, and how long each \
            transition took by the kernel's own timestamps. After 'vm --explore' each \
            sequence is an entry (seed1-sequence42): its diagnostics, its shrunk files and \
            its diff or crash excerpt.

            Examples:
              klp-harness show
              klp-harness show results busy-target-module
              klp-harness show results seed1-sequence42
              klp-harness show ci-artifacts/results/6.12.117+deb12-amd64 atomic-replace --no-color
            """
    )

    @Argument(help: ArgumentHelp("The results root, or one kernel's folder in it.", valueName: "results-dir"))
    var results = "results"

    @Argument(help: ArgumentHelp("A scenario name, e.g. busy-target-module.", valueName: "scenario"))
    var scenario: String?

    @Option(help: ArgumentHelp("Only this kernel release.", valueName: "release"))
    var kernel: String?

    @Flag(name: .customLong("no-color"), help: "Plain text even on a terminal.")
    var noColor = false

    func run() throws {
        let archive = try ResultsArchive.load(results)
        let kernels = archive.kernels.filter { kernel == nil || $0.release == kernel }
        guard !kernels.isEmpty else {
            throw HarnessError(.badInput, "no results for kernel \(kernel ?? "")",
                               remedy: "kernels here: \(archive.kernels.map(\.release).joined(separator: ", "))")
        }
        guard let scenario else {
            var table = MatrixSummary(documents: kernels.map(\.document))
            table.showsTransitions = true
            table.render().forEach { printLine($0) }
            return
        }
        let color = !noColor && isatty(1) != 0
        var shown = 0
        for run in kernels {
            guard let entry = run.document.scenarios.first(where: { $0.name == scenario }) else { continue }
            guard let artifacts = run.artifacts(of: scenario) else {
                if shown > 0 { printLine("") }
                guard !entry.logExcerpt.isEmpty else {
                    printLine("\(scenario) on \(run.release): \(entry.status.rawValue), no transcripts (\(entry.diagnostics.first ?? "not run"))")
                    shown += 1
                    continue
                }
                // An explored sequence: no transcript files, its diff or
                // crash excerpt and its shrunk files are the entry's.
                printLine("\(scenario) on \(run.release): \(entry.status.rawValue)")
                entry.diagnostics.forEach { printLine("  " + $0) }
                entry.artifacts.sorted { $0.key < $1.key }.forEach { printLine("  \($0.key): \($0.value)") }
                printLine("")
                entry.logExcerpt.forEach { printLine($0) }
                shown += 1
                continue
            }
            if shown > 0 { printLine("") }
            ScenarioView(kernel: run, entry: entry, artifacts: artifacts, color: color).render().forEach { printLine($0) }
            shown += 1
        }
        if shown == 0 {
            throw HarnessError(.badInput, "no scenario named '\(scenario)' in \(results)",
                               remedy: "scenarios here: \(archive.scenarioNames.joined(separator: ", "))")
        }
    }
}
