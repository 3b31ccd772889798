namespace VirtualDevices.Xen.Xenstore;

/// <summary>A watch event as a pipeline object: when it arrived, what changed, and optionally the value after the change.</summary>
/// <param name="Timestamp">When the event arrived.</param>
/// <param name="NodePath">
/// The changed path (or the special path, such as <c>@releaseDomain</c>). Named as <see cref="XenstoreItem.NodePath"/>,
/// not Path, so that PowerShell's item cmdlets never take it for a file-system path.
/// </param>
/// <param name="Token">The watch's token.</param>
/// <param name="Exists">Whether the node exists after the change; null when not looked up.</param>
/// <param name="Value">The node's value after the change; null when not looked up or when it does not exist.</param>
public sealed record XenstoreChange(DateTimeOffset Timestamp, string NodePath, string Token, bool? Exists, string? Value)
{
    /// <summary>
    /// Changes dropped just before this one because the consumer lagged (the watch's buffer was full): nothing is lost
    /// without being counted, so the changes seen plus the sum of this property is every change that fired.
    /// </summary>
    public long DroppedBefore { get; init; }
}
