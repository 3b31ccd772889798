namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>memfd_create(2)</c> (Linux 3.17, glibc 2.27): an anonymous file in memory, sized with
    /// <see cref="FTruncate"/> and mapped <c>MAP_SHARED</c> by every process that holds a descriptor of it: how the
    /// loopback hypervisor shares a domain's granted pages with the domains that map them.
    /// </summary>
    [LibraryImport(Libc, EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeFileDescriptor MemfdCreate(string name, uint flags);

    /// <summary><c>MFD_CLOEXEC</c>.</summary>
    internal const uint MFD_CLOEXEC = 0x1;

    /// <summary><c>MFD_ALLOW_SEALING</c>: seals (<c>F_ADD_SEALS</c>) may be added later.</summary>
    internal const uint MFD_ALLOW_SEALING = 0x2;
}
