namespace VirtualDevices.Nbd.Protocol;

/// <summary>The error values of the NBD protocol (Linux errno numbers, whatever the host's are).</summary>
internal static class NbdErrno
{
    public const int EPERM = 1;
    public const int EIO = 5;
    public const int ENOMEM = 12;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int EOVERFLOW = 75;
    public const int ENOTSUP = 95;
    public const int ESHUTDOWN = 108;

    /// <summary>A short name for messages.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        EIO => "EIO",
        ENOMEM => "ENOMEM",
        EINVAL => "EINVAL",
        ENOSPC => "ENOSPC",
        EROFS => "EROFS",
        EOVERFLOW => "EOVERFLOW",
        ENOTSUP => "ENOTSUP",
        ESHUTDOWN => "ESHUTDOWN",
        _ => "error " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
