#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import KlpHarness

/// Names and messages of errno values, as harness errors print them
/// (`could not insert module …: No such device (ENODEV, -19)`).
@Suite("ErrnoDescription: errno names and messages")
struct ErrnoDescriptionTests {
    @Test func enodevCodeAndMessage() {
        let errno = ErrnoDescription(ENODEV)
        #expect(errno.code == 19)
        #expect(errno.message == "No such device")
    }

    @Test func aNegativeKernelReturnValueIsTheSameErrno() {
        // pre_patch_ret=-19 in a scenario; insmod reports "No such device".
        #expect(ErrnoDescription(-19) == ErrnoDescription(ENODEV))
        #expect(ErrnoDescription(-19).message == "No such device")
    }

    @Test("strerror messages", arguments: [
        (EBUSY, "Device or resource busy"),
        (EEXIST, "File exists"),
        (ENOENT, "No such file or directory"),
        (EINVAL, "Invalid argument"),
        (EPERM, "Operation not permitted"),
        (ENOEXEC, "Exec format error"),
    ])
    func messages(code: Int32, message: String) {
        #expect(ErrnoDescription(code).message == message)
    }

    @Test func enodevName() {
        #expect(ErrnoDescription(ENODEV).name == "ENODEV")
        #expect(ErrnoDescription(-19).name == "ENODEV")
        #expect(ErrnoDescription(ENODEV).description == "ENODEV: No such device")
    }

    @Test func namesOfCommonErrnoValues() {
        #expect(ErrnoDescription(EBUSY).name == "EBUSY")
        #expect(ErrnoDescription(EEXIST).name == "EEXIST")
        #expect(ErrnoDescription(ENOENT).name == "ENOENT")
        #expect(ErrnoDescription(EINVAL).name == "EINVAL")
        // glibc's ENOTSUP is EOPNOTSUPP: one name for the one number.
        #expect(ErrnoDescription(ENOTSUP).name == "EOPNOTSUPP")
        // Not in the table: the number.
        #expect(ErrnoDescription(EHOSTDOWN).name == "E\(EHOSTDOWN)")
    }

    @Test func errorsThatNameTheirErrnoCanBeDescribed() {
        // KernelFileError and KmodError put errno.name in their description.
        let error = KernelFileError(path: "/dev/kmsg", operation: "open", errno: ErrnoDescription(EACCES))
        #expect(error.description == "could not open /dev/kmsg: Permission denied (EACCES)")
        let kmod = KmodError(operation: .insert, module: "livepatch-callbacks-demo.ko", errno: ErrnoDescription(-19))
        #expect(kmod.description == "could not insert module livepatch-callbacks-demo.ko: No such device (ENODEV, -19)")
    }

    @Test func everyNameInTheTableIsItsOwnNumbers() {
        // A duplicate key in the table's literal traps on first use (glibc
        // makes ENOTSUP and EOPNOTSUPP one number, so only one is listed);
        // this walks the whole table, so such a table fails here first.
        for (code, name) in ErrnoDescription.names {
            #expect(ErrnoDescription(code).name == name)
            #expect(ErrnoDescription(-code).name == name)
        }
        #expect(ErrnoDescription.names.count == Set(ErrnoDescription.names.values).count)
    }
}
