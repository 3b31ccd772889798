using VirtualDevices.Network;
using VirtualDevices.Network.Capture;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Reads the frames of pcap and pcapng files (tshark's, tcpdump's, Wireshark's or Export-NetworkCapture's) as frame objects.</para>
/// </summary>
[Cmdlet(VerbsData.Import, "NetworkCapture", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Import-NetworkCapture.md")]
[OutputType(typeof(EthernetFrame))]
public sealed class ImportNetworkCaptureCommand : PSCmdlet
{
    /// <summary>The capture files; wildcards are allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (string pattern in Path)
        {
            IEnumerable<string> files;
            try
            {
                files = GetResolvedProviderPathFromPSPath(pattern, out _);
            }
            catch (ItemNotFoundException e)
            {
                WriteError(new ErrorRecord(e, DeviceErrorIds.Framework.FileNotFound, ErrorCategory.ObjectNotFound, pattern));
                continue;
            }

            foreach (string file in files)
            {
                Read(file);
            }
        }
    }

    private void Read(string file)
    {
        try
        {
            using CaptureFileReader reader = CaptureFileReader.Open(file);
            foreach (EthernetFrame frame in reader.ReadFrames())
            {
                WriteObject(frame);
            }
        }
        catch (Exception e) when (e is not PipelineStoppedException && ErrorRecords.IsReportable(e))
        {
            // A file cut short: its frames before the cut were written; the error says where and how many.
            WriteError(ErrorRecords.FromException(e, file));
        }
    }
}
