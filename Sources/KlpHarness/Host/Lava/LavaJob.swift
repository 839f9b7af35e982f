import Foundation

/// A LAVA job for one kernel and one shard of the suite, and the two files
/// it deploys: the kernel's bzImage and the LAVA flavour of the guest
/// initramfs, gzip-compressed. The job comes from a template in the
/// repository (lava/qemu-job.yaml) with `{{ NAME }}` fields filled in.
public struct LavaJob: Sendable {
    public struct Options: Sendable {
        /// An alias (6.1, 6.12) or an exact Debian release.
        public var kernel = "6.1"
        public var shard: (index: Int, count: Int)?
        public var template = "lava/qemu-job.yaml"
        /// Where the job and its files go: <directory>/<release>/.
        public var directory = ".build/lava"
        /// The URL the LAVA worker downloads the kernel and initramfs
        /// from; nil: file:// URLs of the local files (lava-run, tuxrun).
        public var artifactsURL: String?
        public var scenarios = "scenarios"
        public var kmod = "kmod"
        /// The per-scenario time limit inside the guest, in seconds.
        public var scenarioTimeout = 60
        public var cache = ".cache"

        public init() {}
    }

    /// What was written.
    public struct Written: Sendable {
        public var release: String
        public var job: String
        public var kernel: String
        public var ramdisk: String
        public var ramdiskBytes: Int
    }

    /// The kernel command line. `quiet` keeps the console to warnings so the
    /// test shell's output is not interleaved with livepatch's debug lines
    /// (every console byte is an emulated port write under TCG);
    /// `panic=-1 oops=panic` and QEMU's `-no-reboot` turn a kernel crash
    /// into the end of the connection, which LAVA reports as an incomplete
    /// job; `no_timer_check` as for `klp-harness vm` (QemuLauncher).
    public static let kernelArguments = "console=ttyS0,115200 quiet panic=-1 oops=panic no_timer_check"

    public var options: Options
    public var log: @Sendable (String) -> Void

    public init(options: Options, log: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.log = log
    }

    /// Provisions the kernel, builds kmod/ for it, writes the initramfs and
    /// the job. Bad input (a template field nobody fills, a scenario file
    /// that does not parse, a shard that selects nothing) stops before any
    /// kernel is fetched.
    public func write() throws -> Written {
        let template = try Self.readTemplate(absolute(options.template))
        _ = try Self.render(template, values: Dictionary(uniqueKeysWithValues: Self.fields.map { ($0, "") }), templatePath: options.template)
        let selection = try ScenarioSuite.select(directory: absolute(options.scenarios), names: [], shard: options.shard)
        guard !selection.scenarios.isEmpty else {
            throw HarnessError.badInput("shard \(options.shard.map { "\($0.index)/\($0.count)" } ?? "") selects no scenario",
                                        remedy: "use at most as many shards as there are scenarios")
        }
        var session = KernelMatrix.Options()
        session.kernels = [options.kernel]
        session.kmod = options.kmod
        session.cache = options.cache
        let prepared = try KernelMatrix(options: session, log: log, output: { _ in }).prepareKernels()
        guard let kernel = try prepared.first?.get() else {
            throw HarnessError.badInput("no kernel named \(options.kernel)")
        }
        let release = kernel.kernel.release
        let directory = "\(absolute(options.directory))/\(release)"
        try FileBytes.makeDirectories(directory)

        // The bzImage, not the extracted vmlinux `klp-harness vm` boots: it
        // is what kernel CI builds publish and what LAVA's qemu and
        // tuxrun's qemu-x86_64 device pass to `-kernel`, and it boots on
        // any QEMU and on firmware, where the PVH ELF needs QEMU's own
        // loader. It costs the seconds of decompressing it at each boot.
        let kernelName = "vmlinuz-\(release)"
        let kernelPath = "\(directory)/\(kernelName)"
        try FileBytes.write(try FileBytes.read(kernel.kernel.image), to: kernelPath)

        let ramdiskName = "klp-harness-guest.cpio"
        let runner = try KernelMatrix.executablePath()
        log("writing the LAVA guest initramfs \(directory)/\(ramdiskName).gz (gzip, a few seconds)")
        _ = try GuestImage.write(runner: runner, modules: kernel.modules, scenarios: absolute(options.scenarios),
                                 flavor: .lava, to: "\(directory)/\(ramdiskName)")
        let ramdisk = try Self.gzip("\(directory)/\(ramdiskName)")

        let base = options.artifactsURL.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? "file://\(directory)/"
        let shardLabel = options.shard.map { " shard \($0.index)/\($0.count)" } ?? ""
        let values = [
            "JOB_NAME": "klp-harness livepatch-callbacks on \(release)\(shardLabel)",
            "KERNEL_URL": base + kernelName,
            "RAMDISK_URL": base + ramdiskName + ".gz",
            "KERNEL_ARGS": Self.kernelArguments,
            "PROMPT": GuestImage.lavaPrompt,
            "SCENARIO_TIMEOUT": String(options.scenarioTimeout),
            "SHARD_OPTION": options.shard.map { " --shard \($0.index)/\($0.count)" } ?? "",
        ]
        let job = try Self.render(template, values: values, templatePath: options.template)
        let jobName = options.shard.map { "job-shard-\($0.index)-of-\($0.count).yaml" } ?? "job.yaml"
        let jobPath = "\(directory)/\(jobName)"
        try FileBytes.write(job, to: jobPath)
        return Written(release: release, job: jobPath, kernel: kernelPath, ramdisk: ramdisk,
                       ramdiskBytes: FileBytes.size(ramdisk) ?? 0)
    }

    /// The fields a template may use.
    static let fields = ["JOB_NAME", "KERNEL_URL", "RAMDISK_URL", "KERNEL_ARGS", "PROMPT", "SCENARIO_TIMEOUT", "SHARD_OPTION"]

    static func readTemplate(_ path: String) throws -> String {
        do {
            return try KernelFile.read(path)
        } catch {
            throw HarnessError.badInput("cannot read the LAVA job template \(path): \(error)",
                                        remedy: "run from the repository root, or pass --template")
        }
    }

    /// Replaces each `{{ NAME }}` (spaces optional) with its value. A field
    /// left without a value is bad input: a job with `{{ X }}` in it would
    /// only fail later, on the LAVA server.
    static func render(_ template: String, values: [String: String], templatePath: String) throws(HarnessError) -> String {
        var output = ""
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            output += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw HarnessError.badInput("\(templatePath): '{{' without a closing '}}'")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingSpaces
            guard let value = values[String(name)] else {
                throw HarnessError.badInput("\(templatePath): unknown field {{ \(name) }}",
                                            remedy: "the fields klp-harness fills are \(values.keys.sorted().joined(separator: ", "))")
            }
            output += value
            rest = rest[close.upperBound...]
        }
        return output + rest
    }

    /// gzip, not a Swift deflate: it is Essential in Debian (always
    /// installed), `-n` leaves out the name and time so the same image gives
    /// the same bytes, and Package.swift has no compression library. LAVA
    /// unpacks the archive to add its overlay and packs it again, so the
    /// level only matters for the download; gzip's default is a fair trade.
    static func gzip(_ path: String) throws -> String {
        let outcome = try Subprocess("gzip", ["-n", "-f", path]).run(timeout: .seconds(300))
        guard outcome.status == 0 else {
            throw HarnessError.infrastructure("gzip \(path) failed (exit \(outcome.status)): \(outcome.output.suffix(500))",
                                              remedy: "install gzip (apt-get install gzip)")
        }
        return path + ".gz"
    }
}
