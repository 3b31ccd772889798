namespace VirtualDevices.IO.Buffers;

/// <summary>
/// The right to use one buffer of a <see cref="PageBufferPool"/> until <see cref="Dispose"/> gives it back. The buffer is
/// whole pages of native memory aligned on <see cref="PageBufferPool.PageSize"/>, so each page can be granted to
/// another domain or handed to a device as it is. A lease is a small value: copies share the one right, and the
/// first <see cref="Dispose"/> of any copy ends it; a second is detected (<see cref="InvalidOperationException"/>),
/// as is any use after it (<see cref="ObjectDisposedException"/>), even when the buffer has been leased again since.
/// Memory and spans taken from a lease must not be used after it is returned: nothing can stop them.
/// </summary>
public readonly struct PageLease : IDisposable, IEquatable<PageLease>
{
    private readonly PageBuffer? _buffer;
    private readonly int _generation;

    internal PageLease(PageBuffer buffer, int generation)
    {
        _buffer = buffer;
        _generation = generation;
    }

    /// <summary>True while the lease has not been returned (false for <c>default</c>).</summary>
    public bool IsValid => _buffer is not null && Volatile.Read(ref _buffer.Generation) == _generation;

    /// <summary>The buffer's size in bytes: <see cref="PageCount"/> pages.</summary>
    public int Length => Buffer.Length;

    /// <summary>How many pages the buffer spans.</summary>
    public int PageCount => Buffer.Length / PageBufferPool.PageSize;

    /// <summary>The buffer's first byte, a multiple of <see cref="PageBufferPool.PageSize"/> (for grants and device I/O).</summary>
    public nint Address => Buffer.Address;

    /// <summary>The pool the buffer belongs to.</summary>
    public PageBufferPool Pool => Buffer.Pool;

    /// <summary>The whole buffer.</summary>
    public Memory<byte> Memory => Buffer.Memory;

    /// <summary>The whole buffer.</summary>
    public Span<byte> Span => Buffer.GetSpan();

    private PageBuffer Buffer
    {
        get
        {
            PageBuffer? buffer = _buffer;
            if (buffer is null || Volatile.Read(ref buffer.Generation) != _generation)
            {
                throw new ObjectDisposedException(nameof(PageLease), "The page lease has been returned to its pool.");
            }

            return buffer;
        }
    }

    /// <summary>Gives the buffer back to its pool.</summary>
    /// <exception cref="InvalidOperationException">This lease (or a copy of it) was already returned.</exception>
    public void Dispose()
    {
        if (_buffer is null)
        {
            return; // default(PageLease) owns nothing, as a using over a failed TryRent expects
        }

        _buffer.Pool.Return(_buffer, _generation);
    }

    /// <inheritdoc/>
    public bool Equals(PageLease other) => ReferenceEquals(_buffer, other._buffer) && _generation == other._generation;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PageLease other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_buffer?.Index ?? -1, _generation);

    /// <summary>Equality: the same buffer in the same turn.</summary>
    public static bool operator ==(PageLease left, PageLease right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(PageLease left, PageLease right) => !left.Equals(right);
}
