import Foundation

/// A bootable kernel and the build directory to compile modules against it.
public struct ProvisionedKernel: Sendable {
    public var release: String
    /// The image to boot (a bzImage/vmlinuz).
    public var image: String
    /// The Kbuild directory for out-of-tree modules (KDIR).
    public var buildDirectory: String
    /// The uncompressed ELF kernel with a PVH entry point, when there is
    /// one: QEMU boots it without decompressing anything.
    public var vmlinux: String?
}

/// Makes sure a Debian kernel's image and headers are on the host, saying
/// what it installs and why.
public struct KernelProvisioner: Sendable {
    public var cacheDirectory: String
    public var apt: Apt

    public init(cacheDirectory: String, apt: Apt) {
        self.cacheDirectory = cacheDirectory
        self.apt = apt
    }

    public func provision(release: String) throws -> ProvisionedKernel {
        let buildDirectory = "/lib/modules/\(release)/build"
        if !KernelFile.exists("\(buildDirectory)/Makefile") {
            try apt.install("linux-headers-\(release)", why: "to build kmod/ against \(release)")
        }
        guard KernelFile.exists("\(buildDirectory)/Makefile") else {
            throw HarnessError.infrastructure("headers for \(release) are installed but \(buildDirectory)/Makefile is missing",
                                              remedy: "reinstall them: apt-get install --reinstall linux-headers-\(release)")
        }
        let image = try image(for: release)
        return ProvisionedKernel(release: release, image: image, buildDirectory: buildDirectory,
                                 vmlinux: try vmlinux(from: image, in: "\(cacheDirectory)/kernels/\(release)"))
    }

    /// Extracted once and kept beside the image. Under TCG this saves the
    /// seconds each boot would spend decompressing the bzImage. A cached
    /// file that is not whole is extracted again, once; where extraction can
    /// never work, `vmlinux.unavailable` says why and the bzImage boots
    /// without trying again on every run.
    func vmlinux(from image: String, in directory: String) throws -> String? {
        let vmlinux = "\(directory)/vmlinux"
        let unavailable = "\(directory)/vmlinux.unavailable"
        if let reason = try? KernelFile.readValue(unavailable) {
            apt.log("booting the bzImage of \(image): no ELF kernel can be extracted from it (\(reason); recorded in \(unavailable))")
            return nil
        }
        if KernelFile.exists(vmlinux) {
            guard let problem = KernelImage.vmlinuxProblem(vmlinux) else { return vmlinux }
            apt.log("the cached \(vmlinux) \(problem): it is rebuilt (extracted again from \(image))")
            _ = try? FileBytes.remove(vmlinux)
        } else {
            apt.log("extracting the ELF kernel from \(image) into \(vmlinux) (once)")
        }
        do {
            switch try KernelImage.extractVmlinux(from: image, to: vmlinux) {
            case .extracted:
                return vmlinux
            case .impossible(let reason):
                apt.log("booting the bzImage of \(image) instead: \(reason) (recorded in \(unavailable), not retried)")
                try? FileBytes.write("\(reason)\n", to: unavailable)
                return nil
            }
        } catch {
            // Ctrl-C is the user's word, not a failed extraction: stop (130).
            if Interruption.isRequested { throw error }
            // Possibly fixed by next time (a tool installed, disk space freed).
            apt.log("warning: booting the bzImage of \(image) this time: extracting its ELF kernel failed: \(error)")
            return nil
        }
    }

    /// The package unpacked under the cache, never the host's /boot: the
    /// result is then the same on every machine. virtme-ng finds the
    /// modules next to the image (root/lib/modules/<release>). The `ready`
    /// marker, written last, holds the release and each unpacked file's
    /// size; a file missing or of another size means the tree is unpacked
    /// again, once.
    func image(for release: String) throws -> String {
        let directory = "\(cacheDirectory)/kernels/\(release)"
        let root = "\(directory)/root"
        let image = "\(root)/boot/vmlinuz-\(release)"
        let ready = "\(directory)/ready"
        if let recorded = try? KernelFile.read(ready) {
            let problem = KernelImage.bzImageProblem(image).map { "its image \(image) is \($0)" }
                ?? Self.manifestProblem(recorded: recorded, root: root)
            guard let problem else {
                if !recorded.contains("\n/") {
                    // A tree unpacked before sizes were recorded: record them now.
                    try? FileBytes.replace(ready, with: Array(Self.manifest(release: release, root: root).utf8))
                }
                return image
            }
            apt.log("the unpacked linux-image-\(release) in \(directory) is damaged (\(problem)): it is rebuilt (unpacked again)")
        }
        try? FileBytes.removeTree(directory)
        try apt.unpack("linux-image-\(release)", into: directory, why: "the kernel to boot in the VM; unpacked under \(directory), not installed")
        guard KernelFile.exists(image) else {
            throw HarnessError.infrastructure("linux-image-\(release) did not contain boot/vmlinuz-\(release)")
        }
        if let problem = KernelImage.bzImageProblem(image) {
            throw HarnessError.infrastructure("linux-image-\(release)'s \(image) is \(problem)",
                                              remedy: "check the disk and apt's cache (apt-get clean), then run again")
        }
        try prepareModules(root: root, release: release)
        try FileBytes.replace(ready, with: Array(Self.manifest(release: release, root: root).utf8))
        return image
    }

    /// `ready`'s text: the release, then "/<path> <size>" for every regular
    /// file under `root`, sorted.
    static func manifest(release: String, root: String) -> String {
        var lines = [release]
        if let walker = FileManager.default.enumerator(atPath: root) {
            var entries: [String] = []
            while let path = walker.nextObject() as? String {
                if let type = walker.fileAttributes?[.type] as? FileAttributeType, type == .typeRegular,
                   let size = FileBytes.size("\(root)/\(path)") {
                    entries.append("/\(path) \(size)")
                }
            }
            lines += entries.sorted()
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The first recorded file that is missing or changed size, or nil.
    static func manifestProblem(recorded: String, root: String) -> String? {
        for line in recorded.split(separator: "\n") where line.hasPrefix("/") {
            guard let space = line.lastIndex(of: " "), let size = Int(line[line.index(after: space)...]) else { continue }
            let path = String(line[..<space])
            guard let actual = FileBytes.size(root + path) else { return "\(path) is missing" }
            if actual != size { return "\(path) has \(actual) bytes, \(size) when unpacked" }
        }
        return nil
    }

    /// virtme-ng's initramfs loads the virtio, 9p and overlay modules with
    /// busybox insmod, which cannot read compressed modules: Debian's 6.12
    /// ships .ko.xz, and the guest then boots without its root overlays
    /// (every dynamically linked program crashes). Decompress them once,
    /// and index them as the package's postinst would.
    func prepareModules(root: String, release: String) throws {
        let modules = "\(root)/lib/modules/\(release)"
        let decompress = try Subprocess("find", [modules, "-name", "*.ko.xz", "-exec", "xz", "-d", "{}", "+"]).run(timeout: .seconds(600))
        guard decompress.status == 0 else {
            throw HarnessError.infrastructure("decompressing \(release)'s modules failed:\n\(decompress.output.suffix(1500))",
                                              remedy: "install xz-utils (scripts/setup does)")
        }
        let depmod = try Subprocess("depmod", ["-a", "-b", root, release]).run(timeout: .seconds(300))
        guard depmod.status == 0 else {
            throw HarnessError.infrastructure("depmod for \(release) failed:\n\(depmod.output.suffix(1500))")
        }
    }
}
