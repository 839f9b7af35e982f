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
    /// under way (stalled) and moves on.
    case insert(file: String, parameters: [String], waitsForTransition: Bool)
    /// `rmmod NAME`, after the module's refcnt drops to 0; at once for a
    /// livepatch whose patch is enabled or in transition, which the kernel
    /// refuses to unload (it holds its own module).
    case remove(module: String)
    /// `echo VALUE > /sys/…`.
    case write(value: String, target: SysfsTarget)
    /// `wait_for_transition PATCH`, as `functions.sh` names it: waits until
    /// PATCH is not in transition (or has left sysfs). A stalled transition
    /// finishes on the kernel's next 1-second retry once its busy task is
    /// gone; waiting for it keeps the lines it prints before the next action.
    case waitForTransition(patch: String)

    public var moduleNames: [String] {
        switch self {
        case .insert(let file, _, _): [ModuleName.fromFile(file)]
        case .remove(let module): [ModuleName.normalized(module)]
        case .write(_, .patchEnabled(let patch)): [patch]
        case .write(_, .moduleParameter(let module, _)): [module]
        case .waitForTransition(let patch): [patch]
        }
    }

    /// The runner's line for the action when the kernel refuses it, as
    /// insmod, rmmod and sh say it (`insmod: ERROR: could not insert module
    /// FILE: MESSAGE`). A wait is never refused; its line is for completeness.
    public func errorLine(_ message: String, sysfs: Sysfs) -> String {
        switch self {
        case .insert(let file, _, _): "insmod: ERROR: could not insert module \(file): \(message)"
        case .remove(let module): "rmmod: ERROR: could not remove module \(module): \(message)"
        case .write(_, let target): "echo: ERROR: could not write \(target.path(in: sysfs)): \(message)"
        case .waitForTransition(let patch): "wait_for_transition: ERROR: \(patch): \(message)"
        }
    }

    /// The command word, as the error line names it (`insmod: ERROR: …`).
    public var commandName: String {
        switch self {
        case .insert: "insmod"
        case .remove: "rmmod"
        case .write: "echo"
        case .waitForTransition: "wait_for_transition"
        }
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
