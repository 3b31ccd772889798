namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>The errors a request can fail with, named as the protocol carries them (xenstored's errno names).</summary>
internal enum ServerError
{
    /// <summary>No error: the handler has appended its reply.</summary>
    None,
    EINVAL,
    EACCES,
    EEXIST,
    ENOENT,
    ENOSPC,
    EAGAIN,
    E2BIG,
    EPERM,
    ENOSYS,
    EISCONN,
    ENOMEM,
}
