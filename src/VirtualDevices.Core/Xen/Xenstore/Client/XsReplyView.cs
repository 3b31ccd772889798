using System.Threading.Tasks.Sources;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>Parses a reply payload into a request's result (on the reader thread, straight from its buffer).</summary>
internal delegate T ReplyParser<T>(ReadOnlySpan<byte> payload);

/// <summary>
/// The typed face of an <see cref="XsRequest"/>: runs the request's parser on the reader thread and hands the caller
/// its <c>T</c>. One per request slot and reply type, made on first use and kept with the slot, so a round trip
/// allocates nothing.
/// </summary>
internal abstract class XsReplyView
{
    private static int s_types;

    /// <summary>Parses <paramref name="payload"/> with <paramref name="parser"/> (a <see cref="ReplyParser{T}"/> of this view's type).</summary>
    internal abstract XsReply Parse(Delegate parser, ReadOnlySpan<byte> payload);

    /// <summary>The default result (an error reply that means "missing").</summary>
    internal abstract XsReply Default { get; }

    /// <summary>A small number per reply type: the index of its view in a request's view array.</summary>
    private protected static int NextTypeIndex() => Interlocked.Increment(ref s_types) - 1;
}

/// <summary>The view for replies of type <typeparamref name="T"/>.</summary>
internal sealed class XsReplyView<T> : XsReplyView, IValueTaskSource<T>
{
    /// <summary>This type's index in <see cref="XsRequest"/>'s view array.</summary>
    internal static readonly int TypeIndex = NextTypeIndex();

    private readonly IValueTaskSource<XsReply> _request;

    internal XsReplyView(XsRequest request) => _request = request;

    internal override XsReply Default => XsReply.From<T>(default!);

    internal override XsReply Parse(Delegate parser, ReadOnlySpan<byte> payload) => XsReply.From(((ReplyParser<T>)parser)(payload));

    public T GetResult(short token) => _request.GetResult(token).As<T>();

    public ValueTaskSourceStatus GetStatus(short token) => _request.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _request.OnCompleted(continuation, state, token, flags);
}
