using System.Diagnostics;
using System.Net.Sockets;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// A domain's goodbye to a hypervisor that never answers it (here the test plays a wedged hypervisor on a socket pair:
/// it answers the join, then reads the goodbye and stays silent): leaving is bounded, and Ctrl+C (the token of
/// StopAsync, which Disconnect-XenLoopbackDomain passes) ends the wait at once. The socket then closes, which departs
/// the domain on a live hypervisor all the same.
/// </summary>
public sealed class LoopbackGoodbyeTests
{
    [Fact(Timeout = 60_000)]
    public async Task AGoodbyeNobodyAnswersIsGivenUpOnAfterAMomentOrAtOnceWhenCancelled()
    {
        foreach (bool cancel in new[] { true, false })
        {
            (Socket domainEnd, Socket hypervisorEnd) = LoopbackHypervisor.CreateSocketPair();
            using (hypervisorEnd)
            {
                using var goodbyeSeen = new SemaphoreSlim(0);
                var wedged = new Thread(() =>
                {
                    byte[] buffer = new byte[LoopbackMessage.MaxSize];
                    while (LoopbackMessage.Receive(hypervisorEnd, buffer, out LoopbackMessage? message, out _))
                    {
                        using (message)
                        {
                            if (message?.Type == LoopbackMessageType.Join)
                            {
                                using var joined = new LoopbackMessage(LoopbackMessageType.Join | LoopbackMessageType.Reply, arg0: 7);
                                joined.Send(hypervisorEnd, dontWait: false);
                            }
                            else if (message?.Type == LoopbackMessageType.Leave)
                            {
                                goodbyeSeen.Release(); // and no answer
                            }
                        }
                    }
                })
                { IsBackground = true };
                wedged.Start();

                LoopbackDomain domain = LoopbackDomain.Join(domainEnd, "test", null, 4);
                Assert.Equal(7, domain.DomainId);
                var clock = Stopwatch.StartNew();
                if (cancel)
                {
                    using var ctrlC = new CancellationTokenSource();
                    Task leaving = Task.Run(() => domain.StopAsync(ctrlC.Token));
                    Assert.True(await goodbyeSeen.WaitAsync(TimeSpan.FromSeconds(10)), "the goodbye was sent");
                    ctrlC.Cancel();
                    await leaving.WaitAsync(TimeSpan.FromSeconds(10));
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"Ctrl+C ended the wait at once ({clock.Elapsed})");
                }
                else
                {
                    domain.Dispose();
                    Assert.True(await goodbyeSeen.WaitAsync(0), "the goodbye was sent");
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"a wedged hypervisor is waited on for a moment only ({clock.Elapsed})");
                }

                // The socket closed: the wedged side sees the end of the stream.
                Assert.True(wedged.Join(TimeSpan.FromSeconds(10)), "the domain's socket closed");
            }
        }
    }
}
