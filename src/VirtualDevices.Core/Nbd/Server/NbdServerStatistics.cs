namespace VirtualDevices.Nbd.Server;

/// <summary>A snapshot of an <see cref="NbdServer"/>'s counters.</summary>
/// <param name="ActiveConnections">Clients connected now.</param>
/// <param name="TotalConnections">Clients accepted since start.</param>
/// <param name="Requests">Transmission requests answered.</param>
/// <param name="BytesRead">Bytes sent to clients by reads.</param>
/// <param name="BytesWritten">Bytes written by clients.</param>
/// <param name="ErrorReplies">Requests answered with an error.</param>
/// <param name="ProtocolViolations">Connections dropped because the client broke the protocol.</param>
/// <param name="BytesInFlight">Bytes held now for replies not yet sent and write payloads not yet written.</param>
/// <param name="PeakBytesInFlight">The most <paramref name="BytesInFlight"/> has been since start.</param>
/// <param name="EvictedConnections">Idle clients closed to make room for new ones (see <see cref="NbdServerOptions.IdleEvictionAge"/>).</param>
public sealed record NbdServerStatistics(
    int ActiveConnections,
    long TotalConnections,
    long Requests,
    long BytesRead,
    long BytesWritten,
    long ErrorReplies,
    long ProtocolViolations,
    long BytesInFlight,
    long PeakBytesInFlight,
    long EvictedConnections);
