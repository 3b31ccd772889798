namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Lists the exports of an NBD server, with their size, flags and block-size constraints.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "NbdExport", DefaultParameterSetName = UriSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-NbdExport.md")]
[OutputType(typeof(NbdExportInfo))]
public sealed class GetNbdExportCommand : NbdClientCommand
{
    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        NbdClientOptions options;
        try
        {
            options = BuildOptions();
        }
        catch (Exception e) when (Infrastructure.ErrorRecords.IsReportable(e))
        {
            WriteError(Infrastructure.ErrorRecords.FromException(e, TargetName));
            return;
        }

        Run(async cancellationToken =>
        {
            foreach (NbdExportInfo export in await NbdClient.ListExportsAsync(options, cancellationToken).ConfigureAwait(false))
            {
                await EmitAsync(export).ConfigureAwait(false);
            }
        }, TargetName);
    }
}
