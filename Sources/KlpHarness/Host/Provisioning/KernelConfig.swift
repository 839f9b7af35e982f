/// A kernel's `.config`, as Kconfig writes it: `CONFIG_X=y`, `CONFIG_X=m`,
/// `CONFIG_X=4`, `CONFIG_X="text"`, and `# CONFIG_X is not set`.
public struct KernelConfig: Equatable, Sendable {
    /// Every option that is set, by its full name (`CONFIG_LIVEPATCH`).
    /// An option that is "not set", or absent, has no entry.
    public var values: [String: String]

    public init(parsing text: String) {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard line.hasPrefix("CONFIG_"), let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        self.values = values
    }

    public subscript(option: String) -> String? { values[option] }
}

/// A config fragment for `scripts/kconfig/merge_config.sh`: the options a
/// kernel needs, each with the value it must have. A block whose comment
/// starts with "# recommended" is wanted but not required.
public struct ConfigFragment: Equatable, Sendable {
    public struct Requirement: Equatable, Sendable {
        public var option: String
        /// The value it must have; nil for "# CONFIG_X is not set".
        public var value: String?
        public var recommended: Bool
    }

    /// An option of the fragment that a `.config` does not meet.
    public struct Shortfall: Equatable, Sendable, CustomStringConvertible {
        public var requirement: Requirement
        /// What the `.config` has; nil when the option is not set.
        public var actual: String?

        public var description: String {
            let option = requirement.option
            guard let wanted = requirement.value else { return "\(option)=\(actual ?? "") (must not be set)" }
            guard let actual else { return "\(option) (not set, needs \(wanted))" }
            return "\(option)=\(actual) (needs \(wanted))"
        }
    }

    public var requirements: [Requirement]

    public init(parsing text: String) {
        var requirements: [Requirement] = []
        var recommended = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingSpaces
            if line.isEmpty {
                // A blank line ends a block and its "recommended" mark.
                recommended = false
            } else if line.hasPrefix("# recommended") {
                recommended = true
            } else if line.hasPrefix("# CONFIG_") && line.hasSuffix(" is not set") {
                let option = line.dropFirst(2).dropLast(" is not set".count)
                requirements.append(Requirement(option: String(option), value: nil, recommended: recommended))
            } else if line.hasPrefix("CONFIG_"), let equals = line.firstIndex(of: "=") {
                requirements.append(Requirement(option: String(line[..<equals]), value: String(line[line.index(after: equals)...]),
                                                recommended: recommended))
            }
        }
        self.requirements = requirements
    }

    /// Each option `config` does not meet, in the fragment's order.
    public func shortfalls(of config: KernelConfig) -> [Shortfall] {
        requirements.compactMap { requirement in
            let actual = config[requirement.option]
            // "=n" is how a hand-edited .config may say "not set".
            let isSet = actual != nil && actual != "n"
            if let wanted = requirement.value {
                return actual == wanted ? nil : Shortfall(requirement: requirement, actual: isSet ? actual : nil)
            }
            return isSet ? Shortfall(requirement: requirement, actual: actual) : nil
        }
    }
}
