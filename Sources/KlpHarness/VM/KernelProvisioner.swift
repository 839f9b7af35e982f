/// A bootable kernel and the build directory to compile modules against it.
public struct ProvisionedKernel: Sendable {
    public var release: String
    /// The image to boot (a bzImage/vmlinuz).
    public var image: String
    /// The Kbuild directory for out-of-tree modules (KDIR).
    public var buildDirectory: String
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
        return ProvisionedKernel(release: release, image: try image(for: release), buildDirectory: buildDirectory)
    }

    /// An installed image with its modules if the host has one; otherwise
    /// the package unpacked under the cache (virtme-ng finds the modules
    /// next to the image, in root/lib/modules/<release>).
    func image(for release: String) throws -> String {
        let installed = "/boot/vmlinuz-\(release)"
        if KernelFile.exists(installed) && KernelFile.exists("/lib/modules/\(release)/kernel") {
            return installed
        }
        let directory = "\(cacheDirectory)/kernels/\(release)"
        let cached = "\(directory)/root/boot/vmlinuz-\(release)"
        if !KernelFile.exists(cached) {
            try? ResultsFolder.removeTree(directory)
            try apt.unpack("linux-image-\(release)", into: directory, why: "the kernel to boot in the VM; unpacked under \(directory), not installed")
        }
        guard KernelFile.exists(cached) else {
            throw HarnessError.infrastructure("linux-image-\(release) did not contain boot/vmlinuz-\(release)")
        }
        return cached
    }
}
