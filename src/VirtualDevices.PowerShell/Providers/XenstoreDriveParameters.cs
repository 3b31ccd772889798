namespace VirtualDevices.PowerShell.Providers;

/// <summary>The dynamic parameters New-PSDrive takes for a Xenstore drive.</summary>
public sealed class XenstoreDriveParameters
{
    /// <summary>The unix socket of the xenstore the drive shows (the drive opens, and closes, its own connection).</summary>
    [Parameter]
    public string? SocketPath { get; set; }

    /// <summary>A connection from Connect-Xenstore for the drive to show.</summary>
    [Parameter]
    public XenstoreClient? Store { get; set; }
}
