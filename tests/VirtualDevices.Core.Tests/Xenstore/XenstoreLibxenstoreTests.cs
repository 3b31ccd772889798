using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>A C program linked against libxenstore as another client of our server, talking with our client.</summary>
public sealed class XenstoreLibxenstoreTests
{
    private const string Program = """
        #include <errno.h>
        #include <stdbool.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <xenstore.h>

        #define CHECK(cond, what) do { if (!(cond)) { printf("FAIL %s (errno %d)\n", what, errno); return 1; } printf("OK %s\n", what); fflush(stdout); } while (0)

        int main(void)
        {
            struct xs_handle *h = xs_open(0);
            CHECK(h != NULL, "open");

            unsigned int len;
            char *value = xs_read(h, XBT_NULL, "/from-dotnet", &len);
            CHECK(value && len == 5 && !memcmp(value, "hello", 5), "read value written by our client");
            free(value);

            CHECK(xs_write(h, XBT_NULL, "/from-c/key", "world", 5), "write");
            CHECK(xs_read(h, XBT_NULL, "/missing", &len) == NULL && errno == ENOENT, "ENOENT for a missing node");

            /* 400 children of ~30 bytes: libxenstore gets E2BIG for DIRECTORY and switches to DIRECTORY_PART. */
            char path[128];
            for (int i = 0; i < 400; i++) {
                snprintf(path, sizeof path, "/big/child-with-longish-name-%04d", i);
                if (!xs_mkdir(h, XBT_NULL, path)) { printf("FAIL mkdir %d\n", i); return 1; }
            }
            unsigned int num;
            char **names = xs_directory(h, XBT_NULL, "/big", &num);
            CHECK(names && num == 400, "directory larger than one payload");
            free(names);

            struct xs_permissions perms[2] = { { .id = 0, .perms = XS_PERM_NONE }, { .id = 7, .perms = XS_PERM_READ } };
            CHECK(xs_set_permissions(h, XBT_NULL, "/from-c/key", perms, 2), "set permissions");
            struct xs_permissions *got = xs_get_permissions(h, XBT_NULL, "/from-c/key", &num);
            CHECK(got && num == 2 && got[1].id == 7 && got[1].perms == XS_PERM_READ, "get permissions");
            free(got);

            xs_transaction_t t = xs_transaction_start(h);
            CHECK(t != XBT_NULL, "transaction start");
            CHECK(xs_write(h, t, "/from-c/tx", "committed", 9), "write in transaction");
            CHECK(xs_transaction_end(h, t, false), "commit");

            t = xs_transaction_start(h);
            value = xs_read(h, t, "/from-c/tx", &len);
            free(value);
            CHECK(xs_write(h, XBT_NULL, "/from-c/tx", "outside", 7), "conflicting write outside");
            CHECK(xs_write(h, t, "/from-c/tx", "inside", 6), "write inside");
            CHECK(!xs_transaction_end(h, t, false) && errno == EAGAIN, "EAGAIN on conflict");

            CHECK(xs_watch(h, "/events", "ctoken"), "watch");
            unsigned int n;
            char **event = xs_read_watch(h, &n);
            CHECK(event && !strcmp(event[XS_WATCH_PATH], "/events") && !strcmp(event[XS_WATCH_TOKEN], "ctoken"), "first event");
            free(event);
            printf("READY\n");
            fflush(stdout);
            event = xs_read_watch(h, &n);
            CHECK(event && !strcmp(event[XS_WATCH_PATH], "/events/from-dotnet"), "event caused by our client");
            free(event);

            CHECK(xs_rm(h, XBT_NULL, "/big"), "rm");
            xs_close(h);
            printf("ALL OK\n");
            return 0;
        }
        """;

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Libxenstore_client_interoperates_with_our_server_and_client()
    {
        await using var server = XenstoreTestServer.Start();
        string binary = await CCompiler.CompileAsync(server.Directory, "xsclient", Program, "-lxenstore");
        await using XenstoreClient xs = await server.ConnectAsync();
        await xs.WriteAsync("/from-dotnet", "hello");

        await using ExternalProcess peer = ExternalProcess.Start(binary, [], server.Environment);
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while (!peer.StandardOutput.Contains("READY", StringComparison.Ordinal))
            {
                Assert.False(peer.HasExited, peer.StandardOutput + peer.StandardError);
                await Task.Delay(20, wait.Token);
            }
        }

        await xs.WriteAsync("/events/from-dotnet", "ping");
        Assert.True(0 == await peer.WaitForExitAsync(TimeSpan.FromSeconds(20)), peer.StandardOutput + peer.StandardError);
        Assert.Contains("ALL OK", peer.StandardOutput);

        Assert.Equal("world", await xs.ReadStringAsync("/from-c/key"));
        Assert.Equal("outside", await xs.ReadStringAsync("/from-c/tx"));
        Assert.Equal("n0 r7", (await xs.GetPermissionsAsync("/from-c/key")).ToString());
        Assert.False(await xs.ExistsAsync("/big"));
    }
}
