/// A kernel the user built (`make`): its bzImage, its modules and its build
/// directory, which is how a kernel developer tests a patch series.
public enum KernelTree {
    /// `fragment` is kmod/klp-harness.config: what the harness and its
    /// guest need, checked against the tree's .config before anything is
    /// built against the tree or booted.
    public static func provision(_ directory: String, fragment: String) throws -> ProvisionedKernel {
        let image = "\(directory)/arch/x86/boot/bzImage"
        let releaseFile = "\(directory)/include/config/kernel.release"
        guard KernelFile.exists("\(directory)/Makefile") else {
            throw HarnessError.badInput("\(directory) is not a kernel source tree (no Makefile)",
                                        remedy: "pass the top of a built kernel tree with --kernel-tree")
        }
        // A configured tree is checked before the built one: a developer
        // learns what the .config lacks before an 18-minute build, not
        // from a guest that does not boot.
        if let config = try? KernelFile.read("\(directory)/.config") {
            try checkConfig(KernelConfig(parsing: config), of: directory, fragment: fragment)
        }
        guard KernelFile.exists(image), let release = try? KernelFile.readValue(releaseFile), !release.isEmpty else {
            throw HarnessError.badInput("\(directory) has not been built (no arch/x86/boot/bzImage or include/config/kernel.release)",
                                        remedy: "build it first: make -C \(directory) -j$(nproc) vmlinux bzImage modules (configured with \(fragment))")
        }
        guard KernelFile.exists("\(directory)/.config") else {
            throw HarnessError.badInput("\(directory) has no .config", remedy: "pass the tree the kernel was built in (make O=… builds elsewhere: pass that directory)")
        }
        // The tree's own ELF kernel boots without decompression where it
        // has a PVH entry point (CONFIG_PVH=y); otherwise the bzImage.
        let vmlinux = "\(directory)/vmlinux"
        return ProvisionedKernel(release: release, image: image, buildDirectory: directory,
                                 vmlinux: KernelImage.hasPVHEntry(vmlinux) ? vmlinux : nil)
    }

    /// Fails with exit 4 (skipped, as kselftest skips a kernel without a
    /// needed option) naming every required option `config` lacks, and
    /// the merge_config.sh line that adds them.
    public static func checkConfig(_ config: KernelConfig, of directory: String, fragment: String) throws {
        let wanted = ConfigFragment(parsing: try fragmentText(fragment))
        let missing = wanted.shortfalls(of: config).filter { !$0.requirement.recommended }
        guard !missing.isEmpty else { return }
        throw HarnessError(.skipped,
                           "kernel tree \(directory) lacks \(missing.map(\.description).joined(separator: ", ")), which the suite and its guest need",
                           remedy: "fix: cd \(directory) && scripts/kconfig/merge_config.sh -m .config \(fragment) && make olddefconfig, then rebuild")
    }

    private static func fragmentText(_ path: String) throws -> String {
        do {
            return try KernelFile.read(path)
        } catch {
            throw HarnessError.badInput("cannot read the config fragment \(path): \(error)",
                                        remedy: "run from the klp-harness repository root (it ships kmod/klp-harness.config)")
        }
    }
}
