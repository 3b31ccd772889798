using System.Text;
using System.Threading.Tasks.Sources;
using VirtualDevices.IO;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// A xenstore request in flight: a slot of the connection's <see cref="RequestTable{TRequest}"/> (its id is the
/// header's req_id), the outgoing message built in place (so sending copies nothing) and the awaitable the caller
/// waits on. The reply is parsed on the reader thread, straight from its buffer, by the caller's parser through the
/// slot's typed view (<see cref="XsReplyView{T}"/>), into an <see cref="XsReply"/>.
/// </summary>
internal sealed class XsRequest : PooledRequest<XsReply>
{
    private XsReplyView?[] _views = new XsReplyView?[16];
    private XsReplyView? _view;
    private Delegate? _parser;
    private string? _defaultOnError;

    /// <summary>Makes the views of the hot replies (reads) with the slot, so that a slot first used for them allocates nothing.</summary>
    internal XsRequest()
    {
        ViewFor<byte[]>();
        ViewFor<string>();
        ViewFor<bool>();
    }

    /// <summary>Header and payload of the outgoing message; <see cref="MessageLength"/> bytes are valid.</summary>
    internal byte[] Message { get; } = new byte[XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax];

    internal int MessageLength { get; set; }

    internal XenstoreMessageType Type { get; private set; }

    internal string? Path { get; private set; }

    /// <summary>This slot's view for replies of type <typeparamref name="T"/> (made once per slot and type).</summary>
    internal XsReplyView<T> ViewFor<T>()
    {
        int index = XsReplyView<T>.TypeIndex;
        if (index >= _views.Length)
        {
            Array.Resize(ref _views, index + 4);
        }

        return (XsReplyView<T>)(_views[index] ??= new XsReplyView<T>(this));
    }

    /// <summary>Sets the use's fields (before <see cref="Start"/>); a null view means a command (its reply carries nothing).</summary>
    internal void Prepare(XenstoreMessageType type, string? path, XsReplyView? view, Delegate? parser, string? defaultOnError)
    {
        Type = type;
        Path = path;
        _view = view;
        _parser = parser;
        _defaultOnError = defaultOnError;
    }

    /// <summary>Puts the request in its table (under the client's send lock, just before it is sent).</summary>
    internal void Start(bool runContinuationsAsynchronously) => Begin(runContinuationsAsynchronously);

    /// <summary>Reader: parses the reply (or its error) and completes the request.</summary>
    internal void Complete(XenstoreMessageType type, ReadOnlySpan<byte> payload)
    {
        XsReply result = default;
        Exception? error = null;
        try
        {
            if (type == XenstoreMessageType.Error)
            {
                if (_defaultOnError is { } expected && IsErrorName(payload, expected))
                {
                    result = _view?.Default ?? default;
                }
                else
                {
                    error = XenstoreException.FromReply(ErrorText(payload), Type, Path);
                }
            }
            else if (type != Type)
            {
                error = new XenstoreException("EIO", $"xenstore answered a {Type} request with {type}.", Path);
            }
            else if (_view is not null)
            {
                result = _view.Parse(_parser!, payload);
            }
        }
        catch (Exception e)
        {
            error = e;
        }

        Reply(result, error);
    }

    /// <summary>Reader: fails the request with <paramref name="error"/> instead of parsing a reply it could not take (one over the client's bound).</summary>
    internal void Refuse(Exception error) => Reply(default, error);

    /// <summary>
    /// Gives up a request whose send failed (it is resent on the next connection as a new request): fails it, takes it
    /// out of the table and drops the caller's hold, which nobody else has, since its awaitable was never handed out.
    /// </summary>
    internal void Abandon(Exception error)
    {
        OnSent(error);
        try
        {
            ((IValueTaskSource)this).GetResult(Version);
        }
        catch (Exception)
        {
            // The failure just set: nobody waits for it.
        }
    }

    protected override void Clear()
    {
        _view = null;
        _parser = null;
        _defaultOnError = null;
        Path = null;
    }

    /// <summary>True if <paramref name="payload"/> is the error name <paramref name="name"/> (with or without its nul).</summary>
    private static bool IsErrorName(ReadOnlySpan<byte> payload, string name)
    {
        int nul = payload.IndexOf((byte)0);
        ReadOnlySpan<byte> text = nul < 0 ? payload : payload[..nul];
        if (text.Length != name.Length)
        {
            return false;
        }

        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != name[i])
            {
                return false;
            }
        }

        return true;
    }

    private static string ErrorText(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? payload : payload[..nul]);
    }
}
