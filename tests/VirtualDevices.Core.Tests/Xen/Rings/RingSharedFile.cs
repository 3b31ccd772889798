using System.IO.MemoryMappedFiles;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// Pages shared by this process and a child: a file in <c>/dev/shm</c> (tmpfs, as a memfd is) mapped here with
/// MAP_SHARED; the child maps the same path. Deleted when disposed.
/// </summary>
internal sealed unsafe class RingSharedFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    public RingSharedFile(int pageOrder)
    {
        Length = 4096 << pageOrder;
        Path = $"/dev/shm/virtualdevices-ring-{Environment.ProcessId}-{Guid.NewGuid():N}";
        using (var stream = new FileStream(Path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            stream.SetLength(Length);
        }

        _file = MemoryMappedFile.CreateFromFile(Path, FileMode.Open, null, Length, MemoryMappedFileAccess.ReadWrite);
        _view = _file.CreateViewAccessor(0, Length, MemoryMappedFileAccess.ReadWrite);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        Address = (nint)(_pointer + _view.PointerOffset);
    }

    public string Path { get; }

    public nint Address { get; }

    public int Length { get; }

    public Span<byte> Bytes => new((void*)Address, Length);

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
        File.Delete(Path);
    }
}
