namespace VirtualDevices.Interop;

internal static partial class MacOS
{
    /// <summary><c>xpc_dictionary_create(keys, values, count)</c>: an empty dictionary with (null, null, 0).</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "xpc_dictionary_create")]
    internal static partial nint XpcDictionaryCreate(nint keys, nint values, nuint count);

    /// <summary><c>xpc_dictionary_set_uint64</c>.</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "xpc_dictionary_set_uint64")]
    internal static partial void XpcDictionarySetUInt64(nint dictionary, nint key, ulong value);

    /// <summary><c>xpc_dictionary_set_string</c>.</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "xpc_dictionary_set_string", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void XpcDictionarySetString(nint dictionary, nint key, string value);

    /// <summary><c>xpc_dictionary_get_uint64</c> (0 when absent).</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "xpc_dictionary_get_uint64")]
    internal static partial ulong XpcDictionaryGetUInt64(nint dictionary, nint key);

    /// <summary><c>xpc_dictionary_get_string</c> (null when absent): valid while the dictionary is.</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "xpc_dictionary_get_string")]
    internal static partial nint XpcDictionaryGetString(nint dictionary, nint key);

    /// <summary><c>xpc_release</c>.</summary>
    [LibraryImport(SystemLibrary, EntryPoint = "xpc_release")]
    internal static partial void XpcRelease(nint value);
}
