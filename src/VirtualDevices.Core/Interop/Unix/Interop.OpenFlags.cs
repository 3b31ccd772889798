namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>open(2)</c> flags. The access modes are the same everywhere; the rest differ between Linux and macOS
    /// (and O_DIRECT between Linux architectures), so they are chosen once at start-up. The Linux values are
    /// checked against <c>fcntl.h</c> by a test that compiles a C program.
    /// </summary>
    internal static class OpenFlags
    {
        internal const int O_RDONLY = 0;
        internal const int O_WRONLY = 1;
        internal const int O_RDWR = 2;

        internal static readonly int O_CREAT = OperatingSystem.IsMacOS() ? 0x200 : 0x40;
        internal static readonly int O_EXCL = OperatingSystem.IsMacOS() ? 0x800 : 0x80;
        internal static readonly int O_CLOEXEC = OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000;

        /// <summary>Reads that would block fail with EAGAIN instead (the Xen event channel device is read so).</summary>
        internal static readonly int O_NONBLOCK = OperatingSystem.IsMacOS() ? 0x4 : 0x800;

        /// <summary>0 where the OS has no O_DIRECT (macOS uses <c>F_NOCACHE</c> instead).</summary>
        internal static readonly int O_DIRECT = OperatingSystem.IsMacOS()
            ? 0
            : RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;
    }

    /// <summary>macOS <c>fcntl</c> commands: disable the page cache, and a flush through the drive's cache.</summary>
    internal const int F_NOCACHE = 48;
    internal const int F_FULLFSYNC = 51;
}
