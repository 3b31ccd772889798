using System.Net;
using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.Devices;

/// <summary>
/// The socket file of a server listening on a unix socket path, which it may replace and remove only when it is a
/// socket: a path given by mistake (a disk image, a directory) must survive a server start and stop untouched.
/// </summary>
/// <remarks>
/// Before binding, whatever is at the path is looked at without following links (<c>lstat</c>, through statx): nothing
/// is fine; a socket nobody answers on is a leftover of a server that was killed and is replaced; a socket someone
/// answers on, and anything that is not a socket (regular file, directory, fifo, device, symbolic link), is refused.
/// After binding, the socket's inode is remembered, and <see cref="Remove"/> unlinks the path only while it is still
/// that socket: another server may have replaced it meanwhile. Abstract sockets (a leading NUL) have no file.
/// Without statx (macOS) the type of a file cannot be told without following links, so nothing already at the path
/// is replaced (<c>SocketPathExists</c>), and on stop the path is removed without the inode check.
/// </remarks>
internal sealed class UnixSocketFile
{
    private readonly (ulong Device, ulong Inode)? _identity;

    private UnixSocketFile(string path, (ulong Device, ulong Inode)? identity)
    {
        Path = path;
        _identity = identity;
    }

    /// <summary>The socket's path.</summary>
    public string Path { get; }

    /// <summary>
    /// Binds <paramref name="listener"/> to <paramref name="path"/>, replacing a stale socket, and listens.
    /// </summary>
    /// <param name="listener">A unix stream socket, not yet bound.</param>
    /// <param name="path">The socket path.</param>
    /// <param name="backlog">The listen backlog.</param>
    /// <param name="errors">The server's error ids.</param>
    /// <exception cref="DeviceException">
    /// <c>SocketPathNotSocket</c> (something else is there), the in-use id of <paramref name="errors"/> (a server
    /// answers there), or what <see cref="SocketErrors.Listen"/> makes of a failed bind.
    /// </exception>
    public static UnixSocketFile Bind(Socket listener, string path, int backlog, SocketErrors.Server errors)
    {
        bool isFile = !path.StartsWith('\0');
        if (isFile)
        {
            ReplaceStaleSocket(path, listener.SocketType, errors);
        }

        try
        {
            listener.Bind(new UnownedEndPoint(new UnixDomainSocketEndPoint(path)));
        }
        catch (SocketException e)
        {
            throw SocketErrors.Listen(e, path, path, errors);
        }

        (ulong, ulong)? identity = isFile && TryDescribe(path, out FileKind kind, out ulong device, out ulong inode) && kind is (FileKind.Socket or FileKind.Unknown)
            ? (device, inode)
            : null;
        var file = new UnixSocketFile(path, identity);
        try
        {
            listener.Listen(backlog);
        }
        catch (SocketException e)
        {
            file.Remove();
            throw SocketErrors.Listen(e, path, path, errors);
        }

        return file;
    }

    /// <summary>Unlinks the socket file, if the path is still the socket this server bound.</summary>
    public void Remove()
    {
        if (_identity is not { } identity || !TryDescribe(Path, out FileKind kind, out ulong device, out ulong inode))
        {
            return;
        }

        // Without statx (not Linux) the inode is unknown: the path is removed as .NET itself would remove it.
        if ((kind == FileKind.Socket && device == identity.Device && inode == identity.Inode) || (kind == FileKind.Unknown && !Directory.Exists(Path)))
        {
            TryUnlink(Path);
        }
    }

    private static void ReplaceStaleSocket(string path, SocketType type, SocketErrors.Server errors)
    {
        if (!TryDescribe(path, out FileKind kind, out ulong device, out ulong inode))
        {
            return; // nothing there (or the directory is missing: the bind says so)
        }

        if (kind == FileKind.Unknown)
        {
            // No statx (not Linux): the type cannot be checked without following links, so nothing is replaced.
            throw new DeviceException(DeviceErrorIds.Socket.PathExists, DeviceErrorCategory.ResourceExists,
                $"Cannot listen on '{path}': it exists. Remove it first if it is a socket left by a server that was stopped abruptly.",
                errors.DeviceName);
        }

        if (kind != FileKind.Socket)
        {
            throw new DeviceException(DeviceErrorIds.Socket.PathNotSocket, DeviceErrorCategory.ResourceExists,
                $"Cannot listen on '{path}': it exists and is {Describe(kind)}, not a socket; it was left untouched. Choose another path.",
                errors.DeviceName);
        }

        // Probed with the listener's own type. Only a refused connect means nobody listens: a live listener of
        // another type (a stream probe meeting the loopback hypervisor's seqpacket socket) answers EPROTOTYPE, and a
        // socket that may not be connected to (EACCES) cannot be told stale; both are left alone.
        using (var probe = new Socket(AddressFamily.Unix, type, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: the leftover of a server that was killed. Replace it only if it is still that socket.
                if (TryDescribe(path, out FileKind now, out ulong nowDevice, out ulong nowInode)
                    && now == FileKind.Socket && nowDevice == device && nowInode == inode)
                {
                    TryUnlink(path);
                }

                return;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
            {
                return; // removed meanwhile (ENOENT): nothing to replace
            }
            catch (SocketException)
            {
                // Alive with another type, or not ours to probe: refused below.
            }
        }

        throw new DeviceException(errors.InUseId, DeviceErrorCategory.ResourceExists,
            $"Cannot listen on '{path}': another server listens on that socket.", errors.DeviceName);
    }

    private static void TryUnlink(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The bind that follows reports the path in use.
        }
    }

    private static string Describe(FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.Fifo => "a fifo",
        FileKind.Device => "a device node",
        _ => "a file",
    };

    /// <summary>
    /// What is at <paramref name="path"/>, without following a final symbolic link; false when nothing is (or the
    /// path cannot be looked at). Without statx (not Linux) an existing path is <see cref="FileKind.Unknown"/>.
    /// </summary>
    internal static bool TryDescribe(string path, out FileKind kind, out ulong device, out ulong inode)
    {
        device = 0;
        inode = 0;
        if (!OperatingSystem.IsLinux())
        {
            bool exists = File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;
            kind = exists ? FileKind.Unknown : FileKind.None;
            return exists;
        }

        if (Unix.StatXPath(Unix.AT_FDCWD, path, Unix.AT_SYMLINK_NOFOLLOW, Unix.STATX_TYPE | Unix.STATX_INO, out Unix.StatX stat) != 0)
        {
            kind = FileKind.None;
            _ = Marshal.GetLastPInvokeError();
            return false;
        }

        device = ((ulong)stat.DeviceMajor << 32) | stat.DeviceMinor;
        inode = stat.Inode;
        kind = (stat.Mode & Unix.S_IFMT) switch
        {
            Unix.S_IFSOCK => FileKind.Socket,
            Unix.S_IFREG => FileKind.Regular,
            Unix.S_IFDIR => FileKind.Directory,
            Unix.S_IFLNK => FileKind.SymbolicLink,
            Unix.S_IFIFO => FileKind.Fifo,
            Unix.S_IFCHR or Unix.S_IFBLK => FileKind.Device,
            _ => FileKind.Unknown,
        };
        return true;
    }

    /// <summary>
    /// A unix socket address that .NET does not take as its own: a socket bound to a
    /// <see cref="UnixDomainSocketEndPoint"/> unlinks its path when disposed, whatever is there by then (another
    /// server's socket, a file someone put there). Bound through this wrapper, the path is left to
    /// <see cref="Remove"/>, which checks it first.
    /// </summary>
    private sealed class UnownedEndPoint(UnixDomainSocketEndPoint address) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Unix;

        public override SocketAddress Serialize() => address.Serialize();

        public override EndPoint Create(SocketAddress socketAddress) => address.Create(socketAddress);

        public override string ToString() => address.ToString();
    }

    /// <summary>The kinds of file a socket path may hold.</summary>
    internal enum FileKind
    {
        None,
        Unknown,
        Socket,
        Regular,
        Directory,
        SymbolicLink,
        Fifo,
        Device,
    }
}
