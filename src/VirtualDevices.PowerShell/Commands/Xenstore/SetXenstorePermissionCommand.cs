namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Sets the permissions of xenstore nodes, in xenstore-chmod notation.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "XenstorePermission", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Set-XenstorePermission.md")]
[OutputType(typeof(XenstoreItemPermissions))]
public sealed class SetXenstorePermissionCommand : XenstorePathCommand
{
    /// <summary>
    /// The permissions: the first entry gives the owner and the access of every other domain, the others the access of
    /// one domain each; n (none), r (read), w (write) or b (both) followed by a domain id, such as 'n0', 'r5'.
    /// </summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string[] Permission { get; set; } = null!;

    /// <summary>Write the permissions as they are after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        XenstorePermissions permissions;
        try
        {
            permissions = XenstorePermissions.Parse(Permission.SelectMany(p => p.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            ThrowTerminatingError(ErrorRecords.FromException(new ArgumentException(e.Message, nameof(Permission), e), Permission));
            return;
        }

        ForEachNode((store, path) =>
        {
            if (!ShouldProcess(path, $"Set permissions to {permissions}"))
            {
                return;
            }

            Run(async cancellationToken =>
            {
                await store.SetPermissionsAsync(path, permissions, cancellationToken).ConfigureAwait(false);
                if (PassThru)
                {
                    Emit(new XenstoreItemPermissions(path, await store.GetPermissionsAsync(path, cancellationToken).ConfigureAwait(false)));
                }
            }, path);
        });
    }
}
