namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// What <see cref="DeviceTransformationAttribute"/> binds for a name that no device of the session has. Throwing from
/// the transformation would make an unknown name a terminating ParameterArgumentTransformationError, which
/// -ErrorAction cannot silence (so <c>Close-BlockDevice gone -ErrorAction SilentlyContinue</c> still failed); the
/// command instead meets this placeholder and writes a non-terminating DeviceNotFound error for it
/// (<see cref="Report"/>). Every operation on it fails with that same error, so a command that forgot to check still
/// reports the right thing.
/// </summary>
internal sealed class UnknownDevice(string name) : IBlockDevice
{
    public string Name { get; } = name;

    public DeviceKind Kind => DeviceKind.Block;

    public string Driver => "none";

    public string Location => string.Empty;

    public bool IsConnected => false;

    public BlockDeviceInfo Info => throw Error;

    /// <summary>The error this name stands for.</summary>
    public DeviceNotFoundException Error => new(Name, $"No device named '{Name}' is open in this session. Get-BlockDevice lists them.", null);

    event EventHandler? IDevice.Disconnected
    {
        add { }
        remove { }
    }

    /// <summary>Writes the DeviceNotFound error when <paramref name="device"/> is a name that matched nothing.</summary>
    /// <param name="cmdlet">The command, on its pipeline thread.</param>
    /// <param name="device">A device as bound.</param>
    /// <returns>True when the error was written (skip the device).</returns>
    public static bool Report(Cmdlet cmdlet, IDevice device)
    {
        if (device is not UnknownDevice unknown)
        {
            return false;
        }

        cmdlet.WriteError(ErrorRecords.FromException(unknown.Error, unknown.Name));
        return true;
    }

    public DeviceStatistics GetStatistics() => throw Error;

    public void ResetStatistics() => throw Error;

    public ValueTask DisconnectAsync(CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public ValueTask ReadAsync(long sector, Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask ReadAsync(long sector, IReadOnlyList<Memory<byte>> buffers, CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask WriteAsync(long sector, ReadOnlyMemory<byte> buffer, BlockWriteOptions options = BlockWriteOptions.None, CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask WriteAsync(long sector, IReadOnlyList<ReadOnlyMemory<byte>> buffers, BlockWriteOptions options = BlockWriteOptions.None, CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask TrimAsync(long sector, long count, CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask WriteZeroesAsync(long sector, long count, WriteZeroesOptions options = WriteZeroesOptions.None, CancellationToken cancellationToken = default) => ValueTask.FromException(Error);

    public ValueTask<int> GetAllocationAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken = default) => ValueTask.FromException<int>(Error);

    public override string ToString() => Name;
}
