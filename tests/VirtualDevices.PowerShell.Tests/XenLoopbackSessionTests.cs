using System.Management.Automation;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// The loopback hypervisor between two sessions of the hosted engine: the first runs it and is dom0, the second joins
/// through its socket as domain 1 and grants a page and allocates a port; the first lists them. Each session's
/// hypervisor and memberships end with the session (its host closes them): the second's domain leaves when it closes,
/// and the first's hypervisor stops and removes its socket when it closes.
/// </summary>
public sealed class XenLoopbackSessionTests
{
    [Fact]
    public void ASecondSessionIsDomainOneAndWhatItDoesIsListedInTheFirst()
    {
        // Outside the session's directory, which goes with the session: the socket's removal is checked after that.
        DirectoryInfo directory = Directory.CreateTempSubdirectory("vd-xl-");
        try
        {
            Run(Path.Combine(directory.FullName, "xl.sock"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static void Run(string socket)
    {
        using EngineSession first = EngineSession.Open();
        first.RunClean("$hv = Start-XenLoopbackHypervisor -SocketPath $args[0] -Name xl; $dom0 = $hv | Join-XenLoopbackHypervisor -DomainId 0", socket);

        using (EngineSession second = EngineSession.Open())
        {
            PSObject joined = Assert.Single(second.RunClean("$d = Join-XenLoopbackHypervisor -SocketPath $args[0]; $pages = $d.Grant(0, 1, 'ReadWrite'); $port = $d.AllocateUnbound(0); $d", socket));
            Assert.Equal((ushort)1, joined.Properties["DomainId"].Value);
            Assert.Equal("xen-join0", joined.Properties["Name"].Value);

            Assert.Equal("0,1", Assert.Single(first.RunClean("(Get-XenDomain).DomainId -join ','")).ToString());
            Assert.Equal("1>0 rw 8", Assert.Single(first.RunClean("Get-XenGrant -DomainId 1 | ForEach-Object { '{0}>{1} {2} {3}' -f $_.Granter, $_.Grantee, $(if ($_.ReadOnly) { 'ro' } else { 'rw' }), $_.Reference }")).ToString());
            Assert.Equal("1 0 0", Assert.Single(first.RunClean("Get-XenEventChannel | ForEach-Object { '{0} {1} {2}' -f $_.DomainId, $_.RemoteDomain, $_.RemotePort }")).ToString());

            // Nothing of the hypervisor in the second session: it only joined.
            Assert.Empty(second.RunClean("Get-XenLoopbackHypervisor"));
            Assert.Empty(second.RunClean("Get-XenDomain"));
        }

        // The second session closed: its domain left, its grant and port went (the hypervisor hears it at once; bounded wait).
        Assert.Equal("0", Assert.Single(first.RunClean(
            "$deadline = [DateTime]::UtcNow.AddSeconds(10); while ((Get-XenDomain).Count -gt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }; (Get-XenDomain).DomainId -join ','")).ToString());
        Assert.Empty(first.RunClean("Get-XenGrant"));
        Assert.Empty(first.RunClean("Get-XenEventChannel"));
        Assert.True(File.Exists(socket));
        first.Dispose();
        Assert.False(File.Exists(socket));
    }
}
