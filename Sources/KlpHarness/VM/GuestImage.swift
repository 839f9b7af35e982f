/// The initramfs of the hermetic guest: busybox, this runner and the shared
/// libraries it links, the modules built for one kernel, the scenarios, and
/// a small init. The guest uses nothing of the host's root file system, so
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
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        mount -t debugfs debugfs /sys/kernel/debug
        echo "# guest: init started $(cut -d' ' -f1 /proc/uptime) s after the kernel did" >/dev/ttyS1
        . /klp/boot.conf
        cd /klp
        /klp/klp-harness run --modules modules --scenarios scenarios --results /results \\
        \t--timeout "$timeout" --results-channel /dev/ttyS2 "$@" >/dev/ttyS1 2>&1
        status=$?
        echo "klp-harness-guest: exit $status" >/dev/ttyS1
        printf 'KLP-FILE %s exit-status\\n%s' "${#status}" "$status" >/dev/ttyS2
        reboot -f

        """

    public static let exitPrefix = "klp-harness-guest: exit "
    /// The runner's exit status as the init sends it over the results channel.
    public static let exitStatusFile = "exit-status"

    /// Writes the shared part of the image to `path`.
    public static func build(_ contents: Contents, libraries: [String], to path: String) throws -> GuestImage {
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
        archive.file("/init", Array(initScript.utf8), executable: true)
        archive.file("/bin/busybox", try FileBytes.read(contents.busybox), executable: true)
        archive.file("/klp/klp-harness", try FileBytes.read(contents.runner), executable: true)
        // Each library at the path the loader looks for it (ldd's answer), so
        // the runner starts with the host's loader and search paths.
        for library in libraries {
            directory(String(library.prefix(upTo: library.lastIndex(of: "/") ?? library.startIndex)))
            archive.file(library, try FileBytes.read(library), executable: true)
        }
        for (source, target, suffix) in [(contents.modules, "/klp/modules", ".ko"), (contents.scenarios, "/klp/scenarios", ".scenario")] {
            for file in try KernelFile.listDirectory(source) where file.hasSuffix(suffix) {
                archive.file("\(target)/\(file)", try FileBytes.read("\(source)/\(file)"))
            }
        }
        archive.finish()
        try FileBytes.write(archive.bytes, to: path)
        return GuestImage(path: path, baseLength: archive.bytes.count)
    }

    /// Replaces the boot's own part: the scenarios to run, by name, and
    /// the per-scenario time limit.
    public func prepareBoot(names: [String], timeout: Int) throws {
        var archive = CpioArchive()
        let words = names.map(VirtmeLauncher.shellQuoted).joined(separator: " ")
        archive.file("/klp/boot.conf", Array("timeout=\(timeout)\nset -- \(words)\n".utf8))
        archive.finish()
        try FileBytes.truncateAndAppend(path, at: baseLength, archive.bytes)
    }

    /// A copy of `runner` without its symbol tables (a fifth of its size),
    /// so the kernel has less to unpack at every boot. Falls back to the
    /// runner itself where binutils' strip is missing.
    public static func strippedRunner(_ runner: String, into directory: String) -> String {
        let stripped = "\(directory)/klp-harness"
        guard let outcome = try? Subprocess("strip", ["-o", stripped, runner]).run(timeout: .seconds(120)),
              outcome.status == 0 else { return runner }
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
