namespace VirtualDevices.Nbd.Protocol;

/// <summary>
/// The one translation between the NBD protocol's error values (<see cref="NbdErrno"/>, Linux errno numbers) and the
/// module's errors, both ways: the server replies to a failed request with <see cref="FromException"/>'s value, the
/// client turns an error reply into an exception with <see cref="ToException"/>. Each error that both roles know
/// survives the trip: a read-only device served gives <see cref="BlockReadOnlyException"/> to the client, an
/// unimplemented operation <see cref="DeviceUnimplementedException"/>, and so on.
/// </summary>
/// <remarks>
/// The same shape as the other protocol mappers (<see cref="ErrnoErrorMapper"/>, <c>Xen.Xenstore.XenstoreErrorMapper</c>).
/// Neither direction allocates beyond the exception it returns (the server's message is the exception's own).
/// </remarks>
internal static class NbdErrorMapper
{
    /// <summary>The error value and message a server replies with for a request that failed with <paramref name="error"/>.</summary>
    /// <param name="error">The failure of the device (or of the request's checks).</param>
    public static (int Errno, string Message) FromException(Exception error) => error switch
    {
        BlockReadOnlyException => (NbdErrno.EPERM, "read-only"),
        BlockOutOfRangeException or BlockMisalignedException => (NbdErrno.EINVAL, error.Message),
        DeviceUnimplementedException => (NbdErrno.ENOTSUP, error.Message),
        BlockIOException { ErrorNumber: NbdErrno.ENOSPC } => (NbdErrno.ENOSPC, error.Message),
        BlockIOException { ErrorNumber: NbdErrno.ENOMEM } => (NbdErrno.ENOMEM, error.Message),
        DeviceDisconnectedException => (NbdErrno.ESHUTDOWN, error.Message),
        _ => (NbdErrno.EIO, error.Message),
    };

    /// <summary>The exception for a server's error reply to a request.</summary>
    /// <param name="errno">The reply's error value.</param>
    /// <param name="message">The server's message (structured replies), if any.</param>
    /// <param name="deviceName">The client device.</param>
    /// <param name="command">The request's command.</param>
    /// <param name="flags">The request's flags.</param>
    /// <param name="offset">The request's first byte.</param>
    /// <param name="length">The request's length in bytes.</param>
    /// <param name="sectorSize">The device's sector size.</param>
    /// <param name="exportSize">The export's size in bytes.</param>
    public static DeviceException ToException(int errno, string? message, string? deviceName, NbdCommand command, NbdCommandFlags flags,
        long offset, long length, int sectorSize, long exportSize)
    {
        string operation = OperationName(command);
        int size = Math.Max(1, sectorSize);
        return errno switch
        {
            NbdErrno.EPERM or NbdErrno.EROFS => new BlockReadOnlyException(deviceName, operation),
            // The client checks ranges before sending, so EINVAL means the server found the request invalid for another
            // reason (flags, alignment, size); only a request that really ends past the export is out of range.
            NbdErrno.EINVAL or NbdErrno.EOVERFLOW when offset + length > exportSize =>
                new BlockOutOfRangeException(deviceName, offset / size, length / size, exportSize / size),
            NbdErrno.EINVAL or NbdErrno.EOVERFLOW => new DeviceException(DeviceErrorIds.Nbd.InvalidRequest, DeviceErrorCategory.InvalidArgument,
                $"The server refused the {operation} request at byte {offset} (+{length}) of '{deviceName}' as invalid: "
                + (message is { Length: > 0 } ? $"{NbdErrno.Name(errno)}: {message}" : NbdErrno.Name(errno)), deviceName),
            NbdErrno.ENOTSUP => new DeviceUnimplementedException(deviceName, (flags & NbdCommandFlags.FastZero) != 0 ? "fast zeroing" : operation),
            NbdErrno.ESHUTDOWN => new DeviceDisconnectedException(deviceName, "the server is shutting down"),
            _ => new BlockIOException(deviceName, operation, message is { Length: > 0 } ? $"{NbdErrno.Name(errno)}: {message}" : NbdErrno.Name(errno), errno),
        };
    }

    /// <summary>The operation a command performs, as error messages name it.</summary>
    /// <param name="command">The command.</param>
    public static string OperationName(NbdCommand command) => command switch
    {
        NbdCommand.Read => "read",
        NbdCommand.Write => "write",
        NbdCommand.Flush => "flush",
        NbdCommand.Trim => "trim",
        NbdCommand.WriteZeroes => "write-zeroes",
        NbdCommand.Cache => "cache",
        NbdCommand.BlockStatus => "block-status",
        _ => command.ToString(),
    };
}
