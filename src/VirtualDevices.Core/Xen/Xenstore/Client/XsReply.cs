using System.Runtime.CompilerServices;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// A parsed reply as the request table's one result type: a reference (text, bytes, names, permissions) or a scalar
/// (a flag, a transaction id), so that a typed reply crosses the untyped request without boxing.
/// </summary>
internal readonly struct XsReply
{
    private readonly object? _object;
    private readonly ulong _scalar;

    private XsReply(object? value, ulong scalar)
    {
        _object = value;
        _scalar = scalar;
    }

    /// <summary>Wraps <paramref name="value"/>; bool and uint travel as scalars, other value types are boxed (rare replies only).</summary>
    internal static XsReply From<T>(T value)
    {
        if (typeof(T) == typeof(bool))
        {
            return new XsReply(null, Unsafe.As<T, bool>(ref value) ? 1UL : 0UL);
        }

        if (typeof(T) == typeof(uint))
        {
            return new XsReply(null, Unsafe.As<T, uint>(ref value));
        }

        return new XsReply(value, 0);
    }

    /// <summary>The value stored by <see cref="From{T}"/> with the same <typeparamref name="T"/>.</summary>
    internal T As<T>()
    {
        if (typeof(T) == typeof(bool))
        {
            bool flag = _scalar != 0;
            return Unsafe.As<bool, T>(ref flag);
        }

        if (typeof(T) == typeof(uint))
        {
            uint number = (uint)_scalar;
            return Unsafe.As<uint, T>(ref number);
        }

        return _object is null ? default! : (T)_object;
    }
}
