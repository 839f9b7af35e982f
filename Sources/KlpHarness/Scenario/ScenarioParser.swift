/// A scenario file that cannot be run, with the place to fix it.
public struct ScenarioParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var message: String

    public var description: String { "\(path):\(line): \(message)" }
}

public enum ScenarioParser {
    /// Parses a scenario file's text. `fileName` gives the test's name:
    /// `03-module-going-notifier.scenario` → `module-going-notifier`.
    public static func parse(_ text: String, path: String) throws(ScenarioParseError) -> Scenario {
        var steps: [Step] = []
        var lines: [TranscriptLine] = []
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
                let action = try parseAction(command, path: path, line: number)
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
        return Scenario(name: testName(forPath: path), path: path, steps: steps, lines: lines)
    }

    /// `insmod: ERROR: could not insert module …` → `insmod`.
    static func errorLineCommand(_ line: String) -> String? {
        for command in ["insmod", "rmmod", "echo"] where line.hasPrefix("\(command): ERROR: ") {
            return command
        }
        return nil
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
            return .insert(file: file, parameters: parameters, waitsForTransition: waits)
        case "rmmod":
            guard words.count == 1, let name = words.first, isModuleName(name) else {
                throw fail("rmmod takes one module name, e.g. '% rmmod livepatch_callbacks_mod'")
            }
            return .remove(module: name)
        case "echo":
            guard words.count == 3, words[1] == ">" else {
                throw fail("echo takes 'echo VALUE > /sys/…', found '\(command)'")
            }
            guard let target = sysfsTarget(words[2]) else {
                throw fail("'\(words[2])' is not a sysfs file a scenario may write: use /sys/kernel/livepatch/PATCH/enabled or /sys/module/MODULE/parameters/NAME")
            }
            return .write(value: words[0], target: target)
        case "wait_for_transition":
            guard words.count == 1, let patch = words.first, isModuleName(patch) else {
                throw fail("wait_for_transition takes one livepatch name, e.g. '% wait_for_transition livepatch_callbacks_demo'")
            }
            return .waitForTransition(patch: ModuleName.normalized(patch))
        default:
            throw fail("unknown action '\(verb)': the actions are insmod, rmmod, echo and wait_for_transition")
        }
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
