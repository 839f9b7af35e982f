import ArgumentParser
import KlpHarness

struct ReportCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a results folder as one self-contained HTML page.",
        discussion: """
            Reads a results folder (the root with one folder per kernel, or one kernel's \
            folder) and writes a single HTML file with everything inline: no network, \
            no external fonts or scripts, readable without JavaScript and on a phone.

            The page has the kernel x scenario matrix (status and wall time per cell; \
            failures say FAIL, not only in red), then per kernel and scenario a section \
            with status, times and diagnostics, the expected and actual transcripts side \
            by side aligned by their diff (missing lines marked -, unexpected ones +), and \
            a timeline of the scenario's kernel log: transitions as bars, actions and \
            callbacks on their own lanes, with the same events as a table. Passing \
            scenarios are collapsed; printing opens everything, one scenario per page.

            It only reads files, so it works on a folder copied out of CI. When the page \
            is written inside the results folder (the default), it links each \
            scenario's expected.txt, actual.txt, kmsg.txt and diff.txt.

            Examples:
              klp-harness report
              klp-harness report results/6.1.0-56-amd64
              klp-harness report ci-artifacts/results --output report.html
            """
    )

    @Argument(help: ArgumentHelp("The results folder: the root a run wrote, or one kernel's folder.", valueName: "results-dir"))
    var results = "results"

    @Option(name: [.short, .long], help: ArgumentHelp("Where to write the page. Default: <results-dir>/index.html.", valueName: "path"))
    var output: String?

    func run() throws {
        let path = output ?? "\(results.hasSuffix("/") ? String(results.dropLast()) : results)/index.html"
        let archive = try ResultsArchive.load(results)
        try HTMLReport.write(archive, to: path)
        let runs = archive.kernels.reduce(0) { $0 + $1.document.scenarios.count }
        printError("klp-harness: wrote \(path) (\(archive.kernels.count) kernel\(archive.kernels.count == 1 ? "" : "s"), \(runs) scenario runs)")
    }
}
