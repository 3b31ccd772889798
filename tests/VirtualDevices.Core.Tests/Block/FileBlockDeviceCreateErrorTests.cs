using VirtualDevices.Block;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Block;

/// <summary>Creating an image where it cannot be created says why, with an access or not-found id, not an I/O error.</summary>
public sealed class FileBlockDeviceCreateErrorTests
{
    [Fact]
    public async Task ADirectoryThatMayNotBeWrittenIsAccessDenied()
    {
        using var dir = new TempDirectory();
        string locked = Directory.CreateDirectory(dir.File("locked")).FullName;
        // Root ignores permission bits; the immutable attribute stops it too (EPERM), on ext4, xfs and btrfs.
        bool root = Environment.UserName == "root" || (await ExternalProcess.RunAsync("id", ["-u"])).StandardOutput.Trim() == "0";
        if (root)
        {
            (await ExternalProcess.RunAsync("chattr", ["+i", locked])).EnsureSuccess("chattr +i");
        }
        else
        {
            (await ExternalProcess.RunAsync("chmod", ["500", locked])).EnsureSuccess("chmod 500");
        }

        try
        {
            DeviceException e = Assert.ThrowsAny<DeviceException>(() => FileBlockDevice.Create(Path.Combine(locked, "disk.img"), 1 << 20));
            Assert.Equal("DeviceAccessDenied", e.ErrorId);
            Assert.Equal(DeviceErrorCategory.PermissionDenied, e.Category);
            Assert.Contains(locked, e.Message);
            Assert.False(File.Exists(Path.Combine(locked, "disk.img")));
        }
        finally
        {
            if (root)
            {
                await ExternalProcess.RunAsync("chattr", ["-i", locked]);
            }
            else
            {
                await ExternalProcess.RunAsync("chmod", ["700", locked]);
            }
        }
    }

    [Fact]
    public void AMissingDirectoryIsNotFoundAndNamesIt()
    {
        using var dir = new TempDirectory();
        string missing = dir.File("no/such");
        DeviceException e = Assert.ThrowsAny<DeviceException>(() => FileBlockDevice.Create(Path.Combine(missing, "disk.img"), 1 << 20));
        Assert.Equal("DeviceNotFound", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, e.Category);
        Assert.Contains($"the directory '{missing}' does not exist", e.Message);
    }
}
