namespace VirtualDevices.PowerShell.Tests;

/// <summary>The binding sweep of the block device commands.</summary>
public sealed class BlockDeviceBindingTests
{
    public static TheoryData<SweepCase> Cases() => BindingSweepTests.Cases("BlockDevice");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binds(SweepCase id) => BindingSweepTests.Binds(id);
}

/// <summary>The binding sweep of the statistics commands.</summary>
public sealed class DeviceStatsBindingTests
{
    public static TheoryData<SweepCase> Cases() => BindingSweepTests.Cases("DeviceStats");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binds(SweepCase id) => BindingSweepTests.Binds(id);
}

/// <summary>The binding sweep of the NBD commands.</summary>
public sealed class NbdBindingTests
{
    public static TheoryData<SweepCase> Cases() => BindingSweepTests.Cases("Nbd");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binds(SweepCase id) => BindingSweepTests.Binds(id);
}

/// <summary>The binding sweep of the xenstore item commands (Get/New/Remove/Set-XenstoreItem).</summary>
public sealed class XenstoreItemBindingTests
{
    public static TheoryData<SweepCase> Cases() => BindingSweepTests.Cases("XenstoreItem");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binds(SweepCase id) => BindingSweepTests.Binds(id);
}

/// <summary>The binding sweep of the other xenstore commands (permissions, watches, stores, servers).</summary>
public sealed class XenstoreBindingTests
{
    public static TheoryData<SweepCase> Cases() => BindingSweepTests.Cases("Xenstore");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binds(SweepCase id) => BindingSweepTests.Binds(id);
}

/// <summary>The binding sweep of the network frame and capture commands.</summary>
public sealed class NetworkBindingTests
{
    public static TheoryData<SweepCase> Cases() => BindingSweepTests.Cases("Network");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binds(SweepCase id) => BindingSweepTests.Binds(id);
}

/// <summary>The binding sweep of the loopback hypervisor commands (hypervisors, joined domains, listings).</summary>
public sealed class XenLoopbackBindingTests
{
    public static TheoryData<SweepCase> Cases() => BindingSweepTests.Cases("Xen");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binds(SweepCase id) => BindingSweepTests.Binds(id);
}
