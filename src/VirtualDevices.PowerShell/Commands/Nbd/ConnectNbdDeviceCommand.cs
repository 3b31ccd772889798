namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Connects to an NBD export and opens it as a block device for the rest of the session.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "NbdDevice", DefaultParameterSetName = UriSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Connect-NbdDevice.md")]
[OutputType(typeof(NbdBlockDevice))]
public sealed class ConnectNbdDeviceCommand : NbdClientCommand
{
    /// <summary>The export to connect to (default: the server's default export, ""); with -Uri, overrides the URI's.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? ExportName { get; set; }

    /// <summary>Connections to open when the server allows several (multi-conn); requests are spread over them.</summary>
    [Parameter]
    [ValidateRange(1, 16)]
    public int Connections { get; set; } = 1;

    /// <summary>The device's name in the session (default nbdN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        NbdClientOptions options;
        try
        {
            options = BuildOptions(ExportName) with { Connections = Connections, DeviceName = Name };
        }
        catch (Exception e) when (e is DeviceException or FormatException or ArgumentException)
        {
            WriteError(Infrastructure.ErrorRecords.FromException(e, TargetName));
            return;
        }

        Run(async cancellationToken =>
        {
            // A failed connect gives its default name back to the host (nbd0, nbd1... name devices that exist).
            NbdBlockDevice device = await SessionHost.AddDeviceAsync("nbd", Name, (name, ct) => NbdClient.ConnectAsync(options with { DeviceName = name }, ct), cancellationToken).ConfigureAwait(false);

            if (device.Info.TrailingBytes > 0)
            {
                // An export size that is not a multiple of the server's minimum block size: the protocol lets no request
                // reach the last partial block, so copies of the device lack it. Say so rather than cut it silently.
                EmitWarning(Infrastructure.BlockDeviceLease.TrailingBytesWarning(device));
            }

            Emit(device);
        }, TargetName);
    }
}
