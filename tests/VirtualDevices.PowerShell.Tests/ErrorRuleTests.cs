using System.Management.Automation;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// The one rule of the PowerShell layer (<c>ErrorRecords.Classify</c> and <c>FromException</c>), asked in the engine
/// for each kind of failure: what it is to a command (the input's error, a stop, a defect), and the id and category
/// of its record. The sweep (<see cref="ErrorRecordSweepTests"/>) checks the commands that follow it.
/// </summary>
public sealed class ErrorRuleTests
{
    /// <summary>A failure (a PowerShell expression), whether the pipeline is stopping, and what the rule must make of it.</summary>
    public static TheoryData<string, bool, string, string, ErrorCategory> Cases => new()
    {
        { "[VirtualDevices.BlockReadOnlyException]::new('d', 'write')", false, "Reportable", "BlockReadOnly", ErrorCategory.PermissionDenied },
        { "[VirtualDevices.DeviceException]::new('DeviceLocked', 'ResourceBusy', 'locked')", false, "Reportable", "DeviceLocked", ErrorCategory.ResourceBusy },
        { "[VirtualDevices.DeviceException]::new('DeviceUnknownError', 'NotSpecified', 'odd')", false, "Reportable", "DeviceUnknownError", ErrorCategory.NotSpecified },
        { "[VirtualDevices.Xen.Xenstore.XenstoreException]::new('ETIMEDOUT', 'late')", false, "Reportable", "XenstoreWaitTimeout", ErrorCategory.OperationTimeout },
        { "[ArgumentException]::new('bad')", false, "Reportable", "InvalidArgument", ErrorCategory.InvalidArgument },
        { "[FormatException]::new('bad')", false, "Reportable", "InvalidFormat", ErrorCategory.InvalidArgument },
        { "[Security.Cryptography.CryptographicException]::new('bad key')", false, "Reportable", "CertificateError", ErrorCategory.SecurityError },
        { "[UnauthorizedAccessException]::new('no')", false, "Reportable", "AccessDenied", ErrorCategory.PermissionDenied },
        { "[IO.FileNotFoundException]::new('gone')", false, "Reportable", "FileNotFound", ErrorCategory.ObjectNotFound },
        { "[IO.DirectoryNotFoundException]::new('gone')", false, "Reportable", "FileNotFound", ErrorCategory.ObjectNotFound },
        { "[IO.IOException]::new('disk')", false, "Reportable", "IOError", ErrorCategory.WriteError },
        { "[TimeoutException]::new('late')", false, "Reportable", "OperationTimeout", ErrorCategory.OperationTimeout },
        { "[ObjectDisposedException]::new('nbd0')", false, "Reportable", "DeviceDisconnected", ErrorCategory.ConnectionError },
        { "$(try { Get-Item -LiteralPath /no/such/path -ErrorAction Stop } catch { $_.Exception })", false, "Reportable", "PathNotFound", ErrorCategory.ObjectNotFound },
        { "[OperationCanceledException]::new()", true, "Stopped", "", ErrorCategory.NotSpecified },
        { "[Management.Automation.PipelineStoppedException]::new()", false, "Stopped", "", ErrorCategory.NotSpecified },
        { "[OperationCanceledException]::new()", false, "Unexpected", "UnexpectedError", ErrorCategory.NotSpecified },
        { "[InvalidOperationException]::new('a defect')", false, "Unexpected", "UnexpectedError", ErrorCategory.NotSpecified },
        { "[NullReferenceException]::new()", false, "Unexpected", "UnexpectedError", ErrorCategory.NotSpecified },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachFailureIsDecidedInOnePlace(string failure, bool stopping, string disposition, string errorId, ErrorCategory category)
    {
        using EngineSession session = EngineSession.Open();
        IReadOnlyList<PSObject> result = session.RunClean($$"""
            $e = {{failure}}
            $rules = [VirtualDevices.PowerShell.Infrastructure.ErrorRecords]
            $rules::Classify($e, ${{stopping.ToString().ToLowerInvariant()}}).ToString()
            if ($rules::Classify($e, ${{stopping.ToString().ToLowerInvariant()}}) -ne 'Stopped') {
                $r = $rules::FromException($e, 'target')
                ($r.FullyQualifiedErrorId -split ',')[0]
                $r.CategoryInfo.Category.ToString()
            }
            """);
        Assert.Equal(disposition, result[0].BaseObject);
        if (disposition != "Stopped")
        {
            Assert.Equal(errorId, result[1].BaseObject);
            Assert.Equal(category.ToString(), result[2].BaseObject);
        }
    }
}
