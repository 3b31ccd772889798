namespace VirtualDevices.Interop;

internal static partial class MacOS
{
    /// <summary><c>BLOCK_IS_GLOBAL</c>: the block lives as long as the program; Block_copy returns it as it is, Block_release ignores it.</summary>
    internal const int BLOCK_IS_GLOBAL = 1 << 28;

    /// <summary>
    /// A block literal made in C# (the Clang blocks ABI: <c>isa</c>, <c>flags</c>, <c>reserved</c>, <c>invoke</c>,
    /// <c>descriptor</c>), with one captured word after it: a GCHandle of the managed object its invoke function calls.
    /// It is a global block (<see cref="BLOCK_IS_GLOBAL"/>, <c>isa</c> = <c>_NSConcreteGlobalBlock</c>) in native memory
    /// of its own, so the framework's Block_copy keeps our pointer, and with it the captured word; it is freed only
    /// after the framework can no longer call it (the interface is stopped).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BlockLiteral
    {
        public nint Isa;
        public int Flags;
        public int Reserved;
        public nint Invoke;
        public nint Descriptor;
        public nint Context;
    }

    /// <summary><c>struct Block_descriptor_1</c>: reserved, and the literal's size.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BlockDescriptor
    {
        public nuint Reserved;
        public nuint Size;
    }
}
