/// A scenario file that cannot be run, with the place to fix it.
public struct ScenarioParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var message: String

    public var description: String { "\(path):\(line): \(message)" }
}

public enum ScenarioParser {
    /// Parses a scenario file's text. The file name at the end of `path`
    /// gives the test's name: `03-module-going-notifier.scenario` →
    /// `module-going-notifier`; `path` also starts every error message.
    public static func parse(_ text: String, path: String) throws(ScenarioParseError) -> Scenario {
        var steps: [Step] = []
        var lines: [TranscriptLine] = []
        var requirement: KernelRequirement?
        // Programs `spawn` started so far: `kill` and `$PIDS` need one.
        var spawned: Set<String> = []
        // isNewline also splits "\r\n", which Swift keeps as one Character.
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            var line = String(rawLine.trimmingTrailingSpaces)
            if line.trimmingSpaces.isEmpty { continue }
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("%") {
                guard line.hasPrefix("% ") else {
                    throw ScenarioParseError(path: path, line: number, message: "an action line starts with '% ' (percent, space)")
                }
                let command = String(line.dropFirst(2).trimmingSpaces)
                if command == "requires" || command.hasPrefix("requires ") {
                    guard steps.isEmpty else {
                        throw ScenarioParseError(path: path, line: number, message: "'% requires' must come before the first action (line \(steps[0].line))")
                    }
                    guard requirement == nil else {
                        throw ScenarioParseError(path: path, line: number, message: "a second '% requires' (the first is on line \(requirement!.line))")
                    }
                    requirement = try parseRequirement(command, path: path, line: number)
                    continue
                }
                let action = try parseAction(command, path: path, line: number, spawned: &spawned)
                steps.append(Step(action: action, command: command, line: number, expectsFailure: false))
                lines.append(TranscriptLine(text: "% \(command)", kernel: nil, line: number))
                continue
            }
            var kernel: String?
            if line.hasPrefix("@") {
                guard let colon = line.firstIndex(of: ":"),
                      case let prefix = line[line.index(after: line.startIndex)..<colon],
                      !prefix.isEmpty, prefix.allSatisfy({ $0.isNumber || $0 == "." }),
                      line[line.index(after: colon)...].hasPrefix(" ")
                else {
                    throw ScenarioParseError(path: path, line: number, message: "a kernel-specific line reads '@RELEASE-PREFIX: expected line', e.g. '@6.12: livepatch: …'")
                }
                kernel = String(prefix)
                line = String(line[line.index(colon, offsetBy: 2)...])
            }
            if let errorCommand = errorLineCommand(line) {
                guard let last = steps.last else {
                    throw ScenarioParseError(path: path, line: number, message: "an error line must follow the action it belongs to")
                }
                guard last.action.commandName == errorCommand else {
                    throw ScenarioParseError(
                        path: path, line: number,
                        message: "'\(errorCommand): ERROR' follows a '\(last.action.commandName)' action (line \(last.line))")
                }
                steps[steps.count - 1].expectsFailure = true
            }
            lines.append(TranscriptLine(text: line, kernel: kernel, line: number))
        }
        guard !steps.isEmpty else {
            throw ScenarioParseError(path: path, line: 1, message: "no action lines ('% insmod …', '% rmmod …', '% echo … > /sys/…', '% wait_for_transition …')")
        }
        return Scenario(name: testName(forPath: path), path: path, steps: steps, lines: lines, requirement: requirement)
    }

    /// `insmod: ERROR: could not insert module …` → `insmod`.
    static func errorLineCommand(_ line: String) -> String? {
        for command in errorCommands where line.hasPrefix("\(command): ERROR: ") {
            return command
        }
        // procps' sysctl(8) says it without "ERROR:".
        if line.hasPrefix("sysctl: setting key ") { return "sysctl" }
        return nil
    }

    static let errorCommands = ["insmod", "rmmod", "echo", "check_sysfs_rights", "check_sysfs_value", "grep", "spawn", "kill", "wait_for_value"]

    /// The actions, as the unknown-action message lists them.
    static let verbs = ["insmod", "rmmod", "echo", "wait_for_transition", "check_sysfs_rights", "check_sysfs_value",
                        "grep", "sysctl", "spawn", "kill", "wait_for_value"]

    /// `requires Linux X.Y: REASON`.
    static func parseRequirement(_ command: String, path: String, line: Int) throws(ScenarioParseError) -> KernelRequirement {
        let usage = "'% requires Linux X.Y: REASON', e.g. '% requires Linux 6.11: the replace attribute'"
        let rest = command.dropFirst("requires".count).trimmingSpaces
        guard rest.hasPrefix("Linux "), let colon = rest.firstIndex(of: ":") else {
            throw ScenarioParseError(path: path, line: line, message: "a requirement reads \(usage)")
        }
        let version = rest[rest.index(rest.startIndex, offsetBy: 6)..<colon]
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let major = Int(parts[0]), let minor = Int(parts[1]) else {
            throw ScenarioParseError(path: path, line: line, message: "'\(version)' is not a kernel version X.Y: \(usage)")
        }
        let reason = String(rest[rest.index(after: colon)...].trimmingSpaces)
        guard !reason.isEmpty else {
            throw ScenarioParseError(path: path, line: line, message: "the requirement gives no reason: \(usage)")
        }
        return KernelRequirement(major: major, minor: minor, reason: reason, line: line)
    }

    public static func testName(forPath path: String) -> String {
        var base = Substring(path.split(separator: "/").last ?? Substring(path))
        if let dot = base.lastIndex(of: ".") { base = base[..<dot] }
        let digits = base.prefix { $0.isNumber }
        if !digits.isEmpty, base.dropFirst(digits.count).first == "-" {
            base = base.dropFirst(digits.count + 1)
        }
        return String(base)
    }

    static func parseAction(_ command: String, path: String, line: Int) throws(ScenarioParseError) -> Action {
        var spawned: Set<String> = []
        return try parseAction(command, path: path, line: line, spawned: &spawned)
    }

    static func parseAction(_ command: String, path: String, line: Int, spawned: inout Set<String>) throws(ScenarioParseError) -> Action {
        func fail(_ message: String) -> ScenarioParseError {
            ScenarioParseError(path: path, line: line, message: message)
        }
        var words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { throw fail("empty action") }
        words.removeFirst()
        switch verb {
        case "insmod":
            var waits = true
            if words.last == "&" { waits = false; words.removeLast() }
            guard let file = words.first else { throw fail("insmod needs a module file: '% insmod NAME.ko [param=value …]'") }
            guard file.hasSuffix(".ko"), !file.contains("/") else {
                throw fail("insmod takes a module file name ending in .ko, found '\(file)' (paths are resolved against --modules)")
            }
            let parameters = Array(words.dropFirst())
            for parameter in parameters where !isModuleParameter(parameter) {
                throw fail("module parameter '\(parameter)' does not parse: write name=value, e.g. pre_patch_ret=-19")
            }
            for parameter in parameters where parameter.contains("$PIDS") && spawned.isEmpty {
                throw fail("'\(parameter)' uses $PIDS, but no '% spawn' comes before it")
            }
            return .insert(file: file, parameters: parameters, waitsForTransition: waits)
        case "rmmod":
            guard words.count == 1, let name = words.first, isModuleName(name) else {
                throw fail("rmmod takes one module name, e.g. '% rmmod livepatch_callbacks_mod'")
            }
            return .remove(module: name)
        case "echo":
            var waits = true
            if words.last == "&" { waits = false; words.removeLast() }
            guard words.count == 3, words[1] == ">" else {
                throw fail("echo takes 'echo VALUE > /sys/…', found '\(command)'")
            }
            guard let target = sysfsTarget(words[2]) else {
                throw fail("'\(words[2])' is not a sysfs file a scenario may write: use /sys/kernel/livepatch/PATCH/enabled or /sys/module/MODULE/parameters/NAME")
            }
            // Only a patch's enabled starts a transition that can stall;
            // a parameter write has nothing to leave running.
            if !waits, case .moduleParameter = target {
                throw fail("'&' follows only a write to /sys/kernel/livepatch/PATCH/enabled (a transition left stalled), not '\(words[2])'")
            }
            return .write(value: words[0], target: target, waitsForTransition: waits)
        case "wait_for_transition":
            guard words.count == 1, let patch = words.first, isModuleName(patch) else {
                throw fail("wait_for_transition takes one livepatch name, e.g. '% wait_for_transition livepatch_callbacks_demo'")
            }
            return .waitForTransition(patch: ModuleName.normalized(patch))
        case "check_sysfs_rights":
            let usage = "check_sysfs_rights takes 'PATCH MODE' or 'PATCH RELPATH MODE', e.g. '% check_sysfs_rights livepatch_cmdline enabled -rw-r--r--'"
            guard (2...3).contains(words.count), isModuleName(words[0]) else { throw fail(usage) }
            let file = PatchFile(patch: ModuleName.normalized(words[0]),
                                 relativePath: words.count == 3 ? try relativePath(words[1], fail: fail) : nil)
            let rights = words[words.count - 1]
            guard isRights(rights) else {
                throw fail("'\(rights)' is not ls -l rights such as drwxr-xr-x or -rw-r--r--: \(usage)")
            }
            return .checkSysfsRights(file: file, rights: rights)
        case "check_sysfs_value":
            guard words.count == 3, isModuleName(words[0]) else {
                throw fail("check_sysfs_value takes 'PATCH RELPATH VALUE', e.g. '% check_sysfs_value livepatch_cmdline enabled 1'")
            }
            let file = PatchFile(patch: ModuleName.normalized(words[0]), relativePath: try relativePath(words[1], fail: fail))
            return .checkSysfsValue(file: file, value: words[2])
        case "grep":
            let usage = "grep takes 'TEXT' FILE, e.g. % grep 'live patched' /proc/cmdline"
            let rest = command.dropFirst(verb.count).trimmingSpaces
            guard rest.first == "'", let close = rest.dropFirst().firstIndex(of: "'") else { throw fail(usage) }
            let text = String(rest[rest.index(after: rest.startIndex)..<close])
            let fileName = String(rest[rest.index(after: close)...].trimmingSpaces)
            guard !text.isEmpty, !fileName.isEmpty, !fileName.contains(" ") else { throw fail(usage) }
            guard let file = ProcFile(rawValue: fileName) else {
                throw fail("grep reads only \(ProcFile.allCases.map(\.rawValue).joined(separator: " or ")), not '\(fileName)'")
            }
            return .grep(text: text, file: file)
        case "sysctl":
            let known = Sysctl.allCases.map(\.rawValue).joined(separator: ", ")
            guard words.count == 1, let equals = words[0].firstIndex(of: "=") else {
                throw fail("sysctl takes KEY=VALUE, e.g. '% sysctl kernel.ftrace_enabled=0'")
            }
            let key = String(words[0][..<equals]), value = String(words[0][words[0].index(after: equals)...])
            guard let sysctl = Sysctl(rawValue: key) else {
                throw fail("'\(key)' is not a sysctl a scenario may set; known: \(known)")
            }
            guard value == "0" || value == "1" else {
                throw fail("\(key) takes 0 or 1, not '\(value)'")
            }
            return .sysctl(sysctl, value: value)
        case "spawn":
            let usage = "spawn takes 'N PROGRAM' (N from 1 to \(SpawnCount.maximum), or nproc), e.g. '% spawn nproc getpid-hammer'"
            guard words.count == 2 else { throw fail(usage) }
            let count: SpawnCount
            if words[0] == "nproc" {
                count = .onlineCPUs
            } else if words[0].count <= 3, words[0].allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(words[0]),
                      (1...SpawnCount.maximum).contains(number) {
                count = .exactly(number)
            } else {
                throw fail("'\(words[0])' is not a process count: \(usage)")
            }
            guard isProgramName(words[1]) else {
                throw fail("spawn takes a program file name of the module directory (no '/'), found '\(words[1])'")
            }
            spawned.insert(words[1])
            return .spawn(count: count, program: words[1])
        case "kill":
            guard words.count == 1, isProgramName(words[0]) else {
                throw fail("kill takes the program a '% spawn' started, e.g. '% kill getpid-hammer'")
            }
            guard spawned.contains(words[0]) else {
                throw fail("kill \(words[0]): no '% spawn' of \(words[0]) comes before it")
            }
            return .kill(program: words[0])
        case "wait_for_value":
            guard words.count == 2 else {
                throw fail("wait_for_value takes 'PATH VALUE', e.g. '% wait_for_value /sys/module/livepatch_getpid/parameters/npids 0'")
            }
            guard let file = try watchedFile(words[0], fail: fail) else {
                throw fail("'\(words[0])' is not a file wait_for_value may read: use /sys/module/MODULE/parameters/NAME or /sys/kernel/livepatch/PATCH/RELPATH")
            }
            return .waitForValue(file: file, value: words[1])
        default:
            throw fail("unknown action '\(verb)': the actions are \(verbs.dropLast().joined(separator: ", ")) and \(verbs.last!)")
        }
    }

    /// A path inside a patch's sysfs directory: relative, no `..` or `.`,
    /// so it cannot leave /sys/kernel/livepatch/PATCH.
    static func relativePath(_ text: String, fail: (String) -> ScenarioParseError) throws(ScenarioParseError) -> String {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard !text.hasPrefix("/"), parts.allSatisfy(isSysfsName) else {
            throw fail("'\(text)' must be a path inside /sys/kernel/livepatch/PATCH, such as enabled or vmlinux/patched (no '..', no leading '/')")
        }
        return text
    }

    /// One component of a livepatch sysfs path: a name such as `vmlinux`,
    /// `patched` or `cmdline_proc_show,1` (function directories carry the
    /// symbol's position after a comma), never `.` or `..`.
    static func isSysfsName(_ name: Substring) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-,.".contains($0)) }
    }

    static func watchedFile(_ path: String, fail: (String) -> ScenarioParseError) throws(ScenarioParseError) -> WatchedFile? {
        if case .moduleParameter(let module, let name)? = sysfsTarget(path) {
            return .moduleParameter(module: module, name: name)
        }
        let prefix = "/sys/kernel/livepatch/"
        guard path.hasPrefix(prefix) else { return nil }
        let rest = path.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/"), isModuleName(String(rest[..<slash])) else { return nil }
        let relative = try relativePath(String(rest[rest.index(after: slash)...]), fail: fail)
        return .patchFile(PatchFile(patch: ModuleName.normalized(String(rest[..<slash])), relativePath: relative))
    }

    /// `drwxr-xr-x`, `-rw-r--r--`, `--w-------`: a type letter, then three
    /// rwx triples as `stat --format %A` prints them.
    static func isRights(_ text: String) -> Bool {
        let characters = Array(text)
        guard characters.count == 10, "-dlcbps".contains(characters[0]) else { return false }
        for (offset, character) in characters.dropFirst().enumerated() {
            let allowed: String = switch offset % 3 {
            case 0: "r-"
            case 1: "w-"
            default: offset == 8 ? "xtT-" : "xsS-"
            }
            guard allowed.contains(character) else { return false }
        }
        return true
    }

    static func isProgramName(_ name: String) -> Bool {
        isModuleName(name) || (!name.isEmpty && name != "." && name != ".."
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) })
    }

    static func sysfsTarget(_ path: String) -> SysfsTarget? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // ["", "sys", "kernel", "livepatch", PATCH, "enabled"]
        if parts.count == 6, parts[0].isEmpty, parts[1] == "sys", parts[2] == "kernel",
           parts[3] == "livepatch", isModuleName(parts[4]), parts[5] == "enabled" {
            return .patchEnabled(parts[4])
        }
        // ["", "sys", "module", MODULE, "parameters", NAME]
        if parts.count == 6, parts[0].isEmpty, parts[1] == "sys", parts[2] == "module",
           isModuleName(parts[3]), parts[4] == "parameters", isModuleName(parts[5]) {
            return .moduleParameter(module: parts[3], name: parts[5])
        }
        return nil
    }

    static func isModuleName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }

    static func isModuleParameter(_ word: String) -> Bool {
        guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return false }
        return isModuleName(String(word[..<equals]))
    }
}

extension StringProtocol {
    var trimmingTrailingSpaces: SubSequence {
        guard let last = lastIndex(where: { $0 != " " && $0 != "\t" && $0 != "\r" }) else { return self[startIndex..<startIndex] }
        return self[...last]
    }
}
