using VirtualDevices.Network.Capture;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Gets the background captures running in the session, with their frame and drop counts.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "NetworkCapture", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-NetworkCapture.md")]
[OutputType(typeof(NetworkCapture))]
public sealed class GetNetworkCaptureCommand : GetServerCommand<NetworkCapture>
{
    /// <inheritdoc/>
    protected override string ServerKind => "capture";

    /// <inheritdoc/>
    protected override object ServerOf(NetworkCapture service) => service;
}
