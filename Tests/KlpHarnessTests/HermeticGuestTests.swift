import Foundation
import Testing
@testable import KlpHarness

/// The pieces of the hermetic guest that need no VM: the initramfs format,
/// the bzImage header and ELF note reading, the results channel, reading a
/// crash out of a real console log, and how the host stitches boots.
@Suite("Hermetic guest")
struct HermeticGuestTests {
    @Test("a cpio entry is a newc header, the NUL-terminated name and the data, each padded to 4 bytes")
    func cpioEntry() {
        var archive = CpioArchive()
        archive.file("/klp/boot.conf", Array("abc".utf8))
        archive.finish()
        let text = String(decoding: archive.bytes, as: UTF8.self)
        // magic, ino 1, mode 0100644, uid 0, gid 0, nlink 1, mtime 0, size 3
        let header = ["070701", "00000001", "000081A4", "00000000", "00000000", "00000001", "00000000", "00000003"].joined()
        #expect(text.hasPrefix(header))
        // namesize counts the NUL: "klp/boot.conf" is 13 bytes.
        let name: String = "0000000E" + "00000000" + "klp/boot.conf\0"
        #expect(text.contains(name))
        #expect(archive.bytes.count % 4 == 0)
        #expect(text.contains("abc\0"))
        #expect(text.contains("TRAILER!!!\0"))
    }

    @Test("the boot protocol header locates an XZ or ZSTD payload")
    func bzImagePayload() throws {
        var image = [UInt8](repeating: 0, count: 4096)
        image[0x1F1] = 3 // setup sectors: protected-mode code at (3 + 1) * 512
        image.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        image.replaceSubrange(0x248..<0x250, with: [0x10, 0, 0, 0, 0x20, 0, 0, 0]) // offset 16, length 32
        image.replaceSubrange(2064..<2070, with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])
        #expect(try KernelImage.payload(inBzImage: image) == KernelImage.Payload(offset: 2064, length: 32, compression: .xz))
        image.replaceSubrange(2064..<2070, with: [0x28, 0xB5, 0x2F, 0xFD, 0, 0])
        #expect(try KernelImage.payload(inBzImage: image).compression == .zstd)
        image.replaceSubrange(0x202..<0x206, with: Array("Nope".utf8))
        #expect(throws: HarnessError.self) { try KernelImage.payload(inBzImage: image) }
    }

    @Test("a PT_NOTE with owner Xen and type 18 is the PVH entry point")
    func pvhNote() {
        func elf(noteType: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: 256)
            bytes.replaceSubrange(0..<6, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1])
            bytes[0x20] = 64      // e_phoff
            bytes[0x36] = 56      // e_phentsize
            bytes[0x38] = 1       // e_phnum
            bytes[64] = 4         // p_type PT_NOTE
            bytes[64 + 8] = 128   // p_offset
            bytes[64 + 32] = 24   // p_filesz
            bytes[128] = 4        // namesz
            bytes[132] = 8        // descsz
            bytes[136] = UInt8(noteType)
            bytes.replaceSubrange(140..<144, with: Array("Xen\0".utf8))
            return bytes
        }
        #expect(KernelImage.hasPVHEntry(elf: elf(noteType: 18)))
        #expect(!KernelImage.hasPVHEntry(elf: elf(noteType: 17)))
        #expect(!KernelImage.hasPVHEntry(elf: Array("not an ELF file at all, but long enough to be read as one".utf8) + [UInt8](repeating: 0, count: 64)))
    }

    @Test("the results channel keeps each file's last copy, skips noise and drops a frame cut short")
    func channel() {
        var stream = Array("boot noise\n".utf8)
        stream += Array("KLP-FILE 3 a/kmsg.txt\nabcKLP-FILE 2 results.json\n{}".utf8)
        stream += Array("KLP-FILE 4 a/kmsg.txt\nwxyzKLP-FILE 9 b/kmsg.txt\nshort".utf8)
        let received = ResultsChannel.parse(stream)
        #expect(received.files["a/kmsg.txt"] == Array("wxyz".utf8))
        #expect(received.files["results.json"] == Array("{}".utf8))
        #expect(received.files["b/kmsg.txt"] == nil)
        #expect(received.truncated)
        #expect(received.order == ["a/kmsg.txt", "results.json"])
    }

    @Test("paths from the guest never leave the results folder", arguments: [
        ("atomic-replace/diff.txt", true), ("results.json", true),
        ("../etc/passwd", false), ("/etc/passwd", false), ("a//b", false), ("a/./b", false), ("", false), ("a b", false),
    ])
    func safePaths(path: String, safe: Bool) {
        #expect(ResultsChannel.isSafeRelativePath(path) == safe)
    }

    @Test("a real 6.1 oops in the console: the NULL dereference is the headline, the excerpt runs to the panic")
    func crashInConsole() throws {
        var splitter = LineSplitter()
        let lines = splitter.feed(Data(try Fixture.text("console-oops-6.1", "log").utf8)) + splitter.finish()
        let crash = try #require(KernelCrash.first(in: lines))
        #expect(crash.headline == "BUG: kernel NULL pointer dereference, address: 0000000000000000")
        #expect(crash.excerpt.first == lines.first)
        #expect(crash.excerpt.contains { $0.contains("RIP: 0010:pre_patch_callback+0x54/0xffb [livepatch_callbacks_crash]") })
        #expect(crash.excerpt.contains { $0.hasSuffix("Kernel panic - not syncing: Fatal exception") })
        #expect(KernelCrash.first(in: ["[    1.000000] livepatch: enabling patch 'x'"]) == nil)
    }

    @Test("a WARN's excerpt starts at its cut-here line")
    func warningExcerpt() throws {
        let crash = try #require(KernelCrash.first(in: [
            "[    5.1] livepatch_callbacks_crash: pre_patch_callback: crash=warn",
            "[    5.2] ------------[ cut here ]------------",
            "[    5.3] livepatch_callbacks_crash: warning on request",
            "[    5.4] WARNING: CPU: 1 PID: 93 at pre_patch_callback+0x30/0x60 [livepatch_callbacks_crash]",
        ]))
        #expect(crash.headline.hasPrefix("WARNING: CPU: 1 PID: 93"))
        #expect(crash.excerpt.count == 3)
    }

    @Test("lines split on bytes: a tty's \\r\\n ends a line")
    func ttyLines() {
        var splitter = LineSplitter()
        #expect(splitter.feed(Data("KTAP version 1\r\n1..1".utf8)) == ["KTAP version 1"])
        #expect(splitter.feed(Data("1\r\nok 1 x\r\n".utf8)) == ["1..11", "ok 1 x"])
        #expect(splitter.finish() == [])
    }

    @Test("a later boot's results are numbered after the earlier boots'")
    func renumbering() {
        #expect(SuiteBoots.renumber("ok 2 atomic-replace", by: 5) == "ok 7 atomic-replace")
        #expect(SuiteBoots.renumber("not ok 1 x # TIMEOUT 60 seconds", by: 1) == "not ok 2 x # TIMEOUT 60 seconds")
        #expect(SuiteBoots.renumber("ok 2 y", by: 0) == "ok 2 y")
        #expect(SuiteBoots.isClosingCount("11 passed, 0 failed"))
        #expect(!SuiteBoots.isClosingCount("# suite: 11 scenario(s) in 3.1 s"))
    }

    @Test("both inits start with the shebang and mount debugfs before anything else runs")
    func initPrelude() {
        for script in [GuestImage.initScript, GuestImage.lavaInit] {
            #expect(script.hasPrefix("#!/bin/busybox sh\n/bin/busybox --install -s /bin\n"))
            #expect(script.contains("mount -t debugfs debugfs /sys/kernel/debug\n"))
        }
        #expect(GuestImage.initScript.contains("/sys/kernel/debug\necho \"# guest: init started"))
        #expect(GuestImage.lavaInit.contains("/sys/kernel/debug\ncat /proc/version\n"))
    }

    @Test("ldd's answer: the paths after =>, and the loader")
    func lddLibraries() {
        let output = """
            \tlinux-vdso.so.1 (0x00007fdb9cb7e000)
            \tlibkmod.so.2 => /lib/x86_64-linux-gnu/libkmod.so.2 (0x00007fdb9cb50000)
            \t/lib64/ld-linux-x86-64.so.2 (0x00007fdb9cb80000)
            """
        #expect(GuestImage.parseLdd(output) == ["/lib/x86_64-linux-gnu/libkmod.so.2", "/lib64/ld-linux-x86-64.so.2"])
    }

    @Test("a cached KVM verdict counts only for the same QEMU, host kernel and /dev/kvm")
    func acceleratorCache() {
        let cached = "QEMU 7.2; host 6.18; /dev/kvm 1/2/3\ntcg\na KVM test boot printed nothing in 3.000 s\n"
        #expect(Accelerator.parseCache(cached, key: "QEMU 7.2; host 6.18; /dev/kvm 1/2/3")?.accelerator == .tcg)
        #expect(Accelerator.parseCache(cached, key: "QEMU 8.0; host 6.18; /dev/kvm 1/2/3") == nil)
    }
}

@Suite("Kernel names")
struct KernelNameTests {
    @Test("release names reach apt; patterns and paths do not", arguments: [
        ("6.1.0-56-amd64", true), ("6.12.117+deb12-amd64", true),
        ("6.1.*", false), ("linux-image-6.1", false), ("", false), ("6.1 ; rm", false), ("../6.1", false), ("^6", false),
    ])
    func releaseName(text: String, valid: Bool) {
        #expect(KernelSelection.isReleaseName(text) == valid)
    }
}

@Suite("kmod/ sources copied per kernel")
struct ModuleBuilderSourceTests {
    /// A `make -C kmod` in place leaves modpost's .mod.c for that kernel;
    /// copying it into another kernel's build gave modules the kernel
    /// refused (seen on 6.12 after a 6.1 build in kmod/).
    @Test func generatedFilesStayBehind() {
        #expect(ModuleBuilder.isSource("livepatch-callbacks-demo.c"))
        #expect(ModuleBuilder.isSource("Kbuild"))
        #expect(ModuleBuilder.isSource("Makefile"))
        #expect(!ModuleBuilder.isSource("livepatch-callbacks-demo.mod.c"))
        #expect(!ModuleBuilder.isSource("livepatch-callbacks-demo.ko"))
        #expect(!ModuleBuilder.isSource(".livepatch-callbacks-demo.o.cmd"))
    }

    /// The copy every build takes (`vm`, and `build-modules` for
    /// scripts/kselftest-install, whose `*.[ch]` once copied the .mod.c).
    @Test func aModCInTheSourcesIsNotCopied() throws {
        let root = NSTemporaryDirectory() + "klp-sources-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = "\(root)/kmod", target = "\(root)/build"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for name in ["Kbuild", "Makefile", "demo.c", "demo.h", "demo.mod.c", "demo.ko", ".demo.o.cmd"] {
            try FileBytes.write(Array("\(name)\n".utf8), to: "\(source)/\(name)")
        }
        try ModuleBuilder.copySources(from: source, to: target)
        let copied = try FileManager.default.contentsOfDirectory(atPath: target).sorted()
        #expect(copied == ["Kbuild", "Makefile", "demo.c", "demo.h"])
    }

    /// As Debian's linux-headers-6.1.0-57-amd64 has them: kernel.release
    /// says 6.1.192, the modules' vermagic says 6.1.0-57-amd64.
    @Test func theReleaseIsTheOneVermagicCarries() throws {
        let root = NSTemporaryDirectory() + "klp-kdir-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        for folder in ["include/config", "include/generated"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true)
        }
        #expect(throws: HarnessError.self) { try ModuleBuilder.release(ofBuildDirectory: root) }
        try FileBytes.write(Array("all:\n".utf8), to: "\(root)/Makefile")
        try FileBytes.write(Array("6.1.192\n".utf8), to: "\(root)/include/config/kernel.release")
        #expect(throws: HarnessError.self) { try ModuleBuilder.release(ofBuildDirectory: root) }
        try FileBytes.write(Array("#define UTS_RELEASE \"6.1.0-57-amd64\"\n".utf8), to: "\(root)/include/generated/utsrelease.h")
        #expect(try ModuleBuilder.release(ofBuildDirectory: root) == "6.1.0-57-amd64")
    }
}
