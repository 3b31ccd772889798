using System.Net;
using VirtualDevices.Network;
using VirtualDevices.Network.Frames;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Builds an Ethernet frame to send: an ARP request or reply, an ICMP echo, or a raw EtherType payload.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "NetworkFrame", DefaultParameterSetName = RawSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.None, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/New-NetworkFrame.md")]
[OutputType(typeof(EthernetFrame))]
public sealed class NewNetworkFrameCommand : PSCmdlet
{
    private const string RawSet = "Raw";
    private const string ArpSet = "Arp";
    private const string IcmpSet = "IcmpEcho";

    /// <summary>An ARP frame: Request (who has -DestinationAddress? tell -SourceAddress; broadcast) or Reply (-SourceAddress is at -Source; to -Destination).</summary>
    [Parameter(Mandatory = true, ParameterSetName = ArpSet)]
    public ArpOperation Arp { get; set; }

    /// <summary>An ICMP echo request in IPv4 (an echo reply with -Reply), with correct checksums.</summary>
    [Parameter(Mandatory = true, ParameterSetName = IcmpSet)]
    public SwitchParameter IcmpEcho { get; set; }

    /// <summary>The EtherType of a raw frame (0x0600 or more; for instance 0x88B5, for local experiments).</summary>
    [Parameter(Mandatory = true, ParameterSetName = RawSet)]
    public ushort EtherType { get; set; }

    /// <summary>The source MAC address (the sender's, for ARP).</summary>
    [Parameter(Mandatory = true)]
    public MacAddress Source { get; set; }

    /// <summary>The destination MAC address: for a raw frame the broadcast address by default; for an ARP reply the asker's.</summary>
    [Parameter(ParameterSetName = RawSet)]
    [Parameter(ParameterSetName = ArpSet)]
    [Parameter(Mandatory = true, ParameterSetName = IcmpSet)]
    public MacAddress Destination { get; set; } = MacAddress.Broadcast;

    /// <summary>The source IPv4 address (ARP: the sender's).</summary>
    [Parameter(Mandatory = true, ParameterSetName = ArpSet)]
    [Parameter(Mandatory = true, ParameterSetName = IcmpSet)]
    public IPAddress SourceAddress { get; set; } = null!;

    /// <summary>The destination IPv4 address (ARP: the address asked for, or the asker's in a reply).</summary>
    [Parameter(Mandatory = true, ParameterSetName = ArpSet)]
    [Parameter(Mandatory = true, ParameterSetName = IcmpSet)]
    public IPAddress DestinationAddress { get; set; } = null!;

    /// <summary>An echo reply (type 0) instead of a request.</summary>
    [Parameter(ParameterSetName = IcmpSet)]
    public SwitchParameter Reply { get; set; }

    /// <summary>The echo identifier (default 1).</summary>
    [Parameter(ParameterSetName = IcmpSet)]
    public ushort Identifier { get; set; } = 1;

    /// <summary>The echo sequence number (default 1).</summary>
    [Parameter(ParameterSetName = IcmpSet)]
    public ushort Sequence { get; set; } = 1;

    /// <summary>The IPv4 time to live (default 64).</summary>
    [Parameter(ParameterSetName = IcmpSet)]
    public byte TimeToLive { get; set; } = 64;

    /// <summary>The payload: the echo data, or the raw frame's payload (frames under 60 bytes are padded with zeros).</summary>
    [Parameter(ParameterSetName = RawSet)]
    [Parameter(ParameterSetName = IcmpSet)]
    public byte[] Payload { get; set; } = [];

    /// <summary>A VLAN id to tag a raw frame with (0-4095).</summary>
    [Parameter(ParameterSetName = RawSet)]
    [ValidateRange(0, 4095)]
    public int VlanId { get; set; }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        // Nothing changes (the frame is only built), so it never asks; -WhatIf still shows it without building it.
        if (!ShouldProcess(ParameterSetName, "Build a frame"))
        {
            return;
        }

        byte[] frame;
        try
        {
            frame = ParameterSetName switch
            {
                ArpSet => FrameBuilder.Arp(Arp, Source, SourceAddress, Arp == ArpOperation.Request ? MacAddress.Zero : Destination, DestinationAddress),
                IcmpSet => FrameBuilder.IcmpEcho(Destination, Source, SourceAddress, DestinationAddress, Identifier, Sequence, Payload, Reply, TimeToLive),
                _ => FrameBuilder.Raw(Destination, Source, EtherType, Payload, MyInvocation.BoundParameters.ContainsKey(nameof(VlanId)) ? VlanId : null),
            };
        }
        catch (ArgumentException e)
        {
            WriteError(ErrorRecords.FromException(e, null));
            return;
        }

        long now = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
        WriteObject(new EthernetFrame(string.Empty, now, FrameDirection.Outbound, frame));
    }
}
