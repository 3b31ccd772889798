namespace VirtualDevices.Interop;

internal static partial class Unix
{
    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeFileDescriptor Open(string path, int flags, int mode);
}
