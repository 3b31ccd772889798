namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// Linux block-device ioctls from <c>linux/fs.h</c> (checked by the C header test). Encoded with the generic
    /// <c>_IO</c>/<c>_IOR</c> layout used by x86 and arm.
    /// </summary>
    internal static class BlockIoctl
    {
        /// <summary>_IOR(0x12, 114, size_t): the device size in bytes, as a u64.</summary>
        internal const nuint BLKGETSIZE64 = 0x80081272;

        /// <summary>_IO(0x12, 104): the logical sector size, as an int.</summary>
        internal const nuint BLKSSZGET = 0x1268;

        /// <summary>_IO(0x12, 123): the physical sector size, as an unsigned int.</summary>
        internal const nuint BLKPBSZGET = 0x127b;

        /// <summary>_IO(0x12, 94): non-zero when the device is read-only, as an int.</summary>
        internal const nuint BLKROGET = 0x125e;

        /// <summary>_IO(0x12, 119): discard a range given as u64[2] { start, length }.</summary>
        internal const nuint BLKDISCARD = 0x1277;

        /// <summary>_IO(0x12, 127): zero a range given as u64[2] { start, length }.</summary>
        internal const nuint BLKZEROOUT = 0x127f;
    }
}
