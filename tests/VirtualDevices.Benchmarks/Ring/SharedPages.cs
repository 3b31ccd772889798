using System.IO.MemoryMappedFiles;

namespace VirtualDevices.Benchmarks.Ring;

/// <summary>
/// The ring's page, shared by the two benchmark processes: a file in <c>/dev/shm</c> (tmpfs, as a memfd is) that both
/// map with MAP_SHARED. The creator deletes it.
/// </summary>
internal sealed unsafe class SharedPages : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly bool _owner;
    private byte* _pointer;

    private SharedPages(string path, int length, bool owner)
    {
        Path = path;
        Length = length;
        _owner = owner;
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, length, MemoryMappedFileAccess.ReadWrite);
        _view = _file.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        Address = (nint)(_pointer + _view.PointerOffset);
    }

    public string Path { get; }

    public nint Address { get; }

    public int Length { get; }

    public static SharedPages Create(int length)
    {
        string path = $"/dev/shm/virtualdevices-ring-echo-{Environment.ProcessId}-{Guid.NewGuid():N}";
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            stream.SetLength(length);
        }

        return new SharedPages(path, length, owner: true);
    }

    public static SharedPages Open(string path, int length) => new(path, length, owner: false);

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
        if (_owner)
        {
            File.Delete(Path);
        }
    }
}
