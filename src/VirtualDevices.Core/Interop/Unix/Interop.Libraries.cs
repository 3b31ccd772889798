using System.Reflection;
using System.Runtime.CompilerServices;

namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>The logical name every libc binding uses; resolved per OS at load time.</summary>
    internal const string Libc = "libc";

    /// <summary>
    /// "libc" alone is ambiguous: on glibc systems <c>libc.so</c> is a linker script, not a loadable library,
    /// so the name is mapped to the real shared object of each OS.
    /// </summary>
    /// <remarks>A module initializer, because the resolver must be in place before any binding is first called.</remarks>
#pragma warning disable CA2255 // The resolver must be registered before the first P/Invoke of this assembly.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterResolver()
    {
        NativeLibrary.SetDllImportResolver(typeof(Unix).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Libc)
        {
            return IntPtr.Zero;
        }

        string[] candidates = OperatingSystem.IsMacOS()
            ? ["/usr/lib/libSystem.B.dylib", "libSystem.dylib"]
            : ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];
        foreach (string candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out IntPtr handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero;
    }
}
