using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>A change made inside a transaction, replayed on the live tree when the commit needs a merge.</summary>
/// <param name="Type">WRITE, MKDIR, RM or SET_PERMS.</param>
/// <param name="Path">The absolute path.</param>
/// <param name="Value">The value written, for WRITE.</param>
/// <param name="Permissions">The permissions set, for SET_PERMS.</param>
internal sealed record ServerTransactionOperation(XenstoreMessageType Type, string Path, byte[]? Value, XenstorePermissions? Permissions);
