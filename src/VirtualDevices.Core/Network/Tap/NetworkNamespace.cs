using System.Runtime.ExceptionServices;
using VirtualDevices.Interop;

namespace VirtualDevices.Network.Tap;

/// <summary>
/// Runs work inside a Linux network namespace: on a thread of its own that enters the namespace with <c>setns</c>
/// (which moves only the calling thread) and ends with the work, so no thread of the process is ever left in it.
/// What the work opens there stays bound to that namespace: a <c>/dev/net/tun</c> descriptor makes its interface
/// there, a socket configures interfaces there, a program started there (nft) runs there.
/// </summary>
internal static class NetworkNamespace
{
    /// <summary>Where <c>ip netns add NAME</c> puts its namespaces.</summary>
    public const string NamedDirectory = "/var/run/netns";

    /// <summary>The file of a namespace given by name or path.</summary>
    /// <param name="name">A name (<c>vdtest-1</c>) or a path (<c>/proc/123/ns/net</c>).</param>
    public static string PathOf(string name) => name.Contains('/', StringComparison.Ordinal) ? name : Path.Combine(NamedDirectory, name);

    /// <summary>Runs <paramref name="work"/> in <paramref name="name"/>, or here when it is null.</summary>
    /// <param name="name">The namespace, or null.</param>
    /// <param name="work">What to do there.</param>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.Network.NamespaceNotFound"/>: it does not exist or cannot be entered.</exception>
    public static T Run<T>(string? name, Func<T> work)
    {
        if (name is null)
        {
            return work();
        }

        string path = PathOf(name);
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(name, path);
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    private static void Enter(string name, string path)
    {
        using SafeFileDescriptor fd = Unix.Open(path, Unix.OpenFlags.O_RDONLY | Unix.OpenFlags.O_CLOEXEC, 0);
        if (fd.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new DeviceException(DeviceErrorIds.Network.NamespaceNotFound, DeviceErrorCategory.ObjectNotFound,
                $"The network namespace '{name}' ({path}) cannot be opened: {Unix.Errno.Describe(errno)}.", name);
        }

        if (Unix.SetNs(fd, Unix.NetDeviceIoctl.CLONE_NEWNET) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new DeviceException(DeviceErrorIds.Network.NamespaceNotFound,
                errno == Unix.Errno.EPERM ? DeviceErrorCategory.PermissionDenied : DeviceErrorCategory.InvalidArgument,
                $"The network namespace '{name}' ({path}) cannot be entered: {Unix.Errno.Describe(errno)}.", name);
        }
    }
}
