namespace VirtualDevices.Interop;

internal static partial class MacOS
{
    /// <summary><c>dispatch_queue_create(label, attr)</c>: a serial queue with a null attribute.</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "dispatch_queue_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint DispatchQueueCreate(string label, nint attributes);

    /// <summary><c>dispatch_release</c>.</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "dispatch_release")]
    internal static partial void DispatchRelease(nint value);
}
