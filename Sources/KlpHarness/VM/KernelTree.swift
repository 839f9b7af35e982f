/// A kernel the user built (`make`): its bzImage, its modules and its build
/// directory, which is how a kernel developer tests a patch series.
public enum KernelTree {
    public static func provision(_ directory: String) throws -> ProvisionedKernel {
        let image = "\(directory)/arch/x86/boot/bzImage"
        let releaseFile = "\(directory)/include/config/kernel.release"
        guard KernelFile.exists("\(directory)/Makefile") else {
            throw HarnessError.badInput("\(directory) is not a kernel source tree (no Makefile)",
                                        remedy: "pass the top of a built kernel tree with --kernel-tree")
        }
        guard KernelFile.exists(image), let release = try? KernelFile.readValue(releaseFile), !release.isEmpty else {
            throw HarnessError.badInput("\(directory) has not been built (no arch/x86/boot/bzImage or include/config/kernel.release)",
                                        remedy: "build it first: make -C \(directory) -j$(nproc) (with CONFIG_LIVEPATCH=y and CONFIG_DYNAMIC_DEBUG=y)")
        }
        let config = (try? KernelFile.read("\(directory)/.config")) ?? ""
        for option in ["CONFIG_LIVEPATCH", "CONFIG_DYNAMIC_DEBUG"] where !config.contains("\n\(option)=y") {
            throw HarnessError.badInput("\(directory)/.config does not set \(option)=y, which the suite needs",
                                        remedy: "enable it (scripts/config --enable \(option.dropFirst(7))), then make olddefconfig && make")
        }
        // The tree's own ELF kernel boots without decompression where it
        // has a PVH entry point (CONFIG_PVH=y); otherwise the bzImage.
        let vmlinux = "\(directory)/vmlinux"
        return ProvisionedKernel(release: release, image: image, buildDirectory: directory,
                                 vmlinux: KernelImage.hasPVHEntry(vmlinux) ? vmlinux : nil)
    }
}
