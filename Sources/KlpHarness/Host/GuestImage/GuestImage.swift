import Foundation

/// The initramfs of the hermetic guest: busybox, this runner and the shared
/// libraries it links, the modules built for one kernel with the programs
/// built beside them (ModuleBuilder.programs), the scenarios, and a small
/// init. The guest uses nothing of the host's root file system, so
/// it runs the same on every host.
///
/// The image is written once per kernel and run; each boot appends a small
/// second archive with `/klp/boot.conf` (which scenarios, the time limit).
/// The kernel unpacks concatenated archives in order, so the boot's own file
/// lands on top without rewriting the large part.
public struct GuestImage: Sendable {
    public var path: String
    /// The size of the shared part; each boot's archive is appended after it.
    let baseLength: Int

    /// Where each part comes from on the host.
    public struct Contents: Sendable {
        public var runner: String
        public var busybox: String
        public var modules: String
        public var scenarios: String
    }

    /// The guest's init (busybox sh). It runs from /klp with relative paths,
    /// so a failing diff names `scenarios/NN-name.scenario`, the repository's
    /// path, not the guest's. KTAP and the runner's messages go to
    /// ttyS1 (the host's stream), result files to ttyS2 (the host's channel
    /// file), and the kernel console stays on ttyS0 (console.log). The
    /// runner's exit status ends both ttyS1 and the channel (as the file
    /// `exit-status`): the verdict comes from the guest, not from how QEMU
    /// ended, and survives the loss of either port.
    static let initScript = """
        \(prelude)
        echo "# guest: init started $(cut -d' ' -f1 /proc/uptime) s after the kernel did" >/dev/ttyS1
        . /klp/boot.conf
        cd /klp
        # Raw before anything is written: the runner makes the channel raw
        # when it opens it, but bad input ends it before that, and a cooked
        # tty turns the exit-status frame's "\\n" into "\\r\\n".
        stty -F /dev/ttyS2 raw -echo
        /klp/klp-harness "$@" --modules modules --results /results --results-channel /dev/ttyS2 >/dev/ttyS1 2>&1
        status=$?
        echo "klp-harness-guest: exit $status" >/dev/ttyS1
        printf 'KLP-FILE %s exit-status\\n%s' "${#status}" "$status" >/dev/ttyS2
        reboot -f

        """

    /// What both flavours' inits start with: busybox's applets, and the
    /// kernel's file systems the runner reads (debugfs for dynamic debug).
    static let prelude = """
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        mount -t debugfs debugfs /sys/kernel/debug
        """

    public static let exitPrefix = "klp-harness-guest: exit "
    /// The runner's exit status as the init sends it over the results channel.
    public static let exitStatusFile = "exit-status"

    /// What the image's init does.
    public enum Flavor: Sendable {
        /// `klp-harness vm`: the init runs the suite at once, with the
        /// serial ports described at `initScript`.
        case hermetic
        /// A LAVA device (and tuxrun, which drives LAVA): the init only
        /// prepares the machine and leaves the console (ttyS0) to a login
        /// prompt, so the job's test shell runs the suite. See `lavaInit`.
        case lava
    }

    /// The LAVA flavour's init. LAVA's qemu boot with `auto_login` waits
    /// for `login:`, types `root` and then waits for one of the job's
    /// `prompts` before it starts its test shell (docs.lavasoftware.org,
    /// "Boot actions: auto_login, prompts"); tuxrun's job template always
    /// logs in that way, as `root` with no password, and expects a prompt
    /// like `root@HOST:~#`. So busybox init keeps a getty on ttyS0, root
    /// has an empty password, and /etc/profile sets that prompt. The test
    /// modules need /sys/kernel/debug for dynamic debug, mounted here
    /// once for every login.
    ///
    /// Before any of that, LAVA waits for the device's
    /// `kernel-start-message` (`Linux version [0-9]` on qemu devices) and
    /// does not look for the login prompt until it has seen it. The job
    /// boots with `quiet`, which keeps the kernel's own banner off the
    /// console (and livepatch's notices out of the test shell's lines), so
    /// the init prints the same banner from /proc/version.
    static let lavaInit = """
        \(prelude)
        cat /proc/version
        hostname klp-harness
        exec /bin/init

        """

    /// busybox init's table: a getty on the console, respawned after each
    /// logout (busybox's examples/inittab describes the format).
    static let lavaInittab = """
        ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100
        ::ctrlaltdel:/bin/reboot -f

        """

    /// The prompt the LAVA job and tuxrun wait for after logging in.
    public static let lavaPrompt = "root@klp-harness:~# "

    /// The files only the LAVA flavour has, by path.
    static var lavaFiles: [(String, String)] {
        [
            ("/etc/inittab", lavaInittab),
            // An empty password field: busybox login lets root in without asking.
            ("/etc/passwd", "root::0:0:root:/root:/bin/sh\n"),
            ("/etc/group", "root:x:0:\n"),
            ("/etc/profile", "export PATH=/bin\nexport PS1='\(lavaPrompt)'\ncd /root\n"),
        ]
    }

    /// Writes the shared part of an image of either flavour to `path`: the
    /// one way `klp-harness vm` and `lava-job` build theirs. busybox comes
    /// from PATH, and the shared libraries of both binaries go along.
    public static func write(runner: String, modules: String, scenarios: String, flavor: Flavor, to path: String) throws -> GuestImage {
        let busybox = try Subprocess.resolve("busybox")
        let contents = Contents(runner: runner, busybox: busybox, modules: modules, scenarios: scenarios)
        let libraries = Set(try libraries(of: runner) + libraries(of: busybox)).sorted()
        return try build(contents, libraries: libraries, flavor: flavor, to: path)
    }

    /// Writes the shared part of the image to `path`.
    public static func build(_ contents: Contents, libraries: [String], flavor: Flavor = .hermetic, to path: String) throws -> GuestImage {
        var archive = CpioArchive()
        var directories: Set<String> = []
        func directory(_ path: String) {
            var current = ""
            for part in path.split(separator: "/") {
                current += "/\(part)"
                if directories.insert(current).inserted { archive.directory(current) }
            }
        }
        for path in ["/bin", "/proc", "/sys", "/dev", "/tmp", "/results", "/klp/modules", "/klp/scenarios"] {
            directory(path)
        }
        switch flavor {
        case .hermetic:
            archive.file("/init", Array(initScript.utf8), executable: true)
        case .lava:
            directory("/etc")
            directory("/root")
            archive.file("/init", Array(lavaInit.utf8), executable: true)
            for (file, text) in lavaFiles { archive.file(file, Array(text.utf8)) }
        }
        archive.file("/bin/busybox", try FileBytes.read(contents.busybox), executable: true)
        archive.file("/klp/klp-harness", try FileBytes.read(contents.runner), executable: true)
        // Each library at the path the loader looks for it (ldd's answer), so
        // the runner starts with the host's loader and search paths.
        for library in libraries {
            directory(String(library.prefix(upTo: library.lastIndex(of: "/") ?? library.startIndex)))
            archive.file(library, try FileBytes.read(library), executable: true)
        }
        // The modules, and beside them the programs a scenario may start
        // (`% spawn`), executable: the runner looks for both in --modules.
        for file in try KernelFile.listDirectory(contents.modules) {
            let program = ModuleBuilder.programs.contains(file)
            guard program || file.hasSuffix(".ko") else { continue }
            archive.file("/klp/modules/\(file)", try FileBytes.read("\(contents.modules)/\(file)"), executable: program)
        }
        for file in try KernelFile.listDirectory(contents.scenarios) where file.hasSuffix(".scenario") {
            archive.file("/klp/scenarios/\(file)", try FileBytes.read("\(contents.scenarios)/\(file)"))
        }
        archive.finish()
        try FileBytes.write(archive.bytes, to: path)
        return GuestImage(path: path, baseLength: archive.bytes.count)
    }

    /// Replaces the boot's own part: the runner's subcommand and its
    /// arguments for this boot (the init adds where the modules, results
    /// and channel are), and any extra files, by path under /klp.
    public func prepareBoot(arguments: [String], files: [(name: String, text: String)] = []) throws {
        var archive = CpioArchive()
        let words = arguments.map(VirtmeLauncher.shellQuoted).joined(separator: " ")
        archive.file("/klp/boot.conf", Array("set -- \(words)\n".utf8))
        for file in files { archive.file("/klp/\(file.name)", Array(file.text.utf8)) }
        archive.finish()
        try FileBytes.truncateAndAppend(path, at: baseLength, archive.bytes)
    }

    /// The arguments of a boot that runs the suite: the scenarios to run,
    /// by name, and the per-scenario time limit.
    static func suiteArguments(names: [String], timeout: Int) -> [String] {
        ["run", "--scenarios", "scenarios", "--timeout", String(timeout)] + names
    }

    /// A copy of `runner` without its symbol tables (a fifth of its size),
    /// so the kernel has less to unpack at every boot. Falls back to the
    /// runner itself where binutils' strip is missing.
    public static func strippedRunner(_ runner: String, into directory: String) -> String {
        let stripped = "\(directory)/klp-harness"
        // Written aside and renamed into place: another run on this
        // checkout may be copying the current one into its guest image.
        let partial = "\(stripped).\(ProcessInfo.processInfo.processIdentifier).partial"
        guard let outcome = try? Subprocess("strip", ["-o", partial, runner]).run(timeout: .seconds(120)),
              outcome.status == 0, (try? FileBytes.rename(partial, to: stripped)) != nil else {
            try? FileBytes.remove(partial)
            return runner
        }
        return stripped
    }

    /// The shared libraries `binary` loads, as absolute paths, from ldd.
    /// A runner built with `--static-swift-stdlib` needs only a handful
    /// (libkmod, libstdc++, libc, the loader…); a dynamic build brings the
    /// Swift runtime along too, which works but makes the image larger.
    public static func libraries(of binary: String) throws -> [String] {
        let outcome = try Subprocess("ldd", [binary]).run(timeout: .seconds(60))
        guard outcome.status == 0 else {
            if outcome.output.contains("not a dynamic executable") { return [] }
            throw HarnessError.infrastructure("ldd \(binary) failed: \(outcome.output.suffix(500))")
        }
        return parseLdd(outcome.output)
    }

    static func parseLdd(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            let text = line.trimmingSpaces
            let target = text.range(of: "=> ").map { text[$0.upperBound...] } ?? text[...]
            guard target.hasPrefix("/") else { return nil }
            return String(target.prefix { $0 != " " })
        }
    }
}
