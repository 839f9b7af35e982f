#if canImport(Glibc)
import Glibc
#endif

/// A scenario file: the transcript is the test. Lines starting with `% ` are
/// actions the runner performs (and writes into the kernel log); every other
/// line is a line the kernel log must show at that point. `#` starts a comment.
public struct Scenario: Equatable, Sendable {
    /// The KTAP test name: the file name without its order prefix and extension.
    public var name: String
    public var path: String
    public var steps: [Step]
    /// Actions and expected kernel lines in order, some kernel-specific.
    public var lines: [TranscriptLine]
    /// `% requires Linux X.Y: REASON`: the oldest kernel the scenario means
    /// anything on; older kernels report it `skip`.
    public var requirement: KernelRequirement? = nil

    /// What `actual` must equal on any kernel the scenario has no
    /// kernel-specific lines for.
    public var transcript: [String] { transcript(for: nil) }

    /// What `actual` must equal on the kernel `release`: the common lines
    /// plus the variant lines whose release prefix matches it.
    public func transcript(for release: String?) -> [String] {
        lines.filter { $0.applies(to: release) }.map(\.text)
    }

    /// The kernel-specific lines used on `release`, for the report.
    public func variants(for release: String?) -> [TranscriptLine] {
        lines.filter { $0.kernel != nil && $0.applies(to: release) }
    }

    /// Modules the scenario loads or unloads (module names, with underscores).
    public var moduleNames: Set<String> {
        Set(steps.flatMap { $0.action.moduleNames })
    }
}

/// One expected line. `@6.12: text` in a scenario file makes `text` expected
/// only on releases starting with 6.12, for the rare place where kernels
/// print the same behaviour differently.
public struct TranscriptLine: Equatable, Sendable {
    public var text: String
    /// A release prefix such as `6.12`, or nil for every kernel.
    public var kernel: String?
    public var line: Int

    public func applies(to release: String?) -> Bool {
        guard let kernel else { return true }
        guard let release, release.hasPrefix(kernel) else { return false }
        // 6.1 must not match 6.12: the prefix ends at a component boundary.
        let next = release.dropFirst(kernel.count).first
        return next == nil || !(next!.isNumber)
    }
}

public struct Step: Equatable, Sendable {
    public var action: Action
    /// The action line as written (without `% `), logged verbatim.
    public var command: String
    /// 1-based line number in the scenario file.
    public var line: Int
    /// The transcript says this action fails (an `insmod: ERROR: …` line follows).
    public var expectsFailure: Bool

    /// The line written to the kernel log before the action runs.
    public var logLine: String { "% \(command)" }
}

public enum Action: Equatable, Sendable {
    /// `insmod FILE.ko [name=value …] [&]`. A livepatch load waits until its
    /// transition finishes; with `&` it only confirms that the transition is
    /// under way (stalled) and moves on. `$PIDS` in a value stands for the
    /// processes `spawn` started, comma-separated.
    case insert(file: String, parameters: [String], waitsForTransition: Bool)
    /// `rmmod NAME`, after the module's refcnt drops to 0; at once for a
    /// livepatch whose patch is enabled or in transition, which the kernel
    /// refuses to unload (it holds its own module).
    case remove(module: String)
    /// `echo VALUE > /sys/…`. `echo 0 > /sys/kernel/livepatch/PATCH/enabled`
    /// waits until the patch has left sysfs (the unpatching transition
    /// finished), `echo 1 > …/enabled` until its transition has finished
    /// (the kernel accepts it only to reverse an unpatching transition,
    /// enabled_store() in kernel/livepatch/core.c). With `&` (only on a
    /// patch's `enabled`) it waits instead until the transition is under
    /// way (stalled), as a stalling `insmod … &` does.
    case write(value: String, target: SysfsTarget, waitsForTransition: Bool = true)
    /// `wait_for_transition PATCH`, as `functions.sh` names it: waits until
    /// PATCH is not in transition (or has left sysfs). A stalled transition
    /// finishes on the kernel's next 1-second retry once its busy task is
    /// gone; waiting for it keeps the lines it prints before the next action.
    case waitForTransition(patch: String)
    /// `check_sysfs_rights PATCH [RELPATH] MODE`: the `ls -l` rights of the
    /// patch's directory or a file in it (functions.sh check_sysfs_rights).
    case checkSysfsRights(file: PatchFile, rights: String)
    /// `check_sysfs_value PATCH RELPATH VALUE` (functions.sh check_sysfs_value).
    case checkSysfsValue(file: PatchFile, value: String)
    /// `grep 'TEXT' FILE`: FILE's lines containing TEXT go into the kernel
    /// log, as the kernel's test does with `grep … > /dev/kmsg`.
    case grep(text: String, file: ProcFile)
    /// `sysctl KEY=VALUE`; the clean-up puts the value found before back.
    case sysctl(Sysctl, value: String)
    /// `spawn N PROGRAM`: N copies of a program of the module directory.
    case spawn(count: SpawnCount, program: String)
    /// `kill PROGRAM`: SIGKILL to every spawned copy, then reaps them.
    case kill(program: String)
    /// `wait_for_value PATH VALUE`: polls a test module's parameter or a
    /// file of a test patch until it reads VALUE.
    case waitForValue(file: WatchedFile, value: String)

    public var moduleNames: [String] {
        switch self {
        case .insert(let file, _, _): [ModuleName.fromFile(file)]
        case .remove(let module): [ModuleName.normalized(module)]
        case .write(_, .patchEnabled(let patch), _): [patch]
        case .write(_, .moduleParameter(let module, _), _): [module]
        case .waitForTransition(let patch): [patch]
        case .checkSysfsRights(let file, _), .checkSysfsValue(let file, _): [file.patch]
        case .waitForValue(.patchFile(let file), _): [file.patch]
        case .waitForValue(.moduleParameter(let module, _), _): [module]
        case .grep, .sysctl, .spawn, .kill: []
        }
    }

    /// The runner's line for the action when the kernel refuses it, as
    /// insmod, rmmod, sh and sysctl say it (`insmod: ERROR: could not insert
    /// module FILE: MESSAGE`). A wait is never refused; its line is for completeness.
    public func errorLine(_ message: String, sysfs: Sysfs) -> String {
        switch self {
        case .insert(let file, _, _): "insmod: ERROR: could not insert module \(file): \(message)"
        case .remove(let module): "rmmod: ERROR: could not remove module \(module): \(message)"
        case .write(_, let target, _): "echo: ERROR: could not write \(target.path(in: sysfs)): \(message)"
        // procps' sysctl(8) words, which test-ftrace.sh expects.
        case .sysctl(let key, _): "sysctl: setting key \"\(key.rawValue)\": \(message)"
        default: "\(commandName): ERROR: \(message)"
        }
    }

    /// The command word, as the error line names it (`insmod: ERROR: …`).
    public var commandName: String {
        switch self {
        case .insert: "insmod"
        case .remove: "rmmod"
        case .write: "echo"
        case .waitForTransition: "wait_for_transition"
        case .checkSysfsRights: "check_sysfs_rights"
        case .checkSysfsValue: "check_sysfs_value"
        case .grep: "grep"
        case .sysctl: "sysctl"
        case .spawn: "spawn"
        case .kill: "kill"
        case .waitForValue: "wait_for_value"
        }
    }
}

/// A path under /sys/kernel/livepatch/PATCH: the directory itself
/// (`relativePath` nil) or something inside it, never outside (the parser
/// refuses `..` and absolute paths).
public struct PatchFile: Equatable, Sendable {
    public var patch: String
    public var relativePath: String?

    public init(patch: String, relativePath: String? = nil) {
        self.patch = patch
        self.relativePath = relativePath
    }

    public func path(in sysfs: Sysfs) -> String {
        sysfs.patchDirectory(patch) + (relativePath.map { "/\($0)" } ?? "")
    }
}

/// What `wait_for_value` may watch: a test module's parameter or a file of
/// a test patch.
public enum WatchedFile: Equatable, Sendable {
    case moduleParameter(module: String, name: String)
    case patchFile(PatchFile)

    public func path(in sysfs: Sysfs) -> String {
        switch self {
        case .moduleParameter(let module, let name): sysfs.parameter(name, of: module)
        case .patchFile(let file): file.path(in: sysfs)
        }
    }
}

/// How many processes `spawn` starts.
public enum SpawnCount: Equatable, Sendable {
    case exactly(Int)
    /// `nproc`: the online CPUs, at most `SpawnCount.maximum`.
    case onlineCPUs

    /// Matches livepatch-getpid's `klp_pids` array (module_param_array of 128).
    public static let maximum = 128

    public var resolved: Int {
        switch self {
        case .exactly(let count): count
        case .onlineCPUs: min(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))), Self.maximum)
        }
    }
}

/// `% requires Linux X.Y: REASON`.
public struct KernelRequirement: Equatable, Sendable {
    public var major: Int
    public var minor: Int
    public var reason: String
    public var line: Int

    public var version: String { "\(major).\(minor)" }

    /// Whether `release` (`uname -r`) is X.Y or later, comparing the first
    /// two numbers numerically: 6.12 is later than 6.9. A release whose
    /// first two numbers do not parse is not assumed to be older.
    public func isMet(by release: String) -> Bool {
        guard let (major, minor) = Self.version(of: release) else { return true }
        return (major, minor) >= (self.major, self.minor)
    }

    /// `6.12.117+deb12-amd64` → (6, 12).
    public static func version(of release: String) -> (Int, Int)? {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2)
        guard numbers.count == 2, release.first?.isNumber == true,
              let major = Int(numbers[numbers.startIndex]), let minor = Int(numbers[numbers.startIndex + 1]) else { return nil }
        // "6.12" must be what the release starts with, not "6-rc" or "6..12".
        guard release.hasPrefix("\(numbers[numbers.startIndex]).\(numbers[numbers.startIndex + 1])") else { return nil }
        return (major, minor)
    }

    /// The skip reason reported on an older kernel.
    public func skipReason(release: String) -> String {
        "needs Linux \(version) or later (this kernel is \(release)): \(reason)"
    }
}

/// The sysfs files a scenario may write. Anything else is rejected when the
/// file is parsed, so a scenario cannot poke arbitrary kernel knobs.
public enum SysfsTarget: Equatable, Sendable {
    case patchEnabled(String)
    case moduleParameter(module: String, name: String)

    public func path(in sysfs: Sysfs) -> String {
        switch self {
        case .patchEnabled(let patch): "\(sysfs.patchDirectory(patch))/enabled"
        case .moduleParameter(let module, let name): sysfs.parameter(name, of: module)
        }
    }
}

public enum ModuleName {
    /// `livepatch-callbacks-demo.ko` → `livepatch_callbacks_demo`, as the kernel names it.
    public static func fromFile(_ file: String) -> String {
        normalized(file.hasSuffix(".ko") ? String(file.dropLast(3)) : file)
    }

    public static func normalized(_ name: String) -> String {
        name.replacing("-", with: "_")
    }
}
