namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Closes the session's xenstore connection (or the one given).</para>
/// </summary>
[Cmdlet(VerbsCommunications.Disconnect, "Xenstore", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Disconnect-Xenstore.md")]
[OutputType(typeof(void))]
public sealed class DisconnectXenstoreCommand : Infrastructure.AsyncCmdlet
{
    /// <summary>The connection to close (default: the session's).</summary>
    [Parameter(Position = 0, ValueFromPipeline = true)]
    public XenstoreClient? Store { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        XenstoreClient? store = Store ?? Session.Xenstore.Current;
        if (store is null || !ShouldProcess(store.Endpoint, "Disconnect"))
        {
            return;
        }

        Session.Xenstore.Remove(store);
        Run(async _ => await store.DisposeAsync().ConfigureAwait(false), store.Endpoint);
    }
}
