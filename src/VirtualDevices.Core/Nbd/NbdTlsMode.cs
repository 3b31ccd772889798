namespace VirtualDevices.Nbd;

/// <summary>Whether a connection uses TLS (NBD_OPT_STARTTLS).</summary>
public enum NbdTlsMode
{
    /// <summary>Never: plain text. A server that requires TLS refuses the connection.</summary>
    Off,
    /// <summary>
    /// Client: try TLS and fall back to plain text if the server does not offer it (open to downgrade attacks).
    /// Server: offer TLS, and let clients choose.
    /// </summary>
    On,
    /// <summary>TLS or nothing: the default for <c>nbds</c> URIs. A server in this mode refuses every option before STARTTLS.</summary>
    Require,
}
