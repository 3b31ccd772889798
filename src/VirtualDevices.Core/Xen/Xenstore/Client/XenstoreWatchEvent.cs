namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>A watch firing: the path that changed (at or below the watched path) and the watch's token.</summary>
/// <param name="Path">The changed path; relative when the watch was registered with a relative path.</param>
/// <param name="Token">The token the watch was registered with.</param>
public readonly record struct XenstoreWatchEvent(string Path, string Token);
