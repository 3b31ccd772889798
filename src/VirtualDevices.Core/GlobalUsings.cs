// The interop namespace: the Unix P/Invoke declarations (one a file, as partials of Interop.Unix), the SafeHandles and
// the native layouts all need it.
global using System.Runtime.InteropServices;
