using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Held data is written even when the read it came in ends with a message SSH.NET raises no event
/// for: an SSH_MSG_GLOBAL_REQUEST right after channel data, in one TCP segment, from a server other
/// than OpenSSH (asyncssh, <see cref="GlobalRequestServer"/>). Only the one-shot hold watch
/// (<c>ChannelMux.Holding</c>, 20 ms) writes it then; without it the data would wait for the next
/// message from the server, with the server-alive probe off for ever.
/// </summary>
public sealed class HoldWatchTests(ITestOutputHelper output)
{
    private const int Rounds = 3;

    /// <summary>How long an answer may take: generous, this is no speed target.</summary>
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The least time an answer the hold watch wrote can take from the question: the watch waits
    /// 20 ms after the data message (measured with a clock that may tick in 4 ms steps). An answer
    /// sooner was written at the end of its read: the global request came in a later read, and
    /// the test did not test the watch.
    /// </summary>
    private static readonly TimeSpan WatchFloor = TimeSpan.FromMilliseconds(10);

    [Fact]
    public async Task Data_followed_by_a_global_request_in_one_segment_reaches_the_local_client()
    {
        using var server = await GlobalRequestServer.StartAsync();
        var options = server.Options();

        // The server-alive probe off (a setting users have, TimeSpan.Zero or infinite): its answer,
        // a message SSH.NET raises an event for, would end a read and write the held data within
        // an interval (1 s by default) without the watch. Off, only the watch writes it.
        options.ServerAliveInterval = Timeout.InfiniteTimeSpan;
        await using var session = await SshTunnelSession.ConnectAsync(options);

        // Data is held only with AES-GCM (ReceivedAhead) and the fast path on: else it is written
        // as it comes and this test would pass without the watch.
        Assert.Contains("-gcm@openssh.com", session.NegotiatedCipher, StringComparison.Ordinal);
        Assert.True(session.FastPath.HasFlag(TunnelFastPath.HeldWrites), $"fast path: {session.FastPath}");

        using var forward = session.OpenLocalForward(GlobalRequestServer.Target);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);

        // Several rounds: the watch is one-shot and must be set again for each.
        for (var round = 1; round <= Rounds; round++)
        {
            var asked = Stopwatch.StartNew();
            await client.SendAsync("answer\n"u8.ToArray());
            var answer = await ReceiveExactlyAsync(client, GlobalRequestServer.Answer.Length, server);
            var took = asked.Elapsed;
            output.WriteLine($"round {round}: {answer.Length} B after {took.TotalMilliseconds:F1} ms");

            Assert.Equal(GlobalRequestServer.Answer, answer);
            Assert.True(
                took >= WatchFloor,
                $"round {round}: the answer came after {took.TotalMilliseconds:F1} ms, before the hold watch could fire: the server's global request did not end the read. Server: {server.Output}");
        }
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count, GlobalRequestServer server)
    {
        var buffer = new byte[count];
        var received = 0;
        using var timeout = new CancellationTokenSource(Functional);
        try
        {
            while (received < count)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(received), timeout.Token);
                Assert.True(n > 0, $"the forward closed after {received} of {count} B. Server: {server.Output}");
                received += n;
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{received} of {count} B within {Functional.TotalSeconds} s: the held data was not written. Server: {server.Output}");
        }

        return buffer;
    }
}
