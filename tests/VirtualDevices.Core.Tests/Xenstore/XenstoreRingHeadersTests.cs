using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// <c>struct xenstore_domain_interface</c> and its constants (<c>xen/io/xs_wire.h</c>), and GNTTAB_RESERVED_XENSTORE
/// (<c>xen/grant_table.h</c>), checked against the headers by compiling and running a C program.
/// </summary>
public sealed class XenstoreRingHeadersTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task TheRingLayoutAndConstantsMatchXsWireH()
    {
        Assert.True(File.Exists("/usr/include/xen/io/xs_wire.h"), "Xen's public headers (/usr/include/xen/io) are needed for this check");
        const string source = """
            #include <stddef.h>
            #include <stdint.h>
            #include <stdio.h>
            #include <xen/xen.h>
            #include <xen/grant_table.h>
            #include <xen/io/xs_wire.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            #define O(field) P(offsetof(struct xenstore_domain_interface, field))
            int main(void) {
                P(sizeof(struct xenstore_domain_interface));
                O(req); O(rsp); O(req_cons); O(req_prod); O(rsp_cons); O(rsp_prod); O(server_features); O(connection); O(error);
                P(XENSTORE_RING_SIZE); P(MASK_XENSTORE_IDX(0xFFFFFFFFu)); P(sizeof(XENSTORE_RING_IDX));
                P(XENSTORE_SERVER_FEATURE_RECONNECTION); P(XENSTORE_SERVER_FEATURE_ERROR);
                P(XENSTORE_CONNECTED); P(XENSTORE_RECONNECT);
                P(XENSTORE_ERROR_NONE); P(XENSTORE_ERROR_COMM); P(XENSTORE_ERROR_RINGIDX); P(XENSTORE_ERROR_PROTO);
                P(GNTTAB_RESERVED_XENSTORE);
                return 0;
            }
            """;
        CHeaderValues c = await CHeaderValues.CompileAndRunAsync(_temp.Path, "xsring", source);
        c.Check("sizeof(struct xenstore_domain_interface)", XenstoreRingLayout.Size);
        c.Check("offsetof(struct xenstore_domain_interface, req)", XenstoreRingLayout.RequestOffset);
        c.Check("offsetof(struct xenstore_domain_interface, rsp)", XenstoreRingLayout.ResponseOffset);
        c.Check("offsetof(struct xenstore_domain_interface, req_cons)", XenstoreRingLayout.RequestConsumerOffset);
        c.Check("offsetof(struct xenstore_domain_interface, req_prod)", XenstoreRingLayout.RequestProducerOffset);
        c.Check("offsetof(struct xenstore_domain_interface, rsp_cons)", XenstoreRingLayout.ResponseConsumerOffset);
        c.Check("offsetof(struct xenstore_domain_interface, rsp_prod)", XenstoreRingLayout.ResponseProducerOffset);
        c.Check("offsetof(struct xenstore_domain_interface, server_features)", XenstoreRingLayout.ServerFeaturesOffset);
        c.Check("offsetof(struct xenstore_domain_interface, connection)", XenstoreRingLayout.ConnectionOffset);
        c.Check("offsetof(struct xenstore_domain_interface, error)", XenstoreRingLayout.ErrorOffset);
        c.Check("XENSTORE_RING_SIZE", XenstoreRingLayout.RingSize);
        c.Check("MASK_XENSTORE_IDX(0xFFFFFFFFu)", XenstoreRingLayout.IndexMask);
        c.Check("sizeof(XENSTORE_RING_IDX)", sizeof(uint));
        c.Check("XENSTORE_SERVER_FEATURE_RECONNECTION", XenstoreRingLayout.FeatureReconnection);
        c.Check("XENSTORE_SERVER_FEATURE_ERROR", XenstoreRingLayout.FeatureError);
        c.Check("XENSTORE_CONNECTED", XenstoreRingLayout.Connected);
        c.Check("XENSTORE_RECONNECT", XenstoreRingLayout.Reconnect);
        c.Check("XENSTORE_ERROR_NONE", XenstoreRingLayout.ErrorNone);
        c.Check("XENSTORE_ERROR_COMM", XenstoreRingLayout.ErrorCommunication);
        c.Check("XENSTORE_ERROR_RINGIDX", XenstoreRingLayout.ErrorRingIndex);
        c.Check("XENSTORE_ERROR_PROTO", XenstoreRingLayout.ErrorProtocol);
        c.Check("GNTTAB_RESERVED_XENSTORE", XenstoreRingLayout.ReservedGrantReference);
        c.AssertAllMatch();
    }
}
