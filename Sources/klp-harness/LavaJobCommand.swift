import ArgumentParser
import KlpHarness

struct LavaJobCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "lava-job",
        abstract: "Write a LAVA job that runs the suite on a kernel, with the kernel and initramfs it deploys.",
        discussion: """
            Run from the repository root, as root (it may apt-get the kernel's headers and \
            image, as 'klp-harness vm' does). It builds kmod/ for the kernel and writes, in \
            <dir>/<release>/:
              vmlinuz-<release>            the kernel's bzImage
              klp-harness-guest.cpio.gz    busybox, this runner, the modules, the scenarios, \
            a getty on ttyS0 with a passwordless root (LAVA's auto_login, tuxrun)
              job.yaml                     lava/qemu-job.yaml filled in (job-shard-I-of-N.yaml with --shard)

            The job boots the kernel with the initramfs on a qemu device; LAVA adds its \
            test overlay to the initramfs; the test runs 'klp-harness lava-test-cases', one \
            LAVA test case per scenario. The job's path goes to stdout.

            By default the job points at the files with file:// URLs, for lava-run on this \
            machine (scripts/lava). For a LAVA server, copy the two files where its workers \
            can download them and pass that place as --artifacts-url.

            Examples:
              klp-harness lava-job --kernel 6.1
              klp-harness lava-job --kernel 6.1 --shard 2/2
              klp-harness lava-job --kernel 6.12 --artifacts-url https://files.example.org/klp/6.12/
            """
    )

    @Option(help: ArgumentHelp("Kernel: 6.1, 6.12 or an exact Debian release.", valueName: "alias-or-release"))
    var kernel = "6.1"

    @Option(help: ArgumentHelp("The job template.", valueName: "path"))
    var template = "lava/qemu-job.yaml"

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Where to write; the files go to <dir>/<release>/.", valueName: "dir"))
    var outputDirectory = ".build/lava"

    @Option(name: .customLong("artifacts-url"), help: ArgumentHelp("The URL the LAVA worker downloads the kernel and initramfs from (a folder). Default: file:// URLs of the local files.", valueName: "url"))
    var artifactsURL: String?

    /// The scenarios the image carries, and the time limit and shard the job's test step passes on.
    @OptionGroup var suite: SuiteSelection

    @Option(help: ArgumentHelp("The livepatch module sources to build.", valueName: "dir"))
    var kmod = "kmod"

    func run() throws {
        var options = LavaJob.Options()
        options.kernel = kernel
        options.shard = suite.slice
        options.template = template
        options.directory = outputDirectory
        options.artifactsURL = artifactsURL
        options.scenarioTimeout = suite.timeout
        options.scenarios = suite.scenarios
        options.kmod = kmod
        let written = try LavaJob(options: options, log: { printError("klp-harness: \($0)") }).write()
        printError("klp-harness: \(written.release): kernel \(written.kernel), initramfs \(written.ramdisk) (\(written.ramdiskBytes / 1_000_000) MB)")
        printLine(written.job)
    }
}
