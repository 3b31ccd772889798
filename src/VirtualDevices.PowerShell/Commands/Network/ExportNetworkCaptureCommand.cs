using VirtualDevices.Network;
using VirtualDevices.Network.Capture;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Writes frames from the pipeline to a pcapng file that tshark and Wireshark read.</para>
/// </summary>
[Cmdlet(VerbsData.Export, "NetworkCapture", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Export-NetworkCapture.md")]
[OutputType(typeof(FileInfo))]
public sealed class ExportNetworkCaptureCommand : PSCmdlet, IDisposable
{
    private readonly Dictionary<string, int> _interfaces = new(StringComparer.Ordinal);
    private PcapNgWriter? _writer;
    private string? _path;

    /// <summary>The pcapng file to write.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The frames, from Receive-NetworkFrame, Import-NetworkCapture or New-NetworkFrame.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public EthernetFrame[] InputObject { get; set; } = null!;

    /// <summary>Replace the file if it exists (without it, an existing file is refused and left untouched).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the file's FileInfo when done.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing()
    {
        _path = GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(_path, Force ? "Write a pcapng capture (replacing the file if it exists)" : "Write a pcapng capture"))
        {
            return;
        }

        try
        {
            _writer = PcapNgWriter.Create(_path, Force);
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            WriteError(ErrorRecords.FromException(e, _path)); // nothing is written: the frames that come are ignored
        }
    }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (_writer is null)
        {
            return;
        }

        foreach (EthernetFrame frame in InputObject)
        {
            // One interface per device, in the order the devices first appear (a built frame has none: "frames").
            string device = frame.Device.Length == 0 ? "frames" : frame.Device;
            if (!_interfaces.TryGetValue(device, out int id))
            {
                id = Write(() => _writer.AddInterface(device));
                if (_writer is null)
                {
                    return;
                }

                _interfaces.Add(device, id);
            }

            Write(() =>
            {
                _writer.WriteFrame(id, frame.UnixTimeNanoseconds, frame.Direction, frame.Data);
                return 0;
            });
            if (_writer is null)
            {
                return; // the file failed: reported once, the rest ignored
            }
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (_writer is null)
        {
            return;
        }

        bool written = Write(() =>
        {
            _writer.Dispose();
            return 0;
        }) == 0 && _writer is not null;
        _writer = null;
        if (written && PassThru)
        {
            WriteObject(new FileInfo(_path!));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            _writer?.Dispose(); // stopped (Ctrl+C) or failed: what was written stays, in whole blocks
        }
        catch (CaptureFileException)
        {
        }

        _writer = null;
    }

    /// <summary>Runs a write; a failure is reported once (the blocks written before stay whole) and ends the writing.</summary>
    private int Write(Func<int> write)
    {
        try
        {
            return write();
        }
        catch (CaptureFileException e)
        {
            WriteError(ErrorRecords.FromException(e, _path));
            Dispose();
            return -1;
        }
    }
}
