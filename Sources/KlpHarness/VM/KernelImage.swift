/// The uncompressed ELF kernel inside a bzImage, and whether QEMU can boot
/// it directly. Under TCG, decompressing Debian's XZ bzImage costs about
/// 7.5 s per boot; an ELF `vmlinux` with a PVH entry point skips that and
/// the real-mode set-up (see Documentation/arch/x86/boot.rst for the header
/// fields read here).
public enum KernelImage {
    /// The compressions a bzImage payload can use that this harness
    /// decompresses, with the tool that does it.
    enum Compression: String, Sendable {
        case xz, zstd, gzip

        /// Recognised by the payload's first bytes.
        init?(magic bytes: ArraySlice<UInt8>) {
            let start = Array(bytes.prefix(6))
            if start.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { self = .xz }
            else if start.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { self = .zstd }
            else if start.starts(with: [0x1F, 0x8B]) { self = .gzip }
            else { return nil }
        }

        /// The command that decompresses one stream from stdin. The kernel
        /// build appends the uncompressed size (4 bytes) after the stream:
        /// xz and gzip stop at the stream's end, zstd is handed the stream alone.
        var decompressor: (tool: String, arguments: [String]) {
            switch self {
            case .xz: ("xz", ["-dc", "--single-stream"])
            case .zstd: ("zstd", ["-dcq"])
            case .gzip: ("gzip", ["-dc"])
            }
        }
    }

    /// Where the compressed kernel lies inside a bzImage.
    struct Payload: Equatable, Sendable {
        var offset: Int
        var length: Int
        var compression: Compression
    }

    /// Reads the boot protocol header: `setup_sects` (0x1f1), the `HdrS`
    /// magic (0x202), `payload_offset` (0x248) and `payload_length` (0x24c),
    /// which are relative to the protected-mode code after the set-up sectors.
    static func payload(inBzImage image: [UInt8]) throws(HarnessError) -> Payload {
        func u32(_ at: Int) -> Int {
            Int(image[at]) | Int(image[at + 1]) << 8 | Int(image[at + 2]) << 16 | Int(image[at + 3]) << 24
        }
        guard image.count > 0x250, image[0x202..<0x206].elementsEqual("HdrS".utf8) else {
            throw HarnessError.badInput("not a bzImage (no HdrS boot header)")
        }
        let setupSectors = image[0x1F1] == 0 ? 4 : Int(image[0x1F1])
        let offset = (setupSectors + 1) * 512 + u32(0x248)
        let length = u32(0x24C)
        guard length > 4, offset + length <= image.count,
              let compression = Compression(magic: image[offset...])
        else {
            throw HarnessError.badInput("the bzImage's payload is not XZ, ZSTD or gzip (offset \(offset), length \(length))")
        }
        return Payload(offset: offset, length: length, compression: compression)
    }

    /// Extracts the ELF kernel of `bzImage` to `destination` (written under a
    /// temporary name and renamed, so a half-written file is never used).
    public static func extractVmlinux(from bzImage: String, to destination: String) throws {
        let image = try FileBytes.read(bzImage)
        let payload: Payload
        do {
            payload = try Self.payload(inBzImage: image)
        } catch {
            throw HarnessError.infrastructure("\(bzImage): \(error.problem)",
                                              remedy: "pass a kernel tree with an ELF vmlinux, or a standard x86 bzImage")
        }
        // zstd refuses the 4-byte size trailer; the others stop at their stream's end.
        let streamLength = payload.compression == .zstd ? payload.length - 4 : payload.length
        let compressed = "\(destination).\(payload.compression.rawValue)"
        let partial = "\(destination).partial"
        try FileBytes.write(image[payload.offset..<(payload.offset + streamLength)], to: compressed)
        defer { _ = try? FileBytes.remove(compressed) }
        let (tool, arguments) = payload.compression.decompressor
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
                                              remedy: "install \(tool) (scripts/setup does)")
        }
        let header = try FileBytes.read(partial, limit: 4)
        guard header == [0x7F, 0x45, 0x4C, 0x46] else {
            _ = try? FileBytes.remove(partial)
            throw HarnessError.infrastructure("the kernel decompressed from \(bzImage) is not an ELF file")
        }
        try FileBytes.rename(partial, to: destination)
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
        func u16(_ at: Int) -> Int { Int(elf[at]) | Int(elf[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> Int { u32(at) | u32(at + 4) << 32 }
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
