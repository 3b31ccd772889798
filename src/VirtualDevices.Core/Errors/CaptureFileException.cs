namespace VirtualDevices;

/// <summary>
/// A capture file (pcap or pcapng) that cannot be read or written as asked: cut short (<c>CaptureTruncated</c>), not a
/// capture or broken (<c>CaptureInvalidFormat</c>), of a link type other than Ethernet, already there
/// (<c>CaptureFileExists</c>), or failing on write (<c>CaptureWriteFailed</c>).
/// </summary>
public sealed class CaptureFileException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="errorId">One of <see cref="DeviceErrorIds.Capture"/>.</param>
    /// <param name="category">The kind of failure.</param>
    /// <param name="path">The file, or null for a stream without one.</param>
    /// <param name="offset">The byte offset where the problem was found.</param>
    /// <param name="framesRead">The frames read (or written) before it.</param>
    /// <param name="message">A sentence for the user.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public CaptureFileException(string errorId, DeviceErrorCategory category, string? path, long offset, long framesRead, string message, Exception? innerException = null)
        : base(errorId, category, message, null, innerException)
    {
        Path = path;
        Offset = offset;
        Frames = framesRead;
    }

    /// <summary>The capture file, or null.</summary>
    public string? Path { get; }

    /// <summary>The byte offset in the file where the problem was found.</summary>
    public long Offset { get; }

    /// <summary>The frames read (or written) before the problem: none of them is lost.</summary>
    public long Frames { get; }
}
