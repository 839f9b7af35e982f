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
    /// seconds each boot would spend decompressing the bzImage.
    func vmlinux(from image: String, in directory: String) throws -> String? {
        let vmlinux = "\(directory)/vmlinux"
        if !KernelFile.exists(vmlinux) {
            apt.log("extracting the ELF kernel from \(image) into \(vmlinux) (once)")
            try KernelImage.extractVmlinux(from: image, to: vmlinux)
        }
        return KernelImage.hasPVHEntry(vmlinux) ? vmlinux : nil
    }

    /// The package unpacked under the cache, never the host's /boot: the
    /// result is then the same on every machine. virtme-ng finds the
    /// modules next to the image (root/lib/modules/<release>).
    func image(for release: String) throws -> String {
        let directory = "\(cacheDirectory)/kernels/\(release)"
        let image = "\(directory)/root/boot/vmlinuz-\(release)"
        let ready = "\(directory)/ready"
        if KernelFile.exists(ready) && KernelFile.exists(image) { return image }
        try? FileBytes.removeTree(directory)
        try apt.unpack("linux-image-\(release)", into: directory, why: "the kernel to boot in the VM; unpacked under \(directory), not installed")
        guard KernelFile.exists(image) else {
            throw HarnessError.infrastructure("linux-image-\(release) did not contain boot/vmlinuz-\(release)")
        }
        try prepareModules(root: "\(directory)/root", release: release)
        try FileBytes.write("\(release)\n", to: ready)
        return image
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
