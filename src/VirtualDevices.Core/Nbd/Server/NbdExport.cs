using VirtualDevices.Block;

namespace VirtualDevices.Nbd.Server;

/// <summary>A block device offered by an <see cref="NbdServer"/> under a name. The server never disposes the device.</summary>
public sealed class NbdExport
{
    /// <summary>Describes an export.</summary>
    /// <param name="name">The export's name; empty for the default export.</param>
    /// <param name="device">The device served.</param>
    /// <param name="description">Shown by <c>nbdinfo --list</c>; optional.</param>
    /// <param name="readOnly">Refuse writes even if the device allows them.</param>
    public NbdExport(string name, IBlockDevice device, string? description = null, bool readOnly = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(device);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > 4096 || name.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("An export name is at most 4096 bytes of UTF-8 without NUL.", nameof(name));
        }

        Name = name;
        Device = device;
        Description = description ?? "";
        ReadOnly = readOnly || device.Info.ReadOnly;
    }

    /// <summary>The export's name.</summary>
    public string Name { get; }

    /// <summary>The device served.</summary>
    public IBlockDevice Device { get; }

    /// <summary>A description for people.</summary>
    public string Description { get; }

    /// <summary>True when writes, trims and zeroing are refused.</summary>
    public bool ReadOnly { get; }

    /// <inheritdoc/>
    public override string ToString() => $"'{Name}' -> {Device}";
}
