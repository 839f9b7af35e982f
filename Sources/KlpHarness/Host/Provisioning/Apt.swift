/// The few apt queries and installs the host side needs.
public struct Apt: Sendable {
    public var log: @Sendable (String) -> Void

    public init(log: @escaping @Sendable (String) -> Void) { self.log = log }

    /// Whether apt has a version of `package` to install. A failing
    /// apt-cache (broken sources, a held lock, a bad APT_CONFIG) is an
    /// infrastructure error, told apart from a package apt does not know.
    public func hasCandidate(_ package: String) throws -> Bool {
        let output = try query(["policy", package])
        return output.split(separator: "\n").contains {
            $0.trimmingSpaces.hasPrefix("Candidate:") && !$0.contains("(none)")
        }
    }

    /// `apt-cache depends`'s Depends: lines.
    public func dependencies(of package: String) throws -> [String] {
        try query(["depends", package]).split(separator: "\n").compactMap { line in
            let text = line.trimmingSpaces
            guard text.hasPrefix("Depends: ") else { return nil }
            return String(text.dropFirst("Depends: ".count))
        }
    }

    private func query(_ arguments: [String]) throws -> String {
        let outcome = try Subprocess("apt-cache", arguments).run(timeout: .seconds(60))
        // apt-cache exits 0 and prints nothing for an unknown package, but
        // reports broken configuration or lists with "E:" and a failure.
        guard outcome.status == 0, !outcome.output.split(separator: "\n").contains(where: { $0.hasPrefix("E: ") }) else {
            throw HarnessError.infrastructure(
                "apt-cache \(arguments.joined(separator: " ")) failed (exit \(outcome.status)): \(outcome.output.suffix(800))",
                remedy: "apt itself is broken here, not the kernel name: fix it (apt-get update should succeed), then try again")
        }
        return outcome.output
    }

    public func install(_ package: String, why: String) throws {
        log("installing \(package) (\(why)); this takes about half a minute")
        // Another run may be installing another kernel's headers: wait for
        // dpkg's lock (apt >= 1.9.11) instead of failing at once.
        var install = Subprocess("apt-get", ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends", package])
        install.activity = "installing \(package) with apt-get"
        // dpkg killed mid-install leaves half-configured packages and
        // "dpkg was interrupted, you must manually run 'dpkg --configure -a'"
        // for every later apt command. apt-get runs in a process group of
        // its own (Subprocess starts every tool in a new group), so a
        // terminal's Ctrl-C reaches only the harness, which lets it finish.
        install.finishWhenInterrupted = { [log] in
            log("waiting for apt-get install \(package) to finish before stopping (dpkg must not be interrupted; at most 900 s)")
        }
        let outcome = try install.run(timeout: .seconds(900))
        guard outcome.status == 0 else {
            throw HarnessError.infrastructure(
                "apt-get install \(package) failed (exit \(outcome.status)):\n\(outcome.output.suffix(1500))",
                remedy: "check that this is Debian bookworm with network access to its archive, and that you are root")
        }
    }

    /// Downloads a package into `directory` and unpacks it under `directory/root`,
    /// without installing it (no initramfs generation, nothing in /boot).
    public func unpack(_ package: String, into directory: String, why: String) throws {
        log("downloading \(package) (\(why))")
        try FileBytes.makeDirectories(directory)
        var downloading = Subprocess("apt-get", ["download", "-q", package], workingDirectory: directory)
        downloading.activity = "downloading \(package) (apt-get download)"
        let download = try downloading.run(timeout: .seconds(900))
        guard download.status == 0 else {
            throw HarnessError.infrastructure("apt-get download \(package) failed (exit \(download.status)):\n\(download.output.suffix(1500))",
                                              remedy: "run 'apt-get update' and check network access to the Debian archive")
        }
        let debs = try KernelFile.listDirectory(directory).filter { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }
        guard let deb = debs.last else {
            throw HarnessError.infrastructure("apt-get download \(package) left no .deb in \(directory)")
        }
        log("unpacking \(deb)")
        var unpacking = Subprocess("dpkg-deb", ["-x", "\(directory)/\(deb)", "\(directory)/root"])
        unpacking.activity = "unpacking \(deb) (dpkg-deb -x)"
        let unpack = try unpacking.run(timeout: .seconds(300))
        guard unpack.status == 0 else {
            throw HarnessError.infrastructure("dpkg-deb -x \(deb) failed:\n\(unpack.output.suffix(1500))")
        }
        try? FileBytes.removeTree("\(directory)/\(deb)")
    }
}
