namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets the permissions of xenstore nodes: owner, default access and per-domain access.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstorePermission", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstorePermission.md")]
[OutputType(typeof(XenstoreItemPermissions))]
public sealed class GetXenstorePermissionCommand : XenstorePathCommand
{
    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        ForEachNode((store, path) => Run(async cancellationToken =>
            Emit(new XenstoreItemPermissions(path, await store.GetPermissionsAsync(path, cancellationToken).ConfigureAwait(false))), path));
    }
}
