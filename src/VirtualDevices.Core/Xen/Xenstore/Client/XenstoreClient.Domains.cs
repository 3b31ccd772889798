using System.Globalization;
using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <content>The domain and control requests.</content>
public sealed partial class XenstoreClient
{
    /// <summary>The home path of a domain, <c>/local/domain/&lt;id&gt;</c>, as the daemon reports it.</summary>
    public ValueTask<string> GetDomainPathAsync(int domainId, CancellationToken cancellationToken = default) =>
        RequestAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.GetDomainPath, 0, Number(domainId)), null, ParseText, missingIsDefault: false, cancellationToken);

    /// <summary>True if the daemon talks to the domain (dom0 always).</summary>
    public ValueTask<bool> IsDomainIntroducedAsync(int domainId, CancellationToken cancellationToken = default) =>
        RequestAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.IsDomainIntroduced, 0, Number(domainId)), null, static p => p.Length > 0 && p[0] == (byte)'T', missingIsDefault: false, cancellationToken);

    /// <summary>INTRODUCE (dom0 only): tells the daemon about a new domain's ring page and event channel.</summary>
    public ValueTask IntroduceDomainAsync(int domainId, ulong ringFrame, uint eventChannel, CancellationToken cancellationToken = default) =>
        CommandAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.Introduce, 0, Number(domainId), ringFrame.ToString(CultureInfo.InvariantCulture),
            eventChannel.ToString(CultureInfo.InvariantCulture)), null, cancellationToken);

    /// <summary>RELEASE (dom0 only): tells the daemon to stop talking to a domain; fires <c>@releaseDomain</c>.</summary>
    public ValueTask ReleaseDomainAsync(int domainId, CancellationToken cancellationToken = default) =>
        CommandAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.Release, 0, Number(domainId)), null, cancellationToken);

    /// <summary>RESUME (dom0 only): re-arms <c>@releaseDomain</c> for a domain.</summary>
    public ValueTask ResumeDomainAsync(int domainId, CancellationToken cancellationToken = default) =>
        CommandAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.Resume, 0, Number(domainId)), null, cancellationToken);

    /// <summary>SET_TARGET (dom0 only): lets <paramref name="domainId"/> act with <paramref name="targetDomainId"/>'s rights.</summary>
    public ValueTask SetTargetAsync(int domainId, int targetDomainId, CancellationToken cancellationToken = default) =>
        CommandAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.SetTarget, 0, Number(domainId), Number(targetDomainId)), null, cancellationToken);

    /// <summary>RESET_WATCHES: drops every watch and transaction of this connection; local watches end.</summary>
    public async ValueTask ResetWatchesAsync(CancellationToken cancellationToken = default)
    {
        await CommandAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.ResetWatches, 0, ""), null, cancellationToken).ConfigureAwait(false);
        XenstoreWatch[] watches;
        lock (_watches)
        {
            watches = [.. _watches.Values];
            _watches.Clear();
        }

        foreach (XenstoreWatch watch in watches)
        {
            watch.Complete();
        }
    }

    /// <summary>CONTROL (formerly DEBUG; dom0 only): a daemon-specific command such as <c>help</c> or <c>check</c>.</summary>
    /// <returns>The daemon's answer as text.</returns>
    public ValueTask<string> ControlAsync(string command, params string[] arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ArgumentNullException.ThrowIfNull(arguments);
        return RequestAsync(OutgoingMessage.BuildStrings(XenstoreMessageType.Control, 0, [command, .. arguments]), null, ParseText, missingIsDefault: false, CancellationToken.None);
    }

    private static string ParseText(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? payload : payload[..nul]);
    }

    private static string Number(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return value.ToString(CultureInfo.InvariantCulture);
    }
}
