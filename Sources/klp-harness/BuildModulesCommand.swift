import ArgumentParser
import KlpHarness

/// `build-modules`: kmod/ and tools/hammer built against one kernel build
/// directory by the same code `vm` uses (ModuleBuilder), for what builds
/// modules outside a VM run: scripts/kselftest-install.
struct BuildModulesCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "build-modules",
        abstract: "Build kmod/ and the programs scenarios start against one kernel build directory, as 'vm' does.",
        discussion: """
            Copies kmod/'s sources (not modpost's *.mod.c, which belong to whichever \
            kernel 'make -C kmod' last built in place) into <output>/<release>/, builds \
            them with make KDIR=<kdir>, and builds tools/hammer's programs beside them, \
            statically linked. Only changed sources are rewritten, so a second run is \
            quick. Prints the directory holding the .ko files on stdout, for scripts.

            Example:
              klp-harness build-modules --kdir /lib/modules/6.1.0-57-amd64/build --output .build/kselftest-kmod
            """
    )

    @Option(help: ArgumentHelp("The kernel build directory (KDIR) to build against; its include/generated/utsrelease.h names the release.", valueName: "dir"))
    var kdir: String

    @Option(help: ArgumentHelp("Where to build: <dir>/<release>/ holds the .ko files and the programs.", valueName: "dir"))
    var output: String

    @Option(help: ArgumentHelp("The livepatch module sources to build.", valueName: "dir"))
    var kmod = "kmod"

    @Option(help: ArgumentHelp("The sources of the programs scenarios start (% spawn).", valueName: "dir"))
    var programs = "tools/hammer"

    func run() throws {
        let release = try ModuleBuilder.release(ofBuildDirectory: kdir)
        let builder = ModuleBuilder(sourceDirectory: kmod, outputRoot: output, programSourceDirectory: programs,
                                    log: { printError("klp-harness: \($0)") })
        printError("klp-harness: building \(kmod) against \(kdir) (\(release)), and \(programs)")
        printLine(try builder.build(release: release, buildDirectory: kdir))
    }
}
