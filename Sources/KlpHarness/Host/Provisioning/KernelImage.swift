/// The uncompressed ELF kernel inside a bzImage, and whether QEMU can boot
/// it directly. Under TCG, decompressing Debian's XZ bzImage costs about
/// 7.5 s per boot; an ELF `vmlinux` with a PVH entry point skips that and
/// the real-mode set-up (see Documentation/arch/x86/boot.rst for the header
/// fields read here).
public enum KernelImage {
    /// Every compression the x86 boot protocol allows for the payload
    /// (CONFIG_KERNEL_GZIP … CONFIG_KERNEL_ZSTD, arch/x86/boot/compressed/Makefile),
    /// with the host tool that decompresses it. Debian's generic and rt
    /// flavours use XZ (6.1) or ZSTD (6.12), the cloud flavours LZ4.
    enum Compression: String, CaseIterable, Sendable {
        case gzip, bzip2, lzma, xz, lzo, lz4, zstd

        /// Recognised by the payload's first bytes, as lib/decompress.c does.
        init?(magic bytes: ArraySlice<UInt8>) {
            let start = Array(bytes.prefix(6))
            let magics: [(Compression, [UInt8])] = [
                (.gzip, [0x1F, 0x8B]),
                (.bzip2, [0x42, 0x5A, 0x68]),             // "BZh"
                (.lzma, [0x5D, 0x00, 0x00]),               // legacy .lzma: lc/lp/pb 0x5d, then the dictionary size
                (.xz, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]),
                (.lzo, [0x89, 0x4C, 0x5A, 0x4F]),          // lzop's file format
                (.lz4, [0x02, 0x21, 0x4C, 0x18]),          // lz4's legacy frame (lz4 -l)
                (.zstd, [0x28, 0xB5, 0x2F, 0xFD]),
            ]
            guard let match = magics.first(where: { start.starts(with: $0.1) }) else { return nil }
            self = match.0
        }

        /// The command that decompresses one stream from stdin. The kernel
        /// build appends the uncompressed size (4 bytes, scripts/Makefile.lib's
        /// size_append) after the stream; every tool is handed the stream
        /// without it (lz4 would read it as a block size, gzip warns and exits 2).
        var decompressor: (tool: String, arguments: [String]) {
            switch self {
            case .gzip: ("gzip", ["-dc"])
            case .bzip2: ("bzip2", ["-dc"])
            case .lzma: ("xz", ["--format=lzma", "-dc"])
            case .xz: ("xz", ["-dc", "--single-stream"])
            case .lzo: ("lzop", ["-dc"])
            case .lz4: ("lz4", ["-dc"])
            case .zstd: ("zstd", ["-dcq"])
            }
        }

        /// The Debian package with the tool (scripts/setup installs them all).
        var package: String {
            switch self {
            case .gzip: "gzip"
            case .bzip2: "bzip2"
            case .lzma, .xz: "xz-utils"
            case .lzo: "lzop"
            case .lz4: "lz4"
            case .zstd: "zstd"
            }
        }
    }

    /// Where the compressed kernel lies inside a bzImage.
    struct Payload: Equatable, Sendable {
        var offset: Int
        var length: Int
        var compression: Compression?
    }

    /// The boot protocol header fields this harness reads.
    struct Header: Equatable, Sendable {
        /// Where the protected-mode code starts: (setup_sects + 1) * 512.
        var protectedModeStart: Int
        /// `syssize` (0x1f4) in bytes: the protected-mode code's length.
        var protectedModeLength: Int
        var payloadOffset: Int
        var payloadLength: Int

        /// The least a complete image holds. Debian's signed images carry an
        /// Authenticode signature after it, so a file may be longer, never shorter.
        var minimumFileSize: Int { protectedModeStart + protectedModeLength }

        /// Reads `setup_sects` (0x1f1), `syssize` (0x1f4), the `HdrS` magic
        /// (0x202), `payload_offset` (0x248) and `payload_length` (0x24c);
        /// the payload offset is relative to the protected-mode code.
        init(_ image: [UInt8]) throws(HarnessError) {
            guard image.count >= 0x250, image[0x202..<0x206].elementsEqual("HdrS".utf8) else {
                throw HarnessError.badInput("not a bzImage (no HdrS boot header)")
            }
            func u32(_ at: Int) -> Int { image.littleEndian(at: at, size: 4) }
            protectedModeStart = ((image[0x1F1] == 0 ? 4 : Int(image[0x1F1])) + 1) * 512
            protectedModeLength = u32(0x1F4) * 16
            payloadOffset = protectedModeStart + u32(0x248)
            payloadLength = u32(0x24C)
        }
    }

    /// Why the bzImage at `path` cannot be whole, or nil: it must have a
    /// boot header and be at least as long as the header says. A truncated
    /// cached image is then unpacked again instead of failing at boot.
    public static func bzImageProblem(_ path: String) -> String? {
        guard let size = FileBytes.size(path) else { return "missing" }
        guard let start = try? FileBytes.read(path, limit: 0x250) else { return "unreadable" }
        do {
            let header = try Header(start)
            guard size >= header.minimumFileSize else {
                return "\(size) bytes, but its boot header says at least \(header.minimumFileSize)"
            }
            return nil
        } catch {
            return error.problem
        }
    }

    /// Where the payload is and how it is compressed (nil: by nothing this
    /// harness knows, and the bzImage boots instead).
    static func payload(inBzImage image: [UInt8]) throws(HarnessError) -> Payload {
        let header = try Header(image)
        let offset = header.payloadOffset, length = header.payloadLength
        guard length > 4, offset + length <= image.count else {
            throw HarnessError.badInput("the bzImage's payload (offset \(offset), length \(length)) lies outside its \(image.count) bytes")
        }
        return Payload(offset: offset, length: length, compression: Compression(magic: image[offset...]))
    }

    /// What extracting the ELF kernel came to.
    public enum Extraction: Equatable, Sendable {
        case extracted
        /// It can never work for this image: booting the bzImage is the way.
        case impossible(reason: String)
    }

    /// Extracts the ELF kernel of `bzImage` to `destination` (written under a
    /// temporary name and renamed, so a half-written file is never used).
    /// Throws for what may work another time (a missing tool, a full disk).
    public static func extractVmlinux(from bzImage: String, to destination: String) throws -> Extraction {
        let image = try FileBytes.read(bzImage)
        let payload: Payload
        do {
            payload = try Self.payload(inBzImage: image)
        } catch {
            return .impossible(reason: error.problem)
        }
        let start = image[payload.offset...].prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
        guard let compression = payload.compression else {
            return .impossible(reason: "the payload's compression is none of \(Compression.allCases.map(\.rawValue).joined(separator: ", ")) (it starts \(start))")
        }
        let compressed = "\(destination).\(compression.rawValue)"
        let partial = "\(destination).partial"
        try FileBytes.write(image[payload.offset..<(payload.offset + payload.length - 4)], to: compressed)
        defer { _ = try? FileBytes.remove(compressed) }
        let (tool, arguments) = compression.decompressor
        _ = try Subprocess.resolve(tool)
        var decompress = Subprocess(tool, arguments)
        decompress.activity = "extracting the ELF kernel from \(bzImage) (\(tool))"
        let outcome: Subprocess.Outcome
        do {
            outcome = try decompress.run(timeout: .seconds(300), stdinPath: compressed, stdoutPath: partial)
        } catch {
            _ = try? FileBytes.remove(partial)
            throw error
        }
        guard outcome.status == 0 else {
            _ = try? FileBytes.remove(partial)
            throw HarnessError.infrastructure("\(tool) could not decompress the kernel in \(bzImage) (exit \(outcome.status)): \(outcome.output.suffix(500))",
                                              remedy: "install \(compression.package) (scripts/setup does)")
        }
        if let problem = vmlinuxProblem(partial) {
            _ = try? FileBytes.remove(partial)
            return .impossible(reason: "the kernel decompressed from it \(problem)")
        }
        try FileBytes.rename(partial, to: destination)
        return .extracted
    }

    /// Why `vmlinux` cannot be booted through PVH, or nil: it must be a
    /// whole ELF64 file (its section header table, which the linker puts
    /// last, ends inside the file) with the PVH entry note. A truncated
    /// file loses the end first: QEMU then fails with "Error while loading
    /// elf kernel", or, cut short before the note, the bzImage boots slowly.
    public static func vmlinuxProblem(_ vmlinux: String) -> String? {
        guard let elf = try? FileBytes.read(vmlinux) else { return "is missing or unreadable" }
        if let problem = elfProblem(elf) { return problem }
        return hasPVHEntry(elf: elf) ? nil : "has no PVH entry note (CONFIG_PVH)"
    }

    /// Why `elf` is not a whole ELF64 little-endian file, or nil.
    static func elfProblem(_ elf: [UInt8]) -> String? {
        guard elf.count >= 64, elf[0..<4].elementsEqual([0x7F, 0x45, 0x4C, 0x46]) else { return "is not an ELF file" }
        guard elf[4] == 2, elf[5] == 1 else { return "is not a 64-bit little-endian ELF file" }
        func u16(_ at: Int) -> Int { elf.littleEndian(at: at, size: 2) }
        // Offsets above 2^48 bytes are nonsense here; refusing them keeps the sums from overflowing.
        func offset(_ at: Int) -> Int? {
            elf[at + 6] == 0 && elf[at + 7] == 0 ? elf.littleEndian(at: at, size: 6) : nil
        }
        guard let sectionHeaders = offset(0x28), let programHeaders = offset(0x20) else { return "has impossible header offsets" }
        let end = max(sectionHeaders + u16(0x3C) * u16(0x3A), programHeaders + u16(0x38) * u16(0x36))
        return end <= elf.count ? nil : "is cut short (\(elf.count) bytes; its headers say at least \(end))"
    }

    /// Whether an ELF kernel carries the PVH entry note
    /// (`XEN_ELFNOTE_PHYS32_ENTRY`, type 18, owner "Xen"), which QEMU needs
    /// to boot it with `-kernel`. Kernels built with CONFIG_PVH=y have it.
    public static func hasPVHEntry(_ vmlinux: String) -> Bool {
        guard let elf = try? FileBytes.read(vmlinux) else { return false }
        return hasPVHEntry(elf: elf)
    }

    static func hasPVHEntry(elf: [UInt8]) -> Bool {
        // ELF64, little-endian only: the x86-64 kernels this harness boots.
        guard elf.count > 64, elf[0..<4].elementsEqual([0x7F, 0x45, 0x4C, 0x46]), elf[4] == 2, elf[5] == 1 else { return false }
        func u16(_ at: Int) -> Int { elf.littleEndian(at: at, size: 2) }
        func u32(_ at: Int) -> Int { elf.littleEndian(at: at, size: 4) }
        func u64(_ at: Int) -> Int { elf.littleEndian(at: at, size: 8) }
        let programHeaders = u64(0x20), entrySize = u16(0x36), count = u16(0x38)
        for index in 0..<count {
            let header = programHeaders + index * entrySize
            guard header + 56 <= elf.count, u32(header) == 4 /* PT_NOTE */ else { continue }
            var note = u64(header + 8)
            let end = min(note + u64(header + 32), elf.count)
            while note + 12 <= end {
                let nameSize = u32(note), descriptionSize = u32(note + 4), type = u32(note + 8)
                let name = note + 12
                if type == 18, nameSize == 4, name + 4 <= end, elf[name..<(name + 3)].elementsEqual("Xen".utf8) {
                    return true
                }
                note = name + (nameSize + 3) / 4 * 4 + (descriptionSize + 3) / 4 * 4
            }
        }
        return false
    }
}
