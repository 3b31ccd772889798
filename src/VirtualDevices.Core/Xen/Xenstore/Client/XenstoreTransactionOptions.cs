namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>How <see cref="XenstoreClient.RunInTransactionAsync{T}"/> retries a transaction that conflicts (EAGAIN).</summary>
public sealed class XenstoreTransactionOptions
{
    /// <summary>The defaults: 32 attempts, back-off from 1 ms doubling up to 100 ms, with jitter.</summary>
    public static XenstoreTransactionOptions Default { get; } = new();

    /// <summary>Attempts before the EAGAIN is passed on (unlike the OCaml client, which retries forever).</summary>
    public int MaxAttempts { get; init; } = 32;

    /// <summary>The wait after the first conflict; doubled after each further one.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>The longest wait between attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMilliseconds(100);
}
