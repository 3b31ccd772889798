using System.Security.Cryptography;
using VirtualDevices.Block;

namespace VirtualDevices.Tests.Block;

/// <summary>
/// The streaming operations (ReadSectorsAsync, CopyToAsync, WriteFromAsync) keep several transfers in flight and
/// still deliver in order, and on every way out (failure, cancellation, a consumer that stops early) they leave no
/// transfer behind that could still touch a buffer.
/// </summary>
public sealed class StreamingTransferTests
{
    /// <summary>
    /// A memory-backed device whose transfers complete after a random delay (so out of order), counting how many are
    /// in flight; it can fail the transfer that touches one sector.
    /// </summary>
    private sealed class SlowDevice(long sectors, long failAt = -1, int maximumTransfer = 0)
        : BlockDevice(null, "slow", "test", new BlockDeviceInfo(512, sectors, readOnly: false, BlockFeatures.None) { MaximumTransferSize = maximumTransfer })
    {
        private readonly byte[] _data = RandomNumberGenerator.GetBytes((int)(sectors * 512));
        private int _inFlight;
        private int _mostInFlight;

        public byte[] Data => _data;

        public int InFlight => Volatile.Read(ref _inFlight);

        public int MostInFlight => Volatile.Read(ref _mostInFlight);

        protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            await TransferAsync(offset, buffer.Length, cancellationToken);
            _data.AsMemory((int)offset, buffer.Length).CopyTo(buffer);
        }

        protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken)
        {
            await TransferAsync(offset, buffer.Length, cancellationToken);
            buffer.CopyTo(_data.AsMemory((int)offset));
        }

        private async Task TransferAsync(long offset, int length, CancellationToken cancellationToken)
        {
            int now = Interlocked.Increment(ref _inFlight);
            int most;
            while (now > (most = Volatile.Read(ref _mostInFlight)) && Interlocked.CompareExchange(ref _mostInFlight, now, most) != most)
            {
            }

            try
            {
                await Task.Delay(Random.Shared.Next(0, 4), cancellationToken);
                if (failAt >= 0 && failAt * 512 >= offset && failAt * 512 < offset + length)
                {
                    throw new BlockIOException(Name, "read", "injected failure", 5);
                }
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    [Fact]
    public async Task CopyKeepsSeveralReadsInFlightAndWritesInOrder()
    {
        // 64 KiB transfers over 4 MiB: 64 transfers, at most 32 at a time.
        await using var device = new SlowDevice(8192, maximumTransfer: 64 * 1024);
        using var copy = new MemoryStream();
        var reports = new List<long>();
        long copied = await device.CopyToAsync(0, device.Info.SectorCount, copy, new SynchronousProgress(reports.Add));
        Assert.Equal(device.Data.Length, copied);
        Assert.Equal(device.Data, copy.ToArray());
        Assert.True(device.MostInFlight > 1, "the copy never had two reads in flight");
        Assert.True(device.MostInFlight <= BlockDeviceExtensions.MaximumRequestsInFlight);
        Assert.Equal(reports.Order(), reports);
        Assert.Equal(copied, reports[^1]);
    }

    [Fact]
    public async Task CopyToAFileWritesEachTransferAtItsOffsetFromTheCurrentPosition()
    {
        await using var device = new SlowDevice(8192, maximumTransfer: 64 * 1024);
        using var dir = new TempDirectory();
        string path = dir.File("copy.img");
        var reports = new List<long>();
        using (var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1))
        {
            file.Write("head"u8);
            long copied = await device.CopyToAsync(0, device.Info.SectorCount, file, new SynchronousProgress(reports.Add));
            Assert.Equal(device.Data.Length, copied);
            Assert.Equal(4 + copied, file.Position);
            file.Write("tail"u8);
        }

        byte[] written = File.ReadAllBytes(path);
        Assert.Equal("head"u8.ToArray(), written[..4]);
        Assert.Equal(device.Data, written[4..^4]);
        Assert.Equal("tail"u8.ToArray(), written[^4..]);
        Assert.True(device.MostInFlight > 1, "the copy never had two reads in flight");
        Assert.Equal(reports.Order(), reports);
        Assert.Equal(device.Data.Length, reports[^1]);
    }

    [Fact]
    public async Task ACopyToADeviceNodeThatCannotBeResizedStillCopies()
    {
        // /dev/null seeks but cannot be truncated, synced or advised: all of that is only advice.
        await using var device = new SlowDevice(2048, maximumTransfer: 64 * 1024);
        using var sink = new FileStream("/dev/null", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
        Assert.Equal(device.Data.Length, await device.CopyToAsync(0, device.Info.SectorCount, sink));
        Assert.Equal(0, device.InFlight);
    }

    [Fact]
    public async Task AFailedReadStopsACopyToAFileWithItsOwnErrorAndNothingInFlight()
    {
        await using var device = new SlowDevice(8192, failAt: 5000, maximumTransfer: 64 * 1024);
        using var dir = new TempDirectory();
        using var file = new FileStream(dir.File("copy.img"), FileMode.Create, FileAccess.Write, FileShare.None, 1);
        await Assert.ThrowsAsync<BlockIOException>(() => device.CopyToAsync(0, device.Info.SectorCount, file).AsTask());
        Assert.Equal(0, device.InFlight);
    }

    [Fact]
    public async Task WriteFromKeepsSeveralWritesInFlightAndWritesEverything()
    {
        await using var device = new SlowDevice(8192, maximumTransfer: 64 * 1024);
        byte[] input = RandomNumberGenerator.GetBytes(3 << 20);
        long written = await device.WriteFromAsync(1024, new NonSeekableStream(input));
        Assert.Equal(input.Length, written);
        Assert.Equal(input, device.Data.AsSpan(1024 * 512, input.Length).ToArray());
        Assert.True(device.MostInFlight > 1, "the copy never had two writes in flight");
    }

    [Fact]
    public async Task ReadSectorsYieldsInOrderWithReadsRunningAhead()
    {
        await using var device = new SlowDevice(256);
        var sectors = new List<long>();
        using var all = new MemoryStream();
        await foreach (BlockData chunk in device.ReadSectorsAsync(0, 256, 3))
        {
            sectors.Add(chunk.Sector);
            all.Write(chunk.Data);
        }

        Assert.Equal(Enumerable.Range(0, 86).Select(i => (long)i * 3), sectors);
        Assert.Equal(device.Data, all.ToArray());
        Assert.True(device.MostInFlight > 1);
    }

    [Fact]
    public async Task AFailedReadStopsTheCopyAndLeavesNothingInFlight()
    {
        await using var device = new SlowDevice(8192, failAt: 5000, maximumTransfer: 64 * 1024);
        using var copy = new MemoryStream();
        await Assert.ThrowsAsync<BlockIOException>(() => device.CopyToAsync(0, device.Info.SectorCount, copy).AsTask());
        Assert.Equal(0, device.InFlight);

        // What reached the stream is the device's data, in order, up to the failed transfer.
        Assert.True(copy.Length <= 5000 * 512);
        Assert.Equal(device.Data.AsSpan(0, (int)copy.Length).ToArray(), copy.ToArray());
    }

    [Fact]
    public async Task AFailedWriteStopsTheCopyAndLeavesNothingInFlight()
    {
        await using var device = new SlowDevice(8192, failAt: 2000, maximumTransfer: 64 * 1024);
        await Assert.ThrowsAsync<BlockIOException>(() => device.WriteFromAsync(0, new MemoryStream(new byte[4 << 20])).AsTask());
        Assert.Equal(0, device.InFlight);
    }

    [Fact]
    public async Task CancellingTheCopyLeavesNothingInFlight()
    {
        await using var device = new SlowDevice(8192, maximumTransfer: 16 * 1024);
        using var cancel = new CancellationTokenSource();
        var progress = new SynchronousProgress(copied =>
        {
            if (copied >= 1 << 20)
            {
                cancel.Cancel();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => device.CopyToAsync(0, device.Info.SectorCount, Stream.Null, progress, cancel.Token).AsTask());
        Assert.Equal(0, device.InFlight);
    }

    [Fact]
    public async Task AConsumerThatStopsEarlyLeavesNoReadBehind()
    {
        await using var device = new SlowDevice(1024);
        await foreach (BlockData chunk in device.ReadSectorsAsync(0, 1024, 1))
        {
            Assert.Equal(0, chunk.Sector);
            break;
        }

        Assert.Equal(0, device.InFlight);
    }

    [Fact]
    public async Task APartialSectorAtTheEndOfAStreamIsNotWritten()
    {
        await using var device = new SlowDevice(4096, maximumTransfer: 64 * 1024);
        byte[] before = device.Data.ToArray();
        byte[] input = RandomNumberGenerator.GetBytes((1 << 20) + 100);
        BlockMisalignedException e = await Assert.ThrowsAsync<BlockMisalignedException>(() => device.WriteFromAsync(0, new NonSeekableStream(input)).AsTask());
        Assert.Contains($"input length {input.Length}", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, device.InFlight);
        Assert.Equal(input.AsSpan(0, 1 << 20).ToArray(), device.Data.AsSpan(0, 1 << 20).ToArray());
        Assert.Equal(before.AsSpan(1 << 20).ToArray(), device.Data.AsSpan(1 << 20).ToArray());
    }

    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    /// <summary>A stream that cannot seek, so the length is learned only at its end.</summary>
    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}
