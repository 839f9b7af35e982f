import ArgumentParser
import Foundation
import KlpHarness

extension CallbackModel.Mutation: ExpressibleByArgument {}

struct ExploreCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Run generated action sequences on the running kernel and check each against the model of the callback rules (as root).",
        discussion: """
            The model (Sources/KlpHarness/Explore/CallbackModel.swift) predicts the exact \
            transcript of any sequence of loads, unloads and sysfs writes of the four test \
            modules, from the rules of Documentation/livepatch/callbacks.rst. explore \
            generates --count random valid sequences from --seed (the same seed gives the \
            same sequences on every kernel), weighted toward the states where the rules \
            differ: a stalled transition, a failing pre-patch callback, atomic replace. \
            Each runs with the scenario engine from a clean kernel and ends with a \
            teardown back to one.

            On a mismatch it shrinks the sequence, on this kernel, to a shorter one that \
            still mismatches and writes it as a ready scenario file with the model's \
            transcript: <results>/<release>/explore/seed<S>-sequence<N>.scenario, its \
            .diff beside it. Judge which side is right, then copy the file into \
            scenarios/ as a regression test.

            Also written: explore/explore.json (every sequence, its verdict and the \
            rules it applied) and explore/coverage.txt (each rule's count; NEVER for a \
            rule no sequence reached). KTAP goes to stdout: one result per sequence.

            Usually run in a VM: 'klp-harness vm --explore 200 --seed 1' \
            (scripts/selftest --explore 200 --seed 1).

            Example:
              sudo klp-harness explore --modules kmod --seed 7 --count 50
            """
    )

    @Option(name: .long, help: ArgumentHelp("Directory holding the built .ko files.", valueName: "dir"))
    var modules = "kmod"

    @Option(help: ArgumentHelp("Results root; the run writes <dir>/<kernel release>/explore/.", valueName: "dir"))
    var results = "results"

    @Option(help: "Seed of the sequences: the same seed and count give the same sequences.")
    var seed: UInt64 = 1

    @Option(help: "How many sequences to run.")
    var count = 100

    @Option(help: ArgumentHelp("Per-sequence time limit in seconds ('vm --explore --timeout' passes it; same default).", valueName: "seconds"))
    var timeout = Explorer.defaultTimeoutSeconds

    @Option(name: .customLong("shrink-limit"), help: "Shrink at most this many mismatches; later ones are listed unshrunk.")
    var shrinkLimit = 3

    @Flag(name: .customLong("record-transcripts"), help: "Judge nothing against the model: record each sequence's transcript in explore.json, for 'vm --explore --compare'.")
    var recordTranscripts = false

    @Option(help: ArgumentHelp("Run the sequence bodies in this JSON file (an array of action arrays, as explore.json writes them) instead of generating; used by --compare's shrinking.", valueName: "file"))
    var sequences: String?

    @Option(name: .customLong("results-channel"), help: ArgumentHelp("Also send the explore files to this device (the hermetic guest's /dev/ttyS2).", valueName: "device"))
    var resultsChannel: String?

    @Flag(name: .customLong("print"), help: "Print the sequences as scenario files, with the model's transcripts, and exit: nothing touches the kernel.")
    var printOnly = false

    @Option(name: .customLong("model-mutation"), help: ArgumentHelp("Test only: run with a deliberately wrong model rule, which the run must catch.", visibility: .hidden))
    var modelMutation: CallbackModel.Mutation?

    @Option(help: ArgumentHelp("Start at generated sequence N (the earlier ones are generated, not run): 'vm --explore' boots again after a kernel crash and goes on from there.", valueName: "N", visibility: .hidden))
    var first = 1

    @Option(name: .customLong("crash-in-sequence"), help: ArgumentHelp("Test only: generated sequence K also loads livepatch-callbacks-crash.ko crash=oops, which crashes the kernel.", valueName: "K", visibility: .hidden))
    var crashInSequence: Int?

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be at least 1") }
        guard first >= 1 else { throw ValidationError("--first must be at least 1") }
        if let crashInSequence, crashInSequence < 1 { throw ValidationError("--crash-in-sequence must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        if printOnly {
            let model = CallbackModel(mutation: modelMutation)
            var generator = SequenceGenerator(seed: seed, model: model)
            for number in 1...count {
                var body = generator.next()
                if number == crashInSequence { body = Explorer.seedingCrash(in: body, model: model) }
                guard number >= first, let sequence = ExploreSequence(number: number, body: body, model: model) else { continue }
                printLine(sequence.scenarioText(model: model, header: ["seed \(seed), sequence \(number)"]))
            }
            return
        }
        var options = Explorer.Options(modules: modules, results: results)
        options.seed = seed
        options.count = count
        options.timeout = .seconds(timeout)
        options.shrinkLimit = shrinkLimit
        options.recordOnly = recordTranscripts
        options.resultsChannel = resultsChannel
        options.mutation = modelMutation
        options.first = first
        options.crashInSequence = crashInSequence
        if let sequences {
            options.bodies = try ExploreBodies.read(sequences)
        }
        try Explorer(options: options) { printLine($0) }.run().exitUnlessPassed()
    }
}
