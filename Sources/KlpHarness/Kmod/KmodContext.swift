import CKmod
#if canImport(Glibc)
import Glibc
#endif

/// What `modinfo` shows of a module file, as far as the harness cares.
public struct ModuleInfo: Equatable, Sendable {
    public var name: String
    public var vermagic: String
    public var isLivepatch: Bool
    public var parameters: [String]

    /// The kernel release the module was built for: vermagic's first word.
    public var release: String { String(vermagic.split(separator: " ").first ?? "") }
}

/// The libkmod library context: insmod, rmmod and modinfo in-process.
/// One context serves a whole run (libkmod caches the module index).
/// Each wrapper names the C function it calls, as swift-system's do; their
/// contracts are in libkmod's `libkmod/libkmod.h` and `libkmod-module.c`.
public final class KmodContext {
    private let context: OpaquePointer

    /// Creates a context with libkmod's default directories and configuration.
    ///
    /// The C functions `kmod_new` and `kmod_set_log_priority`; `deinit`
    /// calls `kmod_unref`.
    public init() throws(KmodError) {
        guard let context = kmod_new(nil, nil) else {
            throw KmodError(operation: .open, module: "libkmod", errno: ErrnoDescription(ENOMEM))
        }
        self.context = context
        // Every failure comes back to us as an errno and is reported with
        // the scenario; libkmod's own copy on stderr ("libkmod: ERROR …")
        // would only land in the middle of the KTAP stream.
        kmod_set_log_priority(context, LOG_CRIT)
    }

    deinit { kmod_unref(context) }

    /// The C function `kmod_module_new_from_path`; the caller releases the
    /// module with `kmod_module_unref`.
    private func module(atPath path: String) throws(KmodError) -> OpaquePointer {
        try lookUp(path) { kmod_module_new_from_path(context, path, &$0) }
    }

    /// The C function `kmod_module_new_from_name`; the caller releases the
    /// module with `kmod_module_unref`.
    private func module(named name: String) throws(KmodError) -> OpaquePointer {
        try lookUp(name) { kmod_module_new_from_name(context, name, &$0) }
    }

    /// Runs one of libkmod's module constructors; `label` names the module in errors.
    private func lookUp(_ label: String, _ create: (inout OpaquePointer?) -> Int32) throws(KmodError) -> OpaquePointer {
        var module: OpaquePointer?
        let result = create(&module)
        guard result == 0, let module else {
            throw KmodError(operation: .lookUp, module: label, errno: ErrnoDescription(result))
        }
        return module
    }

    /// Reads the `.modinfo` section of a module file, without loading it.
    ///
    /// The C function `kmod_module_get_info`, walked with
    /// `kmod_module_info_get_key`, `kmod_module_info_get_value` and
    /// `kmod_list_next`, then freed with `kmod_module_info_free_list`.
    public func info(ofModuleAt path: String) throws(KmodError) -> ModuleInfo {
        let module = try module(atPath: path)
        defer { kmod_module_unref(module) }
        var list: OpaquePointer?
        let count = kmod_module_get_info(module, &list)
        guard count >= 0 else {
            throw KmodError(operation: .readInfo, module: path, errno: ErrnoDescription(count))
        }
        defer { kmod_module_info_free_list(list) }
        var info = ModuleInfo(
            name: String(cString: kmod_module_get_name(module)),
            vermagic: "", isLivepatch: false, parameters: [])
        var entry = list
        while let current = entry {
            let key = kmod_module_info_get_key(current).map { String(cString: $0) } ?? ""
            let value = kmod_module_info_get_value(current).map { String(cString: $0) } ?? ""
            switch key {
            // The module's own name (modpost writes it into .modinfo); libkmod's
            // name for a path is only the file name, which a copy can change.
            case "name" where !value.isEmpty: info.name = value
            case "vermagic": info.vermagic = value
            case "livepatch": info.isLivepatch = value == "Y"
            // parm comes with MODULE_PARM_DESC, parmtype with every module_param.
            case "parm", "parmtype":
                let parameter = String(value.prefix { $0 != ":" })
                if !info.parameters.contains(parameter) { info.parameters.append(parameter) }
            default: break
            }
            entry = kmod_list_next(list, current)
        }
        if info.vermagic.isEmpty {
            // Every module the kernel would accept carries a vermagic.
            throw KmodError(operation: .readInfo, module: path, errno: ErrnoDescription(ENOEXEC))
        }
        return info
    }

    /// insmod: loads the module file with a parameter string such as
    /// `pre_patch_ret=-19`. The kernel's errno comes back in the error.
    ///
    /// The C function `kmod_module_insert_module`, with no flags.
    public func insertModule(atPath path: String, parameters: String) throws(KmodError) {
        let module = try module(atPath: path)
        defer { kmod_module_unref(module) }
        let result = kmod_module_insert_module(module, 0, parameters)
        guard result == 0 else {
            throw KmodError(operation: .insert, module: path, errno: ErrnoDescription(result))
        }
    }

    /// rmmod: unloads a module by name. libkmod never blocks here
    /// (O_NONBLOCK), so callers wait for refcnt 0 first.
    ///
    /// The C function `kmod_module_remove_module`, with no flags.
    public func removeModule(named name: String) throws(KmodError) {
        let module = try module(named: name)
        defer { kmod_module_unref(module) }
        let result = kmod_module_remove_module(module, 0)
        guard result == 0 else {
            throw KmodError(operation: .remove, module: name, errno: ErrnoDescription(result))
        }
    }
}
