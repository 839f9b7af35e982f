/// Which kernel to boot, as the user names it: an alias for a Debian
/// bookworm flavour, or an exact release such as `6.1.0-56-amd64`.
public enum KernelSelection: Equatable, Sendable {
    case debian(alias: String)
    case release(String)

    /// Aliases and the metapackage that names each one's current release.
    /// Debian moves releases on; the metapackage always depends on the newest.
    public static let aliases: [(alias: String, metapackage: String)] = [
        ("6.1", "linux-image-amd64"),
        ("6.12", "linux-image-6.12-amd64"),
        // Debian's other flavours: cloud (an LZ4 bzImage, fewer drivers)
        // and PREEMPT_RT. Not part of `all`, which means the generic ones.
        ("6.1-cloud", "linux-image-cloud-amd64"),
        ("6.1-rt", "linux-image-rt-amd64"),
        ("6.12-cloud", "linux-image-6.12-cloud-amd64"),
        ("6.12-rt", "linux-image-6.12-rt-amd64"),
    ]

    /// What `all` stands for: the generic flavour of each series.
    public static let allAliases = ["6.1", "6.12"]

    /// The names to resolve: `all` becomes every generic alias; none means the default, 6.1.
    public static func expand(_ names: [String]) -> [String] {
        let expanded = names.flatMap { $0 == "all" ? allAliases : [$0] }
        return expanded.isEmpty ? ["6.1"] : expanded
    }

    /// A Debian kernel release as `uname -r` prints it (`6.1.0-56-amd64`,
    /// `6.12.117+deb12-amd64`): it starts with a digit and holds no apt
    /// pattern characters, so it can never reach apt as a regex or glob.
    public static func isReleaseName(_ text: String) -> Bool {
        guard let first = text.first, first.isASCII, first.isNumber, text.count <= 64 else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".+-_~".contains($0)) }
    }

    public init(_ text: String) {
        self = Self.aliases.contains { $0.alias == text } ? .debian(alias: text) : .release(text)
    }

    /// Resolves to a release through apt, e.g. `6.1` → `6.1.0-56-amd64`.
    public func resolve(apt: Apt) throws -> String {
        switch self {
        case .release(let release):
            guard Self.isReleaseName(release) else {
                throw HarnessError.badInput(
                    "--kernel '\(release)' is neither an alias nor a kernel release name",
                    remedy: "use \(Self.aliases.map(\.alias).joined(separator: ", ")), all, or a release such as 6.1.0-56-amd64 (digits, letters, '.', '+', '-'; no patterns)")
            }
            guard try apt.hasCandidate("linux-image-\(release)") else {
                throw HarnessError.badInput(
                    "apt does not know a package linux-image-\(release)",
                    remedy: "use an alias (\(Self.aliases.map(\.alias).joined(separator: ", "))) or a release listed by 'apt-cache search linux-image-6'; run 'apt-get update' if the lists are old")
            }
            return release
        case .debian(let alias):
            guard let metapackage = Self.aliases.first(where: { $0.alias == alias })?.metapackage,
                  let dependency = try apt.dependencies(of: metapackage).first(where: { $0.hasPrefix("linux-image-") })
            else {
                throw HarnessError.infrastructure(
                    "apt cannot resolve the \(alias) kernel (no linux-image dependency of its metapackage)",
                    remedy: "run 'apt-get update' (scripts/setup does), then try again")
            }
            return String(dependency.dropFirst("linux-image-".count))
        }
    }
}
