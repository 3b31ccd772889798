namespace VirtualDevices.Block;

/// <summary>
/// A device whose reads can complete on its own I/O thread (an NBD connection's reading thread) instead of the
/// thread pool, for internal callers whose continuation does a bounded piece of work and never waits for the device:
/// a copy that writes the data where it goes while it is still in the cache of the thread that received it.
/// </summary>
internal interface IInlineCompletionReader
{
    /// <summary>
    /// Reads like <see cref="IBlockDevice.ReadAsync(long, Memory{byte}, CancellationToken)"/>, but the caller's
    /// continuation may run on the device's I/O thread.
    /// </summary>
    ValueTask ReadCompletingInlineAsync(long sector, Memory<byte> buffer, CancellationToken cancellationToken);
}
