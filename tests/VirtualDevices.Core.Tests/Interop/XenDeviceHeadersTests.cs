using System.Globalization;
using System.Runtime.InteropServices;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>
/// Every ioctl number, struct layout and constant the Xen device bindings (<c>/dev/xen/evtchn</c>, <c>gntalloc</c>,
/// <c>gntdev</c>, and the mmap, poll and eventfd they stand on) use, checked against linux-libc-dev's headers by
/// compiling and running a C program that prints the real values.
/// </summary>
public sealed class XenDeviceHeadersTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task XenDeviceIoctlsAndStructsMatchTheLinuxHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        Assert.True(File.Exists("/usr/include/xen/gntdev.h"), "linux-libc-dev's xen/gntdev.h is needed for this check");

        // xen/gntdev.h and xen/evtchn.h use Xen's grant_ref_t and domid_t without defining them (a user-space caller
        // brings Xen's public headers); their definitions in xen/grant_table.h and xen/xen.h are uint32_t and uint16_t.
        const string source = """
            #define _GNU_SOURCE
            #include <errno.h>
            #include <fcntl.h>
            #include <poll.h>
            #include <stddef.h>
            #include <stdint.h>
            #include <stdio.h>
            #include <sys/eventfd.h>
            #include <sys/ioctl.h>
            #include <sys/mman.h>
            typedef uint32_t grant_ref_t;
            typedef uint16_t domid_t;
            #include <xen/evtchn.h>
            #include <xen/gntalloc.h>
            #include <xen/gntdev.h>
            #include <xen/grant_table.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            #define S(type) P(sizeof(struct type))
            #define O(type, field) P(offsetof(struct type, field))
            int main(void) {
                P(IOCTL_EVTCHN_BIND_INTERDOMAIN); P(IOCTL_EVTCHN_BIND_UNBOUND_PORT); P(IOCTL_EVTCHN_UNBIND);
                P(IOCTL_EVTCHN_NOTIFY); P(IOCTL_EVTCHN_RESET);
                S(ioctl_evtchn_bind_interdomain); O(ioctl_evtchn_bind_interdomain, remote_domain); O(ioctl_evtchn_bind_interdomain, remote_port);
                S(ioctl_evtchn_bind_unbound_port); O(ioctl_evtchn_bind_unbound_port, remote_domain);
                S(ioctl_evtchn_unbind); O(ioctl_evtchn_unbind, port);
                S(ioctl_evtchn_notify); O(ioctl_evtchn_notify, port);

                P(IOCTL_GNTALLOC_ALLOC_GREF); P(IOCTL_GNTALLOC_DEALLOC_GREF); P(IOCTL_GNTALLOC_SET_UNMAP_NOTIFY);
                P(GNTALLOC_FLAG_WRITABLE);
                S(ioctl_gntalloc_alloc_gref); O(ioctl_gntalloc_alloc_gref, domid); O(ioctl_gntalloc_alloc_gref, flags);
                O(ioctl_gntalloc_alloc_gref, count); O(ioctl_gntalloc_alloc_gref, index); O(ioctl_gntalloc_alloc_gref, gref_ids);
                P(sizeof(((struct ioctl_gntalloc_alloc_gref *)0)->gref_ids[0]));
                S(ioctl_gntalloc_dealloc_gref); O(ioctl_gntalloc_dealloc_gref, index); O(ioctl_gntalloc_dealloc_gref, count);
                S(ioctl_gntalloc_unmap_notify); O(ioctl_gntalloc_unmap_notify, index); O(ioctl_gntalloc_unmap_notify, action);
                O(ioctl_gntalloc_unmap_notify, event_channel_port);

                P(IOCTL_GNTDEV_MAP_GRANT_REF); P(IOCTL_GNTDEV_UNMAP_GRANT_REF); P(IOCTL_GNTDEV_SET_UNMAP_NOTIFY);
                S(ioctl_gntdev_grant_ref); O(ioctl_gntdev_grant_ref, domid); O(ioctl_gntdev_grant_ref, ref);
                S(ioctl_gntdev_map_grant_ref); O(ioctl_gntdev_map_grant_ref, count); O(ioctl_gntdev_map_grant_ref, pad);
                O(ioctl_gntdev_map_grant_ref, index); O(ioctl_gntdev_map_grant_ref, refs);
                S(ioctl_gntdev_unmap_grant_ref); O(ioctl_gntdev_unmap_grant_ref, index); O(ioctl_gntdev_unmap_grant_ref, count);
                O(ioctl_gntdev_unmap_grant_ref, pad);
                S(ioctl_gntdev_unmap_notify); O(ioctl_gntdev_unmap_notify, index); O(ioctl_gntdev_unmap_notify, action);
                O(ioctl_gntdev_unmap_notify, event_channel_port);
                P(UNMAP_NOTIFY_CLEAR_BYTE); P(UNMAP_NOTIFY_SEND_EVENT);
                P(IOCTL_GNTDEV_GRANT_COPY);
                S(ioctl_gntdev_grant_copy); O(ioctl_gntdev_grant_copy, count); O(ioctl_gntdev_grant_copy, segments);
                S(gntdev_grant_copy_segment); O(gntdev_grant_copy_segment, source.virt); O(gntdev_grant_copy_segment, source.foreign.ref);
                O(gntdev_grant_copy_segment, source.foreign.offset); O(gntdev_grant_copy_segment, source.foreign.domid);
                O(gntdev_grant_copy_segment, dest.virt); O(gntdev_grant_copy_segment, dest.foreign.ref);
                O(gntdev_grant_copy_segment, dest.foreign.offset); O(gntdev_grant_copy_segment, dest.foreign.domid);
                O(gntdev_grant_copy_segment, len); O(gntdev_grant_copy_segment, flags); O(gntdev_grant_copy_segment, status);
                P(GNTCOPY_source_gref); P(GNTCOPY_dest_gref); P(GNTST_okay);

                P(PROT_READ); P(PROT_WRITE); P(MAP_SHARED); P((intptr_t)MAP_FAILED);
                P(POLLIN); P(POLLERR); P(POLLHUP); P(POLLNVAL);
                S(pollfd); O(pollfd, fd); O(pollfd, events); O(pollfd, revents);
                P(EFD_CLOEXEC); P(EFD_NONBLOCK); P(O_NONBLOCK);
                P(ESRCH); P(ENOMEM); P(EBUSY); P(ENODEV); P(EMFILE); P(EFBIG); P(ENOTCONN);
                return 0;
            }
            """;
        CHeaderValues c = await CHeaderValues.CompileAndRunAsync(_temp.Path, "xendevices", source);



        // Event channels.
        c.Check("IOCTL_EVTCHN_BIND_INTERDOMAIN", (long)Unix.EvtchnIoctl.IOCTL_EVTCHN_BIND_INTERDOMAIN);
        c.Check("IOCTL_EVTCHN_BIND_UNBOUND_PORT", (long)Unix.EvtchnIoctl.IOCTL_EVTCHN_BIND_UNBOUND_PORT);
        c.Check("IOCTL_EVTCHN_UNBIND", (long)Unix.EvtchnIoctl.IOCTL_EVTCHN_UNBIND);
        c.Check("IOCTL_EVTCHN_NOTIFY", (long)Unix.EvtchnIoctl.IOCTL_EVTCHN_NOTIFY);
        c.Check("IOCTL_EVTCHN_RESET", (long)Unix.EvtchnIoctl.IOCTL_EVTCHN_RESET);
        c.Size<Unix.EvtchnBindInterdomain>("ioctl_evtchn_bind_interdomain");
        c.Offset<Unix.EvtchnBindInterdomain>("ioctl_evtchn_bind_interdomain", "remote_domain", nameof(Unix.EvtchnBindInterdomain.RemoteDomain));
        c.Offset<Unix.EvtchnBindInterdomain>("ioctl_evtchn_bind_interdomain", "remote_port", nameof(Unix.EvtchnBindInterdomain.RemotePort));
        c.Size<Unix.EvtchnBindUnboundPort>("ioctl_evtchn_bind_unbound_port");
        c.Offset<Unix.EvtchnBindUnboundPort>("ioctl_evtchn_bind_unbound_port", "remote_domain", nameof(Unix.EvtchnBindUnboundPort.RemoteDomain));
        c.Size<Unix.EvtchnPort>("ioctl_evtchn_unbind");
        c.Offset<Unix.EvtchnPort>("ioctl_evtchn_unbind", "port", nameof(Unix.EvtchnPort.Port));
        c.Size<Unix.EvtchnPort>("ioctl_evtchn_notify");
        c.Offset<Unix.EvtchnPort>("ioctl_evtchn_notify", "port", nameof(Unix.EvtchnPort.Port));

        // Grant allocation.
        c.Check("IOCTL_GNTALLOC_ALLOC_GREF", (long)Unix.GntallocIoctl.IOCTL_GNTALLOC_ALLOC_GREF);
        c.Check("IOCTL_GNTALLOC_DEALLOC_GREF", (long)Unix.GntallocIoctl.IOCTL_GNTALLOC_DEALLOC_GREF);
        c.Check("IOCTL_GNTALLOC_SET_UNMAP_NOTIFY", (long)Unix.GntallocIoctl.IOCTL_GNTALLOC_SET_UNMAP_NOTIFY);
        c.Check("GNTALLOC_FLAG_WRITABLE", Unix.GntallocIoctl.GNTALLOC_FLAG_WRITABLE);
        c.Size<Unix.GntallocAllocGref>("ioctl_gntalloc_alloc_gref");
        c.Offset<Unix.GntallocAllocGref>("ioctl_gntalloc_alloc_gref", "domid", nameof(Unix.GntallocAllocGref.Domid));
        c.Offset<Unix.GntallocAllocGref>("ioctl_gntalloc_alloc_gref", "flags", nameof(Unix.GntallocAllocGref.Flags));
        c.Offset<Unix.GntallocAllocGref>("ioctl_gntalloc_alloc_gref", "count", nameof(Unix.GntallocAllocGref.Count));
        c.Offset<Unix.GntallocAllocGref>("ioctl_gntalloc_alloc_gref", "index", nameof(Unix.GntallocAllocGref.Index));
        c.Offset<Unix.GntallocAllocGref>("ioctl_gntalloc_alloc_gref", "gref_ids", nameof(Unix.GntallocAllocGref.FirstGrefId));
        c.Check("sizeof(((struct ioctl_gntalloc_alloc_gref *)0)->gref_ids[0])", sizeof(uint));
        c.Size<Unix.GntallocDeallocGref>("ioctl_gntalloc_dealloc_gref");
        c.Offset<Unix.GntallocDeallocGref>("ioctl_gntalloc_dealloc_gref", "index", nameof(Unix.GntallocDeallocGref.Index));
        c.Offset<Unix.GntallocDeallocGref>("ioctl_gntalloc_dealloc_gref", "count", nameof(Unix.GntallocDeallocGref.Count));
        foreach (string notify in new[] { "ioctl_gntalloc_unmap_notify", "ioctl_gntdev_unmap_notify" })
        {
            c.Size<Unix.GrantUnmapNotify>(notify);
            c.Offset<Unix.GrantUnmapNotify>(notify, "index", nameof(Unix.GrantUnmapNotify.Index));
            c.Offset<Unix.GrantUnmapNotify>(notify, "action", nameof(Unix.GrantUnmapNotify.Action));
            c.Offset<Unix.GrantUnmapNotify>(notify, "event_channel_port", nameof(Unix.GrantUnmapNotify.EventChannelPort));
        }

        // Grant mapping.
        c.Check("IOCTL_GNTDEV_MAP_GRANT_REF", (long)Unix.GntdevIoctl.IOCTL_GNTDEV_MAP_GRANT_REF);
        c.Check("IOCTL_GNTDEV_UNMAP_GRANT_REF", (long)Unix.GntdevIoctl.IOCTL_GNTDEV_UNMAP_GRANT_REF);
        c.Check("IOCTL_GNTDEV_SET_UNMAP_NOTIFY", (long)Unix.GntdevIoctl.IOCTL_GNTDEV_SET_UNMAP_NOTIFY);
        c.Size<Unix.GntdevGrantRef>("ioctl_gntdev_grant_ref");
        c.Offset<Unix.GntdevGrantRef>("ioctl_gntdev_grant_ref", "domid", nameof(Unix.GntdevGrantRef.Domid));
        c.Offset<Unix.GntdevGrantRef>("ioctl_gntdev_grant_ref", "ref", nameof(Unix.GntdevGrantRef.Ref));
        c.Size<Unix.GntdevMapGrantRef>("ioctl_gntdev_map_grant_ref");
        c.Offset<Unix.GntdevMapGrantRef>("ioctl_gntdev_map_grant_ref", "count", nameof(Unix.GntdevMapGrantRef.Count));
        c.Offset<Unix.GntdevMapGrantRef>("ioctl_gntdev_map_grant_ref", "pad", nameof(Unix.GntdevMapGrantRef.Pad));
        c.Offset<Unix.GntdevMapGrantRef>("ioctl_gntdev_map_grant_ref", "index", nameof(Unix.GntdevMapGrantRef.Index));
        c.Offset<Unix.GntdevMapGrantRef>("ioctl_gntdev_map_grant_ref", "refs", nameof(Unix.GntdevMapGrantRef.FirstRef));
        c.Size<Unix.GntdevUnmapGrantRef>("ioctl_gntdev_unmap_grant_ref");
        c.Offset<Unix.GntdevUnmapGrantRef>("ioctl_gntdev_unmap_grant_ref", "index", nameof(Unix.GntdevUnmapGrantRef.Index));
        c.Offset<Unix.GntdevUnmapGrantRef>("ioctl_gntdev_unmap_grant_ref", "count", nameof(Unix.GntdevUnmapGrantRef.Count));
        c.Offset<Unix.GntdevUnmapGrantRef>("ioctl_gntdev_unmap_grant_ref", "pad", nameof(Unix.GntdevUnmapGrantRef.Pad));
        c.Check("IOCTL_GNTDEV_GRANT_COPY", (long)Unix.GntdevIoctl.IOCTL_GNTDEV_GRANT_COPY);
        c.Size<Unix.GntdevGrantCopy>("ioctl_gntdev_grant_copy");
        c.Offset<Unix.GntdevGrantCopy>("ioctl_gntdev_grant_copy", "count", nameof(Unix.GntdevGrantCopy.Count));
        c.Offset<Unix.GntdevGrantCopy>("ioctl_gntdev_grant_copy", "segments", nameof(Unix.GntdevGrantCopy.Segments));
        c.Size<Unix.GntdevGrantCopySegment>("gntdev_grant_copy_segment");
        const string segment = "gntdev_grant_copy_segment";
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "source.virt", nameof(Unix.GntdevGrantCopySegment.SourceVirt));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "source.foreign.ref", nameof(Unix.GntdevGrantCopySegment.SourceRef));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "source.foreign.offset", nameof(Unix.GntdevGrantCopySegment.SourceOffset));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "source.foreign.domid", nameof(Unix.GntdevGrantCopySegment.SourceDomid));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "dest.virt", nameof(Unix.GntdevGrantCopySegment.DestVirt));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "dest.foreign.ref", nameof(Unix.GntdevGrantCopySegment.DestRef));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "dest.foreign.offset", nameof(Unix.GntdevGrantCopySegment.DestOffset));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "dest.foreign.domid", nameof(Unix.GntdevGrantCopySegment.DestDomid));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "len", nameof(Unix.GntdevGrantCopySegment.Len));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "flags", nameof(Unix.GntdevGrantCopySegment.Flags));
        c.Offset<Unix.GntdevGrantCopySegment>(segment, "status", nameof(Unix.GntdevGrantCopySegment.Status));
        c.Check("GNTCOPY_source_gref", Unix.GntCopy.GNTCOPY_source_gref);
        c.Check("GNTCOPY_dest_gref", Unix.GntCopy.GNTCOPY_dest_gref);
        c.Check("GNTST_okay", Unix.GntCopy.GNTST_okay);
        c.Check("UNMAP_NOTIFY_CLEAR_BYTE", Unix.UnmapNotify.UNMAP_NOTIFY_CLEAR_BYTE);
        c.Check("UNMAP_NOTIFY_SEND_EVENT", Unix.UnmapNotify.UNMAP_NOTIFY_SEND_EVENT);

        // What the devices are driven with: mmap, poll, eventfd, and the errnos they answer.
        c.Check("PROT_READ", Unix.PROT_READ);
        c.Check("PROT_WRITE", Unix.PROT_WRITE);
        c.Check("MAP_SHARED", Unix.MAP_SHARED);
        c.Check("(intptr_t)MAP_FAILED", Unix.MAP_FAILED.ToInt64());
        c.Check("POLLIN", Unix.POLLIN);
        c.Check("POLLERR", Unix.POLLERR);
        c.Check("POLLHUP", Unix.POLLHUP);
        c.Check("POLLNVAL", Unix.POLLNVAL);
        c.Size<Unix.PollFd>("pollfd");
        c.Offset<Unix.PollFd>("pollfd", "fd", nameof(Unix.PollFd.Fd));
        c.Offset<Unix.PollFd>("pollfd", "events", nameof(Unix.PollFd.Events));
        c.Offset<Unix.PollFd>("pollfd", "revents", nameof(Unix.PollFd.ReturnedEvents));
        c.Check("EFD_CLOEXEC", Unix.EFD_CLOEXEC);
        c.Check("EFD_NONBLOCK", Unix.EFD_NONBLOCK);
        c.Check("O_NONBLOCK", Unix.OpenFlags.O_NONBLOCK);
        c.Check("ESRCH", Unix.Errno.ESRCH);
        c.Check("ENOMEM", Unix.Errno.ENOMEM);
        c.Check("EBUSY", Unix.Errno.EBUSY);
        c.Check("ENODEV", Unix.Errno.ENODEV);
        c.Check("EMFILE", Unix.Errno.EMFILE);
        c.Check("EFBIG", Unix.Errno.EFBIG);
        c.Check("ENOTCONN", Unix.Errno.ENOTCONN);

        c.AssertAllMatch();
    }
}
