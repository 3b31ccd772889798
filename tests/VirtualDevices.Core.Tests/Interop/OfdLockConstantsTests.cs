using System.Globalization;
using System.Runtime.InteropServices;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>
/// The constants and the struct flock layout of the image-lock binding (Interop.OfdLock.cs), checked against the C
/// headers by compiling and running a C program that prints the real values.
/// </summary>
public sealed class OfdLockConstantsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static void Check(Dictionary<string, long> header, string name, long binding) =>
        Assert.True(header[name] == binding, $"{name}: the header says {header[name]}, the binding uses {binding}");

    [Fact]
    public async Task ConstantsAndLayoutMatchTheCHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        const string source = """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <stddef.h>
            #include <stdio.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            int main(void) {
                P(F_OFD_GETLK); P(F_OFD_SETLK); P(F_RDLCK); P(F_WRLCK); P(F_UNLCK);
                P(sizeof(struct flock)); P(offsetof(struct flock, l_type)); P(offsetof(struct flock, l_whence));
                P(offsetof(struct flock, l_start)); P(offsetof(struct flock, l_len)); P(offsetof(struct flock, l_pid));
                P(sizeof(((struct flock *)0)->l_type)); P(sizeof(((struct flock *)0)->l_start)); P(sizeof(((struct flock *)0)->l_pid));
                return 0;
            }
            """;
        string program = await CCompiler.CompileAsync(_temp.Path, "ofdlock", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("ofdlock");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));

        Check(c, "F_OFD_GETLK", Unix.F_OFD_GETLK);
        Check(c, "F_OFD_SETLK", Unix.F_OFD_SETLK);
        Check(c, "F_RDLCK", Unix.F_RDLCK);
        Check(c, "F_WRLCK", Unix.F_WRLCK);
        Check(c, "F_UNLCK", Unix.F_UNLCK);
        Check(c, "sizeof(struct flock)", Marshal.SizeOf<Unix.Flock>());
        Check(c, "offsetof(struct flock, l_type)", Marshal.OffsetOf<Unix.Flock>(nameof(Unix.Flock.Type)).ToInt64());
        Check(c, "offsetof(struct flock, l_whence)", Marshal.OffsetOf<Unix.Flock>(nameof(Unix.Flock.Whence)).ToInt64());
        Check(c, "offsetof(struct flock, l_start)", Marshal.OffsetOf<Unix.Flock>(nameof(Unix.Flock.Start)).ToInt64());
        Check(c, "offsetof(struct flock, l_len)", Marshal.OffsetOf<Unix.Flock>(nameof(Unix.Flock.Length)).ToInt64());
        Check(c, "offsetof(struct flock, l_pid)", Marshal.OffsetOf<Unix.Flock>(nameof(Unix.Flock.Pid)).ToInt64());
        Check(c, "sizeof(((struct flock *)0)->l_type)", sizeof(short));
        Check(c, "sizeof(((struct flock *)0)->l_start)", sizeof(long));
        Check(c, "sizeof(((struct flock *)0)->l_pid)", sizeof(int));
    }
}
